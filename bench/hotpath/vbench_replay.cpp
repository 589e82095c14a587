// vbench-replay: runs vajrad's user-space hot path (decode, enrich, attach the exe hash, serialize)
// over records captured by vbench-record, one event at a time, as the decode and publish threads do.
// File events go through the watch lists first (FileWatch::enrich: globs, attributes, host paths) and
// stop there when no category matches, as in vajrad.
//
//   vbench-replay --in FILE [--config FILE] [--passes N] [--proc DIR | --no-seed] [--burst N [--pause-ms MS]]
//
// A warm-up pass runs first, so that the exe hashes are cached (the steady state of a host that runs
// the same binaries again and again) and the hash worker is idle. Then N measured passes, each with a
// fresh process cache as at daemon start: seeded, as vajrad seeds it from /proc, from the snapshot
// vbench-record took when it started (FILE.proc, or --proc DIR), when there is one. Without a
// snapshot (older recordings, --no-seed) the cache starts empty, and processes older than the
// recording are looked up in today's /proc, which no longer holds most of them. Every event of a measured pass goes through
// vbench::hot_path<K>() (K = the record kind), which calls step_decode, step_enrich, step_hash and
// step_serialize; under `valgrind --tool=callgrind --toggle-collect='*vbench::hot_path*'` only those
// are counted, and callgrind_annotate --inclusive=yes gives instructions per kind and per step.
// Without valgrind it prints the native time per event too.
//
// --burst N pauses MS milliseconds (default 10) after every N events, outside the timed spans, as
// vajrad's decode thread sleeps between drains: what the same work costs when it starts cold after
// each pause (docs/benchmarks.md, "Why the exec storm's CPU per event stays high").
#include <sys/stat.h>

#include <array>
#include <chrono>
#include <future>
#include <optional>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "boot_clock.h"
#include "config.h"
#include "decode.h"
#include "enrich.h"
#include "file_watch.h"
#include "hasher.h"
#include "probes.h"
#include "proc_reader.h"
#include "process_cache.h"
#include "record_file.h"
#include "vajra_wire.h"

namespace vbench {

struct Context {
  const vajra::Config& config;
  vajra::BootClock& clock;
  vajra::Hasher& hasher;
  vajra::FileWatch& files;
  vajra::Decoder decoder;
  vajra::ProcessCache cache;
  vajra::Enricher enricher;
  std::string wire;  // serialized event, reused like a gRPC write buffer
  uint64_t bytes = 0;
  uint64_t failed = 0;
  uint64_t unwatched = 0;  // file events no category matched
  Context(const vajra::Config& c, vajra::BootClock& k, vajra::Hasher& h, vajra::FileWatch& f,
          const std::string& proc_snapshot)
      : config(c),
        clock(k),
        hasher(h),
        files(f),
        decoder(c.process, k),
        cache(c.process.cache_size),
        enricher(c.process, cache, h, k) {
    if (!proc_snapshot.empty()) seeded = cache.seed_from_proc(k, proc_snapshot);
  }
  size_t seeded = 0;
};

__attribute__((noinline)) bool step_decode(Context& ctx, const std::string& record, vajra::DecodedEvent& out) {
  std::string error;
  return ctx.decoder.decode(record.data(), record.size(), out, error);
}

// What Pipeline::on_record does before the process context: false for a file event no category wants.
__attribute__((noinline)) bool step_watch(Context& ctx, vajra::DecodedEvent& decoded) {
  if (decoded.event.kind() != vajra::v1::EVENT_KIND_FILE) return true;
  std::optional<vajra::FileHasher::Pending> content_hash;
  return ctx.files.enrich(decoded.event, content_hash);
}

__attribute__((noinline)) std::optional<vajra::Hasher::Pending> step_enrich(Context& ctx,
                                                                            vajra::DecodedEvent& decoded) {
  return ctx.enricher.enrich(decoded);
}

// What Pipeline::apply_hash does for a hash that is ready.
__attribute__((noinline)) void step_hash(vajra::v1::Event& event, std::optional<vajra::Hasher::Pending>& pending) {
  vajra::v1::Process& process = *event.mutable_process();
  if (!pending) return;
  if (pending->wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    process.set_exe_hash_status(vajra::v1::HASH_STATUS_TIMEOUT);
    return;
  }
  const vajra::HashResult& result = pending->get();
  process.set_exe_hash_status(result.status);
  process.set_exe_sha256(result.sha256);
  process.set_exe_hash_error(result.error);
}

__attribute__((noinline)) void step_serialize(Context& ctx, const vajra::v1::Event& event) {
  event.SerializeToString(&ctx.wire);
  ctx.bytes += ctx.wire.size();
}

template <int K>
__attribute__((noinline)) void hot_path(Context& ctx, const std::string& record) {
  vajra::DecodedEvent decoded;
  if (!step_decode(ctx, record, decoded)) {
    ++ctx.failed;
    return;
  }
  if (!step_watch(ctx, decoded)) {
    ++ctx.unwatched;
    return;
  }
  auto pending = step_enrich(ctx, decoded);
  step_hash(decoded.event, pending);
  step_serialize(ctx, decoded.event);
}

constexpr int kBuckets = 32;  // record kinds 0..30 each get their own function; 31 takes the rest
using HotPath = void (*)(Context&, const std::string&);
template <int... K>
constexpr std::array<HotPath, sizeof...(K)> make_table(std::integer_sequence<int, K...>) {
  return {&hot_path<K>...};
}
constexpr auto kHotPaths = make_table(std::make_integer_sequence<int, kBuckets>{});

int record_kind(const std::string& record) {
  if (record.size() < sizeof(vj_record_header)) return 0;
  const int kind = reinterpret_cast<const vj_record_header*>(record.data())->kind;
  return kind < kBuckets - 1 ? kind : kBuckets - 1;
}

}  // namespace vbench

