// A process in a runc container connecting out: the connect event carries the container and the
// container's own network namespace, on the socket as on the process.
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "harness.h"
#include "net_support.h"

using namespace vajra::v1;

TEST_CASE("net container: a connect from a runc container carries its container id and network namespace") {
  REQUIRE_KERNEL();
  if (!vt::require_runc()) return;
  // The container has a loopback of its own where nothing listens on port 9: the connect is refused.
  const std::vector<std::string> nc_argv{"/bin/busybox", "nc", "127.0.0.1", "9"};
  vt::RuncContainer runc({"/bin/sh", "-c", "read line; exec /bin/busybox nc 127.0.0.1 9"});

  vt::Daemon daemon;
  SubscribeRequest request;
  request.add_container_ids(runc.id());
  vt::EventStream stream(daemon, request);
  vt::Child container(runc.run_argv());

  const Event sh = stream.wait_for(
      [](const Event& e) { return e.kind() == EVENT_KIND_EXEC && e.process().argv_size() > 0 && e.process().argv(0) == "/bin/sh"; },
      "exec of /bin/sh in the container");
  const pid_t pid = static_cast<pid_t>(sh.process().pid());
  const uint32_t container_net = vt::ns_inode(pid, "net");
  REQUIRE(container_net != 0);
  REQUIRE(container_net != vt::ns_inode(getpid(), "net"));
  const uint32_t container_pid_ns = vt::ns_inode(pid, "pid");
  const uint32_t container_mnt_ns = vt::ns_inode(pid, "mnt");
  const uint64_t cgroup_inode = vt::inode_of(vt::cgroup2_mount() + runc.cgroup());

  container.release();
  const Event connect = stream.wait_for(vt::socket_of(pid, SOCKET_OPERATION_CONNECT), "connect in the container");
  const int status = container.wait();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) != 0);  // nc could not connect

  INFO("connect event: " << vt::to_json(connect));
  const SocketEvent& s = connect.socket();
  CHECK(s.operation() == SOCKET_OPERATION_CONNECT);
  CHECK(s.status() == SOCKET_STATUS_FAILED);
  CHECK(s.errno_value() == 111);
  CHECK(s.error() == "ECONNREFUSED");
  CHECK(s.syscall() == "connect");
  CHECK(s.family() == SOCKET_FAMILY_INET);
  CHECK(s.type() == SOCKET_TYPE_STREAM);
  CHECK(s.protocol() == 6);
  CHECK(s.protocol_name() == "tcp");
  REQUIRE(s.has_local());
  CHECK(s.local().address() == "127.0.0.1");
  CHECK(s.local().port() != 0);  // the port it tried from, though the refused sock released it
  REQUIRE(s.has_remote());
  CHECK(s.remote().address() == "127.0.0.1");
  CHECK(s.remote().port() == 9);
  CHECK(s.fd() >= 3);
  CHECK(s.backlog() == 0);
  CHECK(s.net_ns() == container_net);
  CHECK(s.socket_inode() != 0);
  CHECK(s.duration_ns() == 0);
  CHECK_FALSE(s.has_bytes_sent());
  CHECK_FALSE(s.follow_up());

  const Process& p = connect.process();
  CHECK(p.pid() == static_cast<uint32_t>(pid));  // the shell exec'd nc
  CHECK(p.ns_pid() == 1);
  CHECK(p.exe() == "/bin/busybox");
  CHECK(std::vector<std::string>(p.argv().begin(), p.argv().end()) == nc_argv);
  CHECK(p.comm() == "busybox");
  CHECK(p.uid() == 0);
  CHECK(p.container().runtime() == CONTAINER_RUNTIME_DOCKER);
  CHECK(p.container().id() == runc.id());
  CHECK(p.cgroup_path() == runc.cgroup());
  CHECK(p.cgroup_id() == cgroup_inode);
  CHECK(p.namespaces().net() == container_net);
  CHECK(p.namespaces().pid() == container_pid_ns);
  CHECK(p.namespaces().mnt() == container_mnt_ns);
  CHECK(p.ppid() == static_cast<uint32_t>(container.pid()));
  CHECK(p.notes_size() == 0);
}
