// Registering the bridge's tables with osquery core, and choosing their names: osquery up to at
// least 5.23.1 has its own bpf_process_events and bpf_socket_events, and one name conflict makes
// osquery reject the whole registration.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "cursor_file.h"
#include "manager_client.h"
#include "table.h"
#include "table_set.h"

namespace vajra::bridge {

// The tables osquery's registry already has under these names, other than the ones an earlier
// vajra.ext registered (osquery drops those when it finds that extension dead). nullopt when core
// cannot tell (its query() failed); the registration's answer then decides.
std::optional<std::vector<std::string>> names_taken(ManagerClient& manager, const std::vector<std::string>& names);

struct Registration {
  std::unique_ptr<TableSet> tables;
  int64_t uuid = 0;
};

// Registers every table, with bpf_* names unless bridge.table_names says otherwise or osquery
// already owns one of them (then all event tables get vajra_*, so the names stay one set). Throws
// std::runtime_error with osquery's message when the registration is rejected anyway.
Registration register_tables(ManagerClient& manager, const Config& config, const std::string& daemon_socket,
                             const std::optional<Cursor>& saved);

osquery::InternalExtensionInfo extension_info();
osquery::ExtensionRegistry make_registry(const std::vector<Table*>& tables);

}  // namespace vajra::bridge
