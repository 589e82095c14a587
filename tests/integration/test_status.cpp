// Status: probe states with their attach points, per-kind counters that follow real events, the
// subscriber list, a probe turned off in the config, and the threads' scheduling policy.
#include <dirent.h>
#include <sched.h>
#include <sys/utsname.h>
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

const ProbeStatus* probe(const StatusResponse& status, const std::string& name) {
  for (const auto& p : status.probes()) {
    if (p.name() == name) return &p;
  }
  return nullptr;
}

// The thread ids of process `pid`.
std::set<std::string> task_ids(pid_t pid) {
  std::set<std::string> ids;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* tasks = opendir(dir.c_str());
  REQUIRE(tasks != nullptr);
  while (dirent* entry = readdir(tasks)) {
    if (entry->d_name[0] != '.') ids.insert(entry->d_name);
  }
  closedir(tasks);
  return ids;
}

std::map<EventKind, KindCounters> counters(const StatusResponse& status) {
  std::map<EventKind, KindCounters> by_kind;
  for (const auto& k : status.kinds()) by_kind[k.kind()] = k;
  return by_kind;
}

vt::Predicate of_kind_pid(EventKind kind, pid_t pid) {
  return vt::all_of({vt::kind_is(kind), vt::pid_is(static_cast<uint32_t>(pid))});
}

}  // namespace

TEST_CASE("status: the process probes are loaded and attached and the counters follow events") {
  REQUIRE_KERNEL();
  const uint64_t wall_before = vt::wall_ns();
  vt::Daemon daemon;
  const std::string helper = vt::helper_path();
  SubscribeRequest request;
  request.add_exe_prefixes(helper);
  vt::EventStream stream(daemon, request);

  const StatusResponse before = daemon.status();
  INFO("status before: " << vt::to_json(before));
  utsname uts{};
  uname(&uts);
  CHECK(before.kernel_release() == uts.release);
  CHECK_FALSE(before.version().empty());
  CHECK(before.config_path() == daemon.config_path());
  CHECK(before.started_ns() + 1000000000ull >= wall_before);
  CHECK(before.started_ns() <= vt::wall_ns());
  CHECK(before.features_size() > 0);
  const std::map<std::string, std::string> tracepoints{{"exec", "sched_process_exec"},
                                                       {"exec_failed", ""},
                                                       {"fork", "sched_process_fork"},
                                                       {"exit", "sched_process_exit"}};
  for (const auto& [name, tracepoint] : tracepoints) {
    INFO("probe " << name);
    const ProbeStatus* p = probe(before, name);
    REQUIRE(p != nullptr);
    CHECK(p->state() == PROBE_STATE_LOADED);
    CHECK(p->error() == "");
    CHECK_FALSE(p->attach().empty());
    CHECK(p->attach().find(tracepoint) != std::string::npos);
  }
  // Our subscription, as the daemon sees it.
  const SubscriberStatus* mine = nullptr;
  for (const auto& s : before.subscribers()) {
    if (s.id() == stream.subscriber_id()) mine = &s;
  }
  REQUIRE(mine != nullptr);
  CHECK(mine->peer_uid() == getuid());
  CHECK(mine->peer_pid() == static_cast<uint32_t>(getpid()));
  CHECK(mine->queue_capacity() == 16384);  // buffers.subscriber_queue default
  CHECK(mine->queue_bytes_capacity() == 4u << 20);  // buffers.subscriber_queue_bytes default
  CHECK(mine->dropped() == 0);
  REQUIRE(mine->filter().exe_prefixes_size() == 1);
  CHECK(mine->filter().exe_prefixes(0) == helper);
  CHECK(before.process_cache().capacity() == 32768);
  CHECK(before.process_cache().size() > 0);  // seeded from /proc
  CHECK(before.hash_cache().capacity() == 8192);

  // 4 execs, 1 fork, 5 exits, 1 failed exec.
  vt::Child forker({helper, "fork-child-exit", "0"});
  const pid_t child = static_cast<pid_t>(std::stol(forker.read_line()));
  forker.wait();
  const vt::RunResult failed = vt::run({helper, "exec-missing", "/nonexistent/vajra-status-test"});
  const pid_t quick = vt::spawn({helper, "exit", "1"});
  vt::wait_status(quick);
  const pid_t killed = vt::spawn({helper, "kill-self", "9"});
  vt::wait_status(killed);

  const Event fork = stream.wait_for(of_kind_pid(EVENT_KIND_FORK, forker.pid()), "fork");
  stream.wait_for(of_kind_pid(EVENT_KIND_EXIT, child), "child exit");
  stream.wait_for(of_kind_pid(EVENT_KIND_EXIT, forker.pid()), "forker exit");
  stream.wait_for(of_kind_pid(EVENT_KIND_EXEC_FAILED, failed.pid), "failed exec");
  stream.wait_for(of_kind_pid(EVENT_KIND_EXIT, failed.pid), "exit after the failed exec");
  stream.wait_for(of_kind_pid(EVENT_KIND_EXIT, quick), "exit 1");
  const Event last = stream.wait_for(of_kind_pid(EVENT_KIND_EXIT, killed), "exit by SIGKILL");
  CHECK(fork.fork().child_pid() == static_cast<uint32_t>(child));

  const StatusResponse after = daemon.status();
  INFO("status after: " << vt::to_json(after));
  auto b = counters(before), a = counters(after);
  const std::map<EventKind, uint64_t> at_least{
      {EVENT_KIND_EXEC, 4}, {EVENT_KIND_FORK, 1}, {EVENT_KIND_EXIT, 5}, {EVENT_KIND_EXEC_FAILED, 1}};
  for (const auto& [kind, n] : at_least) {
    INFO("kind " << EventKind_Name(kind));
    REQUIRE(a.count(kind) == 1);
    CHECK(a[kind].received() >= b[kind].received() + n);
    CHECK(a[kind].published() >= b[kind].published() + n);
    CHECK(a[kind].published() <= a[kind].received());
    CHECK(a[kind].decode_errors() == 0);
    CHECK(a[kind].kernel_drops() >= b[kind].kernel_drops());  // drops depend on load: only monotonic
  }
  CHECK(after.pipeline_drops() >= before.pipeline_drops());
  CHECK(after.next_seq() > last.seq());
  CHECK(after.process_cache().hits() > before.process_cache().hits());
}

