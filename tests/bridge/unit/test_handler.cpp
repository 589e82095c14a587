#include <catch2/catch.hpp>

#include "event_table.h"
#include "restore_gate.h"
#include "tables/process_table.h"
#include "thrift_server.h"

using namespace vajra::bridge;

namespace {

struct Fixture {
  RestoreGate gate;
  EventFamily family = process_family();
  EventTable table{family, "bpf_process_events", StoreLimits{3600, 1000}, gate};
  ExtensionHandler handler{{{"bpf_process_events", &table}}};
  Fixture() {
    gate.open();
    handler.set_uuid(4242);
  }
  vajra::osquery::ExtensionResponse call(const std::string& registry, const std::string& item,
                                         const std::map<std::string, std::string>& request) {
    vajra::osquery::ExtensionResponse response;
    handler.call(response, registry, item, request);
    return response;
  }
};

}  // namespace

TEST_CASE("ping answers OK with the uuid", "[bridge][handler]") {
  Fixture f;
  vajra::osquery::ExtensionStatus status;
  f.handler.ping(status);
  CHECK(status.code == 0);
  CHECK(status.uuid == 4242);
}

TEST_CASE("columns repeats the registration's route rows", "[bridge][handler]") {
  Fixture f;
  const auto response = f.call("table", "bpf_process_events", {{"action", "columns"}});
  CHECK(response.status.code == 0);
  CHECK(response.response == route_rows(f.table));
}

TEST_CASE("requests osquery should not send get a non-zero status and a message", "[bridge][handler]") {
  Fixture f;
  struct Case {
    std::string registry, item;
    std::map<std::string, std::string> request;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"config", "bpf_process_events", {{"action", "generate"}}, "unknown registry 'config'"},
      {"table", "processes", {{"action", "generate"}}, "unknown table 'processes'"},
      {"table", "bpf_process_events", {}, "no \"action\""},
      {"table", "bpf_process_events", {{"action", "explode"}}, "unknown action 'explode'"},
      {"table", "bpf_process_events", {{"action", "insert"}}, "read-only"},
      {"table", "bpf_process_events", {{"action", "generate"}, {"context", "{\"constraints\":"}}, "malformed context"},
  };
  for (const Case& c : cases) {
    const auto response = f.call(c.registry, c.item, c.request);
    CHECK(response.status.code == 1);
    CHECK_THAT(response.status.message, Catch::Contains(c.message));
    CHECK(response.response.empty());
  }
}
