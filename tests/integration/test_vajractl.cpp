// vajractl end to end against a running vajrad: help and version, one event as JSON, status as
// JSON, and a peer the socket's allow-list refuses.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "harness.h"

using namespace vajra::v1;

namespace {

std::vector<std::string> nonempty_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// "vajrad 0.1.0" -> "0.1.0"
std::string vajrad_version() {
  const vt::RunResult r = vt::run({vt::vajrad_path(), "--version"});
  REQUIRE(r.exit_code() == 0);
  std::string out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  const size_t space = out.rfind(' ');
  return space == std::string::npos ? out : out.substr(space + 1);
}

const SubscriberStatus* subscriber_of(const StatusResponse& status, pid_t pid) {
  for (const auto& s : status.subscribers()) {
    if (s.peer_pid() == static_cast<uint32_t>(pid)) return &s;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("vajractl: --help and --version") {
  const vt::RunResult help = vt::run({vt::vajractl_path(), "--help"});
  INFO("stdout: " << help.out << "\nstderr: " << help.err);
  CHECK(help.exit_code() == 0);
  CHECK(help.out.find("events") != std::string::npos);
  CHECK(help.out.find("status") != std::string::npos);
  CHECK(help.out.find("--socket") != std::string::npos);

  const vt::RunResult version = vt::run({vt::vajractl_path(), "--version"});
  INFO("stdout: " << version.out << "\nstderr: " << version.err);
  CHECK(version.exit_code() == 0);
  const std::string expected = vajrad_version();
  REQUIRE_FALSE(expected.empty());
  CHECK(version.out.find(expected) != std::string::npos);  // same release as the daemon

  const vt::RunResult too_long = vt::run({vt::vajractl_path(), "events", "--max-batch-delay", "1001"});
  CHECK(too_long.exit_code() == 2);
  CHECK(too_long.err.find("--max-batch-delay: '1001' is not a number from 0 to 1000") != std::string::npos);
}

TEST_CASE("vajractl: events --count 1 -o json prints one event as JSON with proto field names, held or not") {
  // Held, the exec is the last event of the burst: only the decode thread's timed flush sends it.
  const std::string hold = GENERATE(std::string("0"), std::string("200"));
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::TempDir dir("vajractl-out");
  const std::string helper = vt::helper_path();

  const int out_fd = open(dir.file("out").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err_fd = open(dir.file("err").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(out_fd >= 0);
  REQUIRE(err_fd >= 0);
  vt::SpawnOptions options;
  options.stdout_fd = out_fd;
  options.stderr_fd = err_fd;
  const pid_t ctl = vt::spawn({vt::vajractl_path(), "--socket", daemon.socket_path(), "events", "--count", "1", "-o",
                               "json", "--kind", "exec", "--exe-prefix", helper, "--max-batch-delay", hold},
                              options);
  close(out_fd);
  close(err_fd);

  // Live once the daemon lists it; its filter is what the flags asked for.
  const auto deadline = std::chrono::steady_clock::now() + vt::kWait;
  SubscriberStatus listed;
  while (true) {
    const StatusResponse status = daemon.status();
    if (const SubscriberStatus* s = subscriber_of(status, ctl)) {
      listed = *s;
      break;
    }
    int ignored = 0;
    if (waitpid(ctl, &ignored, WNOHANG) == ctl) {
      FAIL("vajractl exited before subscribing; stderr: " << vt::read_file(dir.file("err")));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(ctl, SIGKILL);
      vt::wait_status(ctl);
      FAIL("vajractl never subscribed; stderr: " << vt::read_file(dir.file("err")));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(listed.peer_uid() == getuid());
  REQUIRE(listed.filter().kinds_size() == 1);
  CHECK(listed.filter().kinds(0) == EVENT_KIND_EXEC);
  REQUIRE(listed.filter().exe_prefixes_size() == 1);
  CHECK(listed.filter().exe_prefixes(0) == helper);
  CHECK(std::to_string(listed.filter().max_batch_delay_ms()) == hold);

  const std::vector<std::string> argv{helper, "exit", "0", "from-vajractl-test"};
  const pid_t pid = vt::spawn(argv);
  vt::wait_status(pid);
  const int status = vt::wait_status(ctl);
  const std::string out = vt::read_file(dir.file("out"));
  INFO("vajractl stdout: " << out << "\nstderr: " << vt::read_file(dir.file("err")));
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);

  const std::vector<std::string> lines = nonempty_lines(out);
  REQUIRE(lines.size() == 1);
  nlohmann::json event;
  REQUIRE_NOTHROW(event = nlohmann::json::parse(lines[0]));
  REQUIRE(event.is_object());
  CHECK(event.value("kind", "") == "EVENT_KIND_EXEC");
  REQUIRE(event.contains("process"));
  const nlohmann::json& process = event["process"];
  CHECK(process.value("pid", 0u) == static_cast<uint32_t>(pid));
  CHECK(process.value("ppid", 0u) == static_cast<uint32_t>(getpid()));
  CHECK(process.value("exe", "") == helper);
  CHECK(process.value("argv", std::vector<std::string>{}) == argv);
  CHECK(process.contains("exe_sha256"));  // proto field names, not lowerCamelCase
  CHECK_FALSE(process.contains("exeSha256"));
  CHECK(process.contains("start_time_ns"));
  CHECK(event.contains("time_ns"));
  CHECK(event.contains("exec"));
}

TEST_CASE("vajractl: status -o json shows the exec probe loaded") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  const vt::RunResult r = vt::run({vt::vajractl_path(), "--socket", daemon.socket_path(), "status", "-o", "json"});
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code() == 0);
  nlohmann::json status;
  REQUIRE_NOTHROW(status = nlohmann::json::parse(r.out));
  REQUIRE(status.contains("probes"));
  bool found = false;
  for (const auto& probe : status["probes"]) {
    if (probe.value("name", "") != "exec") continue;
    found = true;
    CHECK(probe.value("state", "") == "PROBE_STATE_LOADED");
    CHECK_FALSE(probe.value("attach", "").empty());
  }
  CHECK(found);
  CHECK(status.value("version", "") == vajrad_version());
}

TEST_CASE("vajractl: a peer not on the socket allow-list is refused and counted") {
  REQUIRE_KERNEL();
  // The socket is world-connectable so that only the allow-list (uid 0) stands in the way.
  vt::Daemon daemon("socket:\n  mode: \"0666\"\n  allow_uids: [0]\n");
  const uint64_t before = daemon.status().refused_connections();

  const vt::RunResult refused = vt::run({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                         vt::vajractl_path(), "--socket", daemon.socket_path(), "status"});
  INFO("as uid 65534: exit " << refused.exit_code() << "\nstdout: " << refused.out << "\nstderr: " << refused.err);
  CHECK_FALSE(refused.exit_code() == 0);
  CHECK(daemon.status().refused_connections() > before);

  // Root, on the list, is served on the same socket.
  const vt::RunResult allowed = vt::run({vt::vajractl_path(), "--socket", daemon.socket_path(), "status"});
  INFO("as root: stdout: " << allowed.out << "\nstderr: " << allowed.err);
  CHECK(allowed.exit_code() == 0);
}
