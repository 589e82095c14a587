#include "fim_maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <tuple>

namespace vajra {
namespace {

vj_fim_prefix_key prefix_key(const std::string& prefix) {
  vj_fim_prefix_key key{};
  const size_t bytes = std::min(prefix.size(), sizeof(key.data));
  std::memcpy(key.data, prefix.data(), bytes);
  key.prefixlen = static_cast<uint32_t>(bytes * 8);
  return key;
}

std::string failed(const char* what, const char* map) {
  return std::string(what) + " map " + map + ": " + std::strerror(errno);
}

}  // namespace

bool FimMaps::available() {
  if (settings_fd_ >= 0) return true;
  dirs_fd_ = probes_.map_fd("file", "fim_dirs");
  names_fd_ = probes_.map_fd("file", "fim_names");
  prefixes_fd_ = probes_.map_fd("file", "fim_prefixes");
  filtered_fd_ = probes_.map_fd("file", "fim_filtered");
  if (dirs_fd_ >= 0 && names_fd_ >= 0 && prefixes_fd_ >= 0 && filtered_fd_ >= 0)
    settings_fd_ = probes_.map_fd("file", "fim_settings");
  return settings_fd_ >= 0;
}

std::string FimMaps::write_settings(uint32_t ops, uint32_t subtree_ops, uint32_t host_mnt_ns) {
  const uint32_t zero = 0;
  const vj_fim_settings settings{ops, host_mnt_ns, flags_, subtree_ops};
  if (bpf_map_update_elem(settings_fd_, &zero, &settings, BPF_ANY) != 0) return failed("writing", "fim_settings");
  return "";
}

std::string FimMaps::apply(const FimPlan& plan, uint32_t host_mnt_ns) {
  if (!available()) return "the file probes are not loaded";
  host_mnt_ns_ = host_mnt_ns;
  // Widened first like ops: a subtree watched before and after never skips its walk.
  const uint32_t widened_subtree = subtree_ops_ | plan.subtree_ops;
  if (std::string error = write_settings(ops_ | plan.all_ops, widened_subtree, host_mnt_ns); !error.empty()) {
    return error;
  }

  std::set<DirKey> dirs;
  for (const FimDirEntry& entry : plan.dirs) {
    if (bpf_map_update_elem(dirs_fd_, &entry.key, &entry.value, BPF_ANY) != 0) return failed("filling", "fim_dirs");
    dirs.emplace(entry.key.dev, entry.key.ino);
  }
  std::set<NameKey> names;
  for (const FimNameEntry& entry : plan.names) {
    if (bpf_map_update_elem(names_fd_, &entry.key, &entry.ops, BPF_ANY) != 0) return failed("filling", "fim_names");
    names.emplace(entry.key.dev, entry.key.dir_ino, entry.key.name_hash);
  }
  std::set<std::string> prefixes;
  for (const FimPrefixEntry& entry : plan.prefixes) {
    const vj_fim_prefix_key key = prefix_key(entry.prefix);
    if (bpf_map_update_elem(prefixes_fd_, &key, &entry.ops, BPF_ANY) != 0) return failed("filling", "fim_prefixes");
    prefixes.insert(entry.prefix);
  }

  for (const DirKey& old : dirs_) {
    if (dirs.count(old)) continue;
    const vj_fim_inode_key key{old.first, 0, old.second};
    bpf_map_delete_elem(dirs_fd_, &key);
  }
  for (const NameKey& old : names_) {
    if (names.count(old)) continue;
    const vj_fim_name_key key{std::get<0>(old), 0, std::get<1>(old), std::get<2>(old)};
    bpf_map_delete_elem(names_fd_, &key);
  }
  for (const std::string& old : prefixes_) {
    if (prefixes.count(old)) continue;
    const vj_fim_prefix_key key = prefix_key(old);
    bpf_map_delete_elem(prefixes_fd_, &key);
  }
  dirs_ = std::move(dirs);
  names_ = std::move(names);
  prefixes_ = std::move(prefixes);
  ops_ = plan.all_ops;
  subtree_ops_ = plan.subtree_ops;
  return write_settings(ops_, subtree_ops_, host_mnt_ns);
}

std::string FimMaps::set_flags(uint32_t flags) {
  if (flags == flags_) return "";
  flags_ = flags;
  return available() ? write_settings(ops_, subtree_ops_, host_mnt_ns_) : "";
}

std::array<uint64_t, VJ_FILE_OP_MAX> FimMaps::filtered() const {
  std::array<uint64_t, VJ_FILE_OP_MAX> totals{};
  const int cpus = libbpf_num_possible_cpus();
  if (settings_fd_ < 0 || cpus <= 0) return totals;
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  for (uint32_t op = 0; op < VJ_FILE_OP_MAX; ++op) {
    if (bpf_map_lookup_elem(filtered_fd_, &op, per_cpu.data()) != 0) continue;
    for (uint64_t count : per_cpu) totals[op] += count;
  }
  return totals;
}

}  // namespace vajra
