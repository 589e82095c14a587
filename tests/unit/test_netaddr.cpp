// Addresses and CIDRs in the sensor's one form: 16 bytes, IPv4 v4-mapped.
#include <catch2/catch.hpp>

#include <string>

#include "netaddr.h"

using namespace vajra;

namespace {

Ip6 address(const std::string& text) {
  const std::optional<Ip6> parsed = parse_address(text);
  INFO(text);
  REQUIRE(parsed);
  return *parsed;
}

Cidr cidr(const std::string& text) {
  std::string error;
  const std::optional<Cidr> parsed = parse_cidr(text, error);
  INFO(text << ": " << error);
  REQUIRE(parsed);
  return *parsed;
}

}  // namespace

TEST_CASE("netaddr: IPv4 is v4-mapped and shown as IPv4") {
  const Ip6 v4 = address("10.1.2.3");
  CHECK(is_v4_mapped(v4));
  CHECK(format_address(v4) == "10.1.2.3");
  CHECK(address("::ffff:10.1.2.3") == v4);
  CHECK(format_address(address("::ffff:127.0.0.1")) == "127.0.0.1");
  CHECK(format_address(address("0.0.0.0")) == "0.0.0.0");
  CHECK(format_address(address("255.255.255.255")) == "255.255.255.255");
  CHECK(format_address(address("192.0.20.9")) == "192.0.20.9");
}

TEST_CASE("netaddr: IPv6 is shown compressed") {
  CHECK(format_address(address("fd00:0:0::3")) == "fd00::3");
  CHECK(format_address(address("::1")) == "::1");
  CHECK(format_address(Ip6{}) == "::");
  CHECK_FALSE(is_v4_mapped(address("::1")));
}

TEST_CASE("netaddr: what is not an address") {
  for (const char* text : {"", "10.1.2", "10.1.2.3.4", "256.1.1.1", "example.com", "fd00:::1", "10.1.2.3/8"}) {
    INFO(text);
    CHECK_FALSE(parse_address(text));
  }
}

TEST_CASE("netaddr: CIDRs contain their addresses, IPv4 ones only IPv4") {
  const Cidr ten = cidr("10.0.0.0/8");
  CHECK(ten.prefix_len == 104);
  CHECK(cidr_contains(ten, address("10.255.0.1")));
  CHECK(cidr_contains(ten, address("::ffff:10.0.0.1")));
  CHECK_FALSE(cidr_contains(ten, address("11.0.0.1")));
  CHECK_FALSE(cidr_contains(ten, address("fd00::1")));

  const Cidr all_v4 = cidr("0.0.0.0/0");
  CHECK(cidr_contains(all_v4, address("192.0.2.1")));
  CHECK_FALSE(cidr_contains(all_v4, address("::1")));
  CHECK(cidr_contains(cidr("::/0"), address("192.0.2.1")));  // every address, v4-mapped ones too

  const Cidr host = cidr("192.0.2.7");
  CHECK(host.prefix_len == 128);
  CHECK(cidr_contains(host, address("192.0.2.7")));
  CHECK_FALSE(cidr_contains(host, address("192.0.2.8")));

  const Cidr ula = cidr("fd00::/8");
  CHECK(cidr_contains(ula, address("fdff::1")));
  CHECK_FALSE(cidr_contains(ula, address("fe80::1")));
  CHECK(cidr_contains(cidr("10.1.2.0/23"), address("10.1.3.255")));
}

TEST_CASE("netaddr: bad CIDRs say why") {
  std::string error;
  CHECK_FALSE(parse_cidr("10.0.0.0/33", error));
  CHECK(error == "prefix length '33' must be 0 to 32 for IPv4");
  CHECK_FALSE(parse_cidr("10.0.0.1/31", error));
  CHECK(error == "has bits set past its /31 prefix (did you mean 10.0.0.0/31?)");
  CHECK_FALSE(parse_cidr("fd00::1/8", error));
  CHECK(error == "has bits set past its /8 prefix (did you mean fd00::/8?)");
  CHECK_FALSE(parse_cidr("/8", error));
  CHECK(error == "'' is not an IPv4 or IPv6 address");
  CHECK_FALSE(parse_cidr("10.0.0.0/+8", error));
  CHECK(error == "prefix length '+8' must be 0 to 32 for IPv4");
}
