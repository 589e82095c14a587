// The bridge's tables under one naming, with the subscription that fills them.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "cursor_file.h"
#include "event_table.h"
#include "restore_gate.h"
#include "subscriber.h"
#include "tables/status_table.h"

namespace vajra::bridge {

class TableSet {
 public:
  // prefix: "bpf" or "vajra" for the event tables; vajra_status keeps its name.
  TableSet(const std::string& prefix, const BridgeConfig& config, const std::string& daemon_socket,
           std::optional<Cursor> saved);

  std::vector<Table*> tables() const;
  std::map<std::string, Table*> by_name() const;
  std::vector<std::string> event_table_names() const;
  Subscriber& subscriber() { return *subscriber_; }

 private:
  RestoreGate gate_;
  std::vector<std::unique_ptr<EventTable>> events_;
  std::unique_ptr<Subscriber> subscriber_;
  std::unique_ptr<StatusTable> status_;
};

// bpf_<family>_events / vajra_<family>_events for every family.
std::vector<std::string> event_table_names(const std::string& prefix);

}  // namespace vajra::bridge
