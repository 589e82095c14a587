// UDP flows (one event per flow, not per datagram, whichever send syscall, write on a connected socket
// included) and unix stream sockets bound to a path or an abstract name.
#include <unistd.h>

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "harness.h"
#include "net_support.h"

using namespace vajra::v1;

namespace {

SubscribeRequest helper_events() {
  SubscribeRequest request;
  request.add_exe_prefixes(vt::helper_path());
  return request;
}

}  // namespace

TEST_CASE("net udp: datagrams to a loopback port make one flow event per flow, not one per datagram") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;  // network.udp_dedup_window_ms: 60 s by default
  vt::EventStream stream(daemon, helper_events());

  const std::vector<std::string> argv{vt::helper_path(), "udp-flows", "127.0.0.1", "20"};
  const uint64_t boot_before = vt::boot_ns();
  const vt::RunResult run = vt::run(argv);
  REQUIRE(run.exit_code() == 0);
  const auto out = vt::key_values(run.out);
  const int fd = static_cast<int>(vt::number_of(out, "sender_fd"));
  const pid_t pid = run.pid;
  // The sender's close is its last socket event: every flow event it caused is in the stream by then.
  const Event close = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, fd), "sender close");
  const auto flows = stream.matching(vt::socket_of(pid, SOCKET_OPERATION_UDP_FLOW));
  INFO(stream.summary());
  REQUIRE(flows.size() == 2);  // 20 sendto and 20 sendmsg to the first receiver, a sendmmsg of 2 to the second

  vt::SocketExpect x;
  x.operation = SOCKET_OPERATION_UDP_FLOW;
  x.syscall = "sendto";
  x.family = SOCKET_FAMILY_INET;
  x.type = SOCKET_TYPE_DGRAM;
  x.protocol = 17;
  x.protocol_name = "udp";
  x.local = vt::End{"0.0.0.0", static_cast<uint32_t>(vt::number_of(out, "sender_port"))};
  x.remote = vt::End{"127.0.0.1", static_cast<uint32_t>(vt::number_of(out, "port"))};
  x.fd = fd;
  x.net_ns = vt::ns_inode(getpid(), "net");
  x.socket_inode = vt::number_of(out, "sender_ino");
  vt::check_socket(flows[0], x);

  x.syscall = "sendmmsg";
  x.remote = vt::End{"127.0.0.1", static_cast<uint32_t>(vt::number_of(out, "second_port"))};
  vt::check_socket(flows[1], x);

  // Closed without a peer of its own: the flows' peers belong to the datagrams, not the socket.
  x.operation = SOCKET_OPERATION_CLOSE;
  x.syscall = "close";
  x.remote.reset();
  x.has_duration = true;
  vt::check_socket(close, x);

  for (const Event& e : {flows[0], flows[1], close}) vt::check_helper_process(e, pid, argv, boot_before);
  CHECK(flows[0].seq() < flows[1].seq());
}

TEST_CASE("net udp: write and writev on a connected socket make one flow event, from the first write") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, helper_events());

  const std::vector<std::string> argv{vt::helper_path(), "udp-write", "127.0.0.1", "20"};
  const uint64_t boot_before = vt::boot_ns();
  const vt::RunResult run = vt::run(argv);
  REQUIRE(run.exit_code() == 0);
  const auto out = vt::key_values(run.out);
  const int fd = static_cast<int>(vt::number_of(out, "sender_fd"));
  const pid_t pid = run.pid;
  const Event close = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, fd), "sender close");
  const auto flows = stream.matching(vt::socket_of(pid, SOCKET_OPERATION_UDP_FLOW));
  INFO(stream.summary());
  REQUIRE(flows.size() == 1);  // 20 writes and 20 writevs, one flow

  vt::SocketExpect x;
  x.operation = SOCKET_OPERATION_UDP_FLOW;
  x.syscall = "write";
  x.family = SOCKET_FAMILY_INET;
  x.type = SOCKET_TYPE_DGRAM;
  x.protocol = 17;
  x.protocol_name = "udp";
  // connect() gave the socket its local address and its peer.
  x.local = vt::End{"127.0.0.1", static_cast<uint32_t>(vt::number_of(out, "sender_port"))};
  x.remote = vt::End{"127.0.0.1", static_cast<uint32_t>(vt::number_of(out, "port"))};
  x.fd = fd;
  x.net_ns = vt::ns_inode(getpid(), "net");
  x.socket_inode = vt::number_of(out, "sender_ino");
  vt::check_socket(flows[0], x);

  x.operation = SOCKET_OPERATION_CLOSE;
  x.syscall = "close";
  x.has_duration = true;
  vt::check_socket(close, x);
  for (const Event& e : {flows[0], close}) vt::check_helper_process(e, pid, argv, boot_before);
  const Event connect = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CONNECT), "connect");
  CHECK(connect.seq() < flows[0].seq());
}

