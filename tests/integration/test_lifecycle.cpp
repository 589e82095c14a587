// fork, exit (code and signal), failed exec and multi-threaded processes: trigger each with the
// helper, then assert every field of the events.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "harness.h"

using namespace vajra::v1;

namespace {

std::vector<std::string> strings(const google::protobuf::RepeatedPtrField<std::string>& field) {
  return {field.begin(), field.end()};
}

SubscribeRequest helper_events() {
  SubscribeRequest request;
  request.add_exe_prefixes(vt::helper_path());
  return request;
}

vt::Predicate exit_of(pid_t pid) { return vt::all_of({vt::kind_is(EVENT_KIND_EXIT), vt::pid_is(static_cast<uint32_t>(pid))}); }

// The default env allow-list applied to this process's environment (which the helpers inherit).
std::map<std::string, std::string> allowed_env_of_this_process() {
  std::map<std::string, std::string> env;
  for (const char* name : {"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT"}) {
    if (const char* value = getenv(name)) env[name] = value;
  }
  return env;
}

// Fields every event of a helper the test spawned directly must carry (the exec already told the
// daemon its image).
void check_direct_helper(const Event& e, pid_t pid, const std::vector<std::string>& argv, uint64_t boot_before,
                         uint64_t boot_after) {
  const std::string helper = vt::helper_path();
  const Process& p = e.process();
  CHECK(p.pid() == static_cast<uint32_t>(pid));
  CHECK(p.ppid() == static_cast<uint32_t>(getpid()));
  CHECK(p.ns_pid() == static_cast<uint32_t>(pid));
  CHECK(p.uid() == getuid());
  CHECK(p.euid() == geteuid());
  CHECK(p.gid() == getgid());
  CHECK(p.egid() == getegid());
  CHECK(p.auid() == vt::read_u32_file("/proc/self/loginuid"));
  CHECK(p.session_id() == vt::read_u32_file("/proc/self/sessionid"));
  CHECK(p.comm() == helper.substr(helper.rfind('/') + 1).substr(0, 15));
  CHECK(p.exe() == helper);
  CHECK(strings(p.argv()) == argv);
  CHECK_FALSE(p.argv_truncated());
  CHECK(p.cwd() == vt::realpath_of("."));
  CHECK(std::map<std::string, std::string>(p.env().begin(), p.env().end()) == allowed_env_of_this_process());
  vt::check_host_cgroup(p, getpid());
  vt::check_namespaces(p.namespaces(), getpid());
  CHECK(p.exe_hash_status() == HASH_STATUS_OK);
  CHECK(p.exe_sha256() == vt::sha256_file(helper));
  CHECK(p.notes_size() == 0);
  CHECK(e.ktime_ns() >= boot_before);
  CHECK(e.ktime_ns() <= boot_after);
  CHECK(p.start_time_ns() <= e.time_ns());
  REQUIRE(p.ancestry_size() >= 1);
  CHECK(p.ancestry(0).pid() == static_cast<uint32_t>(getpid()));
  CHECK(p.ancestry(0).exe() == vt::self_exe());
  vt::check_ancestry_from_proc(p, 0, getpid());
}


}  // namespace

TEST_CASE("ancestry: an ancestor's long argv is cut in its descendants' events, left out beyond the argv depth, and whole in its own") {
  REQUIRE_KERNEL();
  constexpr size_t kLimit = 256;
  // Only the parent carries argv: the test process and its ancestors come without.
  vt::Daemon daemon("process:\n  ancestry_argv_max_bytes: 256\n  ancestry_argv_depth: 1\n");
  vt::EventStream stream(daemon, helper_events());

  std::vector<std::string> argv{vt::helper_path(), "fork-child-exit", "0"};  // ignores what follows
  for (int i = 0; argv.size() < 40; ++i) argv.push_back("--classpath-entry-" + std::to_string(i));
  vt::Child helper(argv);
  const pid_t child = static_cast<pid_t>(std::stol(helper.read_line()));
  REQUIRE(helper.wait() == 0);

  const Event child_exit = stream.wait_for(exit_of(child), "exit of the forked child");
  const Event helper_exit = stream.wait_for(exit_of(helper.pid()), "exit of the helper");
  INFO("child exit event: " << vt::to_json(child_exit));
  const Process& p = child_exit.process();
  CHECK(strings(p.argv()) == argv);  // the child's own argv (its parent's image) is whole
  CHECK_FALSE(p.argv_truncated());
  REQUIRE(p.ancestry_size() >= 2);
  CHECK(p.ancestry(0).pid() == static_cast<uint32_t>(helper.pid()));
  CHECK(p.ancestry(0).exe() == vt::helper_path());
  vt::check_ancestor_argv(p.ancestry(0), argv, kLimit);
  CHECK(p.ancestry(0).argv_truncated());  // 40 arguments do not fit in 256 bytes
  vt::check_ancestry_from_proc(p, 1, getpid(), 8, kLimit, 1);
  // The helper's own event carries its argv whole.
  CHECK(strings(helper_exit.process().argv()) == argv);
  CHECK_FALSE(helper_exit.process().argv_truncated());
}

