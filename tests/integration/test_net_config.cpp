// The network: config in the kernel: CIDR and port filters leave sockets out before any record is
// made, and an operation turned off disables its probe alone. Status lists every network probe.
#include <unistd.h>

#include <map>
#include <string>

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

std::map<std::string, ProbeStatus> net_probes(const StatusResponse& status) {
  std::map<std::string, ProbeStatus> probes;
  for (const ProbeStatus& p : status.probes()) {
    if (p.family() == "net") probes[p.name()] = p;
  }
  return probes;
}

}  // namespace

TEST_CASE("net config: every network probe is loaded and attached to its syscall tracepoints") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  const std::map<std::string, std::string> attach{
      {"bind", "tp/syscalls/sys_enter_bind, tp/syscalls/sys_exit_bind"},
      {"listen", "tp/syscalls/sys_enter_listen, tp/syscalls/sys_exit_listen"},
      {"accept",
       "tp/syscalls/sys_enter_accept, tp/syscalls/sys_exit_accept, tp/syscalls/sys_enter_accept4, "
       "tp/syscalls/sys_exit_accept4"},
      {"connect", "tp/syscalls/sys_enter_connect, tp/syscalls/sys_exit_connect, raw_tp/inet_sock_set_state"},
      {"close", "tp/syscalls/sys_enter_close"},
      {"close_at_exit", "tp/sched/sched_process_exit"},
      {"close_at_exec",
       "tp/syscalls/sys_enter_execve, tp/syscalls/sys_exit_execve, tp/syscalls/sys_enter_execveat, "
       "tp/syscalls/sys_exit_execveat"},
      {"close_at_dup",
       "tp/syscalls/sys_enter_dup2, tp/syscalls/sys_exit_dup2, tp/syscalls/sys_enter_dup3, tp/syscalls/sys_exit_dup3"},
      {"send",
       "tp/syscalls/sys_enter_sendto, tp/syscalls/sys_exit_sendto, tp/syscalls/sys_enter_sendmsg, "
       "tp/syscalls/sys_exit_sendmsg, tp/syscalls/sys_enter_sendmmsg, tp/syscalls/sys_exit_sendmmsg"},
      {"recv",
       "tp/syscalls/sys_enter_recvfrom, tp/syscalls/sys_exit_recvfrom, tp/syscalls/sys_enter_recvmsg, "
       "tp/syscalls/sys_exit_recvmsg, tp/syscalls/sys_enter_recvmmsg, tp/syscalls/sys_exit_recvmmsg"},
      {"write",
       "tp/syscalls/sys_exit_write, tp/syscalls/sys_enter_write, tp/syscalls/sys_exit_writev, "
       "tp/syscalls/sys_enter_writev"},
      {"read",
       "tp/syscalls/sys_exit_read, tp/syscalls/sys_enter_read, tp/syscalls/sys_exit_readv, "
       "tp/syscalls/sys_enter_readv"},
  };
  const StatusResponse status = daemon.status();
  INFO("status: " << vt::to_json(status));
  const auto probes = net_probes(status);
  CHECK(probes.size() == attach.size());
  for (const auto& [name, points] : attach) {
    INFO("probe net/" << name);
    REQUIRE(probes.count(name) == 1);
    CHECK(probes.at(name).state() == PROBE_STATE_LOADED);
    CHECK(probes.at(name).error() == "");
    CHECK(probes.at(name).attach() == points);
  }
  bool socket_kind = false, dns_kind = false;
  for (const KindCounters& k : status.kinds()) {
    socket_kind |= k.kind() == EVENT_KIND_SOCKET;
    dns_kind |= k.kind() == EVENT_KIND_DNS;
    CHECK(EventKind_IsValid(k.kind()));
  }
  CHECK(socket_kind);
  CHECK(dns_kind);
  CHECK(status.dns_malformed() == 0);
}

