// What vajrad knows about each live (and recently exited) process: identity, exe, argv, cwd,
// credentials, cgroup, container, namespaces. Fed by exec/fork/exit events and seeded from /proc, so
// processes older than the daemon have context too. Bounded LRU; evictions are counted. An exited
// process is kept while it is among the newest exits (for events that trail its exit) or while a
// cached process descends from it (to name it in that process's ancestry), then removed: on a busy
// host most processes are short-lived, and keeping each until the LRU ages it out cost megabytes.
//
// Only the pipeline's decode thread uses it (entries build their wire forms lazily, even through a
// const pointer); counters are atomics so Status may read them.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "boot_clock.h"
#include "decode.h"
#include "vajra/v1/vajra.pb.h"

namespace vajra {

struct CachedProcess {
  v1::Process process;  // identity fields only: no ancestry, hash or notes
  uint64_t start_boottime_ns = 0;
  bool start_precise = true;  // false when seeded from /proc, whose start time has clock-tick resolution
  bool has_exe_identity = false;
  FileIdentity exe_identity;
  bool exited = false;
  bool exit_expired = false;    // exited, out of the newest exits, kept only for its descendants
  uint32_t cached_children = 0;  // cached entries whose parent this is
  // Parts of `process` in wire form, built by ProcessCache on first use and then reused for every
  // event that carries them (see Enricher: they go into events pre-serialized). Empty until built.
  // They describe fields that never change in a cached entry: an exec replaces the entry, and a
  // forked child keeps its parent's image but gets its own ancestor form.
  //  - image_wire: a v1::Process holding only tty, argv, argv_truncated, cwd, env and env_truncated,
  //    serialized; what every later event of this process copies from its exec.
  //  - ancestor_wire: this process as one element of a descendant's Process.ancestry: the field's
  //    tag and length, then the serialized v1::Ancestor (pid, exe, argv as limited, start time).
  //  - far_ancestor_wire: the same without argv (argv limit 0), as descendants beyond the argv
  //    depth see it.
  mutable std::string image_wire;
  mutable std::string ancestor_wire;
  mutable std::string far_ancestor_wire;
};

// Copies into `out` the arguments of `argv` that fit in `max_bytes`, each counted with its NUL as the
// kernel lays argv out, then the start of the first one that does not fit, cut at a character
// boundary (argv is valid UTF-8 by then). Returns false when anything was left out.
bool copy_ancestor_argv(const google::protobuf::RepeatedPtrField<std::string>& argv, size_t max_bytes,
                        google::protobuf::RepeatedPtrField<std::string>& out);

class ProcessCache {
 public:
  // Keeps at most `capacity` (at least 1) processes, of which `recent_exits` are processes that
  // exited and that no cached process descends from.
  explicit ProcessCache(size_t capacity, size_t recent_exits = kRecentExits);
  static constexpr size_t kRecentExits = 2048;

  // Cuts each ancestor's argv in ancestries to `bytes` (see copy_ancestor_argv), and leaves it out
  // (flagged as cut) beyond the `depth` nearest ancestors; no limit until set. Set before the first
  // ancestry is built: the ancestor forms already built are not redone.
  void limit_ancestor_argv(size_t bytes, uint32_t depth) {
    ancestor_argv_max_bytes_ = bytes;
    ancestor_argv_depth_ = depth;
  }

  // Adds every process under proc_root. Returns how many were added.
  size_t seed_from_proc(const BootClock& clock, const std::string& proc_root = "/proc");

  // Returns the process's entry. A process keeps the start_time_ns it was first cached with (see
  // insert_entry), which may differ from the exec record's by a clock resample.
  const CachedProcess& on_exec(const DecodedEvent& exec);
  // Returns the child's entry (nullptr for a new thread, which gets none).
  const CachedProcess* on_fork(const DecodedEvent& fork);
  void on_exit(uint32_t pid, uint64_t start_boottime_ns);
  // Adds or replaces the entry for its pid. Its wire forms are dropped, to be built from its fields.
  void insert(CachedProcess entry);

  // The entry for this incarnation of pid (start time must agree), or nullptr.
  const CachedProcess* find(uint32_t pid, uint64_t start_boottime_ns);

  // Appends up to `depth` ancestors of a process whose parent is `ppid` and which started at
  // `start_boottime_ns`. A parent is accepted only if it started no later than its child, so a
  // recycled pid never lends a stranger's exe. Returns false when the chain was cut short (an
  // ancestor not cached, or `depth` reached before pid 0).
  bool fill_ancestry(uint32_t ppid, uint64_t start_boottime_ns, uint32_t depth, v1::Process& out);

  // The same chain with the same checks and result, in wire form: appends to `out`, nearest first,
  // each ancestor's CachedProcess::ancestor_wire (built on first use), the element of
  // Process.ancestry that fill_ancestry would add, serialized as it would serialize it. The pointers
  // hold until the cache next changes.
  bool collect_ancestry_wire(uint32_t ppid, uint64_t start_boottime_ns, uint32_t depth,
                             std::vector<const std::string*>& out);

  // `entry`'s image in wire form (see CachedProcess::image_wire), built on first use.
  static const std::string& image_wire(const CachedProcess& entry);

  v1::CacheStatus status() const;

 private:
  using Lru = std::list<CachedProcess>;
  CachedProcess* find_any(uint32_t pid);
  // insert() that keeps the entry's wire forms (they describe its fields). An entry replacing the
  // same process (its exec, or its fork read after its other events) keeps the replaced one's
  // start_time_ns: every event of a process, and its place in its descendants' ancestries, carries
  // one start time, so that (pid, start_time_ns) joins them. Converting the kernel's boot-time stamp again would not: the wall clock offset is
  // re-sampled every second, and moves by nanoseconds (more when NTP slews or steps the clock).
  CachedProcess& insert_entry(CachedProcess&& entry);
  // Walks the chain, calling emit(entry, argv_max_bytes) for each ancestor accepted, nearest first,
  // with the argv limit of its place in the chain.
  template <typename Emit>
  bool walk_ancestry(uint32_t ppid, uint64_t start_boottime_ns, uint32_t depth, Emit&& emit);
  void touch(Lru::iterator it);
  // The cached parent of `child`, or nullptr: found by ppid, and not a later process reusing the pid.
  CachedProcess* parent_of(const CachedProcess& child);
  void link_to_parent(const CachedProcess& child);
  // Removes the entry; a parent it was keeping (exited, expired, no other child) goes with it.
  void remove(Lru::iterator it);
  void expire_old_exits();

  const size_t capacity_;
  size_t ancestor_argv_max_bytes_ = SIZE_MAX;
  uint32_t ancestor_argv_depth_ = UINT32_MAX;
  const size_t recent_exits_;
  Lru lru_;  // front = most recently used
  std::unordered_map<uint32_t, Lru::iterator> by_pid_;
  std::deque<std::pair<uint32_t, uint64_t>> exits_;  // (pid, start) of exited processes, oldest first
  std::atomic<uint64_t> size_{0}, hits_{0}, misses_{0}, evictions_{0};
};

}  // namespace vajra