TEST_CASE("fork: the fork event names the child the helper printed and the child's exit follows") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, helper_events());

  const std::vector<std::string> argv{vt::helper_path(), "fork-child-exit", "5"};
  const uint64_t boot_before = vt::boot_ns();
  vt::Child helper(argv);
  const std::string line = helper.read_line();
  REQUIRE_FALSE(line.empty());
  const pid_t child = static_cast<pid_t>(std::stol(line));
  const int status = helper.wait();
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  const Event fork = stream.wait_for(
      vt::all_of({vt::kind_is(EVENT_KIND_FORK), vt::pid_is(static_cast<uint32_t>(helper.pid()))}), "fork by the helper");
  const Event child_exit = stream.wait_for(exit_of(child), "exit of the forked child");
  const Event parent_exit = stream.wait_for(exit_of(helper.pid()), "exit of the helper");
  const uint64_t boot_after = vt::boot_ns();

  {
    INFO("fork event: " << vt::to_json(fork));
    CHECK(fork.body_case() == Event::kFork);
    CHECK(fork.process().tid() == static_cast<uint32_t>(helper.pid()));
    check_direct_helper(fork, helper.pid(), argv, boot_before, boot_after);
    CHECK(fork.fork().child_pid() == static_cast<uint32_t>(child));
    CHECK(fork.fork().child_tid() == static_cast<uint32_t>(child));
    CHECK_FALSE(fork.fork().thread());
    CHECK(fork.fork().child_start_time_ns() >= fork.process().start_time_ns());
    CHECK(fork.fork().child_start_time_ns() <= fork.time_ns());
  }
  {
    INFO("child exit event: " << vt::to_json(child_exit));
    const Process& p = child_exit.process();
    CHECK(child_exit.body_case() == Event::kExit);
    CHECK(p.pid() == static_cast<uint32_t>(child));
    CHECK(p.tid() == static_cast<uint32_t>(child));
    CHECK(p.ppid() == static_cast<uint32_t>(helper.pid()));
    CHECK(p.exe() == vt::helper_path());  // the child runs its parent's image
    CHECK(strings(p.argv()) == argv);
    CHECK(p.cwd() == vt::realpath_of("."));
    CHECK(p.start_time_ns() == fork.fork().child_start_time_ns());  // one start time per process
    vt::check_namespaces(p.namespaces(), getpid());
    vt::check_host_cgroup(p, getpid());
    CHECK(p.exe_sha256() == vt::sha256_file(vt::helper_path()));
    CHECK(child_exit.exit().exit_code() == 5);
    CHECK(child_exit.exit().signal() == 0);
    CHECK_FALSE(child_exit.exit().core_dumped());
    CHECK_FALSE(child_exit.exit().thread());
    CHECK(child_exit.exit().duration_ns() > 0);
    CHECK(child_exit.exit().duration_ns() <= child_exit.ktime_ns() - boot_before);
    REQUIRE(p.ancestry_size() >= 2);
    CHECK(p.ancestry(0).pid() == static_cast<uint32_t>(helper.pid()));
    CHECK(p.ancestry(0).exe() == vt::helper_path());
    CHECK(strings(p.ancestry(0).argv()) == argv);
    CHECK_FALSE(p.ancestry(0).argv_truncated());
    CHECK(p.ancestry(0).start_time_ns() == fork.process().start_time_ns());
    CHECK(p.ancestry(1).pid() == static_cast<uint32_t>(getpid()));
    CHECK(p.ancestry(1).exe() == vt::self_exe());
    vt::check_ancestry_from_proc(p, 1, getpid());
  }
  {
    INFO("helper exit event: " << vt::to_json(parent_exit));
    CHECK(parent_exit.exit().exit_code() == 0);
    CHECK(parent_exit.exit().signal() == 0);
    CHECK(parent_exit.seq() > child_exit.seq());
    CHECK(child_exit.seq() > fork.seq());
  }
}

