// vajra_status: one row on the bridge, its stream from vajrad, its tables, and vajrad's own Status
// (probes, counters, drops). Every loss the bridge knows of is a column here.
#pragma once

#include <string>
#include <vector>

#include "event_table.h"
#include "subscriber.h"
#include "table.h"

namespace vajra::bridge {

struct BridgeInfo {
  std::string version;
  std::string naming;  // "bpf" or "vajra": the prefix the event tables were registered with
  uint64_t started_s = 0;
  uint64_t retention_seconds = 0;
  uint64_t max_rows = 0;
  uint64_t max_batch_delay_ms = 0;  // what the bridge asks vajrad to hold its batches for
};

// The daemon_file_* columns from vajrad's file status.
void add_file_status(const v1::FileStatus& files, Row& row);

class StatusTable : public Table {
 public:
  StatusTable(BridgeInfo info, Subscriber& subscriber, std::vector<EventTable*> tables);

  const std::string& name() const override { return name_; }
  const std::vector<Column>& columns() const override { return columns_; }
  Rows generate(const QueryContext& context) override;

 private:
  void add_daemon_status(const QueryContext& context, Row& row) const;

  const std::string name_ = "vajra_status";
  const BridgeInfo info_;
  Subscriber& subscriber_;
  const std::vector<EventTable*> tables_;
  std::vector<Column> columns_;
};

}  // namespace vajra::bridge
