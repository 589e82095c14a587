// An event family's osquery table: its events in a bounded EventStore, served with the query's
// time/seq constraints pushed down and only the columns the query reads. Rows are built when a query
// first reads them (stored_event.h).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "interner.h"
#include "restore_gate.h"
#include "store.h"
#include "streamed_event.h"
#include "table.h"
#include "tables/event_family.h"

namespace vajra::bridge {

struct TableCounters {
  StoreCounters store;
  uint64_t bytes = 0;       // held: events not read yet, and the rows built
  uint64_t rows_built = 0;  // by queries, each row once
  uint64_t unreadable = 0;  // events whose bytes did not parse when a query read them (no row)
};

class EventTable : public Table {
 public:
  using Clock = std::function<uint64_t()>;  // wall clock, UNIX seconds

  EventTable(const EventFamily& family, std::string name, StoreLimits limits, const RestoreGate& gate,
             Clock now_s = wall_seconds);

  const std::string& name() const override { return name_; }
  const std::vector<Column>& columns() const override { return columns_; }
  // Not EVENT_BASED: osquery then diffs each scheduled run against the last one, which is what
  // gives every event to the logger exactly once (docs/osquery.md, "Scheduling").
  uint32_t attributes() const override { return kNoAttributes; }
  Rows generate(const QueryContext& context) override { return to_rows(*select(context)); }
  std::unique_ptr<RowBatch> select(const QueryContext& context) override;

  const EventFamily& family() const { return family_; }
  bool accepts(v1::EventKind kind) const;
  // Keeps the event of daemon run `daemon_instance` (the row is built when a query reads it). Called
  // from one thread (the subscriber's).
  void add(StreamedEvent&& event, const std::shared_ptr<const std::string>& daemon_instance);
  TableCounters counters() const;

  static uint64_t wall_seconds();

 private:
  const EventFamily& family_;
  const std::string name_;
  std::vector<Column> columns_;
  std::vector<size_t> by_name_;  // column indices sorted by name: rows are std::maps built in order
  // Builds the row of each event that has none yet; under build_mu_.
  void build_rows(const std::vector<std::shared_ptr<StoredEvent>>& stored);

  // Shares `process` with the events before it that carry the same one (see streamed_event.h).
  std::shared_ptr<const std::string> share_process(std::string&& process);

  // Declared before what it counts, so that it outlives it.
  std::atomic<uint64_t> held_bytes_{0};
  // The process fields of recent events, newest at next_recent_ - 1: a process's events come close
  // together, and comparing a few costs less than hashing into a pool that would also need purging.
  static constexpr size_t kRecentProcesses = 16;
  std::array<std::shared_ptr<const std::string>, kRecentProcesses> recent_processes_;
  size_t next_recent_ = 0;
  EventStore store_;
  // Queries build rows one at a time: the interner has a single writer, and a row is built once.
  std::mutex build_mu_;
  Interner interner_;
  v1::Event parsed_;  // reused: its nested messages and strings keep their memory between rows
  std::atomic<uint64_t> rows_built_{0};
  std::atomic<uint64_t> unreadable_{0};
  const RestoreGate& gate_;
  Clock now_s_;
};

}  // namespace vajra::bridge
