// Subscribe filters on ports and remote addresses, through the hub's filter_matches, and the checks
// the server makes of them.
#include <catch2/catch.hpp>

#include <string>

#include "hub.h"
#include "net_filter.h"

using namespace vajra;

namespace {

v1::Event socket_event(const std::string& local, uint32_t local_port, const std::string& remote, uint32_t remote_port) {
  v1::Event event;
  event.set_kind(v1::EVENT_KIND_SOCKET);
  event.mutable_process()->set_pid(10);
  v1::SocketEvent& socket = *event.mutable_socket();
  socket.set_operation(v1::SOCKET_OPERATION_CONNECT);
  socket.mutable_local()->set_address(local);
  socket.mutable_local()->set_port(local_port);
  if (!remote.empty()) {
    socket.mutable_remote()->set_address(remote);
    socket.mutable_remote()->set_port(remote_port);
  }
  return event;
}

v1::Event dns_event(const std::string& server) {
  v1::Event event;
  event.set_kind(v1::EVENT_KIND_DNS);
  event.mutable_dns()->mutable_server()->set_address(server);
  event.mutable_dns()->mutable_server()->set_port(53);
  event.mutable_dns()->mutable_local()->set_address("127.0.0.1");
  event.mutable_dns()->mutable_local()->set_port(41000);
  return event;
}

v1::Event exec_event() {
  v1::Event event;
  event.set_kind(v1::EVENT_KIND_EXEC);
  event.mutable_process()->set_pid(10);
  return event;
}

v1::SubscribeRequest ports(std::initializer_list<uint32_t> list) {
  v1::SubscribeRequest filter;
  for (uint32_t port : list) filter.add_ports(port);
  return filter;
}

v1::SubscribeRequest remotes(std::initializer_list<const char*> list) {
  v1::SubscribeRequest filter;
  for (const char* remote : list) filter.add_remote_addresses(remote);
  return filter;
}

}  // namespace

TEST_CASE("net filter: ports match either end of a socket event") {
  const v1::SubscribeRequest filter = ports({443, 53});
  CHECK(filter_matches(filter, socket_event("10.0.0.2", 50000, "93.184.216.34", 443)));
  CHECK(filter_matches(filter, socket_event("0.0.0.0", 53, "", 0)));  // a listener on 53
  CHECK_FALSE(filter_matches(filter, socket_event("10.0.0.2", 50000, "93.184.216.34", 80)));
  CHECK(filter_matches(filter, dns_event("127.0.0.53")));
  CHECK_FALSE(filter_matches(ports({80}), dns_event("127.0.0.53")));
}

TEST_CASE("net filter: remote addresses and CIDRs match the remote end, v4-mapped included") {
  const v1::SubscribeRequest filter = remotes({"10.0.0.0/8", "fd00::1"});
  CHECK(filter_matches(filter, socket_event("10.0.0.2", 50000, "10.9.9.9", 22)));
  CHECK(filter_matches(filter, socket_event("::1", 50000, "fd00::1", 22)));
  CHECK_FALSE(filter_matches(filter, socket_event("10.0.0.2", 50000, "11.0.0.1", 22)));
  CHECK_FALSE(filter_matches(filter, socket_event("10.0.0.2", 50000, "", 0)));  // no remote end
  CHECK_FALSE(filter_matches(filter, socket_event("10.1.1.1", 80, "192.0.2.1", 22)));  // local does not count
  CHECK(filter_matches(remotes({"127.0.0.53"}), dns_event("127.0.0.53")));
  CHECK_FALSE(filter_matches(remotes({"127.0.0.53"}), dns_event("127.0.0.54")));
  // A unix peer has a path, not an address.
  CHECK_FALSE(filter_matches(remotes({"::/0"}), socket_event("/run/a.sock", 0, "/run/b.sock", 0)));
}

TEST_CASE("net filter: ports and addresses together must both match, and with the other filters") {
  v1::SubscribeRequest filter = remotes({"10.0.0.0/8"});
  filter.add_ports(22);
  CHECK(filter_matches(filter, socket_event("10.0.0.2", 50000, "10.9.9.9", 22)));
  CHECK_FALSE(filter_matches(filter, socket_event("10.0.0.2", 50000, "10.9.9.9", 23)));
  CHECK_FALSE(filter_matches(filter, socket_event("10.0.0.2", 50000, "11.9.9.9", 22)));
  filter.add_pids(11);
  CHECK_FALSE(filter_matches(filter, socket_event("10.0.0.2", 50000, "10.9.9.9", 22)));
}

TEST_CASE("net filter: events without ports or addresses do not pass such a filter, loss events do") {
  CHECK_FALSE(filter_matches(ports({22}), exec_event()));
  CHECK_FALSE(filter_matches(remotes({"10.0.0.0/8"}), exec_event()));
  CHECK(filter_matches(v1::SubscribeRequest(), exec_event()));
  v1::Event loss;
  loss.set_kind(v1::EVENT_KIND_LOSS);
  CHECK(filter_matches(ports({22}), loss));
}

TEST_CASE("net filter: the server refuses ports and addresses it cannot use") {
  CHECK(net_filter_problem(ports({1, 65535})) == "");
  CHECK(net_filter_problem(ports({22, 0})) == "ports[1]: 0 is not a port (1 to 65535)");
  CHECK(net_filter_problem(ports({65536})) == "ports[0]: 65536 is not a port (1 to 65535)");
  CHECK(net_filter_problem(remotes({"10.0.0.0/8", "::1"})) == "");
  CHECK(net_filter_problem(remotes({"10.0.0.0/8", "nope"})) == "remote_addresses[1]: 'nope' is not an IPv4 or IPv6 address");
  CHECK(net_filter_problem(remotes({"10.0.0.0/40"})) == "remote_addresses[0]: prefix length '40' must be 0 to 32 for IPv4");
}
