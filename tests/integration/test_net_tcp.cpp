// TCP on loopback, IPv4 and IPv6: bind, listen, accept and connect with the exact addresses and ports
// of both sides, close with byte counts (by close(2), and without it: exit, exec, dup2 and dup3), and
// non-blocking connects followed to their outcome.
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

struct Loopback {
  const char* address;
  SocketFamily family;
};

const Loopback kLoopbacks[] = {{"127.0.0.1", SOCKET_FAMILY_INET}, {"::1", SOCKET_FAMILY_INET6}};

// Fields every TCP socket event of the helper shares.
vt::SocketExpect tcp(SocketFamily family, SocketOperation op, const std::string& syscall, int fd, uint64_t inode) {
  vt::SocketExpect x;
  x.operation = op;
  x.syscall = syscall;
  x.family = family;
  x.type = SOCKET_TYPE_STREAM;
  x.protocol = 6;
  x.protocol_name = "tcp";
  x.fd = fd;
  x.net_ns = vt::ns_inode(getpid(), "net");
  x.socket_inode = inode;
  return x;
}

}  // namespace

TEST_CASE("net tcp: a loopback session reports bind, listen, connect, accept and closes with byte counts") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, helper_events());

  for (const Loopback& loopback : kLoopbacks) {
    const std::string address = loopback.address;
    INFO("loopback " << address);
    const std::vector<std::string> argv{vt::helper_path(), "tcp-session", address, "1000", "300"};
    const uint64_t boot_before = vt::boot_ns();
    const vt::RunResult run = vt::run(argv);
    REQUIRE(run.exit_code() == 0);
    const auto out = vt::key_values(run.out);
    const int listener_fd = static_cast<int>(vt::number_of(out, "listener_fd"));
    const int client_fd = static_cast<int>(vt::number_of(out, "client_fd"));
    const int conn_fd = static_cast<int>(vt::number_of(out, "conn_fd"));
    const auto port = static_cast<uint32_t>(vt::number_of(out, "port"));
    const auto client_port = static_cast<uint32_t>(vt::number_of(out, "client_port"));
    const vt::End server_end{address, port};
    const vt::End client_end{address, client_port};

    const pid_t pid = run.pid;
    const Event listener_close =
        stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, listener_fd), "close of the listener");
    const Event bind = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_BIND), "bind");
    const Event listen = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_LISTEN), "listen");
    const Event connect = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CONNECT), "connect");
    const Event accept = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_ACCEPT), "accept");
    const Event client_close =
        stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, client_fd), "client close");
    const Event conn_close =
        stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, conn_fd), "server-side close");

    auto x = tcp(loopback.family, SOCKET_OPERATION_BIND, "bind", listener_fd, vt::number_of(out, "listener_ino"));
    x.local = server_end;
    vt::check_socket(bind, x);

    x.operation = SOCKET_OPERATION_LISTEN;
    x.syscall = "listen";
    x.backlog = 7;
    vt::check_socket(listen, x);

    x.operation = SOCKET_OPERATION_CLOSE;
    x.syscall = "close";
    x.backlog = 0;
    x.has_duration = true;  // a listener moves no data: no byte counts
    vt::check_socket(listener_close, x);

    x = tcp(loopback.family, SOCKET_OPERATION_CONNECT, "connect", client_fd, vt::number_of(out, "client_ino"));
    x.local = client_end;
    x.remote = server_end;
    vt::check_socket(connect, x);

    x.operation = SOCKET_OPERATION_CLOSE;
    x.syscall = "close";
    x.has_duration = true;
    x.bytes_sent = 1000;
    x.bytes_received = 300;
    vt::check_socket(client_close, x);

    x = tcp(loopback.family, SOCKET_OPERATION_ACCEPT, "accept", conn_fd, vt::number_of(out, "conn_ino"));
    x.local = server_end;
    x.remote = client_end;
    vt::check_socket(accept, x);

    x.operation = SOCKET_OPERATION_CLOSE;
    x.syscall = "close";
    x.has_duration = true;
    x.bytes_sent = 300;
    x.bytes_received = 1000;
    vt::check_socket(conn_close, x);

    for (const Event* e : {&bind, &listen, &connect, &accept, &client_close, &conn_close, &listener_close})
      vt::check_helper_process(*e, pid, argv, boot_before);
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
  vt::EventStream stream(daemon, helper_events());

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
      const std::vector<std::string> argv{vt::helper_path(), "connect-nonblock", address, c.target};
      const uint64_t boot_before = vt::boot_ns();
      const vt::RunResult run = vt::run(argv);
      REQUIRE(run.exit_code() == 0);
      const auto out = vt::key_values(run.out);
      REQUIRE(vt::number_of(out, "connect_errno") == 115);  // EINPROGRESS
      REQUIRE(vt::number_of(out, "outcome") == c.outcome);
      if (std::string(c.target) == "backlogged") REQUIRE(vt::number_of(out, "state_after_connect") == 2);  // SYN_SENT
      const int fd = static_cast<int>(vt::number_of(out, "fd"));
      const pid_t pid = run.pid;

      const Event in_progress = stream.wait_for(
          vt::socket_of(pid, SOCKET_OPERATION_CONNECT, SOCKET_STATUS_IN_PROGRESS, fd), "in_progress connect");
      const Event outcome = stream.wait_for(
          [&](const Event& e) { return vt::socket_of(pid, SOCKET_OPERATION_CONNECT, c.status, fd)(e) && e.socket().follow_up(); },
          "the connect's outcome");
      stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, fd), "close of the connecting socket");

      // The ephemeral port the connect used, kept from before a refused sock released it.
      const uint32_t local_port = in_progress.socket().local().port();
      CHECK(local_port != 0);
      const vt::End local{address, local_port};
      const vt::End remote{address, static_cast<uint32_t>(vt::number_of(out, "port"))};
      auto x = tcp(loopback.family, SOCKET_OPERATION_CONNECT, "connect", fd, vt::number_of(out, "ino"));
      x.status = SOCKET_STATUS_IN_PROGRESS;
      x.errno_value = 115;
      x.error = "EINPROGRESS";
      x.local = local;
      x.remote = remote;
      vt::check_socket(in_progress, x);

      x.status = c.status;
      x.errno_value = c.outcome;
      x.error = c.error;
      x.syscall = "";
      x.follow_up = true;
      x.has_duration = true;
      vt::check_socket(outcome, x);

      // The outcome belongs to the process that connected, whatever ran when the kernel decided it.
      vt::check_helper_process(in_progress, pid, argv, boot_before);
      vt::check_helper_process(outcome, pid, argv, boot_before);
      CHECK(in_progress.seq() < outcome.seq());
      CHECK(stream.count(vt::socket_of(pid, SOCKET_OPERATION_CONNECT, std::nullopt, fd)) == 2);
    }
  }
}

