#include "tables/socket_table.h"

#include <sys/socket.h>

namespace vajra::bridge {
namespace {

using v1::Event;

std::string operation_name(v1::SocketOperation operation) {
  switch (operation) {
    case v1::SOCKET_OPERATION_BIND: return "bind";
    case v1::SOCKET_OPERATION_LISTEN: return "listen";
    case v1::SOCKET_OPERATION_ACCEPT: return "accept";
    case v1::SOCKET_OPERATION_CONNECT: return "connect";
    case v1::SOCKET_OPERATION_CLOSE: return "close";
    case v1::SOCKET_OPERATION_UDP_FLOW: return "udp_flow";
    default: return "";
  }
}

// osquery's socket_events status values.
Value status_name(const Event& e) {
  switch (e.socket().status()) {
    case v1::SOCKET_STATUS_SUCCEEDED: return std::string("succeeded");
    case v1::SOCKET_STATUS_FAILED: return std::string("failed");
    case v1::SOCKET_STATUS_IN_PROGRESS: return std::string("in_progress");
    case v1::SOCKET_STATUS_NO_CLIENT: return std::string("no_client");
    default: return std::nullopt;
  }
}

// osquery reports the address family as the C constant's value.
Value family_number(const Event& e) {
  switch (e.socket().family()) {
    case v1::SOCKET_FAMILY_INET: return number(AF_INET);
    case v1::SOCKET_FAMILY_INET6: return number(AF_INET6);
    case v1::SOCKET_FAMILY_UNIX: return number(AF_UNIX);
    default: return std::nullopt;
  }
}

Value type_number(const Event& e) {
  if (e.socket().type() == v1::SOCKET_TYPE_UNSPECIFIED) return std::nullopt;
  return number(static_cast<uint64_t>(e.socket().type()));  // the enum follows SOCK_* values
}

Value address(const v1::SocketAddress& a, bool present) {
  if (!present || a.address().empty()) return std::nullopt;
  return a.address();
}

Value port(const v1::SocketAddress& a, bool present, const Event& e) {
  if (!present || e.socket().family() == v1::SOCKET_FAMILY_UNIX) return std::nullopt;
  return number(a.port());
}

// socket_events' `socket`: the unix socket path, whichever end names it.
Value unix_path(const Event& e) {
  const v1::SocketEvent& s = e.socket();
  if (s.family() != v1::SOCKET_FAMILY_UNIX) return std::nullopt;
  if (s.has_remote() && !s.remote().address().empty()) return s.remote().address();
  if (s.has_local() && !s.local().address().empty()) return s.local().address();
  return std::nullopt;
}

}  // namespace

EventFamily socket_family() {
  using T = ColumnType;
  EventFamily family;
  family.name = "socket";
  family.kinds = {v1::EVENT_KIND_SOCKET};
  family.columns = {
      event_column("action", T::kText, [](const Event& e) { return Value(operation_name(e.socket().operation())); }),
      event_column("syscall", T::kText, [](const Event& e) -> Value {
        if (e.socket().syscall().empty()) return std::nullopt;
        return e.socket().syscall();
      }),
      event_column("path", T::kText, [](const Event& e) { return Value(e.process().exe()); }),
      event_column("status", T::kText, status_name),
      event_column("success", T::kInteger, [](const Event& e) {
        return flag(e.socket().status() == v1::SOCKET_STATUS_SUCCEEDED);
      }),
      event_column("exit_code", T::kText, [](const Event& e) -> Value {
        if (e.socket().status() == v1::SOCKET_STATUS_SUCCEEDED) return std::string("0");
        if (e.socket().errno_value() == 0) return std::nullopt;
        return signed_number(-static_cast<int64_t>(e.socket().errno_value()));
      }),
      event_column("errno", T::kInteger, [](const Event& e) -> Value {
        if (e.socket().errno_value() == 0) return std::nullopt;
        return signed_number(e.socket().errno_value());
      }),
      event_column("error", T::kText, [](const Event& e) -> Value {
        if (e.socket().error().empty()) return std::nullopt;
        return e.socket().error();
      }),
      event_column("follow_up", T::kInteger, [](const Event& e) { return flag(e.socket().follow_up()); }),
      event_column("fd", T::kText, [](const Event& e) -> Value {
        if (e.socket().follow_up()) return std::nullopt;  // reported by the kernel, not by a syscall
        return signed_number(e.socket().fd());
      }),
      event_column("family", T::kInteger, family_number),
      event_column("type", T::kInteger, type_number),
      event_column("protocol", T::kInteger, [](const Event& e) { return number(e.socket().protocol()); }),
      event_column("protocol_name", T::kText, [](const Event& e) -> Value {
        if (e.socket().protocol_name().empty()) return std::nullopt;
        return e.socket().protocol_name();
      }),
      event_column("local_address", T::kText, [](const Event& e) { return address(e.socket().local(), e.socket().has_local()); }),
      event_column("local_port", T::kInteger, [](const Event& e) { return port(e.socket().local(), e.socket().has_local(), e); }),
      event_column("remote_address", T::kText,
          [](const Event& e) { return address(e.socket().remote(), e.socket().has_remote()); }),
      event_column("remote_port", T::kInteger,
          [](const Event& e) { return port(e.socket().remote(), e.socket().has_remote(), e); }),
      event_column("socket", T::kText, unix_path),
      event_column("abstract", T::kInteger, [](const Event& e) -> Value {
        if (e.socket().family() != v1::SOCKET_FAMILY_UNIX) return std::nullopt;
        return flag(e.socket().local().abstract() || e.socket().remote().abstract());
      }),
      event_column("backlog", T::kInteger, [](const Event& e) -> Value {
        if (e.socket().operation() != v1::SOCKET_OPERATION_LISTEN) return std::nullopt;
        return number(e.socket().backlog());
      }),
      event_column("socket_net_ns", T::kBigInt, [](const Event& e) { return number(e.socket().net_ns()); }),
      event_column("socket_inode", T::kBigInt, [](const Event& e) { return number(e.socket().socket_inode()); }),
      event_column("duration", T::kBigInt, [](const Event& e) -> Value {
        if (e.socket().duration_ns() == 0) return std::nullopt;
        return number(e.socket().duration_ns());
      }),
      event_column("bytes_sent", T::kBigInt, [](const Event& e) -> Value {
        if (!e.socket().has_bytes_sent()) return std::nullopt;
        return number(e.socket().bytes_sent());
      }),
      event_column("bytes_received", T::kBigInt, [](const Event& e) -> Value {
        if (!e.socket().has_bytes_received()) return std::nullopt;
        return number(e.socket().bytes_received());
      }),
  };
  append_shared_columns(family);
  return family;
}

}  // namespace vajra::bridge
