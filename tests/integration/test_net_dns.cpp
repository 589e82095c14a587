// DNS against a real dnsmasq on a loopback address of its own (started from a temporary config; the
// host's resolver is never touched): queries and answers with names, types, TTLs and the asking
// process, the query -> response pairing, a payload that is not DNS, and vajractl --kind dns.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "harness.h"
#include "net_support.h"

using namespace vajra::v1;

namespace {

// dnsmasq answering for vajra.test on ADDRESS:53: host.vajra.test is 10.1.2.3 and fd00::3, and
// alias.vajra.test a CNAME of it, all with a TTL of 300 s.
class Dnsmasq {
 public:
  Dnsmasq() {
    const std::string program = vt::find_program("dnsmasq");
    if (program.empty()) return;
    // An address of our own, so that another DNS server on 127.0.0.1 (or a benchmark's) is no obstacle.
    for (int attempt = 0; attempt < 8 && !child_; ++attempt) {
      const std::string address = "127.53." + std::to_string(1 + std::stoi(vt::random_hex(2), nullptr, 16) % 250) +
                                  "." + std::to_string(1 + std::stoi(vt::random_hex(2), nullptr, 16) % 250);
      dir_.write("dnsmasq.conf", "port=53\nlisten-address=" + address +
                                     "\nbind-interfaces\nno-resolv\nno-hosts\nno-poll\npid-file=\n"
                                     "local-ttl=300\nhost-record=host.vajra.test,10.1.2.3,fd00::3\n"
                                     "cname=alias.vajra.test,host.vajra.test\nlog-facility=/dev/stdout\n");
      auto child = std::make_unique<vt::Child>(
          std::vector<std::string>{program, "--keep-in-foreground", "--conf-file=" + dir_.file("dnsmasq.conf")});
      // dnsmasq logs "started" once its sockets are bound, and exits when it cannot bind.
      for (std::string line = child->read_line(); !line.empty(); line = child->read_line()) {
        log_ += line + "\n";
        if (line.find("started, version") != std::string::npos) {
          child_ = std::move(child);
          address_ = address;
          break;
        }
      }
    }
  }
  ~Dnsmasq() {
    if (child_) {
      kill(child_->pid(), SIGTERM);
      child_->wait();
    }
  }
  bool running() const { return child_ != nullptr; }
  const std::string& address() const { return address_; }
  const std::string& log() const { return log_; }

 private:
  vt::TempDir dir_{"vajra-dnsmasq"};
  std::unique_ptr<vt::Child> child_;
  std::string address_;
  std::string log_;
};

bool require_dnsmasq(const Dnsmasq& dns) {
  if (dns.running()) return true;
  const char* ci = getenv("CI");
  if (ci && std::string(ci) == "true") FAIL("dnsmasq (dnsmasq-base, scripts/install-deps.sh) did not start:\n" << dns.log());
  WARN("skipping: dnsmasq not installed or not started:\n" << dns.log());
  return false;
}

// What a DNS test runs against: dnsmasq, then a daemon streaming the helper's events. The test returns
// at once unless ready(): without the kernel's support or dnsmasq it is skipped (with CI=true, FAILs).
class DnsTest {
 public:
  DnsTest() {
    if (!vt::require_kernel()) return;
    dnsmasq.emplace();
    if (!require_dnsmasq(*dnsmasq)) return;
    daemon.emplace();
    stream.emplace(*daemon, vt::helper_subscription());
  }
  bool ready() const { return stream.has_value(); }
  // Runs the helper with `args` (after its path) as a client of dnsmasq; REQUIREs that it succeeded.
  vt::HelperRun run_client(const std::vector<std::string>& args) const {
    vt::HelperRun run = vt::run_helper(args);
    INFO(logs(run));
    REQUIRE(run.result.exit_code() == 0);
    return run;
  }
  // The helper's output and dnsmasq's log: what explains a failed lookup.
  std::string logs(const vt::HelperRun& run) const {
    return "helper: " + run.result.out + run.result.err + "\ndnsmasq: " + dnsmasq->log();
  }

