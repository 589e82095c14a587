#include "hardlink_index.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devno.h"
#include "pathnorm.h"

namespace vajra {
namespace {

struct Scan {
  const std::function<bool(const std::string&)>& watched;
  size_t max_entries;
  size_t visited = 0;
  std::vector<std::pair<struct stat, std::string>> found{};  // so that a brace list may stop before it
};

// Depth-first, with an explicit stack: watched trees can be deep.
void scan_tree(const std::string& root, Scan& scan) {
  std::vector<std::string> pending{root};
  while (!pending.empty() && scan.visited < scan.max_entries) {
    const std::string path = std::move(pending.back());
    pending.pop_back();
    ++scan.visited;
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) continue;
    if (S_ISREG(st.st_mode)) {
      if (st.st_nlink > 1 && scan.watched(path)) scan.found.emplace_back(st, path);
      continue;
    }
    if (!S_ISDIR(st.st_mode)) continue;
    DIR* dir = opendir(path.c_str());
    if (!dir) continue;
    while (const dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      pending.push_back(path == "/" ? "/" + name : path + "/" + name);
    }
    closedir(dir);
  }
}

}  // namespace

size_t HardlinkIndex::rebuild(const std::vector<std::string>& roots,
                              const std::function<bool(const std::string&)>& watched, size_t max_entries) {
  Scan scan{watched, max_entries};
  for (const std::string& root : roots) {
    // A root inside another is scanned with it.
    bool nested = false;
    for (const std::string& other : roots) nested |= other != root && path_has_prefix(root, other);
    if (!nested) scan_tree(root, scan);
  }
  std::unordered_multimap<uint64_t, Entry> fresh;
  for (const auto& [st, path] : scan.found) {
    const uint32_t dev = kernel_dev(st.st_dev);
    fresh.emplace(key(dev, st.st_ino), Entry{dev, static_cast<uint64_t>(st.st_ino), path});
  }
  std::lock_guard<std::mutex> lock(mu_);
  entries_ = std::move(fresh);
  return scan.visited;
}

void HardlinkIndex::add(uint32_t kernel_dev, uint64_t ino, const std::string& watched_path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!find_locked(kernel_dev, ino)) entries_.emplace(key(kernel_dev, ino), Entry{kernel_dev, ino, watched_path});
}

const std::string* HardlinkIndex::find_locked(uint32_t kernel_dev, uint64_t ino) const {
  auto [first, last] = entries_.equal_range(key(kernel_dev, ino));
  for (auto it = first; it != last; ++it)
    if (it->second.dev == kernel_dev && it->second.ino == ino) return &it->second.path;
  return nullptr;
}

std::optional<std::string> HardlinkIndex::find(uint32_t kernel_dev, uint64_t ino) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (const std::string* path = find_locked(kernel_dev, ino)) return *path;
  return std::nullopt;
}

size_t HardlinkIndex::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace vajra