TEST_CASE("net tcp: a non-blocking accept with no connection waiting is no_client") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, helper_events());

  const std::vector<std::string> argv{vt::helper_path(), "accept-nonblock", "127.0.0.1"};
  const uint64_t boot_before = vt::boot_ns();
  const vt::RunResult run = vt::run(argv);
  REQUIRE(run.exit_code() == 0);
  const auto out = vt::key_values(run.out);
  REQUIRE(vt::number_of(out, "accept_errno") == 11);  // EAGAIN
  const int fd = static_cast<int>(vt::number_of(out, "listener_fd"));
  const Event e = stream.wait_for(vt::socket_of(run.pid, SOCKET_OPERATION_ACCEPT), "accept");
  // The record describes the listening socket: no connection came.
  auto x = tcp(SOCKET_FAMILY_INET, SOCKET_OPERATION_ACCEPT, "accept4", fd, vt::number_of(out, "listener_ino"));
  x.status = SOCKET_STATUS_NO_CLIENT;
  x.errno_value = 11;
  x.error = "EAGAIN";
  x.local = vt::End{"127.0.0.1", static_cast<uint32_t>(vt::number_of(out, "port"))};
  vt::check_socket(e, x);
  vt::check_helper_process(e, run.pid, argv, boot_before);
}

