// Process cache: exec/fork/exit bookkeeping, pid reuse, ancestry, LRU bounds and /proc seeding.
#include <catch2/catch.hpp>

#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "proc_reader.h"
#include "process_cache.h"

using namespace vajra;

namespace {

DecodedEvent exec_event(uint32_t pid, uint32_t ppid, uint64_t start, const std::string& exe) {
  DecodedEvent d;
  d.event.set_kind(v1::EVENT_KIND_EXEC);
  auto& p = *d.event.mutable_process();
  p.set_pid(pid);
  p.set_tid(pid);
  p.set_ppid(ppid);
  p.set_exe(exe);
  p.add_argv(exe);
  p.add_argv("--flag");
  p.set_cwd("/work");
  p.set_start_time_ns(start + 1000);
  d.start_boottime_ns = start;
  return d;
}

DecodedEvent fork_event(uint32_t parent, uint64_t parent_start, uint32_t child, uint64_t child_start) {
  DecodedEvent d;
  d.event.set_kind(v1::EVENT_KIND_FORK);
  d.event.mutable_process()->set_pid(parent);
  d.event.mutable_fork()->set_child_pid(child);
  d.event.mutable_fork()->set_child_start_time_ns(child_start + 1000);
  d.start_boottime_ns = parent_start;
  d.child_start_boottime_ns = child_start;
  return d;
}

}  // namespace

TEST_CASE("exec then fork: the child inherits its parent's image") {
  ProcessCache cache(16);
  cache.on_exec(exec_event(10, 1, 100, "/usr/bin/bash"));
  cache.on_fork(fork_event(10, 100, 11, 200));
  const CachedProcess* child = cache.find(11, 200);
  REQUIRE(child);
  CHECK(child->process.exe() == "/usr/bin/bash");
  CHECK(child->process.ppid() == 10);
  CHECK(child->process.argv_size() == 2);
  CHECK(child->process.start_time_ns() == 1200);
}

TEST_CASE("a recycled pid is not mistaken for the old process") {
  ProcessCache cache(16);
  cache.on_exec(exec_event(10, 1, 100, "/old"));
  CHECK(cache.find(10, 100));
  CHECK_FALSE(cache.find(10, 999));
  CHECK(cache.status().misses() == 1);
}

TEST_CASE("ancestry follows ppid, nearest first, and stops at pid 0") {
  ProcessCache cache(16);
  cache.on_exec(exec_event(1, 0, 10, "/sbin/init"));
  cache.on_exec(exec_event(20, 1, 20, "/usr/sbin/sshd"));
  cache.on_exec(exec_event(30, 20, 30, "/usr/bin/bash"));
  v1::Process p;
  CHECK(cache.fill_ancestry(30, 40, 8, p));
  REQUIRE(p.ancestry_size() == 3);
  CHECK(p.ancestry(0).pid() == 30);
  CHECK(p.ancestry(0).exe() == "/usr/bin/bash");
  CHECK(p.ancestry(0).argv(1) == "--flag");
  CHECK(p.ancestry(1).pid() == 20);
  CHECK(p.ancestry(2).pid() == 1);

  v1::Process shallow;
  CHECK_FALSE(cache.fill_ancestry(30, 40, 2, shallow));
  CHECK(shallow.ancestry_size() == 2);
}

TEST_CASE("ancestry refuses a parent that started after its child") {
  ProcessCache cache(16);
  cache.on_exec(exec_event(20, 1, 500, "/stranger"));  // pid 20 reused after our process started
  v1::Process p;
  CHECK_FALSE(cache.fill_ancestry(20, 100, 8, p));
  CHECK(p.ancestry_size() == 0);
}

TEST_CASE("exited processes stay for their descendants' ancestry") {
  ProcessCache cache(16);
  cache.on_exec(exec_event(1, 0, 10, "/sbin/init"));
  cache.on_exec(exec_event(20, 1, 20, "/bin/sh"));
  cache.on_exit(20, 20);
  v1::Process p;
  CHECK(cache.fill_ancestry(20, 30, 8, p));
  CHECK(p.ancestry(0).exe() == "/bin/sh");
}