TEST_CASE("net config: an excluded CIDR and an include list of ports filter in the kernel") {
  REQUIRE_KERNEL();
  SECTION("exclude_cidrs: connects to 127.0.0.2 are left out, to 127.0.0.1 reported") {
    vt::Daemon daemon("network:\n  exclude_cidrs: [\"127.0.0.2\"]\n");
    vt::EventStream stream(daemon, helper_events());
    const vt::RunResult excluded = vt::run({vt::helper_path(), "connect-nonblock", "127.0.0.2", "closed"});
    const vt::RunResult reported = vt::run({vt::helper_path(), "connect-nonblock", "127.0.0.1", "closed"});
    REQUIRE(excluded.exit_code() == 0);
    REQUIRE(reported.exit_code() == 0);
    const int fd = static_cast<int>(vt::number_of(vt::key_values(reported.out), "fd"));
    stream.wait_for(vt::socket_of(reported.pid, SOCKET_OPERATION_CONNECT, SOCKET_STATUS_IN_PROGRESS, fd),
                    "connect to 127.0.0.1");
    // The two runs share one ring, in order: the excluded run's records would have come first.
    INFO(stream.summary());
    CHECK(stream.count(vt::socket_of(excluded.pid, SOCKET_OPERATION_CONNECT)) == 0);
    // bind has no remote address: CIDRs do not filter it.
    CHECK(stream.count(vt::socket_of(excluded.pid, SOCKET_OPERATION_BIND)) == 1);
  }
  SECTION("include_ports: only sockets with port 53 at one end") {
    vt::Daemon daemon("network:\n  include_ports: [53]\n");
    vt::EventStream stream(daemon, helper_events());
    const vt::RunResult flows = vt::run({vt::helper_path(), "udp-flows", "127.0.0.1", "2"});
    const vt::RunResult dns = vt::run({vt::helper_path(), "dns-garbage", "127.0.0.1"});
    REQUIRE(flows.exit_code() == 0);
    REQUIRE(dns.exit_code() == 0);
    const Event flow = stream.wait_for(vt::socket_of(dns.pid, SOCKET_OPERATION_UDP_FLOW), "the flow to port 53");
    CHECK(flow.socket().remote().port() == 53);
    INFO(stream.summary());
    // The earlier run's records would have come first on the shared ring.
    CHECK(stream.count(vt::all_of({vt::pid_is(static_cast<uint32_t>(flows.pid)), vt::kind_is(EVENT_KIND_SOCKET)})) == 0);
    CHECK(stream.count(vt::socket_of(dns.pid, SOCKET_OPERATION_UDP_FLOW)) == 1);
  }
}

TEST_CASE("net config: an operation turned off disables its probe alone") {
  REQUIRE_KERNEL();
  vt::Daemon daemon("network:\n  connect: false\n  dns: false\n");
  vt::EventStream stream(daemon, helper_events());
  const auto probes = net_probes(daemon.status());
  REQUIRE(probes.size() == 12);
  for (const char* name : {"connect", "recv", "read"}) {
    INFO("probe net/" << name);
    CHECK(probes.at(name).state() == PROBE_STATE_DISABLED);
  }
  for (const char* name :
       {"bind", "listen", "accept", "close", "close_at_exit", "close_at_exec", "close_at_dup", "send", "write"}) {
    INFO("probe net/" << name);
    CHECK(probes.at(name).state() == PROBE_STATE_LOADED);  // send and write stay for UDP flows
  }

  const vt::RunResult run = vt::run({vt::helper_path(), "tcp-session", "127.0.0.1", "10", "10"});
  REQUIRE(run.exit_code() == 0);
  const int listener_fd = static_cast<int>(vt::number_of(vt::key_values(run.out), "listener_fd"));
  stream.wait_for(vt::socket_of(run.pid, SOCKET_OPERATION_CLOSE, std::nullopt, listener_fd), "close of the listener");
  INFO(stream.summary());
  CHECK(stream.count(vt::socket_of(run.pid, SOCKET_OPERATION_CONNECT)) == 0);
  CHECK(stream.count(vt::socket_of(run.pid, SOCKET_OPERATION_BIND)) == 1);
  CHECK(stream.count(vt::socket_of(run.pid, SOCKET_OPERATION_ACCEPT)) == 1);
  // The client was never reported, so neither is its close; the accepted side and the listener are.
  CHECK(stream.count(vt::socket_of(run.pid, SOCKET_OPERATION_CLOSE)) == 2);
}
