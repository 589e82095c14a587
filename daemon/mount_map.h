// Where a file seen inside a container lives on the host: the container's mount table says which
// filesystem (device) and which directory of it a path is on; the host's mount table says where
// that directory is mounted on the host. Read from /proc/<pid>/mountinfo, cached per mount namespace.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace vajra {

struct MountEntry {
  std::string root;         // directory of the filesystem mounted here
  std::string mount_point;  // where, in the namespace that owns the table
  uint32_t major = 0, minor = 0;
};

// Parses /proc/<pid>/mountinfo text (octal escapes such as \040 decoded).
std::vector<MountEntry> parse_mountinfo(const std::string& text);

// `path` in the namespace of `inner` as a host path through `host`, or "" when no host mount shows
// that filesystem directory (a tmpfs private to the container, say).
std::string translate_path(const std::vector<MountEntry>& inner, const std::vector<MountEntry>& host,
                           const std::string& path);

class MountMap {
 public:
  explicit MountMap(uint32_t host_mnt_ns) : host_mnt_ns_(host_mnt_ns) {}

  // The host path of `path` as process `pid` (in mount namespace `mnt_ns`) sees it; "" when the
  // process is in the host's namespace (the path is the host path) or the mapping is unknown.
  std::string host_path(uint32_t pid, uint32_t mnt_ns, const std::string& path);

 private:
  const std::vector<MountEntry>* table_of(uint32_t pid, uint32_t mnt_ns);

  struct Table {
    std::vector<MountEntry> mounts;
    std::chrono::steady_clock::time_point first_seen, read_at;
  };

  const uint32_t host_mnt_ns_;
  std::vector<MountEntry> host_;
  std::chrono::steady_clock::time_point host_read_{};
  std::unordered_map<uint32_t, Table> namespaces_;
};

}  // namespace vajra
