#include "net_filter.h"

#include <algorithm>
#include <optional>

#include "netaddr.h"

namespace vajra {
namespace {

struct Ends {
  const v1::SocketAddress* local = nullptr;
  const v1::SocketAddress* remote = nullptr;
};

std::optional<Ends> ends_of(const v1::Event& event) {
  if (event.has_socket()) {
    const v1::SocketEvent& socket = event.socket();
    return Ends{socket.has_local() ? &socket.local() : nullptr, socket.has_remote() ? &socket.remote() : nullptr};
  }
  if (event.has_dns()) return Ends{&event.dns().local(), &event.dns().server()};
  return std::nullopt;
}

bool port_listed(const v1::SubscribeRequest& filter, const v1::SocketAddress* end) {
  return end != nullptr && end->port() != 0 &&
         std::find(filter.ports().begin(), filter.ports().end(), end->port()) != filter.ports().end();
}

bool remote_listed(const v1::SubscribeRequest& filter, const v1::SocketAddress* remote) {
  if (remote == nullptr) return false;
  // A unix peer's path parses as no address.
  const std::optional<Ip6> address = parse_address(remote->address());
  if (!address) return false;
  return std::any_of(filter.remote_addresses().begin(), filter.remote_addresses().end(), [&](const std::string& text) {
    std::string ignored;
    const std::optional<Cidr> cidr = parse_cidr(text, ignored);
    return cidr && cidr_contains(*cidr, *address);
  });
}

}  // namespace

bool net_filter_matches(const v1::SubscribeRequest& filter, const v1::Event& event) {
  if (filter.ports().empty() && filter.remote_addresses().empty()) return true;
  const std::optional<Ends> ends = ends_of(event);
  if (!ends) return false;
  if (!filter.ports().empty() && !port_listed(filter, ends->local) && !port_listed(filter, ends->remote)) return false;
  if (!filter.remote_addresses().empty() && !remote_listed(filter, ends->remote)) return false;
  return true;
}

std::string net_filter_problem(const v1::SubscribeRequest& filter) {
  for (int i = 0; i < filter.ports_size(); ++i) {
    if (filter.ports(i) == 0 || filter.ports(i) > 65535)
      return "ports[" + std::to_string(i) + "]: " + std::to_string(filter.ports(i)) + " is not a port (1 to 65535)";
  }
  for (int i = 0; i < filter.remote_addresses_size(); ++i) {
    std::string error;
    if (!parse_cidr(filter.remote_addresses(i), error))
      return "remote_addresses[" + std::to_string(i) + "]: " + error;
  }
  return "";
}

}  // namespace vajra
