// Loads the BPF probe families and drains their ring buffers. Each family is its own BPF object
// with its own ring buffer, so a verifier rejection in one never takes another down; inside a family
// a rejected program is disabled alone and the rest load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "vajra/v1/vajra.pb.h"

namespace vajra {

class ProbeSet {
 public:
  // Called on the polling thread for each ring buffer record, in ring order per family.
  using RecordHandler = std::function<void(const void* data, size_t size)>;

  explicit ProbeSet(const Config& config);
  ~ProbeSet();
  ProbeSet(const ProbeSet&) = delete;
  ProbeSet& operator=(const ProbeSet&) = delete;

  // Detects kernel features, loads and attaches every enabled family. Never throws over a probe that
  // fails: its state says why. Returns false only when nothing at all could be loaded.
  bool start(RecordHandler handler);

  // Waits up to timeout_ms for records and hands them to the handler. Returns records consumed, or
  // a negative errno.
  int poll(int timeout_ms);

  std::vector<v1::ProbeStatus> probe_status() const;
  std::vector<v1::KernelFeature> features() const;
  // Records the kernel could not put in a ring buffer, per vj_record_kind, summed over families.
  std::vector<uint64_t> kernel_drops() const;
  // The fd of a loaded family's map, for the units that keep a family's filter maps; -1 when that
  // family is not loaded.
  int map_fd(const std::string& family, const std::string& map) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vajra