TEST_CASE("net unix: a stream server and client on a path and on an abstract name") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, helper_events());
  vt::TempDir dir("vajra-unix");

  for (const std::string& name : {dir.file("server.sock"), "@vajra-test-" + vt::random_hex(8)}) {
    INFO("unix name " << name);
    const bool abstract = name[0] == '@';
    const vt::End server_end{abstract ? name.substr(1) : name, 0, abstract};
    const std::vector<std::string> argv{vt::helper_path(), "unix-session", name};
    const uint64_t boot_before = vt::boot_ns();
    const vt::RunResult run = vt::run(argv);
    REQUIRE(run.exit_code() == 0);
    const auto out = vt::key_values(run.out);
    const int server_fd = static_cast<int>(vt::number_of(out, "server_fd"));
    const int client_fd = static_cast<int>(vt::number_of(out, "client_fd"));
    const int conn_fd = static_cast<int>(vt::number_of(out, "conn_fd"));
    const pid_t pid = run.pid;

    const Event server_close =
        stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, server_fd), "server close");
    const Event bind = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_BIND), "bind");
    const Event listen = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_LISTEN), "listen");
    const Event connect = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CONNECT), "connect");
    const Event accept = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_ACCEPT), "accept");
    const Event client_close =
        stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, client_fd), "client close");
    const Event conn_close =
        stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, conn_fd), "server-side close");

    vt::SocketExpect x;
    x.operation = SOCKET_OPERATION_BIND;
    x.syscall = "bind";
    x.family = SOCKET_FAMILY_UNIX;
    x.type = SOCKET_TYPE_STREAM;
    x.local = server_end;
    x.fd = server_fd;
    x.net_ns = vt::ns_inode(getpid(), "net");
    x.socket_inode = vt::number_of(out, "server_ino");
    vt::check_socket(bind, x);

    x.operation = SOCKET_OPERATION_LISTEN;
    x.syscall = "listen";
    x.backlog = 5;
    vt::check_socket(listen, x);

    x.operation = SOCKET_OPERATION_CLOSE;
    x.syscall = "close";
    x.backlog = 0;
    x.has_duration = true;
    vt::check_socket(server_close, x);

    // The client is not bound: its only address is its peer's.
    x.operation = SOCKET_OPERATION_CONNECT;
    x.syscall = "connect";
    x.local.reset();
    x.remote = server_end;
    x.fd = client_fd;
    x.socket_inode = vt::number_of(out, "client_ino");
    x.has_duration = false;
    vt::check_socket(connect, x);

    x.operation = SOCKET_OPERATION_CLOSE;
    x.syscall = "close";
    x.has_duration = true;
    vt::check_socket(client_close, x);

    // The accepted socket carries the server's address; its peer, the client, has none.
    x.operation = SOCKET_OPERATION_ACCEPT;
    x.syscall = "accept";
    x.local = server_end;
    x.remote.reset();
    x.fd = conn_fd;
    x.socket_inode = vt::number_of(out, "conn_ino");
    x.has_duration = false;
    vt::check_socket(accept, x);

    x.operation = SOCKET_OPERATION_CLOSE;
    x.syscall = "close";
    x.has_duration = true;
    vt::check_socket(conn_close, x);

    for (const Event* e : {&bind, &listen, &connect, &accept, &client_close, &conn_close, &server_close})
      vt::check_helper_process(*e, pid, argv, boot_before);
  }
}
