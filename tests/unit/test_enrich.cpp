// Enricher: what events carry from the cache (image, ancestry), attached in wire form, must parse into
// exactly the Process the fields would give set one by one, and follow execs, forks and pid reuse.
#include <catch2/catch.hpp>

#include <google/protobuf/util/message_differencer.h>

#include <string>
#include <vector>

#include "enrich.h"

using namespace vajra;
using google::protobuf::util::MessageDifferencer;

namespace {

constexpr uint64_t kCgroup = 4242;

struct Rig {
  Config config;
  BootClock clock;
  ProcessCache cache{64};
  Hasher hasher;
  Enricher enricher;
  Rig() : hasher(disabled_hashing()), enricher(config.process, cache, hasher, clock) {}
  static HashConfig disabled_hashing() {
    HashConfig hash;
    hash.enabled = false;
    return hash;
  }
  // Enriches, then returns the event as a subscriber parses it off the stream.
  v1::Event publish(DecodedEvent decoded) {
    enricher.enrich(decoded);
    v1::Event parsed;
    REQUIRE(parsed.ParseFromString(decoded.event.SerializeAsString()));
    // Materialized in place, the event is the one the subscriber gets, with nothing left over.
    v1::Event materialized = decoded.event;
    materialize_process(materialized);
    CHECK(materialized.GetReflection()->GetUnknownFields(materialized).empty());
    CHECK(MessageDifferencer::Equals(materialized, parsed));
    return parsed;
  }
};

DecodedEvent exec_event(uint32_t pid, uint32_t ppid, uint64_t start, const std::string& exe,
                        std::vector<std::string> argv) {
  DecodedEvent d;
  d.event.set_kind(v1::EVENT_KIND_EXEC);
  auto& p = *d.event.mutable_process();
  p.set_pid(pid);
  p.set_tid(pid);
  p.set_ppid(ppid);
  p.set_comm("comm");
  p.set_tty("pts/3");
  p.set_exe(exe);
  for (auto& arg : argv) p.add_argv(arg);
  p.set_cwd("/home/" + std::to_string(pid));
  (*p.mutable_env())["LD_PRELOAD"] = "/lib/" + std::to_string(pid) + ".so";
  p.set_env_truncated(pid % 2 == 0);
  p.set_start_time_ns(start + 1'000'000);
  p.set_cgroup_id(kCgroup);
  p.set_cgroup_path("/system.slice/x.service");
  d.start_boottime_ns = start;
  d.has_exe_identity = false;
  return d;
}

// A non-exec event of a process, as decode leaves it: the kernel's task fields only.
DecodedEvent task_event(v1::EventKind kind, uint32_t pid, uint32_t ppid, uint64_t start) {
  DecodedEvent d;
  d.event.set_kind(kind);
  auto& p = *d.event.mutable_process();
  p.set_pid(pid);
  p.set_tid(pid);
  p.set_ppid(ppid);
  p.set_comm("comm");
  p.set_start_time_ns(start + 1'000'000);
  p.set_cgroup_id(kCgroup);
  d.start_boottime_ns = start;
  if (kind == v1::EVENT_KIND_EXIT) d.event.mutable_exit()->set_exit_code(3);
  return d;
}

DecodedEvent fork_event(uint32_t pid, uint32_t ppid, uint64_t start, uint32_t child, uint64_t child_start) {
  DecodedEvent d = task_event(v1::EVENT_KIND_FORK, pid, ppid, start);
  d.event.mutable_fork()->set_child_pid(child);
  d.event.mutable_fork()->set_child_tid(child);
  d.event.mutable_fork()->set_child_start_time_ns(child_start + 1'000'000);
  d.child_start_boottime_ns = child_start;
  return d;
}

std::vector<uint32_t> ancestry_pids(const v1::Process& p) {
  std::vector<uint32_t> pids;
  for (const auto& a : p.ancestry()) pids.push_back(a.pid());
  return pids;
}

}  // namespace

