// The event path inside vajrad, on two threads:
//   decode thread:  ring buffers -> decode -> enrich -> bounded queue, or straight to the hub when no
//                   record of the poll waits for a hash and nothing older is queued
//   publish thread: queue -> wait (bounded) for the exe hash -> hub
// Events cross each thread boundary in batches (what one poll of the rings brought), so a burst costs
// one lock and one wake-up per hop rather than one per event.
// Every place that can lose an event counts it, and the loss reaches subscribers as a Loss event.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "boot_clock.h"
#include "config.h"
#include "decode.h"
#include "dns_correlator.h"
#include "enrich.h"
#include "file_watch.h"
#include "hasher.h"
#include "hub.h"
#include "probes.h"
#include "process_cache.h"

namespace vajra {

class Pipeline {
 public:
  Pipeline(const Config& config, ProbeSet& probes, Hub& hub, Hasher& hasher, ProcessCache& cache,
           BootClock& clock, FileWatch& files);
  ~Pipeline();

  void start();
  void stop();

  // The ProbeSet's record handler: decode, enrich, stage. Runs on the decode thread (inside poll),
  // which hands the staged records on after each poll (hand_over()).
  void on_record(const void* data, size_t size);

  // Fills per-kind counters and pipeline drops.
  void fill_status(v1::StatusResponse& status) const;

 private:
  static constexpr size_t kKinds = v1::EventKind_ARRAYSIZE;
  struct Item {
    v1::Event event;
    std::optional<Hasher::Pending> hash;
    std::optional<FileHasher::Pending> file_hash;
    std::chrono::steady_clock::time_point hash_deadline;
    size_t bytes = 0;  // serialized size when queued: what the queue's byte bound counts
  };
  struct Counters {
    std::array<std::atomic<uint64_t>, kKinds> received{}, published{}, decode_errors{}, pipeline_drops{},
        kernel_drops{};
    std::atomic<uint64_t> dns_malformed{0};
    std::atomic<uint64_t> ring_drains{0};
  };

  void decode_loop();
  // Sleeps until the kernel signals records (ProbeSet::wait), stop(), or `until`.
  void wait_for_records(std::chrono::steady_clock::time_point until);
  // Passes the records staged by on_record on: published right here when publish_here() can, else moved
  // into the queue (or counted dropped when it is full).
  void hand_over();
  bool publish_here();
  void publish_loop();
  static bool hashes_ready(const Item& item);
  void publish_batch(std::vector<v1::Event>& batch);
  void check_kernel_drops();
  bool losses_unannounced() const;
  void publish_losses();
  void apply_hash(Item& item);
  void apply_file_hash(Item& item);

  const Config& config_;
  ProbeSet& probes_;
  Hub& hub_;
  BootClock& clock_;
  Decoder decoder_;
  Enricher enricher_;
  DnsCorrelator dns_;  // decode thread only
  FileWatch& files_;

  std::vector<Item> staged_;  // decode thread only
  std::vector<v1::Event> published_here_;  // decode thread only: publish_here()'s batch
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  size_t queued_bytes_ = 0;  // of the items in queue_
  bool publishing_ = false;  // the publish thread holds items taken from queue_ and not yet published
  std::atomic<bool> running_{false};
  std::thread decode_thread_, publish_thread_;

  Counters counters_;
  // Losses found but not yet announced in the stream, per kind and place.
  std::array<std::atomic<uint64_t>, kKinds> unannounced_kernel_{}, unannounced_pipeline_{};
  std::array<uint64_t, kKinds> kernel_drops_seen_{};
};

}  // namespace vajra
