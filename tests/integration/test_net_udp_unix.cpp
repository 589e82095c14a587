// UDP flows (one event per flow, not per datagram, whichever send syscall, write on a connected socket
// included) and unix stream sockets bound to a path or an abstract name.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "harness.h"
#include "net_support.h"

using namespace vajra::v1;

namespace {

// Fields every socket event of the UDP helper's sender shares: its flows, then its close.
vt::SocketExpect udp_sender_flow(const vt::HelperRun& run, const std::string& syscall,
                                 const std::string& local_address) {
  vt::SocketExpect x = vt::socket_expect(SOCKET_OPERATION_UDP_FLOW, syscall, SOCKET_FAMILY_INET, SOCKET_TYPE_DGRAM,
                                         static_cast<int>(run.number("sender_fd")), run.number("sender_ino"));
  x.protocol = 17;
  x.protocol_name = "udp";
  x.local = vt::End{local_address, static_cast<uint32_t>(run.number("sender_port"))};
  x.remote = vt::End{"127.0.0.1", static_cast<uint32_t>(run.number("port"))};
  return x;
}

// Turns the expectation of a socket's event into that of its close(2), which comes with a duration.
void as_close(vt::SocketExpect& x) {
  x.operation = SOCKET_OPERATION_CLOSE;
  x.syscall = "close";
  x.has_duration = true;
}

}  // namespace

TEST_CASE("net udp: datagrams to a loopback port make one flow event per flow, not one per datagram") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;  // network.udp_dedup_window_ms: 60 s by default
  vt::EventStream stream(daemon, vt::helper_subscription());

  const vt::HelperRun run = vt::run_helper({"udp-flows", "127.0.0.1", "20"});
  REQUIRE(run.result.exit_code() == 0);
  const pid_t pid = run.pid();
  // The sender's close is its last socket event: every flow event it caused is in the stream by then.
  const Event close = vt::wait_close(stream, pid, static_cast<int>(run.number("sender_fd")), "sender close");
  const auto flows = stream.matching(vt::socket_of(pid, SOCKET_OPERATION_UDP_FLOW));
  INFO(stream.summary());
  REQUIRE(flows.size() == 2);  // 20 sendto and 20 sendmsg to the first receiver, a sendmmsg of 2 to the second

  vt::SocketExpect x = udp_sender_flow(run, "sendto", "0.0.0.0");
  vt::check_socket(flows[0], x);

  x.syscall = "sendmmsg";
  x.remote = vt::End{"127.0.0.1", static_cast<uint32_t>(run.number("second_port"))};
  vt::check_socket(flows[1], x);

  // Closed without a peer of its own: the flows' peers belong to the datagrams, not the socket.
  as_close(x);
  x.remote.reset();
  vt::check_socket(close, x);

  for (const Event& e : {flows[0], flows[1], close}) vt::check_helper_process(e, run);
  CHECK(flows[0].seq() < flows[1].seq());
}

TEST_CASE("net udp: write and writev on a connected socket make one flow event, from the first write") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, vt::helper_subscription());

  const vt::HelperRun run = vt::run_helper({"udp-write", "127.0.0.1", "20"});
  REQUIRE(run.result.exit_code() == 0);
  const pid_t pid = run.pid();
  const Event close = vt::wait_close(stream, pid, static_cast<int>(run.number("sender_fd")), "sender close");
  const auto flows = stream.matching(vt::socket_of(pid, SOCKET_OPERATION_UDP_FLOW));
  INFO(stream.summary());
  REQUIRE(flows.size() == 1);  // 20 writes and 20 writevs, one flow

  // connect() gave the socket its local address and its peer.
  vt::SocketExpect x = udp_sender_flow(run, "write", "127.0.0.1");
  vt::check_socket(flows[0], x);

  as_close(x);
  vt::check_socket(close, x);
  for (const Event& e : {flows[0], close}) vt::check_helper_process(e, run);
  const Event connect = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CONNECT), "connect");
  CHECK(connect.seq() < flows[0].seq());
}

TEST_CASE("net unix: a stream server and client on a path and on an abstract name") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, vt::helper_subscription());
  vt::TempDir dir("vajra-unix");

  for (const std::string& name : {dir.file("server.sock"), "@vajra-test-" + vt::random_hex(8)}) {
    INFO("unix name " << name);
    const bool abstract = name[0] == '@';
    const vt::End server_end{abstract ? name.substr(1) : name, 0, abstract};
    const vt::HelperRun run = vt::run_helper({"unix-session", name});
    REQUIRE(run.result.exit_code() == 0);
    const int server_fd = static_cast<int>(run.number("server_fd"));
    const int client_fd = static_cast<int>(run.number("client_fd"));
    const int conn_fd = static_cast<int>(run.number("conn_fd"));
    const pid_t pid = run.pid();

    const Event server_close = vt::wait_close(stream, pid, server_fd, "server close");
    const Event bind = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_BIND), "bind");
    const Event listen = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_LISTEN), "listen");
    const Event connect = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CONNECT), "connect");
    const Event accept = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_ACCEPT), "accept");
    const Event client_close = vt::wait_close(stream, pid, client_fd, "client close");
    const Event conn_close = vt::wait_close(stream, pid, conn_fd, "server-side close");

    vt::SocketExpect x = vt::socket_expect(SOCKET_OPERATION_BIND, "bind", SOCKET_FAMILY_UNIX, SOCKET_TYPE_STREAM,
                                           server_fd, run.number("server_ino"));
    x.local = server_end;
    vt::check_socket(bind, x);

    x.operation = SOCKET_OPERATION_LISTEN;
    x.syscall = "listen";
    x.backlog = 5;
    vt::check_socket(listen, x);

    as_close(x);
    x.backlog = 0;
    vt::check_socket(server_close, x);

    // The client is not bound: its only address is its peer's.
    x.operation = SOCKET_OPERATION_CONNECT;
    x.syscall = "connect";
    x.local.reset();
    x.remote = server_end;
    x.fd = client_fd;
    x.socket_inode = run.number("client_ino");
    x.has_duration = false;
    vt::check_socket(connect, x);

    as_close(x);
    vt::check_socket(client_close, x);

    // The accepted socket carries the server's address; its peer, the client, has none.
    x.operation = SOCKET_OPERATION_ACCEPT;
    x.syscall = "accept";
    x.local = server_end;
    x.remote.reset();
    x.fd = conn_fd;
    x.socket_inode = run.number("conn_ino");
    x.has_duration = false;
    vt::check_socket(accept, x);

    as_close(x);
    vt::check_socket(conn_close, x);

    for (const Event* e : {&bind, &listen, &connect, &accept, &client_close, &conn_close, &server_close})
      vt::check_helper_process(*e, run);
  }
}
