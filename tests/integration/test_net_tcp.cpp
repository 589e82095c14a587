// TCP on loopback, IPv4 and IPv6: bind, listen, accept and connect with the exact addresses and ports
// of both sides, close with byte counts (by close(2), and without it: exit, exec, dup2 and dup3), and
// non-blocking connects followed to their outcome.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "harness.h"
#include "net_support.h"

using namespace vajra::v1;

namespace {

struct Loopback {
  const char* address;
  SocketFamily family;
};

const Loopback kLoopbacks[] = {{"127.0.0.1", SOCKET_FAMILY_INET}, {"::1", SOCKET_FAMILY_INET6}};
const Loopback& kIpv4 = kLoopbacks[0];

// Fields every TCP socket event of the helper shares.
vt::SocketExpect tcp(SocketFamily family, SocketOperation op, const std::string& syscall, int fd, uint64_t inode) {
  vt::SocketExpect x = vt::socket_expect(op, syscall, family, SOCKET_TYPE_STREAM, fd, inode);
  x.protocol = 6;
  x.protocol_name = "tcp";
  return x;
}

// The listener, client and accepted socket of the helper's TCP modes, as its report names them.
struct TcpPair {
  TcpPair(const vt::HelperRun& run, const Loopback& loopback)
      : family(loopback.family),
        listener_fd(static_cast<int>(run.number("listener_fd"))),
        client_fd(static_cast<int>(run.number("client_fd"))),
        conn_fd(static_cast<int>(run.number("conn_fd"))),
        listener_ino(run.number("listener_ino")),
        client_ino(run.number("client_ino")),
        conn_ino(run.number("conn_ino")),
        server_end{loopback.address, static_cast<uint32_t>(run.number("port"))},
        client_end{loopback.address, static_cast<uint32_t>(run.number("client_port"))} {}

  // Every field of the listener's close (of `fd`: a dup'd copy may end it). A listener moves no data.
  vt::SocketExpect listener_close(const std::string& syscall, int fd) const {
    auto x = tcp(family, SOCKET_OPERATION_CLOSE, syscall, fd, listener_ino);
    x.local = server_end;
    x.has_duration = true;
    return x;
  }
  // Every field of the client's close, after `sent` bytes out and `received` back.
  vt::SocketExpect client_close(const std::string& syscall, uint64_t sent, uint64_t received) const {
    auto x = tcp(family, SOCKET_OPERATION_CLOSE, syscall, client_fd, client_ino);
    x.local = client_end;
    x.remote = server_end;
    x.has_duration = true;
    x.bytes_sent = sent;
    x.bytes_received = received;
    return x;
  }

  SocketFamily family;
  int listener_fd, client_fd, conn_fd;
  uint64_t listener_ino, client_ino, conn_ino;
  vt::End server_end, client_end;
};

}  // namespace