TEST_CASE("net tcp: a process exiting with its sockets open reports their close, syscall exit, with byte counts") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, helper_events());

  for (const Loopback& loopback : kLoopbacks) {
    const std::string address = loopback.address;
    INFO("loopback " << address);
    const std::vector<std::string> argv{vt::helper_path(), "tcp-exit", address, "1000", "300"};
    const uint64_t boot_before = vt::boot_ns();
    const vt::RunResult run = vt::run(argv);
    REQUIRE(run.exit_code() == 0);
    const auto out = vt::key_values(run.out);
    const int listener_fd = static_cast<int>(vt::number_of(out, "listener_fd"));
    const int client_fd = static_cast<int>(vt::number_of(out, "client_fd"));
    const int conn_fd = static_cast<int>(vt::number_of(out, "conn_fd"));
    const vt::End server_end{address, static_cast<uint32_t>(vt::number_of(out, "port"))};
    const vt::End client_end{address, static_cast<uint32_t>(vt::number_of(out, "client_port"))};
    const pid_t pid = run.pid;

    const Event listener_close =
        stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, listener_fd), "listener close");
    const Event client_close =
        stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, client_fd), "client close");
    const Event conn_close =
        stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, conn_fd), "server-side close");

    auto x = tcp(loopback.family, SOCKET_OPERATION_CLOSE, "exit", listener_fd, vt::number_of(out, "listener_ino"));
    x.local = server_end;
    x.has_duration = true;
    vt::check_socket(listener_close, x);

    // The server's answer acknowledged every byte the client sent.
    x = tcp(loopback.family, SOCKET_OPERATION_CLOSE, "exit", client_fd, vt::number_of(out, "client_ino"));
    x.local = client_end;
    x.remote = server_end;
    x.has_duration = true;
    x.bytes_sent = 1000;
    x.bytes_received = 300;
    vt::check_socket(client_close, x);

    // The client's acknowledgement of the answer may still be on its way when the process exits.
    INFO("server-side close: " << vt::to_json(conn_close));
    CHECK(conn_close.socket().syscall() == "exit");
    CHECK(conn_close.socket().bytes_received() == 1000);
    CHECK(conn_close.socket().has_bytes_sent());
    CHECK(conn_close.socket().bytes_sent() <= 300);
    CHECK(conn_close.socket().remote().port() == client_end.port);

    for (const Event* e : {&listener_close, &client_close, &conn_close})
      vt::check_helper_process(*e, pid, argv, boot_before);
    // In fd order, before the process's own exit event.
    CHECK(listener_close.seq() < client_close.seq());
    CHECK(client_close.seq() < conn_close.seq());
    CHECK(stream.count(vt::socket_of(pid, SOCKET_OPERATION_CLOSE)) == 3);
  }
}

TEST_CASE("net tcp: sockets a forked child inherited are closed at the child's exit, not at its parent's") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, helper_events());

  // The child exits once its parent has: run() returns when both are gone (they share its stdout).
  const vt::RunResult run = vt::run({vt::helper_path(), "tcp-exit-forked", "127.0.0.1"});
  REQUIRE(run.exit_code() == 0);
  const auto out = vt::key_values(run.out);
  const auto child = static_cast<pid_t>(vt::number_of(out, "child"));
  const int client_fd = static_cast<int>(vt::number_of(out, "client_fd"));
  const auto closes = stream.wait_count(vt::socket_of(child, SOCKET_OPERATION_CLOSE), 3, "the child's closes");
  INFO(stream.summary());
  CHECK(closes.size() == 3);
  for (const Event& e : closes) CHECK(e.socket().syscall() == "exit");
  const Event client_close =
      stream.wait_for(vt::socket_of(child, SOCKET_OPERATION_CLOSE, std::nullopt, client_fd), "the client's close");
  CHECK(client_close.socket().socket_inode() == static_cast<uint64_t>(vt::number_of(out, "client_ino")));
  CHECK(client_close.socket().bytes_sent() == 10);
  CHECK(client_close.socket().bytes_received() == 10);
  // The parent's exit left them open: the child still held them.
  CHECK(stream.count(vt::socket_of(run.pid, SOCKET_OPERATION_CLOSE)) == 0);
}