 protected:
  std::optional<Dnsmasq> dnsmasq;
  std::optional<vt::Daemon> daemon;
  std::optional<vt::EventStream> stream;
};

vt::Predicate dns_of(pid_t pid, bool response) {
  return [=](const Event& e) {
    return e.kind() == EVENT_KIND_DNS && e.process().pid() == static_cast<uint32_t>(pid) &&
           e.dns().response() == response;
  };
}

// Queries and responses alike.
vt::Predicate dns_events_of(pid_t pid) {
  return vt::all_of({vt::pid_is(static_cast<uint32_t>(pid)), vt::kind_is(EVENT_KIND_DNS)});
}

struct Answer {
  std::string name;
  std::string type;
  std::string data;
};

const std::vector<Answer> kHostA{{"host.vajra.test", "A", "10.1.2.3"}};
const std::vector<Answer> kHostAaaa{{"host.vajra.test", "AAAA", "fd00::3"}};

// The fields of a query and its response that the lookup decides, and how it went: "udp" or "tcp", and
// the syscall that moved it.
void check_dns(const Event& e, bool response, const std::string& name, const std::string& type,
               const std::string& server, uint32_t local_port, const std::vector<Answer>& answers,
               const std::string& transport, const std::string& syscall) {
  INFO("dns event: " << vt::to_json(e));
  REQUIRE(e.body_case() == Event::kDns);
  const DnsEvent& d = e.dns();
  CHECK(d.response() == response);
  CHECK(d.sent() == !response);  // the helper sends queries and receives responses
  CHECK(d.name() == name);
  CHECK(d.query_type() == (type == "A" ? 1u : 28u));
  CHECK(d.query_type_name() == type);
  CHECK(d.rcode() == 0);
  CHECK(d.rcode_name() == "NOERROR");
  CHECK_FALSE(d.truncated());
  CHECK(d.transport() == transport);
  CHECK(d.server().address() == server);
  CHECK(d.server().port() == 53);
  CHECK(d.local().address() == "127.0.0.1");
  CHECK(d.local().port() == local_port);
  CHECK(d.net_ns() == vt::ns_inode(getpid(), "net"));
  CHECK(d.socket_inode() != 0);
  CHECK(d.message_bytes() > 12);
  CHECK_FALSE(d.payload_truncated());
  CHECK(d.malformed() == "");
  CHECK(d.syscall() == syscall);
  REQUIRE(d.answers_size() == static_cast<int>(answers.size()));
  for (size_t i = 0; i < answers.size(); ++i) {
    INFO("answer " << i);
    const DnsAnswer& a = d.answers(static_cast<int>(i));
    CHECK(a.name() == answers[i].name);
    CHECK(a.type_name() == answers[i].type);
    CHECK(a.type() == (answers[i].type == "CNAME" ? 5u : answers[i].type == "A" ? 1u : 28u));
    CHECK(a.ttl() == 300);
    CHECK(a.data() == answers[i].data);
  }
}

}  // namespace

TEST_CASE_METHOD(DnsTest,
                 "net dns: a lookup answered by dnsmasq gives the query and its answers, with the asking process") {
  if (!ready()) return;

  struct Lookup {
    const char* type;
    std::vector<Answer> answers;
  };
  const Lookup lookups[] = {
      {"A", {{"alias.vajra.test", "CNAME", "host.vajra.test"}, {"host.vajra.test", "A", "10.1.2.3"}}},
      {"AAAA", {{"alias.vajra.test", "CNAME", "host.vajra.test"}, {"host.vajra.test", "AAAA", "fd00::3"}}},
  };
  for (const Lookup& lookup : lookups) {
    INFO("lookup of type " << lookup.type);
    const vt::HelperRun run = run_client({"dns-query", dnsmasq->address(), "alias.vajra.test", lookup.type});
    INFO(logs(run));
    const pid_t pid = run.pid();

    const Event query = stream->wait_for(dns_of(pid, false), "DNS query");
    const Event response = stream->wait_for(dns_of(pid, true), "DNS response");
    // The resolver's socket: connected to the server, one UDP flow, closed after the answer.
    const Event connect = stream->wait_for(vt::socket_of(pid, SOCKET_OPERATION_CONNECT), "connect to the server");
    const Event flow = stream->wait_for(vt::socket_of(pid, SOCKET_OPERATION_UDP_FLOW), "UDP flow to the server");
    const uint32_t local_port = connect.socket().local().port();
    CHECK(local_port != 0);

    // glibc's resolver connects its UDP socket, sends with send() and reads with recvfrom().
    check_dns(query, false, "alias.vajra.test", lookup.type, dnsmasq->address(), local_port, {}, "udp", "sendto");
    check_dns(response, true, "alias.vajra.test", lookup.type, dnsmasq->address(), local_port, lookup.answers, "udp",
              "recvfrom");
    CHECK(query.dns().id() == response.dns().id());
    CHECK(query.dns().socket_inode() == response.dns().socket_inode());
    CHECK(query.dns().socket_inode() == connect.socket().socket_inode());
    CHECK_FALSE(query.dns().matched_query());
    CHECK(response.dns().matched_query());
    CHECK(response.dns().query_time_ns() == query.time_ns());
    CHECK(response.dns().latency_ns() == response.ktime_ns() - query.ktime_ns());
    CHECK(query.seq() < response.seq());
    vt::check_helper_process(query, run);
    vt::check_helper_process(response, run);

    CHECK(connect.socket().remote().address() == dnsmasq->address());
    CHECK(connect.socket().remote().port() == 53);
    CHECK(connect.socket().protocol_name() == "udp");
    CHECK(flow.socket().remote().address() == dnsmasq->address());
    CHECK(flow.socket().syscall() == "sendto");
  }
}

