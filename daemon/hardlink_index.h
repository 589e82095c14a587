// Watched files that have more than one name, by inode. The kernel filter sees the name a process
// used; a write through a name outside the watched trees to a file that is also inside them is passed
// to vajrad (bpf/file.bpf.c: hardlinked()), and this index says which watched name it is.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace vajra {

class HardlinkIndex {
 public:
  // Replaces the index with the regular files of more than one link below `roots` (files or
  // directories, not following symlinks) for which `watched` is true. Visits at most `max_entries`
  // directory entries; returns how many it visited.
  size_t rebuild(const std::vector<std::string>& roots, const std::function<bool(const std::string&)>& watched,
                 size_t max_entries);
  // A watched file that gained a name (a link event).
  void add(uint32_t kernel_dev, uint64_t ino, const std::string& watched_path);
  std::optional<std::string> find(uint32_t kernel_dev, uint64_t ino) const;
  size_t size() const;

 private:
  static uint64_t key(uint32_t kernel_dev, uint64_t ino) { return ino * 0x9E3779B97F4A7C15ull ^ kernel_dev; }
  const std::string* find_locked(uint32_t kernel_dev, uint64_t ino) const;
  struct Entry {
    uint32_t dev;
    uint64_t ino;
    std::string path;
  };
  mutable std::mutex mu_;
  std::unordered_multimap<uint64_t, Entry> entries_;
};

}  // namespace vajra