TEST_CASE("an exited process leaves once newer exits push it out, unless a cached process descends from it") {
  ProcessCache cache(64, 2);
  cache.on_exec(exec_event(1, 0, 10, "/sbin/init"));
  cache.on_exec(exec_event(20, 1, 20, "/usr/bin/daemonizer"));
  cache.on_fork(fork_event(20, 20, 21, 21));
  cache.on_exit(20, 20);  // 21 lives on, orphaned
  for (uint32_t pid = 30; pid < 33; ++pid) {
    cache.on_exec(exec_event(pid, 1, pid, "/bin/true"));
    cache.on_exit(pid, pid);
  }
  CHECK_FALSE(cache.find(30, 30));  // pushed out by the two newer exits
  CHECK(cache.find(31, 31));
  CHECK(cache.find(32, 32));
  v1::Process orphan;
  CHECK(cache.fill_ancestry(21, 21, 8, orphan));  // 20 stays: 21 descends from it
  REQUIRE(orphan.ancestry_size() == 3);
  CHECK(orphan.ancestry(1).exe() == "/usr/bin/daemonizer");

  cache.on_exit(21, 21);
  for (uint32_t pid = 40; pid < 42; ++pid) {
    cache.on_exec(exec_event(pid, 1, pid, "/bin/true"));
    cache.on_exit(pid, pid);
  }
  CHECK_FALSE(cache.find(21, 21));
  CHECK_FALSE(cache.find(20, 20));  // its last descendant left, so it went too
  CHECK(cache.find(1, 10));
  CHECK(cache.status().size() == 3);  // init and the two newest exits
  CHECK(cache.status().evictions() == 0);
}

TEST_CASE("an exec keeps the process's place as a parent; a reused pid does not inherit it") {
  ProcessCache cache(64, 0);
  cache.on_exec(exec_event(20, 1, 20, "/bin/sh"));
  cache.on_fork(fork_event(20, 20, 21, 21));
  cache.on_exec(exec_event(20, 1, 20, "/usr/bin/python3"));  // same process, new image
  cache.on_exit(20, 20);
  CHECK(cache.find(20, 20));  // still the parent of 21
  cache.on_exit(21, 21);
  CHECK_FALSE(cache.find(21, 21));
  CHECK_FALSE(cache.find(20, 20));

  cache.on_exec(exec_event(50, 1, 50, "/old"));
  cache.on_fork(fork_event(50, 50, 51, 51));
  cache.on_exec(exec_event(50, 1, 500, "/new"));  // pid 50 reused: 51 is not its child
  cache.on_exit(50, 500);
  CHECK_FALSE(cache.find(50, 500));
  CHECK(cache.find(51, 51));
}

namespace {

// The ancestry collect_ancestry_wire gives, parsed as a subscriber would.
v1::Process parsed_ancestry(ProcessCache& cache, uint32_t ppid, uint64_t start, uint32_t depth, bool& complete) {
  std::vector<const std::string*> parts;
  complete = cache.collect_ancestry_wire(ppid, start, depth, parts);
  std::string wire;
  for (const std::string* part : parts) wire += *part;
  v1::Process p;
  REQUIRE(p.ParseFromString(wire));
  return p;
}

bool same_ancestry(const v1::Process& a, const v1::Process& b) {
  if (a.ancestry_size() != b.ancestry_size()) return false;
  for (int i = 0; i < a.ancestry_size(); ++i)
    if (a.ancestry(i).SerializeAsString() != b.ancestry(i).SerializeAsString()) return false;
  return true;
}

// The ancestry of (ppid, start) to depth 8 as messages and in wire form, checked to agree and to
// reach pid 0; returns the wire form, parsed.
v1::Process complete_ancestry(ProcessCache& cache, uint32_t ppid, uint64_t start) {
  v1::Process messages;
  CHECK(cache.fill_ancestry(ppid, start, 8, messages));
  bool complete = false;
  v1::Process wire = parsed_ancestry(cache, ppid, start, 8, complete);
  CHECK(complete);
  CHECK(same_ancestry(wire, messages));
  return wire;
}

}  // namespace