TEST_CASE("enrich: later events carry the exec's image and the ancestry, as parsed from the wire") {
  Rig rig;
  rig.publish(exec_event(1, 0, 10, "/sbin/init", {"/sbin/init", "splash"}));
  rig.publish(exec_event(50, 1, 20, "/usr/sbin/sshd", {"sshd: user [priv]"}));
  const v1::Event exec = rig.publish(exec_event(100, 50, 30, "/usr/bin/bash", {"bash", "-c", "echo hi"}));
  CHECK(exec.process().exe() == "/usr/bin/bash");
  CHECK(exec.process().argv_size() == 3);
  CHECK(ancestry_pids(exec.process()) == std::vector<uint32_t>{50, 1});
  CHECK_FALSE(exec.process().ancestry_truncated());

  const v1::Event exit = rig.publish(task_event(v1::EVENT_KIND_EXIT, 100, 50, 30));
  const v1::Process& p = exit.process();
  CHECK(p.pid() == 100);
  CHECK(p.comm() == "comm");
  CHECK(p.exe() == "/usr/bin/bash");
  REQUIRE(p.argv_size() == 3);
  CHECK(p.argv(2) == "echo hi");
  CHECK(p.cwd() == "/home/100");
  CHECK(p.tty() == "pts/3");
  CHECK(p.env().at("LD_PRELOAD") == "/lib/100.so");
  CHECK(p.env_truncated());
  CHECK(p.cgroup_path() == "/system.slice/x.service");
  CHECK(exit.exit().exit_code() == 3);
  REQUIRE(p.ancestry_size() == 2);
  CHECK(p.ancestry(0).pid() == 50);
  CHECK(p.ancestry(0).exe() == "/usr/sbin/sshd");
  CHECK(p.ancestry(0).argv(0) == "sshd: user [priv]");
  CHECK(p.ancestry(0).start_time_ns() == 1'000'020);
  CHECK(p.ancestry(1).exe() == "/sbin/init");
  CHECK(p.ancestry(1).argv_size() == 2);
  CHECK_FALSE(p.ancestry_truncated());

  // The same ancestry as the message-building walk gives.
  v1::Process reference;
  CHECK(rig.cache.fill_ancestry(50, 30, rig.config.process.ancestry_depth, reference));
  REQUIRE(reference.ancestry_size() == p.ancestry_size());
  for (int i = 0; i < p.ancestry_size(); ++i) CHECK(MessageDifferencer::Equals(reference.ancestry(i), p.ancestry(i)));
}

TEST_CASE("enrich: the serialized event is the one the fields set one by one would give") {
  Rig rig;
  rig.publish(exec_event(1, 0, 10, "/sbin/init", {"/sbin/init"}));
  rig.publish(exec_event(100, 1, 30, "/usr/bin/python3", {"python3", "-m", "http.server", "\xc3\xa9t\xc3\xa9"}));
  for (v1::EventKind kind : {v1::EVENT_KIND_EXIT, v1::EVENT_KIND_SOCKET, v1::EVENT_KIND_DNS, v1::EVENT_KIND_FILE}) {
    DecodedEvent decoded = task_event(kind, 100, 1, 30);
    rig.enricher.enrich(decoded);
    const std::string wire = decoded.event.SerializeAsString();

    // What the cache holds, set field by field (the enricher before it attached them in wire form).
    v1::Event expected = decoded.event;
    expected.GetReflection()->MutableUnknownFields(&expected)->Clear();
    v1::Process& p = *expected.mutable_process();
    const CachedProcess* entry = rig.cache.find(100, 30);
    REQUIRE(entry);
    *p.mutable_argv() = entry->process.argv();
    p.set_argv_truncated(entry->process.argv_truncated());
    p.set_cwd(entry->process.cwd());
    *p.mutable_env() = entry->process.env();
    p.set_env_truncated(entry->process.env_truncated());
    p.set_tty(entry->process.tty());
    CHECK(rig.cache.fill_ancestry(1, 30, rig.config.process.ancestry_depth, p));

    v1::Event parsed;
    REQUIRE(parsed.ParseFromString(wire));
    CHECK(MessageDifferencer::Equals(parsed, expected));
    CHECK(wire.size() == expected.ByteSizeLong() + 2);  // the second Process field's tag and length
  }
}

TEST_CASE("enrich: an exec anywhere up the chain shows in every later event's ancestry") {
  Rig rig;
  rig.publish(exec_event(1, 0, 10, "/sbin/init", {"/sbin/init"}));
  rig.publish(exec_event(50, 1, 20, "/bin/sh", {"sh", "-c", "exec /usr/bin/make"}));
  rig.publish(exec_event(100, 50, 30, "/usr/bin/cc", {"cc", "-c", "a.c"}));
  CHECK(rig.publish(task_event(v1::EVENT_KIND_SOCKET, 100, 50, 30)).process().ancestry(0).exe() == "/bin/sh");

  // pid 50 execs: same process (pid, start time), new image.
  rig.publish(exec_event(50, 1, 20, "/usr/bin/make", {"make", "-j2"}));
  v1::Process p = rig.publish(task_event(v1::EVENT_KIND_SOCKET, 100, 50, 30)).process();
  REQUIRE(p.ancestry_size() == 2);
  CHECK(p.ancestry(0).exe() == "/usr/bin/make");
  CHECK(p.ancestry(0).argv(1) == "-j2");
  // ... and its own later events carry its new argv.
  p = rig.publish(task_event(v1::EVENT_KIND_EXIT, 50, 1, 20)).process();
  CHECK(p.argv(0) == "make");
  CHECK(p.exe() == "/usr/bin/make");
}

