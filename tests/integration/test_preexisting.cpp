// Processes that started before vajrad: the daemon never saw their exec, so their exe, argv, cwd and
// their place in the ancestry must come from the /proc seeding at start-up.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "harness.h"

using namespace vajra::v1;

namespace {

std::vector<std::string> strings(const google::protobuf::RepeatedPtrField<std::string>& field) {
  return {field.begin(), field.end()};
}

// Waits until `pid` runs `argv` (its exec is done), so that the daemon's /proc seeding sees the image.
void wait_until_running(pid_t pid, const std::vector<std::string>& argv) {
  const auto deadline = std::chrono::steady_clock::now() + vt::kWait;
  while (vt::proc_cmdline(pid) != argv) {
    if (std::chrono::steady_clock::now() > deadline) FAIL("pid " << pid << " never ran its helper image");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

vt::Predicate of_kind_pid(EventKind kind, pid_t pid) {
  return vt::all_of({vt::kind_is(kind), vt::pid_is(static_cast<uint32_t>(pid))});
}

// A seeded process is hashed on first sight: the first events may say "not yet" (TIMEOUT) and carry
// no digest; any digest given must be the right one.
void check_hash(const Process& p) {
  if (p.exe_hash_status() == HASH_STATUS_OK) {
    CHECK(p.exe_sha256() == vt::sha256_file(vt::helper_path()));
  } else {
    CHECK(p.exe_hash_status() == HASH_STATUS_TIMEOUT);
    CHECK(p.exe_sha256() == "");
  }
}

}  // namespace

TEST_CASE("seeding: processes started before vajrad have exe argv cwd and ancestry") {
  REQUIRE_KERNEL();
  const std::string helper = vt::helper_path();
  vt::TempDir dir("vajra-seeded-cwd");

  // Both wait on their stdin, started before the daemon.
  const std::vector<std::string> forker_argv{helper, "wait-stdin", "fork-child-exit", "4"};
  const std::vector<std::string> execer_argv{helper, "wait-stdin", "exec", helper, helper, "exit", "6"};
  vt::SpawnOptions in_dir;
  in_dir.cwd = dir.path();
  vt::Child forker(forker_argv, in_dir);
  vt::Child execer(execer_argv, in_dir);
  wait_until_running(forker.pid(), forker_argv);
  wait_until_running(execer.pid(), execer_argv);
  const uint64_t forker_start = vt::proc_start_wall_ns(forker.pid());

  vt::Daemon daemon;
  SubscribeRequest request;
  request.add_exe_prefixes(helper);
  vt::EventStream stream(daemon, request);

  forker.release();
  const std::string line = forker.read_line();
  REQUIRE_FALSE(line.empty());
  const pid_t child = static_cast<pid_t>(std::stol(line));
  int status = forker.wait();
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  execer.release();
  status = execer.wait();
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 6);

  const Event fork = stream.wait_for(of_kind_pid(EVENT_KIND_FORK, forker.pid()), "fork by the seeded process");
  const Event child_exit = stream.wait_for(of_kind_pid(EVENT_KIND_EXIT, child), "exit of its child");
  const Event forker_exit = stream.wait_for(of_kind_pid(EVENT_KIND_EXIT, forker.pid()), "exit of the seeded process");
  const Event exec = stream.wait_for(of_kind_pid(EVENT_KIND_EXEC, execer.pid()), "exec by the other seeded process");
  const Event execer_exit = stream.wait_for(of_kind_pid(EVENT_KIND_EXIT, execer.pid()), "its exit");

  {
    INFO("fork event: " << vt::to_json(fork));
    const Process& p = fork.process();
    CHECK(p.pid() == static_cast<uint32_t>(forker.pid()));
    CHECK(p.tid() == static_cast<uint32_t>(forker.pid()));
    CHECK(p.ppid() == static_cast<uint32_t>(getpid()));
    CHECK(p.exe() == helper);
    CHECK(strings(p.argv()) == forker_argv);
    CHECK_FALSE(p.argv_truncated());
    CHECK(p.cwd() == dir.path());
    CHECK(p.comm() == helper.substr(helper.rfind('/') + 1).substr(0, 15));
    CHECK(p.start_time_ns() + 1000000000ull >= forker_start);
    CHECK(p.start_time_ns() <= forker_start + 1000000000ull);
    vt::check_namespaces(p.namespaces(), getpid());
    vt::check_host_cgroup(p, getpid());
    check_hash(p);
    CHECK(p.notes_size() == 0);
    REQUIRE(p.ancestry_size() >= 1);
    CHECK(p.ancestry(0).pid() == static_cast<uint32_t>(getpid()));
    CHECK(p.ancestry(0).exe() == vt::self_exe());
    vt::check_ancestry_from_proc(p, 0, getpid());
    CHECK(fork.fork().child_pid() == static_cast<uint32_t>(child));
    CHECK_FALSE(fork.fork().thread());
  }
  {
    INFO("child exit event: " << vt::to_json(child_exit));
    const Process& p = child_exit.process();
    CHECK(p.ppid() == static_cast<uint32_t>(forker.pid()));
    CHECK(p.exe() == helper);
    CHECK(strings(p.argv()) == forker_argv);
    CHECK(p.cwd() == dir.path());
    CHECK(child_exit.exit().exit_code() == 4);
    check_hash(p);
    REQUIRE(p.ancestry_size() >= 2);
    CHECK(p.ancestry(0).pid() == static_cast<uint32_t>(forker.pid()));
    CHECK(p.ancestry(0).exe() == helper);
    CHECK(strings(p.ancestry(0).argv()) == forker_argv);
    CHECK(p.ancestry(1).pid() == static_cast<uint32_t>(getpid()));
    CHECK(p.ancestry(1).exe() == vt::self_exe());
    vt::check_ancestry_from_proc(p, 1, getpid());
  }
  {
    INFO("seeded process exit event: " << vt::to_json(forker_exit));
    const Process& p = forker_exit.process();
    CHECK(p.exe() == helper);
    CHECK(strings(p.argv()) == forker_argv);
    CHECK(p.cwd() == dir.path());
    CHECK(forker_exit.exit().exit_code() == 0);
    CHECK(forker_exit.exit().signal() == 0);
    CHECK(forker_exit.exit().duration_ns() > 0);
    check_hash(p);
    REQUIRE(p.ancestry_size() >= 1);
    CHECK(p.ancestry(0).pid() == static_cast<uint32_t>(getpid()));
  }
  {
    INFO("exec event of the other seeded process: " << vt::to_json(exec));
    const Process& p = exec.process();
    CHECK(p.ppid() == static_cast<uint32_t>(getpid()));
    CHECK(p.exe() == helper);
    CHECK(strings(p.argv()) == std::vector<std::string>{helper, "exit", "6"});
    CHECK(p.cwd() == dir.path());
    CHECK(p.exe_hash_status() == HASH_STATUS_OK);
    CHECK(p.exe_sha256() == vt::sha256_file(helper));
    REQUIRE(p.ancestry_size() >= 1);
    CHECK(p.ancestry(0).pid() == static_cast<uint32_t>(getpid()));
    CHECK(p.ancestry(0).exe() == vt::self_exe());
    vt::check_ancestry_from_proc(p, 0, getpid());
  }
  {
    INFO("its exit event: " << vt::to_json(execer_exit));
    CHECK(strings(execer_exit.process().argv()) == std::vector<std::string>{helper, "exit", "6"});
    CHECK(execer_exit.exit().exit_code() == 6);
  }
}
