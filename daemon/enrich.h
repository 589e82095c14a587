// Adds what the kernel record does not carry: the process context from the cache (exe, argv, cwd for
// fork/exit/exec_failed), container attribution, ancestry and the exe hash. Keeps the cache current.
// Runs on the pipeline's decode thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

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

 private:
  struct CgroupInfo {
    std::string path;
    v1::Container container;
  };
  // Returns the cached exe identity of the event's process, if there is one.
  const CachedProcess* fill_from_cache(DecodedEvent& decoded);
  void fill_cgroup(v1::Process& process);
  std::string open_path(const v1::Process& process) const;
  void remember_cgroup(uint64_t id, const std::string& path, const v1::Container& container);

  const ProcessConfig& config_;
  ProcessCache& cache_;
  Hasher& hasher_;
  const BootClock& clock_;
  const std::string cgroup2_mount_;
  const uint32_t own_mnt_ns_;
  std::unordered_map<uint64_t, CgroupInfo> cgroups_;  // cgroup id -> path and container
};

}  // namespace vajra