TEST_CASE_METHOD(DnsTest,
                 "net dns: a lookup over TCP, its length prefix sent with the query and read apart from the answer") {
  if (!ready()) return;

  const vt::HelperRun run = run_client({"dns-query-tcp", dnsmasq->address(), "host.vajra.test"});
  INFO(logs(run));
  const pid_t pid = run.pid();
  const Event query = stream->wait_for(dns_of(pid, false), "DNS query over TCP");
  const Event response = stream->wait_for(dns_of(pid, true), "DNS response over TCP");
  const Event connect = stream->wait_for(vt::socket_of(pid, SOCKET_OPERATION_CONNECT), "TCP connect to the server");
  const uint32_t local_port = connect.socket().local().port();

  // The 2-byte read of the answer's length is no DNS message and makes no event.
  CHECK(stream->count(dns_events_of(pid)) == 2);
  for (const Event* e : {&query, &response}) {
    INFO("dns event: " << vt::to_json(*e));
    const DnsEvent& d = e->dns();
    CHECK(d.transport() == "tcp");
    CHECK(d.name() == "host.vajra.test");
    CHECK(d.query_type_name() == "A");
    CHECK(d.rcode_name() == "NOERROR");
    CHECK(d.server().address() == dnsmasq->address());
    CHECK(d.server().port() == 53);
    CHECK(d.local().port() == local_port);
    CHECK(d.socket_inode() == connect.socket().socket_inode());
    CHECK(d.malformed() == "");
    CHECK_FALSE(d.payload_truncated());
    vt::check_helper_process(*e, run);
  }
  CHECK(query.dns().sent());
  CHECK(query.dns().syscall() == "sendto");
  CHECK(query.dns().answers_size() == 0);
  CHECK_FALSE(response.dns().sent());
  CHECK(response.dns().syscall() == "recvfrom");
  CHECK(response.dns().id() == query.dns().id());
  CHECK(response.dns().matched_query());
  REQUIRE(response.dns().answers_size() == 1);
  CHECK(response.dns().answers(0).name() == "host.vajra.test");
  CHECK(response.dns().answers(0).type_name() == "A");
  CHECK(response.dns().answers(0).ttl() == 300);
  CHECK(response.dns().answers(0).data() == "10.1.2.3");
  // What the syscalls moved: the query with its prefix, the answer without.
  CHECK(query.dns().message_bytes() == response.dns().message_bytes() - 16 + 2);
}

TEST_CASE_METHOD(DnsTest,
                 "net dns: a port-53 payload that is not DNS is published as malformed and counted in Status") {
  if (!ready()) return;
  const uint64_t before = daemon->status().dns_malformed();

  const vt::HelperRun run = run_client({"dns-garbage", dnsmasq->address()});
  const Event e = stream->wait_for(dns_events_of(run.pid()), "the malformed DNS event");
  INFO("dns event: " << vt::to_json(e));
  CHECK(e.dns().malformed() == "7 bytes, shorter than a DNS header (12)");
  CHECK(e.dns().sent());
  CHECK(e.dns().message_bytes() == 7);
  CHECK(e.dns().server().address() == dnsmasq->address());
  CHECK(e.dns().name() == "");
  CHECK(e.dns().answers_size() == 0);
  CHECK(daemon->status().dns_malformed() == before + 1);
}

