#include "tables/dns_table.h"

#include "json_text.h"

namespace vajra::bridge {
namespace {

using v1::Event;

Value text_or_null(const std::string& value) {
  if (value.empty()) return std::nullopt;
  return value;
}

// [{"name":..,"type":"A","ttl":..,"data":..}]: every answer the daemon parsed, in message order.
std::string answers_json(const v1::DnsEvent& dns) {
  JsonText json;
  json.begin_array();
  for (const v1::DnsAnswer& answer : dns.answers()) {
    json.begin_object();
    json.key("name").value(answer.name());
    json.key("type").value(answer.type_name());
    json.key("ttl").value(static_cast<uint64_t>(answer.ttl()));
    json.key("data").value(answer.data());
    json.end_object();
  }
  json.end_array();
  return json.take();
}

Value endpoint_address(const v1::SocketAddress& a, bool present) {
  if (!present) return std::nullopt;
  return text_or_null(a.address());
}

Value endpoint_port(const v1::SocketAddress& a, bool present) {
  if (!present) return std::nullopt;
  return number(a.port());
}

}  // namespace

EventFamily dns_family() {
  using T = ColumnType;
  EventFamily family;
  family.name = "dns";
  family.kinds = {v1::EVENT_KIND_DNS};
  family.columns = {
      event_column("message", T::kText, [](const Event& e) {
        return Value(std::string(e.dns().response() ? "response" : "query"));
      }),
      event_column("direction", T::kText, [](const Event& e) {
        return Value(std::string(e.dns().sent() ? "sent" : "received"));
      }),
      event_column("syscall", T::kText, [](const Event& e) { return text_or_null(e.dns().syscall()); }),
      event_column("path", T::kText, [](const Event& e) { return Value(e.process().exe()); }),
      event_column("transport", T::kText, [](const Event& e) { return text_or_null(e.dns().transport()); }),
      event_column("dns_id", T::kInteger, [](const Event& e) { return number(e.dns().id()); }),
      event_column("name", T::kText, [](const Event& e) { return text_or_null(e.dns().name()); }),
      event_column("query_type", T::kText, [](const Event& e) { return text_or_null(e.dns().query_type_name()); }),
      event_column("rcode", T::kText, [](const Event& e) -> Value {
        if (!e.dns().response()) return std::nullopt;
        return text_or_null(e.dns().rcode_name());
      }),
      event_column("answers", T::kText, [](const Event& e) -> Value {
        if (!e.dns().response()) return std::nullopt;
        return answers_json(e.dns());
      }),
      event_column("server_address", T::kText,
                   [](const Event& e) { return endpoint_address(e.dns().server(), e.dns().has_server()); }),
      event_column("server_port", T::kInteger,
                   [](const Event& e) { return endpoint_port(e.dns().server(), e.dns().has_server()); }),
      event_column("local_address", T::kText,
                   [](const Event& e) { return endpoint_address(e.dns().local(), e.dns().has_local()); }),
      event_column("local_port", T::kInteger,
                   [](const Event& e) { return endpoint_port(e.dns().local(), e.dns().has_local()); }),
      event_column("socket_net_ns", T::kBigInt, [](const Event& e) { return number(e.dns().net_ns()); }),
      event_column("socket_inode", T::kBigInt, [](const Event& e) { return number(e.dns().socket_inode()); }),
      event_column("message_bytes", T::kInteger, [](const Event& e) { return number(e.dns().message_bytes()); }),
      event_column("payload_truncated", T::kInteger, [](const Event& e) { return flag(e.dns().payload_truncated()); }),
      event_column("tc", T::kInteger, [](const Event& e) { return flag(e.dns().truncated()); }),
      event_column("matched_query", T::kInteger, [](const Event& e) -> Value {
        if (!e.dns().response()) return std::nullopt;
        return flag(e.dns().matched_query());
      }),
      event_column("latency", T::kBigInt, [](const Event& e) -> Value {
        if (!e.dns().matched_query()) return std::nullopt;
        return number(e.dns().latency_ns());
      }),
      event_column("malformed", T::kText, [](const Event& e) { return text_or_null(e.dns().malformed()); }),
  };
  append_shared_columns(family);
  return family;
}

}  // namespace vajra::bridge