TEST_CASE("net tcp: a loopback session reports bind, listen, connect, accept and closes with byte counts") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, vt::helper_subscription());

  for (const Loopback& loopback : kLoopbacks) {
    const std::string address = loopback.address;
    INFO("loopback " << address);
    const vt::HelperRun run = vt::run_helper({"tcp-session", address, "1000", "300"});
    REQUIRE(run.result.exit_code() == 0);
    const TcpPair p(run, loopback);

    const pid_t pid = run.pid();
    const Event listener_close = vt::wait_close(stream, pid, p.listener_fd, "close of the listener");
    const Event bind = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_BIND), "bind");
    const Event listen = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_LISTEN), "listen");
    const Event connect = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CONNECT), "connect");
    const Event accept = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_ACCEPT), "accept");
    const Event client_close = vt::wait_close(stream, pid, p.client_fd, "client close");
    const Event conn_close = vt::wait_close(stream, pid, p.conn_fd, "server-side close");

    auto x = tcp(loopback.family, SOCKET_OPERATION_BIND, "bind", p.listener_fd, p.listener_ino);
    x.local = p.server_end;
    vt::check_socket(bind, x);

    x.operation = SOCKET_OPERATION_LISTEN;
    x.syscall = "listen";
    x.backlog = 7;
    vt::check_socket(listen, x);
    vt::check_socket(listener_close, p.listener_close("close", p.listener_fd));

    x = tcp(loopback.family, SOCKET_OPERATION_CONNECT, "connect", p.client_fd, p.client_ino);
    x.local = p.client_end;
    x.remote = p.server_end;
    vt::check_socket(connect, x);
    vt::check_socket(client_close, p.client_close("close", 1000, 300));

    x = tcp(loopback.family, SOCKET_OPERATION_ACCEPT, "accept", p.conn_fd, p.conn_ino);
    x.local = p.server_end;
    x.remote = p.client_end;
    vt::check_socket(accept, x);

    x.operation = SOCKET_OPERATION_CLOSE;
    x.syscall = "close";
    x.has_duration = true;
    x.bytes_sent = 300;
    x.bytes_received = 1000;
    vt::check_socket(conn_close, x);

    for (const Event* e : {&bind, &listen, &connect, &accept, &client_close, &conn_close, &listener_close})
      vt::check_helper_process(*e, run);
    // In the order the helper made them.
    CHECK(bind.seq() < listen.seq());
    CHECK(listen.seq() < connect.seq());
    CHECK(connect.seq() < accept.seq());
    CHECK(accept.seq() < client_close.seq());
    CHECK(client_close.seq() < conn_close.seq());
    CHECK(conn_close.seq() < listener_close.seq());
    // One event per operation: the closes are the helper's last socket events.
    CHECK(stream.count(vt::socket_of(pid, SOCKET_OPERATION_CONNECT)) == 1);
    CHECK(stream.count(vt::socket_of(pid, SOCKET_OPERATION_ACCEPT)) == 1);
    CHECK(stream.count(vt::socket_of(pid, SOCKET_OPERATION_CLOSE)) == 3);
  }
}

TEST_CASE("net tcp: a non-blocking connect is in_progress, then succeeded or failed with ECONNREFUSED") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, vt::helper_subscription());

  struct Case {
    const char* target;
    int outcome;  // errno the helper's SO_ERROR gave
    SocketStatus status;
    const char* error;
  };
  // listening: the handshake completes inside connect() on loopback. closed: the reset comes back
  // inside connect() too. backlogged: the accept queue is full, so the SYN is dropped and retransmitted
  // after connect returned; the outcome comes from the state change, in softirq context.
  const Case cases[] = {{"listening", 0, SOCKET_STATUS_SUCCEEDED, ""},
                        {"closed", 111, SOCKET_STATUS_FAILED, "ECONNREFUSED"},
                        {"backlogged", 0, SOCKET_STATUS_SUCCEEDED, ""}};
  for (const Loopback& loopback : kLoopbacks) {
    for (const Case& c : cases) {
      const std::string address = loopback.address;
      INFO("loopback " << address << ", target " << c.target);
      const vt::HelperRun run = vt::run_helper({"connect-nonblock", address, c.target});
      REQUIRE(run.result.exit_code() == 0);
      REQUIRE(run.number("connect_errno") == 115);  // EINPROGRESS
      REQUIRE(run.number("outcome") == c.outcome);
      if (std::string(c.target) == "backlogged") REQUIRE(run.number("state_after_connect") == 2);  // SYN_SENT
      const int fd = static_cast<int>(run.number("fd"));
      const pid_t pid = run.pid();

      const Event in_progress = stream.wait_for(
          vt::socket_of(pid, SOCKET_OPERATION_CONNECT, SOCKET_STATUS_IN_PROGRESS, fd), "in_progress connect");
      const Event outcome = stream.wait_for(
          [&](const Event& e) { return vt::socket_of(pid, SOCKET_OPERATION_CONNECT, c.status, fd)(e) && e.socket().follow_up(); },
          "the connect's outcome");
      vt::wait_close(stream, pid, fd, "close of the connecting socket");

      // The ephemeral port the connect used, kept from before a refused sock released it.
      const uint32_t local_port = in_progress.socket().local().port();
      CHECK(local_port != 0);
      auto x = tcp(loopback.family, SOCKET_OPERATION_CONNECT, "connect", fd, run.number("ino"));
      x.status = SOCKET_STATUS_IN_PROGRESS;
      x.errno_value = 115;
      x.error = "EINPROGRESS";
      x.local = vt::End{address, local_port};
      x.remote = vt::End{address, static_cast<uint32_t>(run.number("port"))};
      vt::check_socket(in_progress, x);

      x.status = c.status;
      x.errno_value = c.outcome;
      x.error = c.error;
      x.syscall = "";
      x.follow_up = true;
      x.has_duration = true;
      vt::check_socket(outcome, x);

      // The outcome belongs to the process that connected, whatever ran when the kernel decided it.
      vt::check_helper_process(in_progress, run);
      vt::check_helper_process(outcome, run);
      CHECK(in_progress.seq() < outcome.seq());
      CHECK(stream.count(vt::socket_of(pid, SOCKET_OPERATION_CONNECT, std::nullopt, fd)) == 2);
    }
  }
}

