// exec: trigger one execve with a known argv, environment, cwd and parent, then assert every field
// of the event vajrad delivers.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "harness.h"

using namespace vajra::v1;

namespace {

std::vector<std::string> strings(const google::protobuf::RepeatedPtrField<std::string>& field) {
  return {field.begin(), field.end()};
}

size_t argv_block_bytes(const std::vector<std::string>& argv) {
  size_t total = 0;
  for (const auto& arg : argv) total += arg.size() + 1;
  return total;
}

// The items of the first `cap` bytes of the NUL-separated argv block (an item cut by the cap is kept
// as far as it goes), as a kernel copy of `cap` bytes decodes.
std::vector<std::string> argv_prefix(const std::vector<std::string>& argv, size_t cap) {
  std::string block;
  for (const auto& arg : argv) {
    block += arg;
    block += '\0';
  }
  block.resize(std::min(block.size(), cap));
  std::vector<std::string> items;
  size_t start = 0;
  while (start < block.size()) {
    size_t end = block.find('\0', start);
    if (end == std::string::npos) end = block.size();
    items.push_back(block.substr(start, end - start));
    start = end + 1;
  }
  return items;
}

SubscribeRequest exec_of(const std::string& exe) {
  SubscribeRequest request;
  request.add_kinds(EVENT_KIND_EXEC);
  request.add_exe_prefixes(exe);
  return request;
}

}  // namespace

TEST_CASE("exec: every field of a 2000-argument exec with LD_PRELOAD set") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  const std::string helper = vt::helper_path();
  vt::EventStream stream(daemon, exec_of(helper));
  vt::TempDir cwd("vajra-exec-cwd");

  std::vector<std::string> argv{helper, "exit", "0"};
  for (int i = 0; argv.size() < 2000; ++i) {
    char arg[32];
    std::snprintf(arg, sizeof(arg), "argument-%04d-%s", i, "padding");
    argv.push_back(arg);
  }
  argv.push_back("last argument with spaces");  // 2,001 in all; spaces survive unchanged
  const size_t argv_bytes = argv_block_bytes(argv);
  REQUIRE(argv_bytes >= 30 * 1024);

  const std::string preload = vt::harmless_preload_library();
  REQUIRE_FALSE(preload.empty());
  vt::SpawnOptions options;
  options.cwd = cwd.path();
  options.replace_env = true;
  options.env = {"LD_PRELOAD=" + preload, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "VAJRA_TEST=exec",
                 "LD_BIND_NOT=1"};

  const uint64_t wall_before = vt::wall_ns(), boot_before = vt::boot_ns();
  const pid_t pid = vt::spawn(argv, options);
  const int status = vt::wait_status(pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);  // LD_PRELOAD did not break the exec

  const Event e = stream.wait_for(vt::pid_is(pid), "exec of the helper");
  const uint64_t wall_after = vt::wall_ns(), boot_after = vt::boot_ns();
  INFO("event: " << vt::to_json(e));

  CHECK(e.kind() == EVENT_KIND_EXEC);
  CHECK(e.seq() > 0);
  CHECK(e.body_case() == Event::kExec);
  CHECK(e.ktime_ns() >= boot_before);
  CHECK(e.ktime_ns() <= boot_after);
  CHECK(e.time_ns() + 1000000000ull >= wall_before);  // wall clock from the kernel stamp: 1 s slack
  CHECK(e.time_ns() <= wall_after + 1000000000ull);

  const Process& p = e.process();
  CHECK(p.pid() == static_cast<uint32_t>(pid));
  CHECK(p.tid() == static_cast<uint32_t>(pid));
  CHECK(p.ppid() == static_cast<uint32_t>(getpid()));
  CHECK(p.ns_pid() == static_cast<uint32_t>(pid));  // host pid namespace
  CHECK(p.uid() == getuid());
  CHECK(p.euid() == geteuid());
  CHECK(p.gid() == getgid());
  CHECK(p.egid() == getegid());
  CHECK(p.auid() == vt::read_u32_file("/proc/self/loginuid"));
  CHECK(p.session_id() == vt::read_u32_file("/proc/self/sessionid"));
  CHECK(p.comm() == helper.substr(helper.rfind('/') + 1).substr(0, 15));
  const std::string tty = vt::expected_tty();
  if (tty == "*") {
    CHECK_FALSE(p.tty().empty());
  } else {
    CHECK(p.tty() == tty);
  }
  CHECK(p.exe() == helper);
  CHECK(p.argv_size() == static_cast<int>(argv.size()));
  CHECK(strings(p.argv()) == argv);
  CHECK_FALSE(p.argv_truncated());
  CHECK(p.cwd() == cwd.path());
  CHECK(p.env_size() == 1);  // only allow-listed variables
  CHECK(p.env().count("LD_PRELOAD") == 1);
  if (p.env().count("LD_PRELOAD")) CHECK(p.env().at("LD_PRELOAD") == preload);
  CHECK_FALSE(p.env_truncated());
  CHECK(p.start_time_ns() + 1000000000ull >= wall_before);
  CHECK(p.start_time_ns() <= e.time_ns());
  vt::check_host_cgroup(p, getpid());
  vt::check_namespaces(p.namespaces(), getpid());
  CHECK(p.exe_hash_status() == HASH_STATUS_OK);
  CHECK(p.exe_sha256() == vt::sha256_file(helper));
  CHECK(p.exe_hash_error() == "");
  CHECK(p.notes_size() == 0);

  REQUIRE(p.ancestry_size() >= 1);
  CHECK(p.ancestry(0).pid() == static_cast<uint32_t>(getpid()));
  CHECK(p.ancestry(0).exe() == vt::self_exe());
  CHECK(strings(p.ancestry(0).argv()) == vt::proc_cmdline(getpid()));
  vt::check_ancestry_from_proc(p, 0, getpid());

  struct stat st {};
  REQUIRE(stat(helper.c_str(), &st) == 0);
  const ExecEvent& x = e.exec();
  CHECK(x.exe_inode() == st.st_ino);
  CHECK(x.exe_dev() == vt::kernel_dev(st.st_dev));
  CHECK(x.exe_mode() == st.st_mode);
  CHECK(x.exe_size() == static_cast<uint64_t>(st.st_size));
  CHECK(x.argv_bytes() == argv_bytes);
}

