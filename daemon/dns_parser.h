// Reads DNS messages (RFC 1035) as the kernel copied them from a process's sends and receives: header,
// first question, and the A, AAAA and CNAME records of the answer section. The bytes come from any
// process talking to port 53, so nothing in them is trusted: every read is bounds-checked, compression
// pointers are followed a bounded number of times, and a message that does not parse is reported as
// malformed with the reason, never guessed at.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vajra {

struct DnsRecord {
  std::string name;  // owner name, without the final dot
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string data;  // A/AAAA: the address as text; CNAME: the canonical name
};

struct DnsMessage {
  uint16_t id = 0;
  bool response = false;   // QR
  uint8_t opcode = 0;
  bool truncated = false;  // TC
  uint8_t rcode = 0;
  uint16_t question_count = 0;
  std::string name;        // first question; "" when there is none
  uint16_t query_type = 0;
  std::vector<DnsRecord> answers;  // A, AAAA and CNAME records of class IN, in message order
  bool answers_cut = false;        // the copy ended inside the answer section
};

// Parses one message. `copy_cut` says the bytes are the start of a longer message (the kernel copies
// at most 512 bytes): running out of them inside the answer section then ends the answers early
// instead of making the message malformed. Returns nullopt, with the reason in `error`, when the
// bytes are not a DNS message.
std::optional<DnsMessage> parse_dns(std::string_view bytes, bool copy_cut, std::string& error);

// A DNS message over TCP is preceded by its 2-byte length (RFC 1035 4.2.2). When `bytes` starts with
// the length of the rest of a `message_bytes`-byte transfer, returns what follows it; otherwise the
// prefix went in a syscall of its own and `bytes` is returned as is.
std::string_view strip_tcp_length(std::string_view bytes, uint32_t message_bytes);

// "A", "AAAA", "CNAME", ...; the number as text for types without a mnemonic here.
std::string dns_type_name(uint16_t type);
// "NOERROR", "NXDOMAIN", ...; the number as text when unknown.
std::string dns_rcode_name(uint8_t rcode);

}  // namespace vajra
