#include "registration.h"

#include <algorithm>
#include <stdexcept>

#include <spdlog/spdlog.h>

namespace vajra::bridge {

constexpr const char* kExtensionName = "vajra";

std::optional<std::vector<std::string>> names_taken(ManagerClient& manager, const std::vector<std::string>& names) {
  // extensions() first: osquery pings every extension before answering and forgets the dead ones
  // (with their tables), such as the previous vajra.ext this one replaces.
  const osquery::InternalExtensionList extensions = manager.extensions();
  // osquery_registry lists every plugin of core (owner_uuid 0) and of each extension.
  const osquery::ExtensionResponse response =
      manager.query("SELECT name, owner_uuid FROM osquery_registry WHERE registry = 'table'");
  if (response.status.code != 0) {
    spdlog::info("osquery could not list its tables ({}); registration will tell whether a name is taken",
                 response.status.message);
    return std::nullopt;
  }
  std::vector<std::string> taken;
  for (const auto& row : response.response) {
    const auto name = row.find("name");
    const auto owner = row.find("owner_uuid");
    if (name == row.end() || std::find(names.begin(), names.end(), name->second) == names.end()) continue;
    if (owner == row.end() || owner->second == "0") {
      spdlog::warn("osquery's core has a table named {}", name->second);
      taken.push_back(name->second);
      continue;
    }
    int64_t uuid = -1;
    try {
      uuid = std::stoll(owner->second);
    } catch (const std::exception&) {
      // Not a uuid: treated like an owner that is gone.
    }
    const auto extension = extensions.find(uuid);
    // An earlier vajra.ext's table, or one of an extension that is gone: osquery drops those when
    // it registers us. Should it not, the registration's answer still decides.
    if (extension == extensions.end() || extension->second.name == kExtensionName) continue;
    spdlog::warn("osquery table {} belongs to extension {} (uuid {})", name->second, extension->second.name, uuid);
    taken.push_back(name->second);
  }
  return taken;
}

Registration register_tables(ManagerClient& manager, const Config& config, const std::string& daemon_socket,
                             const std::optional<Cursor>& saved) {
  const std::string& mode = config.bridge.table_names;
  std::string prefix = mode == "vajra" ? "vajra" : "bpf";
  if (mode == "auto") {
    const auto taken = names_taken(manager, event_table_names("bpf"));
    if (taken && !taken->empty()) {
      std::string list;
      for (const std::string& name : *taken) list += (list.empty() ? "" : ", ") + name;
      spdlog::warn("osquery already has table(s) {}; registering every Vajra event table as vajra_* "
                   "(bridge.table_names: bpf would be rejected)",
                   list);
      prefix = "vajra";
    }
  }
  for (;;) {
    Registration registration;
    registration.tables = std::make_unique<TableSet>(prefix, config.bridge, daemon_socket, saved);
    const osquery::ExtensionStatus status =
        manager.register_extension(extension_info(), make_registry(registration.tables->tables()));
    if (status.code == 0) {
      registration.uuid = status.uuid;
      std::string names;
      for (const auto& [name, table] : registration.tables->by_name()) names += (names.empty() ? "" : ", ") + name;
      spdlog::info("registered with osquery as uuid {}: tables {}", status.uuid, names);
      return registration;
    }
    if (mode == "auto" && prefix == "bpf") {
      spdlog::warn("osquery rejected the tables under bpf_* names ({}); registering every Vajra event table as "
                   "vajra_* instead",
                   status.message);
      prefix = "vajra";
      continue;
    }
    throw std::runtime_error("osquery rejected the registration of " + prefix + "_* tables: " + status.message);
  }
}

osquery::InternalExtensionInfo extension_info() {
  osquery::InternalExtensionInfo info;
  info.name = kExtensionName;
  info.version = VAJRA_VERSION;
  // Not built with osquery's SDK: an empty sdk_version passes core's minimum-SDK check.
  info.sdk_version = "";
  info.min_sdk_version = "";
  return info;
}

osquery::ExtensionRegistry make_registry(const std::vector<Table*>& tables) {
  osquery::ExtensionRouteTable routes;
  for (const Table* table : tables) routes[table->name()] = route_rows(*table);
  return {{"table", routes}};
}

}  // namespace vajra::bridge