TEST_CASE("net dns: vajractl events --kind dns --remote shows the lookup as text lines") {
  REQUIRE_KERNEL();
  Dnsmasq dnsmasq;
  if (!require_dnsmasq(dnsmasq)) return;
  vt::Daemon daemon;
  // --remote keeps other DNS traffic on this host out; --count ends it after the query and response.
  vt::Child ctl({vt::vajractl_path(), "--socket", daemon.socket_path(), "events", "--kind", "dns", "--remote",
                 dnsmasq.address(), "--count", "2"});
  // Live once the daemon lists it.
  const auto deadline = std::chrono::steady_clock::now() + vt::kWait;
  for (bool listed = false; !listed;) {
    const StatusResponse status = daemon.status();
    for (const SubscriberStatus& s : status.subscribers()) listed |= s.peer_pid() == static_cast<uint32_t>(ctl.pid());
    if (!listed && std::chrono::steady_clock::now() > deadline) FAIL("vajractl never subscribed");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const vt::RunResult run = vt::run({vt::helper_path(), "dns-query", dnsmasq.address(), "host.vajra.test", "A"});
  REQUIRE(run.exit_code() == 0);
  const std::string query = ctl.read_line();
  const std::string response = ctl.read_line();
  const int status = ctl.wait();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  const std::string server = " server=" + dnsmasq.address() + ":53/udp ";
  const std::string process = " pid=" + std::to_string(run.pid) + " ppid=" + std::to_string(getpid());
  INFO("query line: " << query << "\nresponse line: " << response);
  CHECK(query.find(" dns" + process) != std::string::npos);
  CHECK(query.find(" query name=host.vajra.test type=A" + server) != std::string::npos);
  CHECK(response.find(" dns" + process) != std::string::npos);
  CHECK(response.find(" response name=host.vajra.test type=A rcode=NOERROR answers=10.1.2.3" + server) !=
        std::string::npos);
}

TEST_CASE_METHOD(DnsTest,
                 "net dns: a lookup written to a connected UDP socket and read back with read, as busybox does") {
  if (!ready()) return;

  const vt::HelperRun run = run_client({"dns-rw-udp", dnsmasq->address(), "host.vajra.test"});
  INFO(logs(run));
  const auto local_port = static_cast<uint32_t>(run.number("port"));
  const pid_t pid = run.pid();
  const Event query = stream->wait_for(dns_of(pid, false), "DNS query written");
  const Event response = stream->wait_for(dns_of(pid, true), "DNS response read");
  const Event flow = stream->wait_for(vt::socket_of(pid, SOCKET_OPERATION_UDP_FLOW), "UDP flow to the server");
  stream->wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE), "close of the socket");

  check_dns(query, false, "host.vajra.test", "A", dnsmasq->address(), local_port, {}, "udp", "write");
  check_dns(response, true, "host.vajra.test", "A", dnsmasq->address(), local_port, kHostA, "udp", "read");
  CHECK(query.dns().message_bytes() == run.number("query"));
  CHECK(response.dns().message_bytes() == run.number("answer"));
  CHECK(query.dns().socket_inode() == static_cast<uint64_t>(run.number("ino")));
  CHECK(response.dns().id() == query.dns().id());
  CHECK(response.dns().matched_query());
  vt::check_helper_process(query, run);
  vt::check_helper_process(response, run);
  CHECK(flow.socket().syscall() == "write");
  CHECK(flow.socket().remote().address() == dnsmasq->address());
  CHECK(flow.socket().remote().port() == 53);
  INFO(stream->summary());
  CHECK(stream->count(dns_events_of(pid)) == 2);
}

