// vbench-record: records the raw ring-buffer records of vajrad's probes while a workload runs, for
// vbench-replay to run the user-space hot path over them under callgrind. Uses vajrad's own ProbeSet,
// so it records every family vajrad would load with the same config.
//
//   vbench-record --out FILE [--config FILE]
// Prints {"ready":true} once the probes are attached and the processes alive then are copied to
// FILE.proc/ (replaced if it exists), records until SIGINT/SIGTERM, then writes FILE (see
// record_file.h) and prints one JSON line with what it recorded.
//
//   vbench-record --discard [--config FILE]
// The harness's "probes only" condition: the same probes and kernel filters, with the rings drained
// and every record dropped, so a workload pays what attaching costs and the least a reader can add.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "config.h"
#include "file_watch.h"
#include "proc_reader.h"
#include "probes.h"
#include "record_file.h"
#include "vajra_wire.h"

namespace {
std::atomic<bool> stop{false};
void on_signal(int) { stop = true; }
}  // namespace

int main(int argc, char** argv) {
  std::string out_path, config_path;
  bool discard = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--out" && i + 1 < argc) {
      out_path = argv[++i];
    } else if (arg == "--discard") {
      discard = true;
    } else if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: vbench-record (--out FILE | --discard) [--config FILE]\n");
      return 2;
    }
  }
  if (out_path.empty() == !discard) {
    std::fprintf(stderr, "vbench-record: give one of --out FILE and --discard\n");
    return 2;
  }
  vajra::Config config;
  try {
    if (!config_path.empty()) config = vajra::load_config_file(config_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vbench-record: %s\n", e.what());
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::vector<std::string> records;
  unsigned long long discarded = 0;
  std::map<unsigned, unsigned long long> per_kind;
  vajra::ProbeSet probes(config);
  if (!probes.start([&](const void* data, size_t size) {
        // Discarding does nothing more per record than count it: the floor it measures is what the
        // probes cost plus the least a reader can add.
        if (discard) {
          ++discarded;
          return;
        }
        records.emplace_back(static_cast<const char*>(data), size);
        if (size >= sizeof(vj_record_header)) ++per_kind[static_cast<const vj_record_header*>(data)->kind];
      })) {
    std::fprintf(stderr, "vbench-record: no probe could be loaded\n");
    return 1;
  }
  // The file family's kernel filter passes only what the watch lists may want, as in vajrad.
  vajra::FileWatch files(probes, vajra::own_mnt_namespace());
  if (config.files.enabled) {
    if (const std::string error = files.apply(config.files); !error.empty())
      std::fprintf(stderr, "vbench-record: files: %s (file events are not recorded)\n", error.c_str());
  }
  // After the probes attach, so that every process is either in the snapshot or seen starting.
  std::string error;
  int snapshotted = 0;
  if (!discard) {
    const std::string snapshot = vbench::proc_snapshot_dir(out_path);
    std::error_code ignored;
    std::filesystem::remove_all(snapshot, ignored);
    snapshotted = vbench::snapshot_proc(snapshot, error);
    if (snapshotted < 0) std::fprintf(stderr, "vbench-record: %s (the replay will not seed its cache)\n", error.c_str());
  }
  std::printf("{\"ready\":true}\n");
  std::fflush(stdout);
  // Every 10 ms, as vajrad drains under load at its default batch_delay_ms (a ring an eighth full
  // wakes it sooner); an error waits too, rather than spinning.
  while (!stop) {
    if (probes.consume() <= 0) probes.wait(10);
  }
  probes.consume();

  if (!discard && !vbench::write_records(out_path, records, error)) {
    std::fprintf(stderr, "vbench-record: %s\n", error.c_str());
    return 1;
  }
  unsigned long long drops = 0;
  for (uint64_t d : probes.kernel_drops()) drops += d;
  std::printf("{\"records\":%llu,\"kernel_drops\":%llu,\"processes_snapshotted\":%d,\"per_record_kind\":{",
              discard ? discarded : static_cast<unsigned long long>(records.size()), drops, snapshotted);
  bool first = true;
  for (const auto& [kind, count] : per_kind) {
    std::printf("%s\"%u\":%llu", first ? "" : ",", kind, count);
    first = false;
  }
  std::printf("}}\n");
  return 0;
}