TEST_CASE("ancestry in wire form is the ancestry fill_ancestry builds, in every case") {
  ProcessCache cache(16);
  cache.on_exec(exec_event(1, 0, 10, "/sbin/init"));
  cache.on_exec(exec_event(20, 1, 20, "/usr/sbin/sshd"));
  cache.on_exec(exec_event(30, 20, 30, "/usr/bin/bash"));
  cache.on_exit(20, 20);
  cache.on_exec(exec_event(40, 1, 500, "/stranger"));
  struct Case {
    uint32_t ppid;
    uint64_t start;
    uint32_t depth;
  };
  for (const Case& c : {Case{30, 40, 8}, Case{30, 40, 2}, Case{30, 40, 0}, Case{20, 25, 8}, Case{40, 100, 8},
                        Case{99, 100, 8}, Case{0, 100, 8}}) {
    for (int round = 0; round < 2; ++round) {  // built, then reused
      v1::Process messages;
      const bool message_complete = cache.fill_ancestry(c.ppid, c.start, c.depth, messages);
      bool wire_complete = false;
      const v1::Process wire = parsed_ancestry(cache, c.ppid, c.start, c.depth, wire_complete);
      CHECK(wire_complete == message_complete);
      CHECK(same_ancestry(wire, messages));
    }
  }
}

TEST_CASE("ancestry in wire form follows an exec, and a forked child is an ancestor in its own name") {
  ProcessCache cache(16);
  cache.on_exec(exec_event(1, 0, 10, "/sbin/init"));
  cache.on_exec(exec_event(20, 1, 20, "/bin/sh"));
  bool complete = false;
  CHECK(parsed_ancestry(cache, 20, 30, 8, complete).ancestry(0).exe() == "/bin/sh");
  cache.on_exec(exec_event(20, 1, 20, "/usr/bin/make"));  // same process, new image
  CHECK(parsed_ancestry(cache, 20, 30, 8, complete).ancestry(0).exe() == "/usr/bin/make");

  cache.on_fork(fork_event(20, 20, 21, 25));
  const v1::Process p = parsed_ancestry(cache, 21, 30, 8, complete);
  CHECK(complete);
  REQUIRE(p.ancestry_size() == 3);
  CHECK(p.ancestry(0).pid() == 21);
  CHECK(p.ancestry(0).start_time_ns() == 1025);
  CHECK(p.ancestry(0).exe() == "/usr/bin/make");
  CHECK(p.ancestry(1).pid() == 20);
}

namespace {

std::vector<std::string> cut_argv(const std::vector<std::string>& argv, size_t max_bytes, bool& whole) {
  google::protobuf::RepeatedPtrField<std::string> in(argv.begin(), argv.end()), out;
  whole = copy_ancestor_argv(in, max_bytes, out);
  return {out.begin(), out.end()};
}

}  // namespace

TEST_CASE("an ancestor's argv is cut to its byte limit, each argument counted with its NUL") {
  const std::vector<std::string> argv{"java", "-cp", "a.jar:b.jar", "Main"};  // 5 + 4 + 12 + 5 = 26 bytes
  bool whole = false;
  CHECK(cut_argv(argv, SIZE_MAX, whole) == argv);
  CHECK(whole);
  CHECK(cut_argv(argv, 26, whole) == argv);  // exactly fits
  CHECK(whole);
  CHECK(cut_argv(argv, 25, whole) == std::vector<std::string>{"java", "-cp", "a.jar:b.jar", "Mai"});
  CHECK_FALSE(whole);
  CHECK(cut_argv(argv, 15, whole) == std::vector<std::string>{"java", "-cp", "a.jar"});  // 5 bytes and its NUL
  CHECK_FALSE(whole);
  CHECK(cut_argv(argv, 10, whole) == std::vector<std::string>{"java", "-cp"});  // no room for a byte of the next
  CHECK_FALSE(whole);
  CHECK(cut_argv(argv, 0, whole).empty());
  CHECK_FALSE(whole);
  CHECK(cut_argv({}, 0, whole).empty());
  CHECK(whole);
  CHECK(cut_argv({"", ""}, 1, whole) == std::vector<std::string>{""});  // an empty argument still takes its NUL
  CHECK_FALSE(whole);
}