TEST_CASE("net tcp: dup2 and dup3 onto a socket's fd report its close: a dup'd copy keeps a socket open") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, helper_events());

  const std::vector<std::string> argv{vt::helper_path(), "tcp-dup", "127.0.0.1"};
  const uint64_t boot_before = vt::boot_ns();
  const vt::RunResult run = vt::run(argv);
  REQUIRE(run.exit_code() == 0);
  const auto out = vt::key_values(run.out);
  const int client_fd = static_cast<int>(vt::number_of(out, "client_fd"));
  const int conn_fd = static_cast<int>(vt::number_of(out, "conn_fd"));
  const int copy_fd = static_cast<int>(vt::number_of(out, "copy_fd"));
  const vt::End server_end{"127.0.0.1", static_cast<uint32_t>(vt::number_of(out, "port"))};
  const vt::End client_end{"127.0.0.1", static_cast<uint32_t>(vt::number_of(out, "client_port"))};
  const pid_t pid = run.pid;

  const Event client_close =
      stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, client_fd), "client close by dup2");
  const Event conn_close =
      stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, conn_fd), "server-side close by dup3");
  const Event listener_close =
      stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, copy_fd), "close of the listener's copy");

  auto x = tcp(SOCKET_FAMILY_INET, SOCKET_OPERATION_CLOSE, "dup2", client_fd, vt::number_of(out, "client_ino"));
  x.local = client_end;
  x.remote = server_end;
  x.has_duration = true;
  x.bytes_sent = 100;
  x.bytes_received = 50;
  vt::check_socket(client_close, x);

  INFO("server-side close: " << vt::to_json(conn_close));
  CHECK(conn_close.socket().syscall() == "dup3");
  CHECK(conn_close.socket().socket_inode() == static_cast<uint64_t>(vt::number_of(out, "conn_ino")));
  CHECK(conn_close.socket().bytes_received() == 100);
  CHECK(conn_close.socket().bytes_sent() <= 50);

  // dup2 onto the listener's fd left it open through the copy, whose close(2) ends it.
  x = tcp(SOCKET_FAMILY_INET, SOCKET_OPERATION_CLOSE, "close", copy_fd, vt::number_of(out, "listener_ino"));
  x.local = server_end;
  x.has_duration = true;
  vt::check_socket(listener_close, x);

  for (const Event* e : {&client_close, &conn_close, &listener_close})
    vt::check_helper_process(*e, pid, argv, boot_before);
  INFO(stream.summary());
  CHECK(stream.count(vt::socket_of(pid, SOCKET_OPERATION_CLOSE)) == 3);
}

TEST_CASE("net tcp: exec closes the close-on-exec sockets, syscall execve: the others stay open until exit") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  vt::EventStream stream(daemon, helper_events());

  const vt::RunResult run = vt::run({vt::helper_path(), "tcp-exec", "127.0.0.1"});
  REQUIRE(run.exit_code() == 0);
  const auto out = vt::key_values(run.out);
  const int listener_fd = static_cast<int>(vt::number_of(out, "listener_fd"));
  const int client_fd = static_cast<int>(vt::number_of(out, "client_fd"));
  const int conn_fd = static_cast<int>(vt::number_of(out, "conn_fd"));
  const vt::End server_end{"127.0.0.1", static_cast<uint32_t>(vt::number_of(out, "port"))};
  const vt::End client_end{"127.0.0.1", static_cast<uint32_t>(vt::number_of(out, "client_port"))};
  const pid_t pid = run.pid;

  const Event listener_close =
      stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, listener_fd), "listener close at exit");
  const Event client_close =
      stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, client_fd), "client close by exec");
  const Event conn_close =
      stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, conn_fd), "server-side close by exec");

  auto x = tcp(SOCKET_FAMILY_INET, SOCKET_OPERATION_CLOSE, "execve", client_fd, vt::number_of(out, "client_ino"));
  x.local = client_end;
  x.remote = server_end;
  x.has_duration = true;
  x.bytes_sent = 100;
  x.bytes_received = 50;
  vt::check_socket(client_close, x);

  INFO("server-side close: " << vt::to_json(conn_close));
  CHECK(conn_close.socket().syscall() == "execve");
  CHECK(conn_close.socket().bytes_received() == 100);

  x = tcp(SOCKET_FAMILY_INET, SOCKET_OPERATION_CLOSE, "exit", listener_fd, vt::number_of(out, "listener_ino"));
  x.local = server_end;
  x.has_duration = true;
  vt::check_socket(listener_close, x);

  CHECK(client_close.seq() < conn_close.seq());
  CHECK(conn_close.seq() < listener_close.seq());
  INFO(stream.summary());
  CHECK(stream.count(vt::socket_of(pid, SOCKET_OPERATION_CLOSE)) == 3);
}
