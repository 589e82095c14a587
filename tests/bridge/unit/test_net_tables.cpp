// bpf_socket_events and bpf_dns_events rows: osquery's socket columns, and every DNS field.
#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <set>

#include <nlohmann/json.hpp>

#include "event_table.h"
#include "restore_gate.h"
#include "tables/dns_table.h"
#include "tables/socket_table.h"

using namespace vajra::bridge;
namespace v1 = vajra::v1;

namespace {

constexpr uint64_t kTimeNs = 1'700'000'123'456'789'000ull;

v1::Event base_event(v1::EventKind kind) {
  v1::Event event;
  event.set_seq(7);
  event.set_kind(kind);
  event.set_time_ns(kTimeNs);
  event.set_ktime_ns(5'000'000'000ull);
  event.mutable_process()->set_pid(321);
  event.mutable_process()->set_exe("/usr/bin/curl");
  return event;
}

struct NetTable {
  RestoreGate gate;
  EventFamily family;
  EventTable table;
  NetTable(EventFamily f, const char* name)
      : family(std::move(f)),
        table{family, name, StoreLimits{1u << 30, 1000}, gate, [] { return kTimeNs / 1000000000ull; }} {
    gate.open();
  }
  Row only_row(const v1::Event& event) {
    table.add(streamed_event_of(event), std::make_shared<const std::string>("run-1"));
    Rows rows = table.generate(QueryContext{});
    REQUIRE(rows.size() == 1);
    return rows.front();
  }
};

}  // namespace

TEST_CASE("a TCP connect row reads like osquery's socket tables", "[bridge][socket_table]") {
  NetTable t(socket_family(), "bpf_socket_events");
  v1::Event event = base_event(v1::EVENT_KIND_SOCKET);
  auto* s = event.mutable_socket();
  s->set_operation(v1::SOCKET_OPERATION_CONNECT);
  s->set_status(v1::SOCKET_STATUS_IN_PROGRESS);
  s->set_errno_value(115);
  s->set_error("EINPROGRESS");
  s->set_syscall("connect");
  s->set_family(v1::SOCKET_FAMILY_INET6);
  s->set_type(v1::SOCKET_TYPE_STREAM);
  s->set_protocol(6);
  s->set_protocol_name("tcp");
  s->mutable_local()->set_address("::1");
  s->mutable_local()->set_port(40000);
  s->mutable_remote()->set_address("::1");
  s->mutable_remote()->set_port(8080);
  s->set_fd(5);
  s->set_net_ns(4026531840u);
  s->set_socket_inode(99);
  const Row row = t.only_row(event);
  CHECK(row.at("action") == "connect");
  CHECK(row.at("syscall") == "connect");
  CHECK(row.at("path") == "/usr/bin/curl");
  CHECK(row.at("status") == "in_progress");
  CHECK(row.at("success") == "0");
  CHECK(row.at("exit_code") == "-115");
  CHECK(row.at("errno") == "115");
  CHECK(row.at("error") == "EINPROGRESS");
  CHECK(row.at("follow_up") == "0");
  CHECK(row.at("fd") == "5");
  CHECK(row.at("family") == std::to_string(AF_INET6));
  CHECK(row.at("type") == std::to_string(SOCK_STREAM));
  CHECK(row.at("protocol") == "6");
  CHECK(row.at("protocol_name") == "tcp");
  CHECK(row.at("local_address") == "::1");
  CHECK(row.at("local_port") == "40000");
  CHECK(row.at("remote_address") == "::1");
  CHECK(row.at("remote_port") == "8080");
  CHECK(row.at("socket_net_ns") == "4026531840");
  CHECK(row.at("socket_inode") == "99");
  CHECK(row.at("pid") == "321");
  CHECK(row.at("seq") == "7");
  CHECK(row.at("time") == "1700000123");
  for (const char* absent : {"socket", "abstract", "backlog", "duration", "bytes_sent", "bytes_received"})
    CHECK(row.count(absent) == 0);
}

TEST_CASE("a TCP close row carries duration and byte counts", "[bridge][socket_table]") {
  NetTable t(socket_family(), "bpf_socket_events");
  v1::Event event = base_event(v1::EVENT_KIND_SOCKET);
  auto* s = event.mutable_socket();
  s->set_operation(v1::SOCKET_OPERATION_CLOSE);
  s->set_status(v1::SOCKET_STATUS_SUCCEEDED);
  s->set_family(v1::SOCKET_FAMILY_INET);
  s->set_duration_ns(1234);
  s->set_bytes_sent(1000);
  s->set_bytes_received(300);
  const Row row = t.only_row(event);
  CHECK(row.at("action") == "close");
  CHECK(row.at("success") == "1");
  CHECK(row.at("exit_code") == "0");
  CHECK(row.at("duration") == "1234");
  CHECK(row.at("bytes_sent") == "1000");
  CHECK(row.at("bytes_received") == "300");
  CHECK(row.count("errno") == 0);
}

TEST_CASE("a unix socket row names its path in `socket`", "[bridge][socket_table]") {
  NetTable t(socket_family(), "bpf_socket_events");
  v1::Event event = base_event(v1::EVENT_KIND_SOCKET);
  auto* s = event.mutable_socket();
  s->set_operation(v1::SOCKET_OPERATION_LISTEN);
  s->set_status(v1::SOCKET_STATUS_SUCCEEDED);
  s->set_family(v1::SOCKET_FAMILY_UNIX);
  s->mutable_local()->set_address("/run/app.sock");
  s->set_backlog(16);
  const Row row = t.only_row(event);
  CHECK(row.at("family") == std::to_string(AF_UNIX));
  CHECK(row.at("socket") == "/run/app.sock");
  CHECK(row.at("local_address") == "/run/app.sock");
  CHECK(row.count("local_port") == 0);
  CHECK(row.at("abstract") == "0");
  CHECK(row.at("backlog") == "16");
}

TEST_CASE("a DNS response row with its answers and the query it answers", "[bridge][dns_table]") {
  NetTable t(dns_family(), "bpf_dns_events");
  v1::Event event = base_event(v1::EVENT_KIND_DNS);
  auto* d = event.mutable_dns();
  d->set_response(true);
  d->set_sent(false);
  d->set_id(4660);
  d->set_name("www.example.test");
  d->set_query_type(1);
  d->set_query_type_name("A");
  d->set_rcode(0);
  d->set_rcode_name("NOERROR");
  auto* cname = d->add_answers();
  cname->set_name("www.example.test");
  cname->set_type(5);
  cname->set_type_name("CNAME");
  cname->set_ttl(300);
  cname->set_data("web.example.test");
  auto* a = d->add_answers();
  a->set_name("web.example.test");
  a->set_type(1);
  a->set_type_name("A");
  a->set_ttl(60);
  a->set_data("192.0.2.7");
  d->set_transport("udp");
  d->mutable_server()->set_address("127.0.0.53");
  d->mutable_server()->set_port(53);
  d->mutable_local()->set_address("127.0.0.1");
  d->mutable_local()->set_port(51000);
  d->set_net_ns(4026531840u);
  d->set_socket_inode(12);
  d->set_message_bytes(80);
  d->set_matched_query(true);
  d->set_latency_ns(250000);
  d->set_syscall("recvfrom");
  const Row row = t.only_row(event);
  CHECK(row.at("message") == "response");
  CHECK(row.at("direction") == "received");
  CHECK(row.at("syscall") == "recvfrom");
  CHECK(row.at("transport") == "udp");
  CHECK(row.at("dns_id") == "4660");
  CHECK(row.at("name") == "www.example.test");
  CHECK(row.at("query_type") == "A");
  CHECK(row.at("rcode") == "NOERROR");
  CHECK(nlohmann::json::parse(row.at("answers")) ==
        nlohmann::json::parse(R"([{"name":"www.example.test","type":"CNAME","ttl":300,"data":"web.example.test"},
                                  {"name":"web.example.test","type":"A","ttl":60,"data":"192.0.2.7"}])"));
  CHECK(row.at("server_address") == "127.0.0.53");
  CHECK(row.at("server_port") == "53");
  CHECK(row.at("local_address") == "127.0.0.1");
  CHECK(row.at("local_port") == "51000");
  CHECK(row.at("socket_net_ns") == "4026531840");
  CHECK(row.at("socket_inode") == "12");
  CHECK(row.at("message_bytes") == "80");
  CHECK(row.at("payload_truncated") == "0");
  CHECK(row.at("tc") == "0");
  CHECK(row.at("matched_query") == "1");
  CHECK(row.at("latency") == "250000");
  CHECK(row.at("path") == "/usr/bin/curl");
  CHECK(row.count("malformed") == 0);
}

TEST_CASE("a DNS query row has no response columns", "[bridge][dns_table]") {
  NetTable t(dns_family(), "bpf_dns_events");
  v1::Event event = base_event(v1::EVENT_KIND_DNS);
  event.mutable_dns()->set_sent(true);
  event.mutable_dns()->set_name("example.test");
  const Row row = t.only_row(event);
  CHECK(row.at("message") == "query");
  CHECK(row.at("direction") == "sent");
  for (const char* absent : {"rcode", "answers", "matched_query", "latency"}) CHECK(row.count(absent) == 0);
}

TEST_CASE("event tables take only their family's kinds", "[bridge][socket_table]") {
  NetTable sockets(socket_family(), "bpf_socket_events");
  NetTable dns(dns_family(), "bpf_dns_events");
  CHECK(sockets.table.accepts(v1::EVENT_KIND_SOCKET));
  CHECK_FALSE(sockets.table.accepts(v1::EVENT_KIND_DNS));
  CHECK_FALSE(sockets.table.accepts(v1::EVENT_KIND_EXEC));
  CHECK(dns.table.accepts(v1::EVENT_KIND_DNS));
  CHECK_FALSE(dns.table.accepts(v1::EVENT_KIND_SOCKET));
}

TEST_CASE("no table declares a column twice", "[bridge][socket_table]") {
  for (const EventFamily& family : event_families()) {
    std::set<std::string> names;
    for (const EventColumn& column : family.columns) CHECK(names.insert(column.column.name).second);
  }
}