TEST_CASE("exit: a process exiting with code 3") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, helper_events());

  const std::vector<std::string> argv{vt::helper_path(), "exit", "3"};
  const uint64_t boot_before = vt::boot_ns();
  const pid_t pid = vt::spawn(argv);
  const int status = vt::wait_status(pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 3);

  const Event exec = stream.wait_for(vt::all_of({vt::kind_is(EVENT_KIND_EXEC), vt::pid_is(pid)}), "exec");
  const Event e = stream.wait_for(exit_of(pid), "exit with code 3");
  const uint64_t boot_after = vt::boot_ns();
  INFO("exit event: " << vt::to_json(e));
  CHECK(e.body_case() == Event::kExit);
  CHECK(e.process().tid() == static_cast<uint32_t>(pid));
  check_direct_helper(e, pid, argv, boot_before, boot_after);
  CHECK(e.exit().exit_code() == 3);
  CHECK(e.exit().signal() == 0);
  CHECK_FALSE(e.exit().core_dumped());
  CHECK_FALSE(e.exit().thread());
  CHECK(e.exit().duration_ns() > 0);
  CHECK(e.exit().duration_ns() <= boot_after - boot_before);
  CHECK(e.process().start_time_ns() == exec.process().start_time_ns());
  CHECK(e.seq() > exec.seq());
}

TEST_CASE("lifecycle: a process keeps one start time in all its events and its child's ancestry, across clock resamples") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, helper_events());

  // The helper forks a child that lives 2.5 s and waits for it: vajrad re-samples its wall clock
  // offset every second, so both exits are converted with another offset than the fork was, usually
  // a few ns apart.
  const std::vector<std::string> argv{vt::helper_path(), "fork-child-sleep", "2500"};
  vt::Child helper(argv);
  const pid_t child = static_cast<pid_t>(std::stol(helper.read_line()));
  REQUIRE(helper.wait() == 0);

  const Event fork = stream.wait_for(
      vt::all_of({vt::kind_is(EVENT_KIND_FORK), vt::pid_is(static_cast<uint32_t>(helper.pid()))}), "fork by the helper");
  const Event child_exit = stream.wait_for(exit_of(child), "exit of the child");
  const Event helper_exit = stream.wait_for(exit_of(helper.pid()), "exit of the helper");
  INFO("fork: " << vt::to_json(fork) << "\nchild exit: " << vt::to_json(child_exit));
  CHECK(child_exit.process().start_time_ns() == fork.fork().child_start_time_ns());
  CHECK(helper_exit.process().start_time_ns() == fork.process().start_time_ns());
  REQUIRE(child_exit.process().ancestry_size() >= 1);
  CHECK(child_exit.process().ancestry(0).pid() == static_cast<uint32_t>(helper.pid()));
  CHECK(child_exit.process().ancestry(0).start_time_ns() == fork.process().start_time_ns());
  CHECK(child_exit.ktime_ns() - fork.ktime_ns() >= 2'000'000'000ull);  // a resample or more in between
}

TEST_CASE("exit: a process killed by SIGKILL") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, helper_events());

  const std::vector<std::string> argv{vt::helper_path(), "kill-self", "9"};
  const uint64_t boot_before = vt::boot_ns();
  const pid_t pid = vt::spawn(argv);
  const int status = vt::wait_status(pid);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);

  const Event e = stream.wait_for(exit_of(pid), "exit by SIGKILL");
  const uint64_t boot_after = vt::boot_ns();
  INFO("exit event: " << vt::to_json(e));
  CHECK(e.process().tid() == static_cast<uint32_t>(pid));
  check_direct_helper(e, pid, argv, boot_before, boot_after);
  CHECK(e.exit().signal() == 9);
  CHECK(e.exit().exit_code() == 0);
  CHECK_FALSE(e.exit().core_dumped());
  CHECK_FALSE(e.exit().thread());
  CHECK(e.exit().duration_ns() > 0);
}

