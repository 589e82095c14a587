// Socket and DNS records (bpf/net.bpf.c) -> SocketEvent and DnsEvent.
#include <sys/socket.h>

#include <cstring>

#include "cmdline.h"
#include "decode.h"
#include "dns_parser.h"
#include "netaddr.h"

namespace vajra {
namespace {

constexpr int kIpprotoTcp = 6;
constexpr int kIpprotoUdp = 17;

v1::SocketOperation operation_of(uint16_t op) {
  switch (op) {
    case VJ_SOCK_BIND: return v1::SOCKET_OPERATION_BIND;
    case VJ_SOCK_LISTEN: return v1::SOCKET_OPERATION_LISTEN;
    case VJ_SOCK_ACCEPT: return v1::SOCKET_OPERATION_ACCEPT;
    case VJ_SOCK_CONNECT: return v1::SOCKET_OPERATION_CONNECT;
    case VJ_SOCK_CLOSE: return v1::SOCKET_OPERATION_CLOSE;
    case VJ_SOCK_UDP_FLOW: return v1::SOCKET_OPERATION_UDP_FLOW;
    default: return v1::SOCKET_OPERATION_UNSPECIFIED;
  }
}

v1::SocketStatus status_of(uint16_t status) {
  switch (status) {
    case VJ_SOCK_SUCCEEDED: return v1::SOCKET_STATUS_SUCCEEDED;
    case VJ_SOCK_FAILED: return v1::SOCKET_STATUS_FAILED;
    case VJ_SOCK_IN_PROGRESS: return v1::SOCKET_STATUS_IN_PROGRESS;
    case VJ_SOCK_NO_CLIENT: return v1::SOCKET_STATUS_NO_CLIENT;
    default: return v1::SOCKET_STATUS_UNSPECIFIED;
  }
}

std::string syscall_name(uint16_t syscall) {
  switch (syscall) {
    case VJ_SYS_BIND: return "bind";
    case VJ_SYS_LISTEN: return "listen";
    case VJ_SYS_ACCEPT: return "accept";
    case VJ_SYS_ACCEPT4: return "accept4";
    case VJ_SYS_CONNECT: return "connect";
    case VJ_SYS_CLOSE: return "close";
    case VJ_SYS_SENDTO: return "sendto";
    case VJ_SYS_SENDMSG: return "sendmsg";
    case VJ_SYS_SENDMMSG: return "sendmmsg";
    case VJ_SYS_RECVFROM: return "recvfrom";
    case VJ_SYS_RECVMSG: return "recvmsg";
    case VJ_SYS_WRITE: return "write";
    case VJ_SYS_WRITEV: return "writev";
    case VJ_SYS_READ: return "read";
    case VJ_SYS_READV: return "readv";
    case VJ_SYS_RECVMMSG: return "recvmmsg";
    case VJ_SYS_EXIT: return "exit";
    case VJ_SYS_EXECVE: return "execve";
    case VJ_SYS_EXECVEAT: return "execveat";
    case VJ_SYS_DUP2: return "dup2";
    case VJ_SYS_DUP3: return "dup3";
    default: return "";
  }
}

std::string protocol_name(uint16_t protocol) {
  switch (protocol) {
    case 0: return "";
    case 1: return "icmp";
    case kIpprotoTcp: return "tcp";
    case kIpprotoUdp: return "udp";
    case 58: return "icmpv6";
    case 132: return "sctp";
    case 136: return "udplite";
    case 262: return "mptcp";
    default: return std::to_string(protocol);
  }
}

v1::SocketFamily family_of(uint16_t family) {
  switch (family) {
    case AF_INET: return v1::SOCKET_FAMILY_INET;
    case AF_INET6: return v1::SOCKET_FAMILY_INET6;
    case AF_UNIX: return v1::SOCKET_FAMILY_UNIX;
    default: return v1::SOCKET_FAMILY_UNSPECIFIED;
  }
}

v1::SocketType type_of(uint16_t type) {
  // The kernel keeps only the type in sk_type; SOCK_NONBLOCK and SOCK_CLOEXEC are file flags.
  switch (type) {
    case SOCK_STREAM: return v1::SOCKET_TYPE_STREAM;
    case SOCK_DGRAM: return v1::SOCKET_TYPE_DGRAM;
    case SOCK_RAW: return v1::SOCKET_TYPE_RAW;
    case SOCK_SEQPACKET: return v1::SOCKET_TYPE_SEQPACKET;
    default: return v1::SOCKET_TYPE_UNSPECIFIED;
  }
}

Ip6 address_of(const vj_sock_addr& end) {
  Ip6 address;
  std::memcpy(address.data(), end.addr, address.size());
  return address;
}

// An inet end the sock has not set: port 0 and the any-address (:: or 0.0.0.0).
bool inet_end_unset(const vj_sock_addr& end) {
  if (end.port != 0) return false;
  Ip6 address = address_of(end);
  if (is_v4_mapped(address)) address[10] = address[11] = 0;
  return address == Ip6{};
}

void set_inet_end(const vj_sock_addr& end, v1::SocketAddress& out) {
  out.set_address(format_address(address_of(end)));
  out.set_port(end.port);
}

// sun_path bytes as the kernel holds them: a path ends at its NUL; an abstract name starts with one and
// is every byte after it.
void set_unix_end(std::string_view path, v1::SocketAddress& out) {
  if (!path.empty() && path[0] == '\0') {
    out.set_abstract(true);
    out.set_address(sanitize_utf8(path.substr(1)));
  } else {
    out.set_address(sanitize_utf8(path.substr(0, path.find('\0'))));
  }
}

}  // namespace

bool Decoder::decode_socket(std::string_view rec, DecodedEvent& out, std::string& error) const {
  vj_socket_record r{};
  if (!read_fixed(rec, r)) {
    error = "socket record shorter than its fixed part";
    return false;
  }
  const std::string_view data = rec.substr(sizeof(r));
  if (static_cast<size_t>(r.local.path_len) + r.remote.path_len > data.size()) {
    error = "socket record paths run past its end";
    return false;
  }
  const v1::SocketOperation operation = operation_of(r.op);
  const v1::SocketStatus status = status_of(r.status);
  if (operation == v1::SOCKET_OPERATION_UNSPECIFIED || status == v1::SOCKET_STATUS_UNSPECIFIED) {
    error = "socket record with operation " + std::to_string(r.op) + ", status " + std::to_string(r.status);
    return false;
  }
  out.event.set_kind(v1::EVENT_KIND_SOCKET);
  fill_task(r.task, clock_, out.event);
  out.start_boottime_ns = r.task.start_boottime_ns;

  v1::SocketEvent& s = *out.event.mutable_socket();
  s.set_operation(operation);
  s.set_status(status);
  if (r.error != 0) {
    s.set_errno_value(r.error);
    s.set_error(errno_name(r.error));
  }
  s.set_syscall(syscall_name(r.syscall));
  s.set_family(family_of(r.family));
  s.set_type(type_of(r.type));
  s.set_protocol(r.protocol);
  s.set_protocol_name(protocol_name(r.protocol));
  if (r.family == AF_UNIX) {
    if (r.local.path_len > 0) set_unix_end(data.substr(0, r.local.path_len), *s.mutable_local());
    if (r.remote.path_len > 0) set_unix_end(data.substr(r.local.path_len, r.remote.path_len), *s.mutable_remote());
  } else {
    if (!inet_end_unset(r.local)) set_inet_end(r.local, *s.mutable_local());
    if (!inet_end_unset(r.remote)) set_inet_end(r.remote, *s.mutable_remote());
  }
  s.set_fd(r.fd);
  s.set_backlog(r.backlog);
  s.set_net_ns(r.net_ns);
  s.set_socket_inode(r.socket_ino);
  s.set_duration_ns(r.duration_ns);
  if (r.hdr.flags & VJ_F_SOCK_BYTES) {
    s.set_bytes_sent(r.bytes_sent);
    s.set_bytes_received(r.bytes_received);
  }
  s.set_follow_up(r.hdr.flags & VJ_F_SOCK_FOLLOW_UP);
  return true;
}

bool Decoder::decode_dns(std::string_view rec, DecodedEvent& out, std::string& error) const {
  vj_dns_record r{};
  if (!read_fixed(rec, r)) {
    error = "dns record shorter than its fixed part";
    return false;
  }
  const std::string_view data = rec.substr(sizeof(r));
  if (r.payload_len > data.size() || r.payload_len > VJ_DNS_PAYLOAD_MAX) {
    error = "dns record payload runs past its end";
    return false;
  }
  out.event.set_kind(v1::EVENT_KIND_DNS);
  fill_task(r.task, clock_, out.event);
  out.start_boottime_ns = r.task.start_boottime_ns;

  v1::DnsEvent& dns = *out.event.mutable_dns();
  dns.set_sent(r.direction == VJ_DNS_SENT);
  dns.set_syscall(syscall_name(r.syscall));
  const bool tcp = r.protocol == kIpprotoTcp;
  dns.set_transport(tcp ? "tcp" : "udp");
  set_inet_end(r.remote, *dns.mutable_server());
  set_inet_end(r.local, *dns.mutable_local());
  dns.set_net_ns(r.net_ns);
  dns.set_socket_inode(r.socket_ino);
  dns.set_message_bytes(r.msg_len);
  const bool cut = r.msg_len > r.payload_len;
  dns.set_payload_truncated(cut);

  std::string_view payload = data.substr(0, r.payload_len);
  if (tcp) payload = strip_tcp_length(payload, r.msg_len);
  std::string why;
  const std::optional<DnsMessage> message = parse_dns(payload, cut, why);
  if (!message) {
    dns.set_malformed(why);
    return true;
  }
  dns.set_response(message->response);
  dns.set_id(message->id);
  dns.set_name(sanitize_utf8(message->name));
  dns.set_query_type(message->query_type);
  dns.set_query_type_name(dns_type_name(message->query_type));
  dns.set_rcode(message->rcode);
  dns.set_rcode_name(dns_rcode_name(message->rcode));
  dns.set_truncated(message->truncated);
  for (const DnsRecord& record : message->answers) {
    v1::DnsAnswer& answer = *dns.add_answers();
    answer.set_name(sanitize_utf8(record.name));
    answer.set_type(record.type);
    answer.set_type_name(dns_type_name(record.type));
    answer.set_ttl(record.ttl);
    answer.set_data(sanitize_utf8(record.data));
  }
  return true;
}

}  // namespace vajra