TEST_CASE("an ancestor's argv is cut between characters, never inside one") {
  bool whole = true;
  // "é" is two bytes (C3 A9): with 2 bytes of room before the NUL, "aé" would split it.
  CHECK(cut_argv({"a\xc3\xa9z"}, 3, whole) == std::vector<std::string>{"a"});
  CHECK_FALSE(whole);
  CHECK(cut_argv({"a\xc3\xa9z"}, 4, whole) == std::vector<std::string>{"a\xc3\xa9"});
  // A four-byte character at the start with room for three: nothing of it is kept.
  CHECK(cut_argv({"\xf0\x9f\x98\x80"}, 4, whole).empty());
  CHECK_FALSE(whole);
}

TEST_CASE("the ancestor argv limit applies to ancestries as messages and in wire form alike") {
  ProcessCache cache(16);
  cache.limit_ancestor_argv(20, UINT32_MAX);
  cache.on_exec(exec_event(1, 0, 10, "/sbin/init"));  // argv "/sbin/init" "--flag": 11 + 7 bytes
  cache.on_exec(exec_event(20, 1, 20, "/usr/sbin/sshd"));  // 15 + 7 bytes: "--flag" cut to "--fl"
  const v1::Process wire = complete_ancestry(cache, 20, 30);
  REQUIRE(wire.ancestry_size() == 2);
  CHECK(std::vector<std::string>(wire.ancestry(0).argv().begin(), wire.ancestry(0).argv().end()) ==
        std::vector<std::string>{"/usr/sbin/sshd", "--fl"});
  CHECK(wire.ancestry(0).argv_truncated());
  CHECK(wire.ancestry(1).argv_size() == 2);
  CHECK_FALSE(wire.ancestry(1).argv_truncated());
  // The process's own entry keeps its argv whole: only the copies in ancestries are cut.
  CHECK(cache.find(20, 20)->process.argv(1) == "--flag");
}

TEST_CASE("ancestors beyond the argv depth carry no argv, flagged, in messages and in wire form alike") {
  ProcessCache cache(16);
  cache.limit_ancestor_argv(SIZE_MAX, 1);
  cache.on_exec(exec_event(1, 0, 10, "/sbin/init"));
  DecodedEvent kthreadd = exec_event(2, 1, 15, "");
  kthreadd.event.mutable_process()->clear_argv();  // as /proc shows a kernel thread: no argv
  cache.on_exec(kthreadd);
  cache.on_exec(exec_event(20, 2, 20, "/usr/sbin/sshd"));
  cache.on_exec(exec_event(30, 20, 30, "/usr/bin/bash"));
  for (int pass = 0; pass < 2; ++pass) {  // the second pass reuses the wire forms built by the first
    INFO("pass " << pass);
    const v1::Process wire = complete_ancestry(cache, 30, 40);
    REQUIRE(wire.ancestry_size() == 4);
    CHECK(wire.ancestry(0).pid() == 30);
    CHECK(wire.ancestry(0).argv_size() == 2);  // the parent, within the depth: whole
    CHECK_FALSE(wire.ancestry(0).argv_truncated());
    CHECK(wire.ancestry(1).exe() == "/usr/sbin/sshd");
    CHECK(wire.ancestry(1).argv_size() == 0);  // beyond it: pid, exe and start time only
    CHECK(wire.ancestry(1).argv_truncated());
    CHECK(wire.ancestry(1).start_time_ns() == 1020);
    CHECK(wire.ancestry(2).argv_size() == 0);
    CHECK_FALSE(wire.ancestry(2).argv_truncated());  // it had no argv to leave out
    CHECK(wire.ancestry(3).argv_truncated());
  }
  // Ancestor 20 is the parent of 25: within the depth there, so it carries its argv.
  cache.on_exec(exec_event(25, 20, 25, "/usr/bin/id"));
  const v1::Process wire = complete_ancestry(cache, 20, 26);
  REQUIRE(wire.ancestry_size() == 3);
  CHECK(wire.ancestry(0).argv_size() == 2);
  CHECK_FALSE(wire.ancestry(0).argv_truncated());
}

