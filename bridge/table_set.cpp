#include "table_set.h"

namespace vajra::bridge {

std::vector<std::string> event_table_names(const std::string& prefix) {
  std::vector<std::string> names;
  for (const EventFamily& family : event_families()) names.push_back(family_table_name(family, prefix));
  return names;
}

TableSet::TableSet(const std::string& prefix, const BridgeConfig& config, const std::string& daemon_socket,
                   std::optional<Cursor> saved) {
  const StoreLimits limits{config.retention_seconds, config.max_rows};
  std::vector<EventTable*> pointers;
  for (const EventFamily& family : event_families()) {
    events_.push_back(std::make_unique<EventTable>(family, family_table_name(family, prefix), limits, gate_));
    pointers.push_back(events_.back().get());
  }
  subscriber_ = std::make_unique<Subscriber>(daemon_socket, pointers, std::move(saved), gate_, config.max_batch_delay_ms);
  BridgeInfo info;
  info.version = VAJRA_VERSION;
  info.naming = prefix;
  info.started_s = EventTable::wall_seconds();
  info.retention_seconds = config.retention_seconds;
  info.max_rows = config.max_rows;
  info.max_batch_delay_ms = config.max_batch_delay_ms;
  status_ = std::make_unique<StatusTable>(info, *subscriber_, pointers);
}

std::vector<Table*> TableSet::tables() const {
  std::vector<Table*> all;
  for (const auto& table : events_) all.push_back(table.get());
  all.push_back(status_.get());
  return all;
}

std::map<std::string, Table*> TableSet::by_name() const {
  std::map<std::string, Table*> named;
  for (Table* table : tables()) named[table->name()] = table;
  return named;
}

std::vector<std::string> TableSet::event_table_names() const {
  std::vector<std::string> names;
  for (const auto& table : events_) names.push_back(table->name());
  return names;
}

}  // namespace vajra::bridge