TEST_CASE("exec_failed: execve of a missing path reports ENOENT") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, helper_events());
  vt::TempDir dir("vajra-missing");
  const std::string missing = dir.file("does-not-exist");

  const std::vector<std::string> argv{vt::helper_path(), "exec-missing", missing};
  const uint64_t boot_before = vt::boot_ns();
  const vt::RunResult result = vt::run(argv);
  REQUIRE(result.exit_code() == 0);
  REQUIRE(result.out == "2\n");  // the helper saw ENOENT itself

  const Event e = stream.wait_for(vt::all_of({vt::kind_is(EVENT_KIND_EXEC_FAILED), vt::pid_is(result.pid)}),
                                  "failed exec");
  const uint64_t boot_after = vt::boot_ns();
  INFO("exec_failed event: " << vt::to_json(e));
  CHECK(e.body_case() == Event::kExecFailed);
  CHECK(e.process().tid() == static_cast<uint32_t>(result.pid));
  check_direct_helper(e, result.pid, argv, boot_before, boot_after);
  const ExecFailedEvent& f = e.exec_failed();
  CHECK(f.path() == missing);
  CHECK_FALSE(f.path_truncated());
  CHECK(f.errno_value() == 2);
  CHECK(f.error() == "ENOENT");
  CHECK(f.syscall() == "execve");
  CHECK(f.dirfd() == -100);  // AT_FDCWD
  CHECK(f.at_flags() == 0);

  // The process lives on and exits normally; no exec event for the missing path.
  const Event exit = stream.wait_for(exit_of(result.pid), "exit after the failed exec");
  CHECK(exit.exit().exit_code() == 0);
  CHECK(stream.count(vt::all_of({vt::kind_is(EVENT_KIND_EXEC), [&](const Event& x) {
                                   return x.process().exe() == missing;
                                 }})) == 0);

  // A relative path is reported as the caller passed it (the cwd says where it was looked up).
  vt::SpawnOptions in_dir;
  in_dir.cwd = dir.path();
  const vt::RunResult relative = vt::run({vt::helper_path(), "exec-missing", "sub/missing"}, in_dir);
  REQUIRE(relative.out == "2\n");
  const Event r = stream.wait_for(vt::all_of({vt::kind_is(EVENT_KIND_EXEC_FAILED), vt::pid_is(relative.pid)}),
                                  "failed exec of a relative path");
  INFO("exec_failed event (relative): " << vt::to_json(r));
  CHECK(r.exec_failed().path() == "sub/missing");
  CHECK(r.exec_failed().errno_value() == 2);
  CHECK(r.process().cwd() == dir.path());
}

TEST_CASE("exit: a process with 4 threads produces exactly one exit event") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;  // events.threads is false by default
  vt::EventStream stream(daemon, helper_events());

  const std::vector<std::string> argv{vt::helper_path(), "threads", "4"};
  const uint64_t boot_before = vt::boot_ns();
  const pid_t pid = vt::spawn(argv);
  const int status = vt::wait_status(pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  const Event e = stream.wait_for(exit_of(pid), "process exit");
  const uint64_t boot_after = vt::boot_ns();
  vt::barrier(stream);  // anything the threads caused is in the stream by now

  INFO("exit event: " << vt::to_json(e) << "\n" << stream.summary());
  CHECK(stream.count(exit_of(pid)) == 1);
  CHECK(stream.count(vt::all_of({vt::kind_is(EVENT_KIND_FORK), vt::pid_is(pid)})) == 0);
  check_direct_helper(e, pid, argv, boot_before, boot_after);
  CHECK(e.process().tid() == static_cast<uint32_t>(pid));  // the threads were joined: main left last
  CHECK_FALSE(e.exit().thread());
  CHECK(e.exit().exit_code() == 0);
  CHECK(e.exit().signal() == 0);
}

TEST_CASE("exit: with events.threads true thread creation and thread exits are reported too") {
  REQUIRE_KERNEL();
  vt::Daemon daemon("events:\n  threads: true\n");
  vt::EventStream stream(daemon, helper_events());

  const pid_t pid = vt::spawn({vt::helper_path(), "threads", "4"});
  const int status = vt::wait_status(pid);
  REQUIRE(WIFEXITED(status));

  const Event process_exit = stream.wait_for(
      vt::all_of({exit_of(pid), [](const Event& e) { return !e.exit().thread(); }}), "process exit");
  vt::barrier(stream);
  INFO(stream.summary());

  const auto forks = stream.matching(vt::all_of({vt::kind_is(EVENT_KIND_FORK), vt::pid_is(pid)}));
  const auto exits = stream.matching(exit_of(pid));
  CHECK(forks.size() == 4);
  std::set<uint32_t> thread_ids;
  for (const Event& f : forks) {
    INFO("fork event: " << vt::to_json(f));
    CHECK(f.fork().thread());
    CHECK(f.fork().child_pid() == static_cast<uint32_t>(pid));  // a thread's pid is its process's
    CHECK(f.fork().child_tid() != static_cast<uint32_t>(pid));
    thread_ids.insert(f.fork().child_tid());
  }
  CHECK(thread_ids.size() == 4);

  REQUIRE(exits.size() == 5);  // four threads, then the process
  std::set<uint32_t> exited_tids;
  for (const Event& x : exits) {
    INFO("exit event: " << vt::to_json(x));
    if (x.exit().thread()) {
      exited_tids.insert(x.process().tid());
      CHECK(x.seq() < process_exit.seq());
    }
  }
  CHECK(exited_tids == thread_ids);
  CHECK_FALSE(process_exit.exit().thread());
  CHECK(process_exit.process().tid() == static_cast<uint32_t>(pid));
  CHECK(process_exit.exit().exit_code() == 0);
}