TEST_CASE("a process's image in wire form holds its tty, argv, cwd and env, and a forked child shares it") {
  ProcessCache cache(16);
  DecodedEvent exec = exec_event(10, 1, 100, "/usr/bin/bash");
  auto& ep = *exec.event.mutable_process();
  ep.set_tty("pts/1");
  ep.set_argv_truncated(true);
  (*ep.mutable_env())["LD_PRELOAD"] = "/x.so";
  ep.set_env_truncated(true);
  cache.on_exec(exec);
  cache.on_fork(fork_event(10, 100, 11, 200));
  for (uint32_t pid : {10u, 11u}) {
    const CachedProcess* entry = cache.find(pid, pid == 10 ? 100 : 200);
    REQUIRE(entry);
    v1::Process image;
    REQUIRE(image.ParseFromString(ProcessCache::image_wire(*entry)));
    v1::Process expected;
    expected.set_tty("pts/1");
    expected.add_argv("/usr/bin/bash");
    expected.add_argv("--flag");
    expected.set_argv_truncated(true);
    expected.set_cwd("/work");
    (*expected.mutable_env())["LD_PRELOAD"] = "/x.so";
    expected.set_env_truncated(true);
    CHECK(image.SerializeAsString() == expected.SerializeAsString());
  }
}

TEST_CASE("the LRU bound evicts the least recently used and counts it") {
  ProcessCache cache(2);
  cache.on_exec(exec_event(1, 0, 1, "/a"));
  cache.on_exec(exec_event(2, 0, 2, "/b"));
  CHECK(cache.find(1, 1));  // touch 1: 2 is now the oldest
  cache.on_exec(exec_event(3, 0, 3, "/c"));
  CHECK(cache.find(1, 1));
  CHECK_FALSE(cache.find(2, 2));
  CHECK(cache.find(3, 3));
  CHECK(cache.status().evictions() == 1);
  CHECK(cache.status().size() == 2);
}

TEST_CASE("seeding reads this very process from /proc") {
  BootClock clock;
  ProcessCache cache(65536);
  CHECK(cache.seed_from_proc(clock) > 1);
  auto self = read_proc_process("/proc", getpid(), find_cgroup2_mount(), clock);
  REQUIRE(self);
  CHECK(self->process.pid() == static_cast<uint32_t>(getpid()));
  CHECK(self->process.ppid() == static_cast<uint32_t>(getppid()));
  CHECK(self->process.uid() == getuid());
  CHECK(self->process.exe() == read_proc_process("/proc", getpid(), "", clock)->process.exe());
  CHECK(self->process.exe().find("vajra_unit_tests") != std::string::npos);
  CHECK(self->process.argv_size() >= 1);
  CHECK(self->process.namespaces().pid() != 0);
  CHECK(self->process.namespaces().mnt() != 0);
  CHECK(self->has_exe_identity);
  CHECK_FALSE(self->start_precise);
  // The seeded entry is the same incarnation the kernel would report (within a clock tick).
  CHECK(cache.find(getpid(), self->start_boottime_ns + 5'000'000));
}

TEST_CASE("cgroup2 mount is found in mountinfo") {
  const std::string mount = find_cgroup2_mount();
  CHECK_FALSE(mount.empty());
  CHECK(mount.rfind("/sys/fs/cgroup", 0) == 0);
}

TEST_CASE("kernel dev encoding matches the kernel's MKDEV") {
  CHECK(kernel_dev(makedev(8, 1)) == ((8u << 20) | 1));
  CHECK(kernel_dev(makedev(0, 300)) == 300u);
}