TEST_CASE_METHOD(DnsTest,
                 "net dns: glibc's resolver over TCP writes the query with writev and reads the answer with read") {
  if (!ready()) return;

  const vt::HelperRun run = run_client({"dns-query-vc", dnsmasq->address(), "host.vajra.test", "AAAA"});
  INFO(logs(run));
  const pid_t pid = run.pid();
  const Event query = stream->wait_for(dns_of(pid, false), "DNS query over TCP");
  const Event response = stream->wait_for(dns_of(pid, true), "DNS response over TCP");
  const Event connect = stream->wait_for(vt::socket_of(pid, SOCKET_OPERATION_CONNECT), "TCP connect to the server");
  const uint32_t local_port = connect.socket().local().port();

  check_dns(query, false, "host.vajra.test", "AAAA", dnsmasq->address(), local_port, {}, "tcp", "writev");
  check_dns(response, true, "host.vajra.test", "AAAA", dnsmasq->address(), local_port, kHostAaaa, "tcp", "read");
  CHECK(response.dns().id() == query.dns().id());
  CHECK(response.dns().matched_query());
  CHECK(query.dns().socket_inode() == connect.socket().socket_inode());
  // The 2-byte read of the answer's length is no DNS message and makes no event.
  INFO(stream->summary());
  CHECK(stream->count(dns_events_of(pid)) == 2);
}

TEST_CASE_METHOD(DnsTest,
                 "net dns: two TCP queries in one writev, each answer read with one readv of its length and body") {
  if (!ready()) return;

  const vt::HelperRun run = run_client({"dns-rw-tcp", dnsmasq->address(), "host.vajra.test"});
  INFO(logs(run));
  const auto local_port = static_cast<uint32_t>(run.number("port"));
  const pid_t pid = run.pid();
  const auto queries = stream->wait_count(dns_of(pid, false), 2, "both queries of the writev");
  const auto responses = stream->wait_count(dns_of(pid, true), 2, "both responses");
  stream->wait_for(vt::socket_of(pid, SOCKET_OPERATION_CLOSE), "close of the socket");
  INFO(stream->summary());
  REQUIRE(queries.size() == 2);
  REQUIRE(responses.size() == 2);

  check_dns(queries[0], false, "host.vajra.test", "A", dnsmasq->address(), local_port, {}, "tcp", "writev");
  check_dns(queries[1], false, "host.vajra.test", "AAAA", dnsmasq->address(), local_port, {}, "tcp", "writev");
  // Each message with its own length prefix.
  CHECK(queries[0].dns().message_bytes() == 2 + run.number("a"));
  CHECK(queries[1].dns().message_bytes() == 2 + run.number("aaaa"));
  // dnsmasq answers in order.
  check_dns(responses[0], true, "host.vajra.test", "A", dnsmasq->address(), local_port, kHostA, "tcp", "readv");
  check_dns(responses[1], true, "host.vajra.test", "AAAA", dnsmasq->address(), local_port, kHostAaaa, "tcp", "readv");
  for (int i = 0; i < 2; ++i) {
    INFO("response " << i);
    CHECK(responses[i].dns().id() == queries[i].dns().id());
    CHECK(responses[i].dns().matched_query());
  }
  // The peeks at each answer's length are no DNS messages.
  CHECK(stream->count(dns_events_of(pid)) == 4);
}

TEST_CASE_METHOD(DnsTest, "net dns: answers taken with recvmmsg") {
  if (!ready()) return;

  const vt::HelperRun run = run_client({"dns-recvmmsg", dnsmasq->address(), "host.vajra.test"});
  INFO(logs(run));
  const auto local_port = static_cast<uint32_t>(run.number("port"));
  const pid_t pid = run.pid();
  const auto queries = stream->wait_count(dns_of(pid, false), 2, "both queries of the sendmmsg");
  const auto responses = stream->wait_count(dns_of(pid, true), 2, "both responses of recvmmsg");
  INFO(stream->summary());
  REQUIRE(responses.size() == 2);
  // The answers may come in either order.
  for (const Event& response : responses) {
    const bool a = response.dns().query_type_name() == "A";
    check_dns(response, true, "host.vajra.test", a ? "A" : "AAAA", dnsmasq->address(), local_port,
              a ? kHostA : kHostAaaa, "udp", "recvmmsg");
    CHECK(response.dns().matched_query());
  }
  CHECK(responses[0].dns().query_type() != responses[1].dns().query_type());
  for (const Event& query : queries) CHECK(query.dns().syscall() == "sendmmsg");
}
