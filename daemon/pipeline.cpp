#include "pipeline.h"

#include <pthread.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>

#include "vajra_wire.h"

namespace vajra {
namespace {

v1::EventKind kind_of_record(uint16_t record_kind) {
  switch (record_kind) {
    case VJ_REC_EXEC:
      return v1::EVENT_KIND_EXEC;
    case VJ_REC_EXEC_FAILED:
      return v1::EVENT_KIND_EXEC_FAILED;
    case VJ_REC_FORK:
      return v1::EVENT_KIND_FORK;
    case VJ_REC_EXIT:
      return v1::EVENT_KIND_EXIT;
    case VJ_REC_SOCKET:
      return v1::EVENT_KIND_SOCKET;
    case VJ_REC_DNS:
      return v1::EVENT_KIND_DNS;
    case VJ_REC_FILE:
      return v1::EVENT_KIND_FILE;
    default:
      return v1::EVENT_KIND_UNSPECIFIED;
  }
}

// A drain that found records is followed by a hold-off, so that records gather instead of each waking
// the decode thread; only a ring filling past an eighth ends it early (bpf/emit.bpf.h). It starts
// short, since a process's events come in bursts (fork, exec and exit within a millisecond), and
// doubles with each drain that finds more, up to buffers.batch_delay_ms. That bounds the wake-ups
// under load, which cost more than the records they collect (docs/benchmarks.md), and the delivery
// latency then. A drain that finds nothing sleeps until the kernel signals the next record.
constexpr auto kHoldOffFirst = std::chrono::milliseconds(1);
// Records decoded in one drain are handed on together (published here, or queued for the publish thread
// with one lock and one wake-up for all of them); a long drain is handed over in pieces of this many,
// queued, so that publishing starts meanwhile.
constexpr size_t kHandOverEvents = 256;
constexpr size_t kTakeEvents = 1024;
constexpr auto kPublishIdleWait = std::chrono::seconds(1);
// Queries waiting for their response: a resolver gives up within seconds, so 30 s loses no real pair.
constexpr size_t kDnsPendingQueries = 4096;
constexpr uint64_t kDnsQueryExpiryNs = 30'000'000'000ull;
constexpr auto kDropCheckPeriod = std::chrono::milliseconds(250);
constexpr auto kClockResamplePeriod = std::chrono::seconds(1);

}  // namespace

Pipeline::Pipeline(const Config& config, ProbeSet& probes, Hub& hub, Hasher& hasher, ProcessCache& cache,
                   BootClock& clock, FileWatch& files)
    : config_(config),
      probes_(probes),
      hub_(hub),
      clock_(clock),
      decoder_(config.process, clock),
      enricher_(config.process, cache, hasher, clock),
      dns_(kDnsPendingQueries, kDnsQueryExpiryNs),
      files_(files) {
  // Each family has its own ring, so a short-lived process can fork, exec, open a file and exit
  // between the reads of the process ring and the file ring: its file record comes first, and /proc
  // no longer knows it. Reading the process ring on a cache miss decodes its fork and exec first.
  enricher_.set_catch_up([this] { probes_.consume_process_ring(); });
}

Pipeline::~Pipeline() { stop(); }

void Pipeline::start() {
  running_ = true;
  // Named for top -H and perf.
  publish_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "vj-publish");
    publish_loop();
  });
  decode_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "vj-decode");
    decode_loop();
  });
}

void Pipeline::stop() {
  if (!running_.exchange(false)) return;
  probes_.interrupt();
  cv_.notify_all();
  if (decode_thread_.joinable()) decode_thread_.join();
  if (publish_thread_.joinable()) publish_thread_.join();
}

