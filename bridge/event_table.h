// An event family's osquery table: its rows in a bounded EventStore, served with the query's
// time/seq constraints pushed down and only the columns the query reads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "interner.h"
#include "restore_gate.h"
#include "store.h"
#include "table.h"
#include "tables/event_family.h"

namespace vajra::bridge {

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
  // Called from one thread (the subscriber's): the interner has a single writer.
  void add(const v1::Event& event, const std::string& daemon_instance);
  StoreCounters counters() const { return store_.counters(); }

  static uint64_t wall_seconds();

 private:
  const EventFamily& family_;
  const std::string name_;
  std::vector<Column> columns_;
  std::vector<size_t> by_name_;  // column indices sorted by name: rows are std::maps built in order
  Interner interner_;
  EventStore store_;
  const RestoreGate& gate_;
  Clock now_s_;
};

}  // namespace vajra::bridge