TEST_CASE("net tcp: a non-blocking accept with no connection waiting is no_client") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, vt::helper_subscription());

  const vt::HelperRun run = vt::run_helper({"accept-nonblock", kIpv4.address});
  REQUIRE(run.result.exit_code() == 0);
  REQUIRE(run.number("accept_errno") == 11);  // EAGAIN
  const int fd = static_cast<int>(run.number("listener_fd"));
  const Event e = stream.wait_for(vt::socket_of(run.pid(), SOCKET_OPERATION_ACCEPT), "accept");
  // The record describes the listening socket: no connection came.
  auto x = tcp(kIpv4.family, SOCKET_OPERATION_ACCEPT, "accept4", fd, run.number("listener_ino"));
  x.status = SOCKET_STATUS_NO_CLIENT;
  x.errno_value = 11;
  x.error = "EAGAIN";
  x.local = vt::End{kIpv4.address, static_cast<uint32_t>(run.number("port"))};
  vt::check_socket(e, x);
  vt::check_helper_process(e, run);
}

TEST_CASE("net tcp: a process exiting with its sockets open reports their close, syscall exit, with byte counts") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, vt::helper_subscription());

  for (const Loopback& loopback : kLoopbacks) {
    INFO("loopback " << loopback.address);
    const vt::HelperRun run = vt::run_helper({"tcp-exit", loopback.address, "1000", "300"});
    REQUIRE(run.result.exit_code() == 0);
    const TcpPair p(run, loopback);
    const pid_t pid = run.pid();

    const Event listener_close = vt::wait_close(stream, pid, p.listener_fd, "listener close");
    const Event client_close = vt::wait_close(stream, pid, p.client_fd, "client close");
    const Event conn_close = vt::wait_close(stream, pid, p.conn_fd, "server-side close");

    vt::check_socket(listener_close, p.listener_close("exit", p.listener_fd));
    // The server's answer acknowledged every byte the client sent.
    vt::check_socket(client_close, p.client_close("exit", 1000, 300));

    // The client's acknowledgement of the answer may still be on its way when the process exits.
    INFO("server-side close: " << vt::to_json(conn_close));
    CHECK(conn_close.socket().syscall() == "exit");
    CHECK(conn_close.socket().bytes_received() == 1000);
    CHECK(conn_close.socket().has_bytes_sent());
    CHECK(conn_close.socket().bytes_sent() <= 300);
    CHECK(conn_close.socket().remote().port() == p.client_end.port);

    for (const Event* e : {&listener_close, &client_close, &conn_close}) vt::check_helper_process(*e, run);
    // In fd order, before the process's own exit event.
    CHECK(listener_close.seq() < client_close.seq());
    CHECK(client_close.seq() < conn_close.seq());
    CHECK(stream.count(vt::socket_of(pid, SOCKET_OPERATION_CLOSE)) == 3);
  }
}