int main(int argc, char** argv) {
  std::string in_path, config_path, proc_path;
  bool seed = true;
  int passes = 1;
  size_t burst = 0;
  int pause_ms = 10;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--in" && i + 1 < argc) {
      in_path = argv[++i];
    } else if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg == "--proc" && i + 1 < argc) {
      proc_path = argv[++i];
    } else if (arg == "--no-seed") {
      seed = false;
    } else if (arg == "--passes" && i + 1 < argc) {
      passes = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--burst" && i + 1 < argc) {
      burst = static_cast<size_t>(std::max(0, std::atoi(argv[++i])));
    } else if (arg == "--pause-ms" && i + 1 < argc) {
      pause_ms = std::max(0, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr,
                   "usage: vbench-replay --in FILE [--config FILE] [--passes N] [--proc DIR | --no-seed] "
                   "[--burst N [--pause-ms MS]]\n");
      return 2;
    }
  }
  vajra::Config config;
  try {
    if (!config_path.empty()) config = vajra::load_config_file(config_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vbench-replay: %s\n", e.what());
    return 2;
  }
  spdlog::set_level(spdlog::level::off);
  std::vector<std::string> records;
  std::string error;
  if (!vbench::read_records(in_path, records, error)) {
    std::fprintf(stderr, "vbench-replay: %s\n", error.c_str());
    return 1;
  }

  if (proc_path.empty()) {
    struct stat st {};
    const std::string beside = vbench::proc_snapshot_dir(in_path);
    if (stat(beside.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) proc_path = beside;
  }
  if (!seed) proc_path.clear();

  vajra::BootClock clock;
  vajra::Hasher hasher(config.hash);
  // Not started: FileWatch only needs it for the kernel maps, which a replay leaves alone.
  vajra::ProbeSet probes(config);
  vajra::FileWatch files(probes, vajra::own_mnt_namespace());
  if (config.files.enabled) {
    if (const std::string error = files.apply(config.files); !error.empty()) {
      std::fprintf(stderr, "vbench-replay: files: %s\n", error.c_str());
      return 1;
    }
  }

  // Warm-up: learn which event kind each record kind decodes to, and let every exe hash finish.
  std::map<int, std::string> kind_names;
  std::map<int, uint64_t> per_kind;
  {
    vbench::Context warm(config, clock, hasher, files, proc_path);
    for (const std::string& record : records) {
      vajra::DecodedEvent decoded;
      if (!vbench::step_decode(warm, record, decoded)) continue;
      const int bucket = vbench::record_kind(record);
      kind_names[bucket] = vajra::v1::EventKind_Name(decoded.event.kind());
      if (!vbench::step_watch(warm, decoded)) continue;
      auto pending = warm.enricher.enrich(decoded);
      if (pending) pending->wait_for(std::chrono::seconds(5));
    }
  }

  std::chrono::duration<double> elapsed{0};
  uint64_t events = 0, bytes = 0, failed = 0, unwatched = 0;
  size_t seeded = 0;
  for (int pass = 0; pass < passes; ++pass) {
    vbench::Context ctx(config, clock, hasher, files, proc_path);
    seeded = ctx.seeded;
    auto start = std::chrono::steady_clock::now();
    size_t in_burst = 0;
    for (const std::string& record : records) {
      const int bucket = vbench::record_kind(record);
      vbench::kHotPaths[bucket](ctx, record);
      if (pass == 0) ++per_kind[bucket];
      if (burst > 0 && ++in_burst == burst) {
        in_burst = 0;
        elapsed += std::chrono::steady_clock::now() - start;
        std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
        start = std::chrono::steady_clock::now();
      }
    }
    elapsed += std::chrono::steady_clock::now() - start;
    events += records.size();
    bytes += ctx.bytes;
    failed += ctx.failed;
    unwatched += ctx.unwatched;
  }

  std::printf("{\"records\":%zu,\"passes\":%d,\"burst\":%zu,\"pause_ms\":%d,\"seeded\":%zu,\"failed\":%llu,\"unwatched\":%llu,\"ns_per_event\":%.1f,\"bytes_per_event\":%.1f,\"kinds\":{",
              records.size(), passes, burst, pause_ms, seeded, static_cast<unsigned long long>(failed),
              static_cast<unsigned long long>(unwatched),
              events ? elapsed.count() * 1e9 / static_cast<double>(events) : 0.0,
              events ? static_cast<double>(bytes) / static_cast<double>(events) : 0.0);
  bool first = true;
  for (const auto& [bucket, count] : per_kind) {
    const auto name = kind_names.count(bucket) ? kind_names[bucket] : "UNDECODED";
    std::printf("%s\"%d\":{\"event_kind\":\"%s\",\"count\":%llu}", first ? "" : ",", bucket, name.c_str(),
                static_cast<unsigned long long>(count));
    first = false;
  }
  std::printf("}}\n");
  return 0;
}