TEST_CASE("enrich: a forked child keeps its parent's image but is an ancestor in its own name") {
  Rig rig;
  rig.publish(exec_event(1, 0, 10, "/sbin/init", {"/sbin/init"}));
  rig.publish(exec_event(100, 1, 30, "/usr/bin/bash", {"bash", "-i"}));
  rig.publish(task_event(v1::EVENT_KIND_SOCKET, 100, 1, 30));  // builds 100's wire forms
  rig.publish(exec_event(90, 1, 25, "/usr/bin/zsh", {"zsh"}));
  rig.publish(task_event(v1::EVENT_KIND_SOCKET, 200, 100, 40));  // not cached yet: gone from /proc too

  rig.publish(fork_event(100, 1, 30, 101, 50));
  v1::Process child = rig.publish(task_event(v1::EVENT_KIND_SOCKET, 101, 100, 50)).process();
  CHECK(child.exe() == "/usr/bin/bash");
  CHECK(child.argv_size() == 2);
  CHECK(ancestry_pids(child) == std::vector<uint32_t>{100, 1});

  rig.publish(fork_event(101, 100, 50, 102, 60));
  const v1::Process grandchild = rig.publish(task_event(v1::EVENT_KIND_EXIT, 102, 101, 60)).process();
  CHECK(grandchild.argv(1) == "-i");
  REQUIRE(ancestry_pids(grandchild) == std::vector<uint32_t>{101, 100, 1});
  CHECK(grandchild.ancestry(0).start_time_ns() == 1'000'050);
  CHECK(grandchild.ancestry(0).exe() == "/usr/bin/bash");
  CHECK(grandchild.ancestry(1).start_time_ns() == 1'000'030);
}

TEST_CASE("enrich: every event of a process carries the start time it was first known by") {
  // Each record's boot-time stamp is converted to wall time with the offset of its moment, which a
  // clock resample moves between a process's fork and its later events: here by 7 and 11 ns.
  Rig rig;
  rig.publish(exec_event(1, 0, 10, "/sbin/init", {"/sbin/init"}));
  const v1::Event fork = rig.publish(fork_event(1, 0, 10, 100, 50));
  CHECK(fork.fork().child_start_time_ns() == 1'000'050);
  DecodedEvent exec = exec_event(100, 1, 50, "/usr/bin/bash", {"bash"});
  exec.event.mutable_process()->set_start_time_ns(1'000'057);
  CHECK(rig.publish(exec).process().start_time_ns() == 1'000'050);
  DecodedEvent socket = task_event(v1::EVENT_KIND_SOCKET, 100, 1, 50);
  socket.event.mutable_process()->set_start_time_ns(1'000'061);
  CHECK(rig.publish(socket).process().start_time_ns() == 1'000'050);
  rig.publish(fork_event(100, 1, 50, 101, 70));
  const v1::Process child = rig.publish(task_event(v1::EVENT_KIND_EXIT, 101, 100, 70)).process();
  CHECK(child.start_time_ns() == 1'000'070);
  REQUIRE(child.ancestry_size() == 2);
  CHECK(child.ancestry(0).start_time_ns() == 1'000'050);
  // A process vajrad learns of by its exec keeps that record's start time.
  const v1::Event orphan_exec = rig.publish(exec_event(300, 1, 80, "/usr/bin/id", {"id"}));
  CHECK(orphan_exec.process().start_time_ns() == 1'000'080);
  // A child known before its fork record was read (its events come through another ring) keeps the
  // start time its events carried, and the fork event names it so too.
  CachedProcess early;
  early.process.set_pid(400);
  early.process.set_ppid(100);
  early.process.set_start_time_ns(1'000'093);
  early.start_boottime_ns = 90;
  rig.cache.insert(early);
  const v1::Event late_fork = rig.publish(fork_event(100, 1, 50, 400, 90));
  CHECK(late_fork.fork().child_start_time_ns() == 1'000'093);
  CHECK(rig.publish(task_event(v1::EVENT_KIND_EXIT, 400, 100, 90)).process().start_time_ns() == 1'000'093);
}

TEST_CASE("enrich: a recycled pid up the chain cuts the ancestry, as before") {
  Rig rig;
  rig.publish(exec_event(1, 0, 10, "/sbin/init", {"/sbin/init"}));
  rig.publish(exec_event(50, 1, 20, "/bin/sh", {"sh"}));
  rig.publish(exec_event(100, 50, 30, "/bin/cat", {"cat"}));
  rig.publish(task_event(v1::EVENT_KIND_EXIT, 50, 1, 20));
  // pid 50 is reused by a process that started after 100: it is not 100's parent.
  rig.publish(exec_event(50, 1, 35, "/usr/bin/stranger", {"stranger"}));
  const v1::Process p = rig.publish(task_event(v1::EVENT_KIND_EXIT, 100, 50, 30)).process();
  CHECK(p.ancestry_size() == 0);
  CHECK(p.ancestry_truncated());
  CHECK(p.argv(0) == "cat");
}

TEST_CASE("enrich: an event with nothing cached carries no wire fields") {
  Rig rig;
  DecodedEvent decoded = task_event(v1::EVENT_KIND_EXIT, 4'000'000, 3'999'999, 30);  // no such pid
  rig.config.process.ancestry_depth = 8;
  rig.enricher.enrich(decoded);
  CHECK(decoded.event.GetReflection()->GetUnknownFields(decoded.event).empty());
  CHECK(decoded.event.process().ancestry_truncated());
  CHECK(decoded.event.process().notes_size() >= 1);
}
