// What vajrad knows about each live (and recently exited) process: identity, exe, argv, cwd,
// credentials, cgroup, container, namespaces. Fed by exec/fork/exit events and seeded from /proc, so
// processes older than the daemon have context too. Bounded LRU; evictions are counted.
//
// Only the pipeline's decode thread mutates it; counters are atomics so Status may read them.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

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
};

class ProcessCache {
 public:
  explicit ProcessCache(size_t capacity);

  // Adds every process under proc_root. Returns how many were added.
  size_t seed_from_proc(const BootClock& clock, const std::string& proc_root = "/proc");

  void on_exec(const DecodedEvent& exec);
  void on_fork(const DecodedEvent& fork);
  void on_exit(uint32_t pid, uint64_t start_boottime_ns);
  void insert(CachedProcess entry);

  // The entry for this incarnation of pid (start time must agree), or nullptr.
  const CachedProcess* find(uint32_t pid, uint64_t start_boottime_ns);

  // Appends up to `depth` ancestors of a process whose parent is `ppid` and which started at
  // `start_boottime_ns`. A parent is accepted only if it started no later than its child, so a
  // recycled pid never lends a stranger's exe. Returns false when the chain was cut short (an
  // ancestor not cached, or `depth` reached before pid 0).
  bool fill_ancestry(uint32_t ppid, uint64_t start_boottime_ns, uint32_t depth, v1::Process& out);

  v1::CacheStatus status() const;

 private:
  using Lru = std::list<CachedProcess>;
  CachedProcess* find_any(uint32_t pid);
  void touch(Lru::iterator it);

  const size_t capacity_;
  Lru lru_;  // front = most recently used
  std::unordered_map<uint32_t, Lru::iterator> by_pid_;
  std::atomic<uint64_t> size_{0}, hits_{0}, misses_{0}, evictions_{0};
};

}  // namespace vajra
