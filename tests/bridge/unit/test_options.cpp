#include <catch2/catch.hpp>

#include "options.h"

using namespace vajra::bridge;

namespace {

Options parse(std::vector<const char*> args) {
  args.insert(args.begin(), "vajra.ext");
  return parse_options(static_cast<int>(args.size()), args.data());
}

}  // namespace

TEST_CASE("osqueryd's argv", "[bridge][options]") {
  const Options o = parse({"--verbose", "--socket", "/var/osquery/osquery.em", "--timeout", "3", "--interval", "5"});
  CHECK(o.verbose);
  CHECK(o.manager_socket == "/var/osquery/osquery.em");
  CHECK(o.timeout_seconds == 3);
  CHECK(o.interval_seconds == 5);
  CHECK(o.state_dir.empty());  // bridge.state_dir from the config applies
}

TEST_CASE("inline values and the bridge's own flags", "[bridge][options]") {
  const Options o = parse({"--socket=/tmp/em", "--config", "/etc/x.yaml", "--daemon-socket=/run/v.sock", "--state-dir", "/s"});
  CHECK(o.manager_socket == "/tmp/em");
  CHECK(o.config_path == "/etc/x.yaml");
  CHECK(o.daemon_socket == "/run/v.sock");
  CHECK(o.state_dir == "/s");
}

TEST_CASE("bad command lines name the problem", "[bridge][options]") {
  CHECK_THROWS_WITH(parse({}), Catch::Contains("--socket PATH is required"));
  CHECK_THROWS_WITH(parse({"--socket"}), Catch::Contains("missing value"));
  CHECK_THROWS_WITH(parse({"--socket", "/x", "--timeout", "0"}), Catch::Contains("--timeout"));
  CHECK_THROWS_WITH(parse({"--socket", "/x", "--interval", "3s"}), Catch::Contains("'3s'"));
  CHECK_THROWS_WITH(parse({"--socket", "/x", "--bogus"}), Catch::Contains("unknown argument '--bogus'"));
  CHECK_THROWS_WITH(parse({"--socket", "/x", "--state-dir", "rel"}), Catch::Contains("absolute"));
  CHECK(parse({"--help"}).help);
  CHECK(parse({"--version"}).version);
}
