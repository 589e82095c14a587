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
  // fails: its state says why. Returns false only when nothing at all could be loaded, or when the
  // rings cannot be waited on (the log says why).
  bool start(RecordHandler handler);

  // Hands every record now in the rings to the handler, without waiting, the process family's ring
  // first. Returns records consumed, or a negative errno.
  int consume();
  // Hands the records now in the process family's ring to the handler. For a handler that meets a
  // record of a process it has not seen: that process's fork and exec records may have landed after
  // the process ring was read in this consume(). Called from the handler while it handles a record;
  // does nothing when that record came from the process ring itself.
  int consume_process_ring();
  // Asks the kernel to signal the next record (on), or only a ring's pending data crossing an eighth
  // of the ring (off, the default). See bpf/emit.bpf.h.
  void signal_next_record(bool on);
  // Waits up to timeout_ms for a signal from the kernel (see signal_next_record) or interrupt().
  // Records already pending do not end the wait. Returns 1 when woken, 0 on timeout, or a negative
  // errno.
  int wait(int timeout_ms);
  // Ends the wait() in progress, or the next one: for stopping.
  void interrupt();

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