TEST_CASE("exec: an argv larger than process.argv_max_bytes is cut there and flagged") {
  REQUIRE_KERNEL();
  constexpr size_t kCap = 65536;
  vt::Daemon daemon("process:\n  argv_max_bytes: 65536\n");
  const std::string helper = vt::helper_path();
  vt::EventStream stream(daemon, exec_of(helper));

  std::vector<std::string> argv{helper, "exit", "0"};
  while (argv_block_bytes(argv) < 100 * 1024) {
    char arg[80];
    std::snprintf(arg, sizeof(arg), "%05zu-%057d", argv.size(), 0);  // 63 characters
    argv.push_back(arg);
  }
  const size_t argv_bytes = argv_block_bytes(argv);
  REQUIRE(argv_bytes > kCap);

  const pid_t pid = vt::spawn(argv);
  const int status = vt::wait_status(pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  const Event e = stream.wait_for(vt::pid_is(pid), "exec of the helper with 100 KiB of argv");
  INFO("event (argv cut): " << vt::describe(e));
  const Process& p = e.process();
  CHECK(p.pid() == static_cast<uint32_t>(pid));
  CHECK(p.exe() == helper);
  CHECK(p.argv_truncated());
  CHECK(e.exec().argv_bytes() == argv_bytes);  // the full size, to compare with what was kept
  // What was kept is exactly the first argv_max_bytes of the block.
  const std::vector<std::string> kept = strings(p.argv());
  const std::vector<std::string> expected = argv_prefix(argv, kCap);
  CHECK(kept.size() == expected.size());
  CHECK(kept == expected);
  CHECK(kept.size() < argv.size());
  CHECK(p.exe_hash_status() == HASH_STATUS_OK);
}

TEST_CASE("exec: an argv with more arguments than process.argv_max_args keeps the first ones") {
  REQUIRE_KERNEL();
  vt::Daemon daemon("process:\n  argv_max_args: 100\n");
  const std::string helper = vt::helper_path();
  vt::EventStream stream(daemon, exec_of(helper));

  std::vector<std::string> argv{helper, "exit", "0"};
  while (argv.size() < 300) argv.push_back("a" + std::to_string(argv.size()));
  const pid_t pid = vt::spawn(argv);
  vt::wait_status(pid);

  const Event e = stream.wait_for(vt::pid_is(pid), "exec of the helper with 300 arguments");
  const Process& p = e.process();
  CHECK(p.argv_truncated());
  CHECK(strings(p.argv()) == std::vector<std::string>(argv.begin(), argv.begin() + 100));
  CHECK(e.exec().argv_bytes() == argv_block_bytes(argv));
}