TEST_CASE("status: events.fork false disables the fork probe and no fork event arrives") {
  REQUIRE_KERNEL();
  vt::Daemon daemon("events:\n  fork: false\n");
  vt::EventStream stream(daemon);  // everything: the child's exe is unknown without its fork

  const StatusResponse status = daemon.status();
  INFO("status: " << vt::to_json(status));
  const ProbeStatus* fork = probe(status, "fork");
  REQUIRE(fork != nullptr);
  CHECK(fork->state() == PROBE_STATE_DISABLED);
  for (const char* name : {"exec", "exec_failed", "exit"}) {
    INFO("probe " << name);
    const ProbeStatus* p = probe(status, name);
    REQUIRE(p != nullptr);
    CHECK(p->state() == PROBE_STATE_LOADED);
  }

  vt::Child forker({vt::helper_path(), "fork-child-exit", "0"});
  const pid_t child = static_cast<pid_t>(std::stol(forker.read_line()));
  forker.wait();
  stream.wait_for(of_kind_pid(EVENT_KIND_EXIT, child), "child exit");
  stream.wait_for(of_kind_pid(EVENT_KIND_EXIT, forker.pid()), "forker exit");
  vt::barrier(stream);
  INFO(stream.summary());
  CHECK(stream.count(vt::kind_is(EVENT_KIND_FORK)) == 0);
  const auto kinds = counters(daemon.status());
  if (kinds.count(EVENT_KIND_FORK)) CHECK(kinds.at(EVENT_KIND_FORK).received() == 0);
}

TEST_CASE("status: calls do not start threads in vajrad") {
  // Each thread vajrad starts is a fork event when events.threads is on, so a client polling Status
  // would keep the stream busy with vajrad's own activity (gRPC's sync thread pool, with one idle
  // poller, started and ended a thread for every call).
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  daemon.status();  // the first call may set up what later ones reuse
  const std::set<std::string> before = task_ids(daemon.pid());
  for (int i = 0; i < 20; ++i) daemon.status();
  CHECK(task_ids(daemon.pid()) == before);
}

TEST_CASE("status: every vajrad thread runs with scheduler.policy") {
  REQUIRE_KERNEL();
  // vajrad inherits this process's policy; make it the kernel's default, so that `inherit` and
  // `batch` differ whatever the test runner was started with.
  const sched_param param{};
  REQUIRE(sched_setscheduler(0, SCHED_OTHER, &param) == 0);
  // The policies of all of vajrad's threads, once a stream and Status calls have started gRPC's.
  auto policies = [](vt::Daemon& daemon) {
    vt::EventStream stream(daemon);
    daemon.status();
    std::set<int> found;
    for (const std::string& tid : task_ids(daemon.pid())) {
      const int policy = sched_getscheduler(std::stoi(tid));
      if (policy >= 0) found.insert(policy);  // -1: the thread ended since the listing
    }
    return found;
  };
  SECTION("batch by default") {
    vt::Daemon daemon;
    CHECK(policies(daemon) == std::set<int>{SCHED_BATCH});
    CHECK(daemon.status().cpu_policy() == "batch");
  }
  SECTION("inherit keeps the policy vajrad was started with") {
    vt::Daemon daemon("scheduler:\n  policy: inherit\n");
    CHECK(policies(daemon) == std::set<int>{SCHED_OTHER});
    CHECK(daemon.status().cpu_policy() == "other");
  }
}