void Pipeline::decode_loop() {
  auto next_drop_check = std::chrono::steady_clock::now();
  auto next_resample = next_drop_check + kClockResamplePeriod;
  const auto hold_off_max =
      std::max(kHoldOffFirst, std::chrono::milliseconds(config_.buffers.batch_delay_ms));
  std::chrono::milliseconds hold_off = kHoldOffFirst;
  while (running_) {
    const auto drain_start = std::chrono::steady_clock::now();
    counters_.ring_drains.fetch_add(1, std::memory_order_relaxed);
    const int consumed = probes_.consume();
    if (consumed < 0) spdlog::warn("draining the ring buffers failed: {}", strerror(-consumed));
    hand_over();
    const auto now = std::chrono::steady_clock::now();
    // Batches that subscribers asked vajrad to hold go once due; this thread wakes for the next.
    const SteadyTime held_until = hub_.flush_held(now);
    if (now >= next_drop_check) {
      check_kernel_drops();
      next_drop_check = now + kDropCheckPeriod;
    }
    if (now >= next_resample) {
      clock_.resample();
      next_resample = now + kClockResamplePeriod;
    }
    if (!running_) break;
    if (consumed > 0) {
      wait_for_records(std::min(drain_start + hold_off, held_until));
      hold_off = std::min(hold_off * 2, hold_off_max);
      continue;
    }
    hold_off = kHoldOffFirst;
    // Idle: have the next record signalled, then look once more for one that came in meanwhile. A
    // record whose probe read the flag just before it was set, and committed just after this look,
    // goes unsignalled (and so do the ones behind it, which do not find the consumer caught up):
    // the periodic wake-up below, at most 250 ms away, collects them.
    probes_.signal_next_record(true);
    if (probes_.consume() <= 0) wait_for_records(std::min({next_drop_check, next_resample, held_until}));
    probes_.signal_next_record(false);
  }
}

void Pipeline::wait_for_records(std::chrono::steady_clock::time_point until) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
  if (left.count() <= 0) return;
  const int woken = probes_.wait(static_cast<int>(left.count()));
  if (woken < 0) {
    spdlog::warn("waiting for ring buffer records failed: {}", strerror(-woken));
    std::this_thread::sleep_until(until);  // never spin on a failing wait
  }
}

void Pipeline::on_record(const void* data, size_t size) {
  Item item;
  DecodedEvent decoded;
  std::string error;
  if (!decoder_.decode(data, size, decoded, error)) {
    const uint16_t record_kind = size >= sizeof(vj_record_header) ? static_cast<const vj_record_header*>(data)->kind : 0;
    counters_.decode_errors[kind_of_record(record_kind)].fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("dropping malformed ring record: {}", error);
    return;
  }
  const v1::EventKind kind = decoded.event.kind();
  counters_.received[kind].fetch_add(1, std::memory_order_relaxed);
  // The kernel filter is a superset of the watch lists: what no category matches ends here, counted
  // by the file watch, before the costlier process enrichment.
  if (kind == v1::EVENT_KIND_FILE && !files_.enrich(decoded.event, item.file_hash)) return;
  item.hash = enricher_.enrich(decoded);
  if (kind == v1::EVENT_KIND_DNS) {
    if (!decoded.event.dns().malformed().empty()) counters_.dns_malformed.fetch_add(1, std::memory_order_relaxed);
    dns_.correlate(decoded.event);
  }
  // Only an exec waits: it is the first event of a new image. Later events of the same process are
  // published after it, so its wait already covered them; they take the hash if it is done.
  item.hash_deadline = std::chrono::steady_clock::now();
  if (kind == v1::EVENT_KIND_EXEC || item.file_hash)
    item.hash_deadline += std::chrono::milliseconds(config_.hash.max_wait_ms);
  item.event = std::move(decoded.event);
  staged_.push_back(std::move(item));
  if (staged_.size() >= kHandOverEvents) hand_over();
}

void Pipeline::hand_over() {
  if (staged_.empty() || publish_here()) return;
  for (Item& item : staged_) item.bytes = item.event.ByteSizeLong();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Item& item : staged_) {
      if (queue_.size() >= config_.buffers.pipeline_queue ||
          (!queue_.empty() && queued_bytes_ + item.bytes > config_.buffers.pipeline_queue_bytes)) {
        const v1::EventKind kind = item.event.kind();
        counters_.pipeline_drops[kind].fetch_add(1, std::memory_order_relaxed);
        unannounced_pipeline_[kind].fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      queued_bytes_ += item.bytes;
      queue_.push_back(std::move(item));
    }
  }
  staged_.clear();
  cv_.notify_one();
}

