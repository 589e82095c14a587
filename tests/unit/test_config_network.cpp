// The network: section: every key, and errors for bad ports, CIDRs and sizes that name the entry and
// its line.
#include <catch2/catch.hpp>

#include <string>

#include "config.h"
#include "vajra_wire.h"

using namespace vajra;

namespace {

std::string error_of(const std::string& yaml) {
  try {
    parse_config(yaml, "t.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

Cidr cidr(const std::string& text) {
  std::string error;
  const std::optional<Cidr> parsed = parse_cidr(text, error);
  INFO(text << ": " << error);
  REQUIRE(parsed);
  return *parsed;
}

}  // namespace

TEST_CASE("config network: defaults report every operation with no filter", "[config]") {
  const NetworkConfig net;
  CHECK(net.bind);
  CHECK(net.listen);
  CHECK(net.accept);
  CHECK(net.connect);
  CHECK(net.close);
  CHECK(net.udp);
  CHECK(net.dns);
  CHECK(net.include_ports.empty());
  CHECK(net.exclude_ports.empty());
  CHECK(net.include_cidrs.empty());
  CHECK(net.exclude_cidrs.empty());
  CHECK(net.udp_dedup_window_ms == 60000);
}

TEST_CASE("config network: every key is read", "[config]") {
  const Config config = parse_config(R"(
network:
  bind: false
  listen: false
  accept: false
  connect: false
  close: false
  udp: false
  dns: false
  include_ports: [443, 53]
  exclude_ports: [22]
  include_cidrs: ["10.0.0.0/8", "fd00::/8", 192.0.2.7]
  exclude_cidrs: ["::1"]
  udp_dedup_window_ms: 0
)",
                                     "t.yaml");
  const NetworkConfig& net = config.network;
  CHECK_FALSE(net.bind);
  CHECK_FALSE(net.listen);
  CHECK_FALSE(net.accept);
  CHECK_FALSE(net.connect);
  CHECK_FALSE(net.close);
  CHECK_FALSE(net.udp);
  CHECK_FALSE(net.dns);
  CHECK(net.include_ports == std::vector<uint16_t>{443, 53});
  CHECK(net.exclude_ports == std::vector<uint16_t>{22});
  CHECK(net.include_cidrs == std::vector<Cidr>{cidr("10.0.0.0/8"), cidr("fd00::/8"), cidr("192.0.2.7/32")});
  CHECK(net.exclude_cidrs == std::vector<Cidr>{cidr("::1/128")});
  CHECK(net.udp_dedup_window_ms == 0);
  // IPv4 prefixes are stored v4-mapped, as the kernel's LPM trie holds them.
  CHECK(net.include_cidrs[0].prefix_len == 96 + 8);
  CHECK(net.include_cidrs[0].address[10] == 0xff);
  CHECK(net.include_cidrs[0].address[12] == 10);
  CHECK(net.include_cidrs[1].prefix_len == 8);
  CHECK(net.include_cidrs[2].prefix_len == 128);
}

TEST_CASE("config network: a bad CIDR is an error naming the entry and its line", "[config]") {
  CHECK(error_of("network:\n  include_cidrs:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\n") ==
        "t.yaml:4: network.include_cidrs[1]: '10.0.0.0/33' is not a CIDR: prefix length '33' must be 0 to 32 for "
        "IPv4");
  CHECK(error_of("network:\n  exclude_cidrs: [\"fd00::/129\"]\n") ==
        "t.yaml:2: network.exclude_cidrs[0]: 'fd00::/129' is not a CIDR: prefix length '129' must be 0 to 128 for "
        "IPv6");
  CHECK(error_of("network:\n  include_cidrs: [example.com]\n") ==
        "t.yaml:2: network.include_cidrs[0]: 'example.com' is not a CIDR: 'example.com' is not an IPv4 or IPv6 "
        "address");
  CHECK(error_of("network:\n  include_cidrs: [\"10.1.0.0/8\"]\n") ==
        "t.yaml:2: network.include_cidrs[0]: '10.1.0.0/8' is not a CIDR: has bits set past its /8 prefix (did you "
        "mean 10.0.0.0/8?)");
  CHECK(error_of("network:\n  include_cidrs: [\"10.0.0.0/\"]\n") ==
        "t.yaml:2: network.include_cidrs[0]: '10.0.0.0/' is not a CIDR: prefix length '' must be 0 to 32 for IPv4");
  CHECK(error_of("network:\n  include_cidrs: [\"10.0.0.0/x8\"]\n") ==
        "t.yaml:2: network.include_cidrs[0]: '10.0.0.0/x8' is not a CIDR: prefix length 'x8' must be 0 to 32 for "
        "IPv4");
  CHECK(error_of("network:\n  include_cidrs: 10.0.0.0/8\n") ==
        "t.yaml:2: network.include_cidrs: expected a list (write [] for none), got '10.0.0.0/8'");
}

TEST_CASE("config network: a bad port is an error naming the entry and its line", "[config]") {
  CHECK(error_of("network:\n  include_ports: [80, 70000]\n") ==
        "t.yaml:2: network.include_ports[1]: must be between 1 and 65535, got 70000");
  CHECK(error_of("network:\n  exclude_ports:\n    - 0\n") ==
        "t.yaml:3: network.exclude_ports[0]: must be between 1 and 65535, got 0");
  CHECK(error_of("network:\n  exclude_ports: [http]\n") ==
        "t.yaml:2: network.exclude_ports[0]: expected an integer, got 'http'");
  CHECK(error_of("network:\n  exclude_ports: [-1]\n") ==
        "t.yaml:2: network.exclude_ports[0]: must be between 1 and 65535, got -1");
}

TEST_CASE("config network: lists hold at most what the kernel maps hold", "[config]") {
  std::string ports = "network:\n  include_ports: [";
  for (int port = 1; port <= VJ_NET_FILTER_MAX + 1; ++port) ports += (port > 1 ? ", " : "") + std::to_string(port);
  ports += "]\n";
  CHECK(error_of(ports) == "t.yaml:2: network.include_ports: 257 entries; at most 256");
}

TEST_CASE("config network: other errors", "[config]") {
  CHECK(error_of("network:\n  udp_dedup_window_ms: 86400001\n") ==
        "t.yaml:2: network.udp_dedup_window_ms: must be between 0 and 86400000, got 86400001");
  CHECK(error_of("network:\n  connect: yes\n") == "t.yaml:2: network.connect: expected true or false, got 'yes'");
  CHECK(error_of("network:\n  include_port: [80]\n") ==
        "t.yaml:2: network.include_port: unknown key; did you mean 'include_ports'?");
}
