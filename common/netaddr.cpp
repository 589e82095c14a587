#include "netaddr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace vajra {
namespace {

constexpr uint32_t kV4MappedBits = 96;

Ip6 v4_mapped(const uint8_t v4[4]) {
  Ip6 out{};
  out[10] = 0xff;
  out[11] = 0xff;
  std::memcpy(out.data() + 12, v4, 4);
  return out;
}

// Whether every bit of `address` from `prefix_len` on is zero.
bool host_bits_clear(const Ip6& address, uint32_t prefix_len) {
  for (uint32_t bit = prefix_len; bit < 128; ++bit) {
    if (address[bit / 8] & (0x80u >> (bit % 8))) return false;
  }
  return true;
}

// The address with every bit from `prefix_len` on cleared.
Ip6 masked(Ip6 address, uint32_t prefix_len) {
  for (uint32_t bit = prefix_len; bit < 128; ++bit) address[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  return address;
}

}  // namespace

bool is_v4_mapped(const Ip6& address) {
  for (int i = 0; i < 10; ++i) {
    if (address[i] != 0) return false;
  }
  return address[10] == 0xff && address[11] == 0xff;
}

std::string format_address(const Ip6& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (is_v4_mapped(address)) {
    // Every socket event formats two of these: glibc's inet_ntop goes through sprintf, ten times slower.
    char* end = text;
    for (int i = 12; i < 16; ++i) {
      if (i > 12) *end++ = '.';
      end = std::to_chars(end, text + sizeof(text), address[i]).ptr;
    }
    return std::string(text, end);
  }
  inet_ntop(AF_INET6, address.data(), text, sizeof(text));
  return text;
}

std::optional<Ip6> parse_address(std::string_view text) {
  const std::string copy(text);
  uint8_t v4[4];
  if (inet_pton(AF_INET, copy.c_str(), v4) == 1) return v4_mapped(v4);
  Ip6 v6{};
  if (inet_pton(AF_INET6, copy.c_str(), v6.data()) == 1) return v6;
  return std::nullopt;
}

std::optional<Cidr> parse_cidr(std::string_view text, std::string& error) {
  const size_t slash = text.find('/');
  const std::string_view address_text = text.substr(0, slash);
  const std::optional<Ip6> address = parse_address(address_text);
  if (!address) {
    error = "'" + std::string(address_text) + "' is not an IPv4 or IPv6 address";
    return std::nullopt;
  }
  const bool v4 = address_text.find(':') == std::string_view::npos;
  const uint32_t max_len = v4 ? 32 : 128;
  uint32_t len = max_len;
  if (slash != std::string_view::npos) {
    const std::string_view len_text = text.substr(slash + 1);
    const char* end = len_text.data() + len_text.size();
    const auto [parsed_end, status] = std::from_chars(len_text.data(), end, len);
    if (len_text.empty() || status != std::errc() || parsed_end != end || len > max_len) {
      error = "prefix length '" + std::string(len_text) + "' must be 0 to " + std::to_string(max_len) +
              (v4 ? " for IPv4" : " for IPv6");
      return std::nullopt;
    }
  }
  Cidr cidr{*address, v4 ? kV4MappedBits + len : len};
  if (!host_bits_clear(cidr.address, cidr.prefix_len)) {
    error = "has bits set past its /" + std::to_string(len) + " prefix (did you mean " +
            format_address(masked(cidr.address, cidr.prefix_len)) + "/" + std::to_string(len) + "?)";
    return std::nullopt;
  }
  return cidr;
}

bool cidr_contains(const Cidr& cidr, const Ip6& address) {
  return masked(address, cidr.prefix_len) == cidr.address;
}

}  // namespace vajra