// Publishing on the decode thread saves the publish thread's wake-up, one per poll at moderate rates.
// Order holds because only this thread fills the queue: when it is empty and the publish thread holds
// nothing taken from it, nothing older is still on its way. A record that must wait for a hash goes
// through the queue, so that decoding never waits; so does a full hand-over piece, a storm, where
// decoding and publishing on two threads keep up better.
bool Pipeline::publish_here() {
  if (staged_.size() >= kHandOverEvents || !std::all_of(staged_.begin(), staged_.end(), hashes_ready)) return false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!queue_.empty() || publishing_) return false;
  }
  for (Item& item : staged_) {
    apply_hash(item);
    apply_file_hash(item);
    published_here_.push_back(std::move(item.event));
  }
  staged_.clear();
  publish_batch(published_here_);
  return true;
}

void Pipeline::check_kernel_drops() {
  const std::vector<uint64_t> drops = probes_.kernel_drops();
  for (size_t record_kind = 0; record_kind < drops.size(); ++record_kind) {
    const v1::EventKind kind = kind_of_record(static_cast<uint16_t>(record_kind));
    const uint64_t total = drops[record_kind];
    if (total > kernel_drops_seen_[kind]) {
      const uint64_t fresh = total - kernel_drops_seen_[kind];
      kernel_drops_seen_[kind] = total;
      counters_.kernel_drops[kind].store(total, std::memory_order_relaxed);
      unannounced_kernel_[kind].fetch_add(fresh, std::memory_order_relaxed);
      spdlog::warn("kernel ring buffer full: {} {} events lost", fresh, v1::EventKind_Name(kind));
      cv_.notify_one();
    }
  }
}

bool Pipeline::losses_unannounced() const {
  auto any = [](const std::array<std::atomic<uint64_t>, kKinds>& pending) {
    return std::any_of(pending.begin(), pending.end(),
                       [](const std::atomic<uint64_t>& count) { return count.load(std::memory_order_relaxed) > 0; });
  };
  return any(unannounced_kernel_) || any(unannounced_pipeline_);
}

void Pipeline::publish_losses() {
  auto announce = [this](std::array<std::atomic<uint64_t>, kKinds>& pending, v1::LossPlace place) {
    for (size_t kind = 0; kind < kKinds; ++kind) {
      const uint64_t count = pending[kind].exchange(0, std::memory_order_relaxed);
      if (count == 0) continue;
      v1::Event loss;
      loss.set_kind(v1::EVENT_KIND_LOSS);
      const uint64_t now = BootClock::now_boot_ns();
      loss.set_ktime_ns(now);
      loss.set_time_ns(clock_.to_wall_ns(now));
      loss.mutable_loss()->set_place(place);
      loss.mutable_loss()->set_count(count);
      loss.mutable_loss()->set_kind(static_cast<v1::EventKind>(kind));
      hub_.publish(std::move(loss));
    }
  };
  announce(unannounced_kernel_, v1::LOSS_PLACE_KERNEL_RING);
  announce(unannounced_pipeline_, v1::LOSS_PLACE_PIPELINE);
}

void Pipeline::apply_hash(Item& item) {
  v1::Process& process = *item.event.mutable_process();
  if (!item.hash) {
    if (item.event.kind() == v1::EVENT_KIND_EXEC) {
      process.set_exe_hash_status(v1::HASH_STATUS_UNREADABLE);
      process.set_exe_hash_error("exe file was deleted before it could be hashed");
    } else if (process.exe_hash_status() == v1::HASH_STATUS_UNSPECIFIED) {
      process.set_exe_hash_status(v1::HASH_STATUS_UNREADABLE);
      process.set_exe_hash_error("executable unknown: process not in cache");
    }
    return;
  }
  if (item.hash->wait_until(item.hash_deadline) != std::future_status::ready) {
    process.set_exe_hash_status(v1::HASH_STATUS_TIMEOUT);
    process.set_exe_hash_error(item.event.kind() == v1::EVENT_KIND_EXEC
                                   ? "not hashed within hash.max_wait_ms (" + std::to_string(config_.hash.max_wait_ms) +
                                         " ms); later events of this file will carry it"
                                   : "not hashed yet when this event was published; later events will carry it");
    return;
  }
  try {
    const HashResult& result = item.hash->get();
    process.set_exe_hash_status(result.status);
    process.set_exe_sha256(result.sha256);
    process.set_exe_hash_error(result.error);
  } catch (const std::future_error&) {
    process.set_exe_hash_status(v1::HASH_STATUS_TIMEOUT);
    process.set_exe_hash_error("hasher stopped before this file was hashed");
  }
}