TEST_CASE("net tcp: sockets a forked child inherited are closed at the child's exit, not at its parent's") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, vt::helper_subscription());

  // The child exits once its parent has: run_helper() returns when both are gone (they share its stdout).
  const vt::HelperRun run = vt::run_helper({"tcp-exit-forked", kIpv4.address});
  REQUIRE(run.result.exit_code() == 0);
  const TcpPair p(run, kIpv4);
  const auto child = static_cast<pid_t>(run.number("child"));
  const auto closes = stream.wait_count(vt::socket_of(child, SOCKET_OPERATION_CLOSE), 3, "the child's closes");
  INFO(stream.summary());
  CHECK(closes.size() == 3);
  for (const Event& e : closes) CHECK(e.socket().syscall() == "exit");
  const Event client_close = vt::wait_close(stream, child, p.client_fd, "the client's close");
  CHECK(client_close.socket().socket_inode() == p.client_ino);
  CHECK(client_close.socket().bytes_sent() == 10);
  CHECK(client_close.socket().bytes_received() == 10);
  // The parent's exit left them open: the child still held them.
  CHECK(stream.count(vt::socket_of(run.pid(), SOCKET_OPERATION_CLOSE)) == 0);
}

TEST_CASE("net tcp: dup2 and dup3 onto a socket's fd report its close: a dup'd copy keeps a socket open") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, vt::helper_subscription());

  const vt::HelperRun run = vt::run_helper({"tcp-dup", kIpv4.address});
  REQUIRE(run.result.exit_code() == 0);
  const TcpPair p(run, kIpv4);
  const int copy_fd = static_cast<int>(run.number("copy_fd"));
  const pid_t pid = run.pid();

  const Event client_close = vt::wait_close(stream, pid, p.client_fd, "client close by dup2");
  const Event conn_close = vt::wait_close(stream, pid, p.conn_fd, "server-side close by dup3");
  const Event listener_close = vt::wait_close(stream, pid, copy_fd, "close of the listener's copy");

  vt::check_socket(client_close, p.client_close("dup2", 100, 50));

  INFO("server-side close: " << vt::to_json(conn_close));
  CHECK(conn_close.socket().syscall() == "dup3");
  CHECK(conn_close.socket().socket_inode() == p.conn_ino);
  CHECK(conn_close.socket().bytes_received() == 100);
  CHECK(conn_close.socket().bytes_sent() <= 50);

  // dup2 onto the listener's fd left it open through the copy, whose close(2) ends it.
  vt::check_socket(listener_close, p.listener_close("close", copy_fd));

  for (const Event* e : {&client_close, &conn_close, &listener_close}) vt::check_helper_process(*e, run);
  INFO(stream.summary());
  CHECK(stream.count(vt::socket_of(pid, SOCKET_OPERATION_CLOSE)) == 3);
}

TEST_CASE("net tcp: exec closes the close-on-exec sockets, syscall execve: the others stay open until exit") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, vt::helper_subscription());

  const vt::HelperRun run = vt::run_helper({"tcp-exec", kIpv4.address});
  REQUIRE(run.result.exit_code() == 0);
  const TcpPair p(run, kIpv4);
  const pid_t pid = run.pid();

  const Event listener_close = vt::wait_close(stream, pid, p.listener_fd, "listener close at exit");
  const Event client_close = vt::wait_close(stream, pid, p.client_fd, "client close by exec");
  const Event conn_close = vt::wait_close(stream, pid, p.conn_fd, "server-side close by exec");

  vt::check_socket(client_close, p.client_close("execve", 100, 50));

  INFO("server-side close: " << vt::to_json(conn_close));
  CHECK(conn_close.socket().syscall() == "execve");
  CHECK(conn_close.socket().bytes_received() == 100);

  vt::check_socket(listener_close, p.listener_close("exit", p.listener_fd));

  CHECK(client_close.seq() < conn_close.seq());
  CHECK(conn_close.seq() < listener_close.seq());
  INFO(stream.summary());
  CHECK(stream.count(vt::socket_of(pid, SOCKET_OPERATION_CLOSE)) == 3);
}
