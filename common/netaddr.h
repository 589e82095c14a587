// IP addresses and CIDR prefixes as text, in the one form the sensor uses everywhere: 16 bytes, IPv4
// as the v4-mapped ::ffff:a.b.c.d (as the kernel side writes them), shown as plain IPv4 again.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vajra {

using Ip6 = std::array<uint8_t, 16>;

// True for ::ffff:a.b.c.d.
bool is_v4_mapped(const Ip6& address);

// "10.1.2.3" or "fd00::3"; v4-mapped addresses as IPv4.
std::string format_address(const Ip6& address);

// "10.1.2.3" or "fd00::3" -> 16 bytes; nullopt when it is neither.
std::optional<Ip6> parse_address(std::string_view text);

// A prefix over the 16-byte form: IPv4 /n is stored as its v4-mapped address with length 96 + n.
struct Cidr {
  Ip6 address{};
  uint32_t prefix_len = 0;
  bool operator==(const Cidr& other) const { return address == other.address && prefix_len == other.prefix_len; }
};

// "10.0.0.0/8", "fd00::/8", or a lone address (a host: /32 or /128). Bits past the prefix must be
// zero, so that a typo such as 10.1.0.0/8 is not silently widened. On failure returns nullopt and
// says why in `error`.
std::optional<Cidr> parse_cidr(std::string_view text, std::string& error);

bool cidr_contains(const Cidr& cidr, const Ip6& address);

}  // namespace vajra