void Pipeline::apply_file_hash(Item& item) {
  if (!item.file_hash) return;
  v1::FileEvent& file = *item.event.mutable_file();
  if (item.file_hash->wait_until(item.hash_deadline) != std::future_status::ready) {
    file.set_hash_error("not hashed within hash.max_wait_ms (" + std::to_string(config_.hash.max_wait_ms) + " ms)");
  } else {
    try {
      const FileHashResult& result = item.file_hash->get();
      for (const v1::FileHash& hash : result.hashes) *file.add_hashes() = hash;
      file.set_hash_error(result.error);
    } catch (const std::future_error&) {
      file.set_hash_error("hasher stopped before this file was hashed");
    }
  }
  if (!file.hash_error().empty()) files_.count_hash_failure(file);
}

bool Pipeline::hashes_ready(const Item& item) {
  auto ready = [](const auto& pending) {
    return !pending || pending->wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  };
  return ready(item.hash) && ready(item.file_hash);
}

void Pipeline::publish_batch(std::vector<v1::Event>& batch) {
  std::array<uint64_t, kKinds> published{};
  for (const v1::Event& event : batch) ++published[event.kind()];
  hub_.publish(batch);
  for (size_t kind = 0; kind < kKinds; ++kind)
    if (published[kind]) counters_.published[kind].fetch_add(published[kind], std::memory_order_relaxed);
}

void Pipeline::publish_loop() {
  std::deque<Item> taken;
  std::vector<v1::Event> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Woken by every hand-over, loss and stop(): the timeout only bounds an idle wait.
      cv_.wait_for(lock, kPublishIdleWait, [this] { return !queue_.empty() || !running_ || losses_unannounced(); });
      if (queue_.empty() && !running_) return;
      // Taken in bounded pieces, so that what is being published counts little beside the queue's bound.
      const size_t count = std::min(queue_.size(), kTakeEvents);
      for (size_t i = 0; i < count; ++i) queued_bytes_ -= queue_[i].bytes;
      std::move(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(count), std::back_inserter(taken));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(count));
      publishing_ = count > 0;
    }
    publish_losses();
    for (Item& item : taken) {
      // What is ready goes out before a wait for a hash would hold it back.
      if (!hashes_ready(item)) publish_batch(batch);
      apply_hash(item);
      apply_file_hash(item);
      batch.push_back(std::move(item.event));
    }
    taken.clear();
    publish_batch(batch);
    std::lock_guard<std::mutex> lock(mu_);
    publishing_ = false;
  }
}

void Pipeline::fill_status(v1::StatusResponse& status) const {
  uint64_t pipeline_drops = 0;
  for (size_t kind = 1; kind < kKinds; ++kind) {
    // Loss and StreamStart are made by vajrad, not received from the kernel.
    if (kind == v1::EVENT_KIND_LOSS || kind == v1::EVENT_KIND_STREAM_START || !v1::EventKind_IsValid(kind)) continue;
    v1::KindCounters& counters = *status.add_kinds();
    counters.set_kind(static_cast<v1::EventKind>(kind));
    counters.set_received(counters_.received[kind].load(std::memory_order_relaxed));
    counters.set_published(counters_.published[kind].load(std::memory_order_relaxed));
    counters.set_kernel_drops(counters_.kernel_drops[kind].load(std::memory_order_relaxed));
    counters.set_decode_errors(counters_.decode_errors[kind].load(std::memory_order_relaxed));
    pipeline_drops += counters_.pipeline_drops[kind].load(std::memory_order_relaxed);
  }
  status.set_pipeline_drops(pipeline_drops);
  {
    std::lock_guard<std::mutex> lock(mu_);
    status.set_pipeline_queue_depth(static_cast<uint32_t>(queue_.size()));
    status.set_pipeline_queue_bytes(queued_bytes_);
  }
  status.set_dns_malformed(counters_.dns_malformed.load(std::memory_order_relaxed));
  status.set_ring_drains(counters_.ring_drains.load(std::memory_order_relaxed));
}

}  // namespace vajra
