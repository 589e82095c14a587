// The file watch lists at run time: which categories are in force (swapped whole on reload), the
// kernel filter derived from them, and what vajrad adds to a file event: host paths, attributes for
// calls by name, the categories it matched, and content hashes. Counts what it filters out.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "file_hasher.h"
#include "fim_maps.h"
#include "hardlink_index.h"
#include "mount_map.h"
#include "probes.h"
#include "watch_list.h"

namespace vajra {

class FileWatch {
 public:
  FileWatch(const ProbeSet& probes, uint32_t host_mnt_ns);

  // Puts `files` in force: kernel maps first, then the globs. On failure the previous lists stay and
  // the error is returned (and shown in status).
  std::string apply(const FilesConfig& files);
  // A reload that never reached apply() (the config did not parse): shown in status.
  void reload_failed(const std::string& error);

  // Decode thread. Fills in the event; false when no category matched (counted, not published).
  // `hash` is set when a category wants the content hashed.
  bool enrich(v1::Event& event, std::optional<FileHasher::Pending>& hash);

  // Publish thread: a requested hash came back without every digest.
  void count_hash_failure(const v1::FileEvent& file);

  void fill_status(v1::FileStatus& out) const;

 private:
  struct CategoryCounters {
    std::atomic<uint64_t> matched{0}, hashed{0}, hash_failures{0};
  };
  struct State {
    FilesConfig files;
    WatchList list;
    std::vector<std::shared_ptr<CategoryCounters>> counters;  // per category, by index
  };

  std::shared_ptr<const State> state() const { return std::atomic_load(&state_); }
  std::string replan(const FilesConfig& files);  // with plan_mu_ held
  std::string open_path(const v1::Event& event, const v1::FilePath& path) const;
  void fill_attributes(const v1::Event& event, v1::FileEvent& file);
  std::vector<size_t> match_hardlink(const State& state, v1::FileEvent& file, uint16_t op) const;
  std::vector<size_t> match_truncated(const State& state, v1::FileEvent& file, uint16_t op) const;
  void learn_link(const State& state, const v1::Event& event);
  std::optional<FileHasher::Pending> request_hash(const State& state, const std::vector<size_t>& matched,
                                                  const v1::Event& event);

  const uint32_t host_mnt_ns_;
  std::shared_ptr<const State> state_;
  MountMap mounts_;  // decode thread only
  FileHasher hasher_;
  HardlinkIndex hardlinks_;

  mutable std::mutex plan_mu_;  // the kernel maps and what status says of them
  FimMaps maps_;
  std::vector<std::string> unresolved_;
  std::string last_error_;
  uint64_t generation_ = 0;
  std::map<std::string, std::shared_ptr<CategoryCounters>> counters_by_name_;

  std::atomic<uint64_t> unmatched_{0};
};

}  // namespace vajra
