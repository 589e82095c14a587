// vajrad refuses a bad config before touching the kernel: exit code 2 and
// "vajrad: config error: <file>:<line>: <dotted.key>: <what>". These need no root and no BPF.
#include <sys/stat.h>

#include <string>

#include <catch2/catch.hpp>

#include "harness.h"

namespace {

struct Refusal {
  vt::RunResult result;
  std::string file;
  std::string socket;
};

Refusal start_with(const vt::TempDir& dir, const std::string& yaml, bool check_only = false) {
  dir.write("vajra.yaml", yaml);
  Refusal r;
  r.file = dir.file("vajra.yaml");
  r.socket = dir.file("vajra.sock");
  std::vector<std::string> argv{vt::vajrad_path(), "--config", r.file, "--socket", r.socket};
  if (check_only) argv.push_back("--check-config");
  r.result = vt::run(argv);
  return r;
}

void check_refused(const Refusal& r, int line, const std::string& key) {
  INFO("stderr: " << r.result.err << "\nstdout: " << r.result.out);
  CHECK(r.result.exited());
  CHECK(r.result.exit_code() == 2);
  const std::string expected = "vajrad: config error: " + r.file + ":" + std::to_string(line) + ": " + key + ": ";
  CHECK(r.result.err.find(expected) != std::string::npos);
  struct stat st {};
  CHECK(stat(r.socket.c_str(), &st) != 0);  // refused before serving anything
}

}  // namespace

TEST_CASE("config: an unknown key is refused naming the dotted key and its line") {
  vt::TempDir dir("vajra-config");
  const Refusal r = start_with(dir, "process:\n  argv_max_byts: 5\n");
  check_refused(r, 2, "process.argv_max_byts");
  // --check-config gives the same verdict.
  const Refusal checked = start_with(dir, "process:\n  argv_max_byts: 5\n", true);
  check_refused(checked, 2, "process.argv_max_byts");
}

TEST_CASE("config: out-of-range values are refused naming the dotted key and its line") {
  vt::TempDir dir("vajra-config");
  SECTION("argv_max_bytes above the kernel copy's limit") {
    check_refused(start_with(dir, "process:\n  argv_max_bytes: 1048576\n"), 2, "process.argv_max_bytes");
  }
  SECTION("a subscriber queue below its minimum, after comments and other keys") {
    check_refused(start_with(dir, "# vajrad settings\nbuffers:\n  pipeline_queue: 1024\n  subscriber_queue: 3\n"), 4,
                  "buffers.subscriber_queue");
  }
  SECTION("a ring buffer that is not a power of two") {
    check_refused(start_with(dir, "log:\n  level: info\nbuffers:\n  ring_buffer_bytes: 100000\n"), 4,
                  "buffers.ring_buffer_bytes");
  }
  SECTION("a negative number") {
    check_refused(start_with(dir, "process:\n  ancestry_depth: -1\n"), 2, "process.ancestry_depth");
  }
}

TEST_CASE("config: wrong types are refused naming the dotted key and its line") {
  vt::TempDir dir("vajra-config");
  SECTION("a boolean that is not one") {
    check_refused(start_with(dir, "events:\n  exec: true\n  fork: maybe\n"), 3, "events.fork");
  }
  SECTION("a list entry that is not a variable name") {
    check_refused(start_with(dir, "process:\n  env_allow:\n    - LD_PRELOAD\n    - 'NOT A NAME'\n"), 4,
                  "process.env_allow[1]");
  }
}

TEST_CASE("config: a valid file passes --check-config") {
  vt::TempDir dir("vajra-config");
  const Refusal r = start_with(dir,
                               "events:\n  fork: false\nprocess:\n  argv_max_bytes: 65536\n  env_allow: [LD_PRELOAD]\n"
                               "buffers:\n  subscriber_queue: 16\nlog:\n  level: warn\n",
                               true);
  INFO("stderr: " << r.result.err << "\nstdout: " << r.result.out);
  CHECK(r.result.exit_code() == 0);
}
