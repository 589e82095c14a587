// Writes the file watch filter into the file family's BPF maps (bpf/fim_filter.bpf.h) and reads its
// counters. A new plan is applied so that a path watched before and after never falls through:
// entries are added before stale ones are removed, and the operation gate is widened first and
// narrowed last.
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "probes.h"
#include "vajra_wire.h"
#include "watch_list.h"

namespace vajra {

class FimMaps {
 public:
  // The maps are looked up in `probes` at the first apply(), once the probes are loaded.
  explicit FimMaps(const ProbeSet& probes) : probes_(probes) {}
  // Whether the file family is loaded (looks its maps up if not done yet).
  bool available();

  // Returns "" or what failed (the kernel keeps whatever was written up to the failure, always a
  // superset of either plan's entries, never fewer).
  std::string apply(const FimPlan& plan, uint32_t host_mnt_ns);
  // Sets enum vj_fim_flags; kept across apply().
  std::string set_flags(uint32_t flags);

  // Events the filter dropped, per vj_file_op.
  std::array<uint64_t, VJ_FILE_OP_MAX> filtered() const;  // zeros until available()
  size_t dirs() const { return dirs_.size(); }
  size_t names() const { return names_.size(); }
  size_t prefixes() const { return prefixes_.size(); }

 private:
  using DirKey = std::pair<uint32_t, uint64_t>;
  using NameKey = std::tuple<uint32_t, uint64_t, uint64_t>;
  std::string write_settings(uint32_t ops, uint32_t subtree_ops, uint32_t host_mnt_ns);

  const ProbeSet& probes_;
  int dirs_fd_ = -1, names_fd_ = -1, prefixes_fd_ = -1, settings_fd_ = -1, filtered_fd_ = -1;
  std::set<DirKey> dirs_;
  std::set<NameKey> names_;
  std::set<std::string> prefixes_;
  uint32_t ops_ = 0;
  uint32_t subtree_ops_ = 0;
  uint32_t host_mnt_ns_ = 0;
  uint32_t flags_ = 0;
};

}  // namespace vajra
