#include "mount_map.h"

#include <fstream>
#include <sstream>

#include "pathnorm.h"

namespace vajra {
namespace {

// Namespaces whose tables are kept; past this the cache starts over (containers come and go).
constexpr size_t kMaxNamespaces = 1024;
// A path no host mount shows (a container's private tmpfs) must not make every event re-read the table.
constexpr auto kHostRereadPeriod = std::chrono::seconds(1);
// A new namespace's table changes while its runtime sets it up (runc mounts, then pivots into the
// rootfs), so it is read afresh for every event during its first second, and every 10 s after.
constexpr auto kSettlingTime = std::chrono::seconds(1);
constexpr auto kRereadPeriod = std::chrono::seconds(10);

std::string unescape(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string digits = field.substr(i + 1, 3);
      if (digits.find_first_not_of("01234567") == std::string::npos) {
        out += static_cast<char>(std::stoi(digits, nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The part of `path` below `prefix` ("" when equal), given path_has_prefix(path, prefix).
std::string below(const std::string& path, const std::string& prefix) {
  if (prefix == "/") return path == "/" ? "" : path.substr(1);
  return path.size() == prefix.size() ? "" : path.substr(prefix.size() + 1);
}

std::string join(const std::string& dir, const std::string& rest) {
  if (rest.empty()) return dir;
  return dir == "/" ? "/" + rest : dir + "/" + rest;
}

}  // namespace

std::vector<MountEntry> parse_mountinfo(const std::string& text) {
  std::vector<MountEntry> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    if (!(fields >> id >> parent >> devno >> root >> mount_point)) continue;
    const size_t colon = devno.find(':');
    if (colon == std::string::npos) continue;
    MountEntry entry;
    try {
      entry.major = static_cast<uint32_t>(std::stoul(devno.substr(0, colon)));
      entry.minor = static_cast<uint32_t>(std::stoul(devno.substr(colon + 1)));
    } catch (const std::exception&) {
      continue;
    }
    entry.root = unescape(root);
    entry.mount_point = unescape(mount_point);
    out.push_back(std::move(entry));
  }
  return out;
}

std::string translate_path(const std::vector<MountEntry>& inner, const std::vector<MountEntry>& host,
                           const std::string& path) {
  // The innermost mount holding the path; the last in the table wins, as it is mounted on top.
  const MountEntry* holder = nullptr;
  for (const MountEntry& m : inner) {
    if (path_has_prefix(path, m.mount_point) && (!holder || m.mount_point.size() >= holder->mount_point.size()))
      holder = &m;
  }
  if (!holder) return "";
  const std::string fs_path = join(holder->root, below(path, holder->mount_point));
  const MountEntry* shown = nullptr;
  for (const MountEntry& m : host) {
    if (m.major != holder->major || m.minor != holder->minor || !path_has_prefix(fs_path, m.root)) continue;
    if (!shown || m.root.size() > shown->root.size()) shown = &m;
  }
  if (!shown) return "";
  return join(shown->mount_point, below(fs_path, shown->root));
}

const std::vector<MountEntry>* MountMap::table_of(uint32_t pid, uint32_t mnt_ns) {
  const auto now = std::chrono::steady_clock::now();
  auto found = namespaces_.find(mnt_ns);
  if (found != namespaces_.end() && now - found->second.first_seen >= kSettlingTime &&
      now - found->second.read_at < kRereadPeriod)
    return &found->second.mounts;
  std::vector<MountEntry> mounts = parse_mountinfo(read_file("/proc/" + std::to_string(pid) + "/mountinfo"));
  if (mounts.empty()) return found != namespaces_.end() ? &found->second.mounts : nullptr;  // the process is gone
  if (found == namespaces_.end()) {
    if (namespaces_.size() >= kMaxNamespaces) namespaces_.clear();
    found = namespaces_.emplace(mnt_ns, Table{{}, now, now}).first;
  }
  found->second.mounts = std::move(mounts);
  found->second.read_at = now;
  return &found->second.mounts;
}

std::string MountMap::host_path(uint32_t pid, uint32_t mnt_ns, const std::string& path) {
  if (mnt_ns == host_mnt_ns_ || mnt_ns == 0) return "";
  const std::vector<MountEntry>* inner = table_of(pid, mnt_ns);
  if (!inner) return "";
  std::string host = translate_path(*inner, host_, path);
  const auto now = std::chrono::steady_clock::now();
  if (host.empty() && now - host_read_ >= kHostRereadPeriod) {
    // Perhaps a mount made on the host since the last read (or the first call).
    host_ = parse_mountinfo(read_file("/proc/self/mountinfo"));
    host_read_ = now;
    host = translate_path(*inner, host_, path);
  }
  return host;
}

}  // namespace vajra
