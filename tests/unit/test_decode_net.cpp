// Socket and DNS records, hand-built as the net family writes them: every field, unix paths, the
// follow-up of a connect, and malformed shapes.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "decode.h"
#include "vajra_wire.h"

using namespace vajra;

namespace {

vj_task sample_task() {
  vj_task t{};
  t.ktime_ns = 9'000'000'000;
  t.start_boottime_ns = 8'000'000'000;
  t.cgroup_id = 77;
  t.pid = 300;
  t.tid = 301;
  t.ppid = 1;
  t.ns_pid = 300;
  t.ns = {11, 12, 13, 14, 15, 16, 17};
  std::strcpy(t.comm, "curl");
  return t;
}

vj_sock_addr inet_end(const char* v4, uint16_t port) {
  vj_sock_addr end{};
  end.addr[10] = end.addr[11] = 0xff;
  inet_pton(AF_INET, v4, end.addr + 12);
  end.port = port;
  return end;
}

vj_sock_addr inet6_end(const char* v6, uint16_t port) {
  vj_sock_addr end{};
  inet_pton(AF_INET6, v6, end.addr);
  end.port = port;
  return end;
}

template <typename Record>
std::vector<uint8_t> bytes_of(Record r, const std::string& data) {
  r.hdr.size = sizeof(r) + data.size();
  std::vector<uint8_t> bytes(sizeof(r) + data.size());
  std::memcpy(bytes.data(), &r, sizeof(r));
  std::memcpy(bytes.data() + sizeof(r), data.data(), data.size());
  return bytes;
}

vj_socket_record tcp_record(uint16_t op, uint16_t status) {
  vj_socket_record r{};
  r.hdr.kind = VJ_REC_SOCKET;
  r.task = sample_task();
  r.socket_ino = 4242;
  r.net_ns = 4026531840u;
  r.fd = 5;
  r.op = op;
  r.status = status;
  r.syscall = VJ_SYS_CONNECT;
  r.family = AF_INET;
  r.type = SOCK_STREAM;
  r.protocol = IPPROTO_TCP;
  r.local = inet_end("127.0.0.1", 40000);
  r.remote = inet_end("127.0.0.1", 8080);
  return r;
}

struct Decoded {
  bool ok;
  DecodedEvent out;
  std::string error;
};

Decoded decode(const std::vector<uint8_t>& bytes) {
  static ProcessConfig config;
  static BootClock clock;
  Decoder decoder(config, clock);
  Decoded d;
  d.ok = decoder.decode(bytes.data(), bytes.size(), d.out, d.error);
  return d;
}

// A DNS query for vajra.test A, id 0x1234.
std::string dns_query() {
  return std::string("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12) + "\x05vajra\x04test" +
         std::string("\x00\x00\x01\x00\x01", 5);
}

}  // namespace

TEST_CASE("socket record: a TCP connect decodes every field") {
  const Decoded d = decode(bytes_of(tcp_record(VJ_SOCK_CONNECT, VJ_SOCK_SUCCEEDED), ""));
  INFO(d.error);
  REQUIRE(d.ok);
  const v1::Event& e = d.out.event;
  CHECK(e.kind() == v1::EVENT_KIND_SOCKET);
  CHECK(e.ktime_ns() == 9'000'000'000);
  CHECK(e.process().pid() == 300);
  CHECK(e.process().comm() == "curl");
  CHECK(d.out.start_boottime_ns == 8'000'000'000);
  const v1::SocketEvent& s = e.socket();
  CHECK(s.operation() == v1::SOCKET_OPERATION_CONNECT);
  CHECK(s.status() == v1::SOCKET_STATUS_SUCCEEDED);
  CHECK(s.errno_value() == 0);
  CHECK(s.error() == "");
  CHECK(s.syscall() == "connect");
  CHECK(s.family() == v1::SOCKET_FAMILY_INET);
  CHECK(s.type() == v1::SOCKET_TYPE_STREAM);
  CHECK(s.protocol() == 6);
  CHECK(s.protocol_name() == "tcp");
  CHECK(s.local().address() == "127.0.0.1");
  CHECK(s.local().port() == 40000);
  CHECK_FALSE(s.local().abstract());
  CHECK(s.remote().address() == "127.0.0.1");
  CHECK(s.remote().port() == 8080);
  CHECK(s.fd() == 5);
  CHECK(s.backlog() == 0);
  CHECK(s.net_ns() == 4026531840u);
  CHECK(s.socket_inode() == 4242);
  CHECK(s.duration_ns() == 0);
  CHECK_FALSE(s.has_bytes_sent());
  CHECK_FALSE(s.has_bytes_received());
  CHECK_FALSE(s.follow_up());
}

TEST_CASE("socket record: a refused connect's follow-up, and errno names") {
  vj_socket_record r = tcp_record(VJ_SOCK_CONNECT, VJ_SOCK_FAILED);
  r.hdr.flags = VJ_F_SOCK_FOLLOW_UP;
  r.syscall = 0;
  r.error = 111;
  r.duration_ns = 1234;
  const Decoded d = decode(bytes_of(r, ""));
  REQUIRE(d.ok);
  const v1::SocketEvent& s = d.out.event.socket();
  CHECK(s.status() == v1::SOCKET_STATUS_FAILED);
  CHECK(s.errno_value() == 111);
  CHECK(s.error() == "ECONNREFUSED");
  CHECK(s.follow_up());
  CHECK(s.syscall() == "");
  CHECK(s.duration_ns() == 1234);
}

TEST_CASE("socket record: close carries duration and byte counts") {
  vj_socket_record r = tcp_record(VJ_SOCK_CLOSE, VJ_SOCK_SUCCEEDED);
  r.hdr.flags = VJ_F_SOCK_BYTES;
  r.syscall = VJ_SYS_CLOSE;
  r.duration_ns = 5'000'000;
  r.bytes_sent = 100;
  r.bytes_received = 0;
  const Decoded d = decode(bytes_of(r, ""));
  REQUIRE(d.ok);
  const v1::SocketEvent& s = d.out.event.socket();
  CHECK(s.operation() == v1::SOCKET_OPERATION_CLOSE);
  CHECK(s.syscall() == "close");
  CHECK(s.duration_ns() == 5'000'000);
  REQUIRE(s.has_bytes_sent());
  CHECK(s.bytes_sent() == 100);
  REQUIRE(s.has_bytes_received());
  CHECK(s.bytes_received() == 0);
}

TEST_CASE("socket record: IPv6 ends, v4-mapped ones shown as IPv4, unset ones left out") {
  vj_socket_record r = tcp_record(VJ_SOCK_LISTEN, VJ_SOCK_SUCCEEDED);
  r.family = AF_INET6;
  r.syscall = VJ_SYS_LISTEN;
  r.backlog = 7;
  r.local = inet6_end("::1", 8080);
  r.remote = inet6_end("::", 0);
  Decoded d = decode(bytes_of(r, ""));
  REQUIRE(d.ok);
  CHECK(d.out.event.socket().family() == v1::SOCKET_FAMILY_INET6);
  CHECK(d.out.event.socket().local().address() == "::1");
  CHECK(d.out.event.socket().backlog() == 7);
  CHECK_FALSE(d.out.event.socket().has_remote());

  r.local = inet6_end("::ffff:10.1.2.3", 443);
  r.remote = inet_end("0.0.0.0", 0);  // unset end of a v4 sock, as the kernel writes it
  d = decode(bytes_of(r, ""));
  REQUIRE(d.ok);
  CHECK(d.out.event.socket().local().address() == "10.1.2.3");
  CHECK_FALSE(d.out.event.socket().has_remote());

  r.local = inet_end("0.0.0.0", 53);  // bound to any address: the address stays
  d = decode(bytes_of(r, ""));
  REQUIRE(d.ok);
  CHECK(d.out.event.socket().local().address() == "0.0.0.0");
  CHECK(d.out.event.socket().local().port() == 53);
}

TEST_CASE("socket record: unix paths and abstract names") {
  vj_socket_record r{};
  r.hdr.kind = VJ_REC_SOCKET;
  r.task = sample_task();
  r.op = VJ_SOCK_ACCEPT;
  r.status = VJ_SOCK_SUCCEEDED;
  r.syscall = VJ_SYS_ACCEPT4;
  r.family = AF_UNIX;
  r.type = SOCK_SEQPACKET;
  const std::string path = std::string("/run/x.sock") + std::string(4, '\0');  // the NUL ends it
  const std::string abstract = std::string(1, '\0') + "vajra";
  r.local.path_len = static_cast<uint16_t>(path.size());
  r.remote.path_len = static_cast<uint16_t>(abstract.size());
  const Decoded d = decode(bytes_of(r, path + abstract));
  REQUIRE(d.ok);
  const v1::SocketEvent& s = d.out.event.socket();
  CHECK(s.family() == v1::SOCKET_FAMILY_UNIX);
  CHECK(s.type() == v1::SOCKET_TYPE_SEQPACKET);
  CHECK(s.protocol() == 0);
  CHECK(s.protocol_name() == "");
  CHECK(s.syscall() == "accept4");
  CHECK(s.local().address() == "/run/x.sock");
  CHECK_FALSE(s.local().abstract());
  CHECK(s.local().port() == 0);
  CHECK(s.remote().address() == "vajra");
  CHECK(s.remote().abstract());

  r.local.path_len = 0;
  r.remote.path_len = 0;
  const Decoded unbound = decode(bytes_of(r, ""));
  REQUIRE(unbound.ok);
  CHECK_FALSE(unbound.out.event.socket().has_local());
  CHECK_FALSE(unbound.out.event.socket().has_remote());
}

TEST_CASE("socket record: malformed shapes are refused") {
  vj_socket_record r = tcp_record(VJ_SOCK_CONNECT, VJ_SOCK_SUCCEEDED);
  std::vector<uint8_t> bytes = bytes_of(r, "");
  bytes.resize(sizeof(vj_socket_record) - 1);
  reinterpret_cast<vj_record_header*>(bytes.data())->size = static_cast<uint32_t>(bytes.size());
  Decoded d = decode(bytes);
  CHECK_FALSE(d.ok);
  CHECK(d.error == "socket record shorter than its fixed part");

  r.family = AF_UNIX;
  r.local.path_len = 10;
  d = decode(bytes_of(r, "abc"));
  CHECK_FALSE(d.ok);
  CHECK(d.error == "socket record paths run past its end");

  r = tcp_record(9, VJ_SOCK_SUCCEEDED);
  d = decode(bytes_of(r, ""));
  CHECK_FALSE(d.ok);
  CHECK(d.error == "socket record with operation 9, status 1");
}

TEST_CASE("dns record: a UDP query decodes and parses") {
  vj_dns_record r{};
  r.hdr.kind = VJ_REC_DNS;
  r.task = sample_task();
  r.socket_ino = 99;
  r.net_ns = 4026531840u;
  r.direction = VJ_DNS_SENT;
  r.syscall = VJ_SYS_SENDTO;
  r.family = AF_INET;
  r.protocol = IPPROTO_UDP;
  r.local = inet_end("127.0.0.1", 50000);
  r.remote = inet_end("127.0.0.53", 53);
  const std::string query = dns_query();
  r.payload_len = static_cast<uint32_t>(query.size());
  r.msg_len = r.payload_len;
  const Decoded d = decode(bytes_of(r, query));
  INFO(d.error);
  REQUIRE(d.ok);
  CHECK(d.out.event.kind() == v1::EVENT_KIND_DNS);
  CHECK(d.out.event.process().pid() == 300);
  const v1::DnsEvent& dns = d.out.event.dns();
  CHECK(dns.malformed() == "");
  CHECK_FALSE(dns.response());
  CHECK(dns.sent());
  CHECK(dns.id() == 0x1234);
  CHECK(dns.name() == "vajra.test");
  CHECK(dns.query_type() == 1);
  CHECK(dns.query_type_name() == "A");
  CHECK(dns.rcode_name() == "NOERROR");
  CHECK(dns.answers_size() == 0);
  CHECK(dns.transport() == "udp");
  CHECK(dns.server().address() == "127.0.0.53");
  CHECK(dns.server().port() == 53);
  CHECK(dns.local().address() == "127.0.0.1");
  CHECK(dns.local().port() == 50000);
  CHECK(dns.net_ns() == 4026531840u);
  CHECK(dns.socket_inode() == 99);
  CHECK(dns.message_bytes() == query.size());
  CHECK_FALSE(dns.payload_truncated());
  CHECK(dns.syscall() == "sendto");
  CHECK_FALSE(dns.matched_query());
}

TEST_CASE("dns record: TCP prefix, a cut copy, and a payload that is not DNS") {
  vj_dns_record r{};
  r.hdr.kind = VJ_REC_DNS;
  r.task = sample_task();
  r.direction = VJ_DNS_RECEIVED;
  r.syscall = VJ_SYS_RECVMSG;
  r.family = AF_INET6;
  r.protocol = IPPROTO_TCP;
  r.remote = inet6_end("fd00::53", 53);
  const std::string query = dns_query();
  const std::string framed = std::string(1, '\0') + static_cast<char>(query.size()) + query;
  r.payload_len = static_cast<uint32_t>(framed.size());
  r.msg_len = r.payload_len;
  Decoded d = decode(bytes_of(r, framed));
  REQUIRE(d.ok);
  CHECK(d.out.event.dns().transport() == "tcp");
  CHECK(d.out.event.dns().name() == "vajra.test");
  CHECK(d.out.event.dns().server().address() == "fd00::53");
  CHECK_FALSE(d.out.event.dns().sent());

  r.protocol = IPPROTO_UDP;
  r.payload_len = 5;
  r.msg_len = 900;
  d = decode(bytes_of(r, "hello"));
  REQUIRE(d.ok);  // published, with the reason
  CHECK(d.out.event.dns().malformed() == "5 bytes, shorter than a DNS header (12)");
  CHECK(d.out.event.dns().payload_truncated());
  CHECK(d.out.event.dns().message_bytes() == 900);

  r.payload_len = 600;
  d = decode(bytes_of(r, std::string(600, 'x')));
  CHECK_FALSE(d.ok);
  CHECK(d.error == "dns record payload runs past its end");
}
