// vajractl's lines for socket and DNS events: the essentials of each, in one line.
#include <catch2/catch.hpp>

#include <string>

#include "ctl_format.h"

using namespace vajra;

namespace {

constexpr uint64_t kTime = 1714566896789000000ull;  // 2024-05-01T12:34:56.789Z
const std::string kPrefix = "2024-05-01T12:34:56.789Z ";

v1::Event event_of(v1::EventKind kind) {
  v1::Event event;
  event.set_time_ns(kTime);
  event.set_kind(kind);
  v1::Process* process = event.mutable_process();
  process->set_pid(1234);
  process->set_ppid(1);
  process->set_uid(0);
  process->set_exe("/usr/bin/curl");
  return event;
}

std::string text_of(const v1::Event& event) {
  std::string line;
  ctl::append_event_text(event, line);
  return line;
}

}  // namespace

TEST_CASE("socket line: a connect that was refused, as a follow-up") {
  v1::Event event = event_of(v1::EVENT_KIND_SOCKET);
  v1::SocketEvent& s = *event.mutable_socket();
  s.set_operation(v1::SOCKET_OPERATION_CONNECT);
  s.set_status(v1::SOCKET_STATUS_FAILED);
  s.set_error("ECONNREFUSED");
  s.set_follow_up(true);
  s.set_family(v1::SOCKET_FAMILY_INET6);
  s.set_protocol_name("tcp");
  s.mutable_local()->set_address("::1");
  s.mutable_local()->set_port(40000);
  s.mutable_remote()->set_address("::1");
  s.mutable_remote()->set_port(9);
  s.set_fd(3);
  CHECK(text_of(event) == kPrefix + "socket pid=1234 ppid=1 uid=0 exe=/usr/bin/curl op=connect status=failed "
                                    "error=ECONNREFUSED follow_up proto=inet6/tcp local=[::1]:40000 remote=[::1]:9 fd=3");
}

TEST_CASE("socket line: listen backlog, close byte counts, unix ends") {
  v1::Event event = event_of(v1::EVENT_KIND_SOCKET);
  v1::SocketEvent& s = *event.mutable_socket();
  s.set_operation(v1::SOCKET_OPERATION_LISTEN);
  s.set_status(v1::SOCKET_STATUS_SUCCEEDED);
  s.set_family(v1::SOCKET_FAMILY_INET);
  s.set_protocol_name("tcp");
  s.mutable_local()->set_address("0.0.0.0");
  s.mutable_local()->set_port(8080);
  s.set_fd(4);
  s.set_backlog(128);
  CHECK(text_of(event) == kPrefix + "socket pid=1234 ppid=1 uid=0 exe=/usr/bin/curl op=listen status=succeeded "
                                    "proto=inet/tcp local=0.0.0.0:8080 fd=4 backlog=128");

  s.set_operation(v1::SOCKET_OPERATION_CLOSE);
  s.set_bytes_sent(10);
  s.set_bytes_received(20);
  CHECK(text_of(event).find(" op=close status=succeeded proto=inet/tcp local=0.0.0.0:8080 fd=4 sent=10 received=20") !=
        std::string::npos);

  s.Clear();
  s.set_operation(v1::SOCKET_OPERATION_CONNECT);
  s.set_status(v1::SOCKET_STATUS_SUCCEEDED);
  s.set_family(v1::SOCKET_FAMILY_UNIX);
  s.mutable_remote()->set_address("vajra test");
  s.mutable_remote()->set_abstract(true);
  CHECK(text_of(event).find(" proto=unix remote=\"@vajra test\" fd=0") != std::string::npos);
}

TEST_CASE("dns line: a response with its answers, and a malformed payload") {
  v1::Event event = event_of(v1::EVENT_KIND_DNS);
  v1::DnsEvent& d = *event.mutable_dns();
  d.set_response(true);
  d.set_name("alias.vajra.test");
  d.set_query_type_name("A");
  d.set_rcode_name("NOERROR");
  d.add_answers()->set_data("host.vajra.test");
  d.add_answers()->set_data("10.1.2.3");
  d.set_transport("udp");
  d.mutable_server()->set_address("127.0.0.53");
  d.mutable_server()->set_port(53);
  CHECK(text_of(event) == kPrefix + "dns pid=1234 ppid=1 uid=0 exe=/usr/bin/curl response name=alias.vajra.test "
                                    "type=A rcode=NOERROR answers=host.vajra.test,10.1.2.3 server=127.0.0.53:53/udp");

  d.set_response(false);
  CHECK(text_of(event).find(" query name=alias.vajra.test type=A server=127.0.0.53:53/udp") != std::string::npos);

  d.set_malformed("too short\n");
  CHECK(text_of(event).find(" malformed=\"too short\\n\" server=") != std::string::npos);
}
