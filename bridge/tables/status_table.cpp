#include "tables/status_table.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

namespace vajra::bridge {
namespace {

using T = ColumnType;

const std::vector<Column> kBridgeColumns = {
    {"bridge_version", T::kText},      {"bridge_pid", T::kBigInt},         {"bridge_uid", T::kBigInt},
    {"bridge_started", T::kBigInt},    {"table_names", T::kText},          {"retention_seconds", T::kBigInt},
    {"max_rows", T::kBigInt},          {"max_batch_delay_ms", T::kBigInt}, {"restored", T::kInteger},
    {"daemon_socket", T::kText},
    {"daemon_state", T::kText},        {"daemon_error", T::kText},         {"connected_since", T::kBigInt},
    {"daemon_instance", T::kText},     {"cursor_seq", T::kBigInt},         {"reconnects", T::kBigInt},
    {"events_received", T::kBigInt},   {"events_replayed", T::kBigInt},    {"duplicates_dropped", T::kBigInt},
    {"loss_events", T::kBigInt},       {"lost_kernel_ring", T::kBigInt},   {"lost_pipeline", T::kBigInt},
    {"lost_subscriber", T::kBigInt},   {"lost_replay_expired", T::kBigInt}, {"replay_gaps", T::kBigInt},
    {"daemon_restarts", T::kBigInt},
};

// Per event table, prefixed with its family ("process_rows", ...).
const std::vector<Column> kTableColumns = {
    {"table", T::kText},           {"rows", T::kBigInt},          {"bytes", T::kBigInt},
    {"rows_built", T::kBigInt},    {"unreadable", T::kBigInt},
    {"evicted_expired", T::kBigInt}, {"evicted_max_rows", T::kBigInt}, {"rows_examined", T::kBigInt},
};

// From vajrad's Status RPC; NULL when it does not answer (daemon_status_error says why).
const std::vector<Column> kDaemonColumns = {
    {"daemon_status_error", T::kText},      {"daemon_version", T::kText},
    {"daemon_started", T::kBigInt},         {"daemon_kernel", T::kText},
    {"daemon_next_seq", T::kBigInt},        {"daemon_kernel_drops", T::kBigInt},
    {"daemon_decode_errors", T::kBigInt},   {"daemon_pipeline_drops", T::kBigInt},
    {"daemon_subscriber_drops", T::kBigInt}, {"daemon_refused_connections", T::kBigInt},
    {"daemon_replay_retained", T::kBigInt}, {"daemon_replay_capacity", T::kBigInt},
    {"daemon_probes_loaded", T::kBigInt},   {"daemon_probes_failed", T::kBigInt},
    {"daemon_probes", T::kText},
    // File watching; NULL as well when vajrad reports no file status.
    {"daemon_file_kernel_filtered", T::kBigInt}, {"daemon_file_unmatched", T::kBigInt},
    {"daemon_file_categories", T::kText},        {"daemon_file_watch_generation", T::kBigInt},
    {"daemon_file_reload_error", T::kText},      {"daemon_file_unresolved_prefixes", T::kText},
};

std::string str(uint64_t value) { return std::to_string(value); }

std::string probe_state_name(v1::ProbeState state) {
  switch (state) {
    case v1::PROBE_STATE_LOADED: return "loaded";
    case v1::PROBE_STATE_FAILED: return "failed";
    case v1::PROBE_STATE_DISABLED: return "disabled";
    default: return "unknown";
  }
}

std::string json_text(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

void add_file_status(const v1::FileStatus& files, Row& row) {
  uint64_t kernel_filtered = 0;
  for (const v1::FileOperationCount& count : files.kernel_filtered()) kernel_filtered += count.count();
  nlohmann::json categories = nlohmann::json::array();
  for (const v1::FileCategoryStatus& category : files.categories()) {
    categories.push_back({{"name", category.name()},
                          {"matched", category.matched()},
                          {"hashed", category.hashed()},
                          {"hash_failures", category.hash_failures()}});
  }
  nlohmann::json unresolved = nlohmann::json::array();
  for (const std::string& prefix : files.unresolved_prefixes()) unresolved.push_back(prefix);
  row["daemon_file_kernel_filtered"] = str(kernel_filtered);
  row["daemon_file_unmatched"] = str(files.unmatched());
  row["daemon_file_categories"] = json_text(categories);
  row["daemon_file_watch_generation"] = str(files.watch_generation());
  row["daemon_file_reload_error"] = files.last_reload_error();
  row["daemon_file_unresolved_prefixes"] = json_text(unresolved);
}

StatusTable::StatusTable(BridgeInfo info, Subscriber& subscriber, std::vector<EventTable*> tables)
    : info_(std::move(info)), subscriber_(subscriber), tables_(std::move(tables)) {
  columns_ = kBridgeColumns;
  for (const EventTable* table : tables_) {
    for (const Column& column : kTableColumns)
      columns_.push_back(Column{table->family().name + "_" + column.name, column.type});
  }
  columns_.insert(columns_.end(), kDaemonColumns.begin(), kDaemonColumns.end());
}

Rows StatusTable::generate(const QueryContext& context) {
  const StreamStats s = subscriber_.stats();
  Row row{
      {"bridge_version", info_.version},
      {"bridge_pid", str(static_cast<uint64_t>(getpid()))},
      {"bridge_uid", str(getuid())},
      {"bridge_started", str(info_.started_s)},
      {"table_names", info_.naming},
      {"retention_seconds", str(info_.retention_seconds)},
      {"max_rows", str(info_.max_rows)},
      {"max_batch_delay_ms", str(info_.max_batch_delay_ms)},
      {"restored", s.restored ? "1" : "0"},
      {"daemon_socket", subscriber_.daemon_socket()},
      {"daemon_state", s.state},
      {"daemon_error", s.last_error},
      {"daemon_instance", s.daemon_instance},
      {"cursor_seq", str(s.cursor_seq)},
      {"reconnects", str(s.reconnects)},
      {"events_received", str(s.events)},
      {"events_replayed", str(s.replayed)},
      {"loss_events", str(s.loss_events)},
      {"lost_kernel_ring", str(s.lost_kernel_ring)},
      {"lost_pipeline", str(s.lost_pipeline)},
      {"lost_subscriber", str(s.lost_subscriber)},
      {"lost_replay_expired", str(s.lost_replay_expired)},
      {"replay_gaps", str(s.replay_gaps)},
      {"daemon_restarts", str(s.daemon_restarts)},
  };
  if (s.connected_since_s != 0) row["connected_since"] = str(s.connected_since_s);
  uint64_t duplicates = s.duplicates;  // refused by the stream's cursor, plus by the stores
  for (const EventTable* table : tables_) {
    const TableCounters c = table->counters();
    const std::string prefix = table->family().name + "_";
    row[prefix + "table"] = table->name();
    row[prefix + "rows"] = str(c.store.rows);
    row[prefix + "bytes"] = str(c.bytes);
    row[prefix + "rows_built"] = str(c.rows_built);
    row[prefix + "unreadable"] = str(c.unreadable);
    row[prefix + "evicted_expired"] = str(c.store.evicted_expired);
    row[prefix + "evicted_max_rows"] = str(c.store.evicted_max_rows);
    row[prefix + "rows_examined"] = str(c.store.rows_examined);
    duplicates += c.store.duplicates_dropped;
  }
  row["duplicates_dropped"] = str(duplicates);
  add_daemon_status(context, row);
  return {row};
}

void StatusTable::add_daemon_status(const QueryContext& context, Row& row) const {
  bool wanted = false;
  for (const Column& column : kDaemonColumns) wanted = wanted || context.uses(column.name);
  if (!wanted) return;  // the RPC costs a round trip to vajrad; skip it when no column needs it

  std::string error;
  const auto status = subscriber_.daemon_status(&error);
  if (!status) {
    row["daemon_status_error"] = error;
    return;
  }
  uint64_t kernel_drops = 0, decode_errors = 0, loaded = 0, failed = 0;
  for (const v1::KindCounters& kind : status->kinds()) {
    kernel_drops += kind.kernel_drops();
    decode_errors += kind.decode_errors();
  }
  nlohmann::json probes = nlohmann::json::array();
  for (const v1::ProbeStatus& probe : status->probes()) {
    if (probe.state() == v1::PROBE_STATE_LOADED) ++loaded;
    if (probe.state() == v1::PROBE_STATE_FAILED) ++failed;
    nlohmann::json entry = {{"family", probe.family()},
                            {"name", probe.name()},
                            {"state", probe_state_name(probe.state())},
                            {"attach", probe.attach()}};
    if (!probe.error().empty()) entry["error"] = probe.error();
    probes.push_back(std::move(entry));
  }
  row["daemon_status_error"] = "";
  row["daemon_version"] = status->version();
  row["daemon_started"] = str(status->started_ns() / 1000000000ull);
  row["daemon_kernel"] = status->kernel_release();
  row["daemon_next_seq"] = str(status->next_seq());
  row["daemon_kernel_drops"] = str(kernel_drops);
  row["daemon_decode_errors"] = str(decode_errors);
  row["daemon_pipeline_drops"] = str(status->pipeline_drops());
  row["daemon_subscriber_drops"] = str(status->subscriber_drops());
  row["daemon_refused_connections"] = str(status->refused_connections());
  row["daemon_replay_retained"] = str(status->replay_retained());
  row["daemon_replay_capacity"] = str(status->replay_capacity());
  row["daemon_probes_loaded"] = str(loaded);
  row["daemon_probes_failed"] = str(failed);
  row["daemon_probes"] = json_text(probes);
  if (status->has_files()) add_file_status(status->files(), row);
}

}  // namespace vajra::bridge
