// Adds what the kernel record does not carry: the process context from the cache (exe, argv, cwd for
// fork/exit/exec_failed), container attribution, ancestry and the exe hash. Keeps the cache current.
// Runs on the pipeline's decode thread only.
//
// What every event copies from the cache, the same bytes again and again, is attached in wire form:
// the ancestry, and (for events other than exec) the process's tty, argv, argv_truncated, cwd, env
// and env_truncated. They travel as one unknown field of the Event with the number of Event.process,
// holding a serialized v1::Process with only those fields, built from bytes each cache entry
// serializes once. A protobuf parser merges a message field that occurs twice, so a subscriber parses
// the very Process it would get had the fields been set one by one (the bytes differ only in order).
// Inside vajrad, event.process() lacks those fields until materialize_process() merges them in.
// Nothing in vajrad reads them: filters look at the kind, pid, exe and container, the file watch at
// pid and namespaces, the publisher sets the hash fields, the hub counts bytes (unknown fields count).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config.h"
#include "hasher.h"
#include "process_cache.h"

namespace vajra {

class Enricher {
 public:
  Enricher(const ProcessConfig& config, ProcessCache& cache, Hasher& hasher, const BootClock& clock);

  // Enriches `decoded` in place. Returns the exe hash to attach when the process's executable is
  // known; the publisher decides how long it may wait for it.
  std::optional<Hasher::Pending> enrich(DecodedEvent& decoded);

  // Called when an event's process is not in the cache, before /proc is read for it: vajrad reads
  // the process family's ring there, where a short-lived process's fork and exec records may still
  // wait (the records of different families are not ordered among themselves). It may enrich other
  // events meanwhile.
  void set_catch_up(std::function<void()> catch_up) { catch_up_ = std::move(catch_up); }

 private:
  struct CgroupInfo {
    std::string path;
    v1::Container container;
  };
  // Returns the cached exe identity of the event's process, if there is one.
  const CachedProcess* fill_from_cache(DecodedEvent& decoded);
  // `proc_gone`: /proc was read for this process just now and it was not there.
  void fill_cgroup(v1::Process& process, bool proc_gone);
  std::string open_path(const v1::Process& process) const;
  void remember_cgroup(uint64_t id, const std::string& path, const v1::Container& container);

  const ProcessConfig& config_;
  ProcessCache& cache_;
  Hasher& hasher_;
  const BootClock& clock_;
  const std::string cgroup2_mount_;
  const uint32_t own_mnt_ns_;
  std::unordered_map<uint64_t, CgroupInfo> cgroups_;  // cgroup id -> path and container
  std::function<void()> catch_up_;
  std::vector<const std::string*> ancestry_wire_;  // the event's ancestors in wire form, while it is enriched
};

// Moves the process fields enrich() attached in wire form into event.process() (and drops them from
// the unknown fields), for code in vajrad that must read them. Serialized, the event is the same.
void materialize_process(v1::Event& event);

}  // namespace vajra
