#include "dns_parser.h"

#include <arpa/inet.h>

namespace vajra {
namespace {

constexpr size_t kHeaderBytes = 12;
constexpr size_t kMaxNameBytes = 255;  // RFC 1035 2.3.4, in wire form
// A name of 255 bytes has at most 127 labels; more jumps than that can only be a pointer loop.
constexpr int kMaxPointerJumps = 127;
constexpr uint16_t kClassIn = 1;
constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeCname = 5;
constexpr uint16_t kTypeAaaa = 28;

// Why a read stopped: the bytes ran out (which a cut copy explains) or they are not DNS.
enum class Stop { kNone, kShort, kBad };

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  size_t offset() const { return offset_; }
  Stop stop() const { return stop_; }
  const std::string& why() const { return why_; }

  uint8_t u8() {
    if (!need(1)) return 0;
    return static_cast<uint8_t>(bytes_[offset_++]);
  }
  uint16_t u16() {
    const uint16_t high = u8();
    return static_cast<uint16_t>(high << 8 | u8());
  }
  uint32_t u32() {
    const uint32_t high = u16();
    return high << 16 | u16();
  }
  std::string_view take(size_t n) {
    if (!need(n)) return {};
    std::string_view out = bytes_.substr(offset_, n);
    offset_ += n;
    return out;
  }

  // A possibly compressed name at the current offset, in presentation form without the final dot.
  std::string name() {
    std::string out;
    size_t at = offset_;
    size_t wire_bytes = 0;
    int jumps = 0;
    bool jumped = false;
    while (stop_ == Stop::kNone) {
      if (at >= bytes_.size()) return fail_short("a name runs past the end");
      const auto length = static_cast<uint8_t>(bytes_[at]);
      if ((length & 0xc0) == 0xc0) {
        if (at + 1 >= bytes_.size()) return fail_short("a compression pointer runs past the end");
        if (++jumps > kMaxPointerJumps) return fail_bad("compression pointers loop");
        const size_t target = (static_cast<size_t>(length & 0x3f) << 8) | static_cast<uint8_t>(bytes_[at + 1]);
        if (!jumped) offset_ = at + 2;
        jumped = true;
        if (target >= bytes_.size()) return fail_bad("a compression pointer points past the message");
        at = target;
        continue;
      }
      if (length & 0xc0) return fail_bad("label type " + std::to_string(length >> 6) + " is not a length");
      wire_bytes += length + 1u;
      if (wire_bytes > kMaxNameBytes) return fail_bad("a name is longer than 255 bytes");
      if (length == 0) {
        if (!jumped) offset_ = at + 1;
        return out;
      }
      if (at + 1 + length > bytes_.size()) return fail_short("a label runs past the end");
      if (!out.empty()) out += '.';
      append_label(out, bytes_.substr(at + 1, length));
      at += 1 + length;
    }
    return {};
  }

 private:
  bool need(size_t n) {
    if (stop_ != Stop::kNone) return false;
    if (bytes_.size() - offset_ < n) {
      fail_short("the message ends at byte " + std::to_string(bytes_.size()) + ", inside a field");
      return false;
    }
    return true;
  }
  std::string fail_short(const std::string& why) {
    if (stop_ == Stop::kNone) {
      stop_ = Stop::kShort;
      why_ = why;
    }
    return {};
  }
  std::string fail_bad(const std::string& why) {
    if (stop_ == Stop::kNone) {
      stop_ = Stop::kBad;
      why_ = why;
    }
    return {};
  }
  // Printable ASCII as is, with '.' and '\' escaped; other bytes as \DDD, the way dig shows them.
  static void append_label(std::string& out, std::string_view label) {
    for (const char c : label) {
      const auto byte = static_cast<unsigned char>(c);
      if (c == '.' || c == '\\') {
        out += '\\';
        out += c;
      } else if (byte > 0x20 && byte < 0x7f) {
        out += c;
      } else {
        const char digits[] = {'\\', static_cast<char>('0' + byte / 100), static_cast<char>('0' + byte / 10 % 10),
                               static_cast<char>('0' + byte % 10)};
        out.append(digits, sizeof(digits));
      }
    }
  }

  std::string_view bytes_;
  size_t offset_ = 0;
  Stop stop_ = Stop::kNone;
  std::string why_;
};

std::string address_text(int family, std::string_view raw) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, raw.data(), text, sizeof(text));
  return text;
}

}  // namespace

std::optional<DnsMessage> parse_dns(std::string_view bytes, bool copy_cut, std::string& error) {
  if (bytes.size() < kHeaderBytes) {
    error = std::to_string(bytes.size()) + " bytes, shorter than a DNS header (12)";
    return std::nullopt;
  }
  Reader in(bytes);
  DnsMessage message;
  message.id = in.u16();
  const uint16_t flags = in.u16();
  message.response = flags & 0x8000;
  message.opcode = static_cast<uint8_t>((flags >> 11) & 0xf);
  message.truncated = flags & 0x0200;
  message.rcode = static_cast<uint8_t>(flags & 0xf);
  message.question_count = in.u16();
  const uint16_t answer_count = in.u16();
  in.u16();  // authority records
  in.u16();  // additional records

  for (uint16_t i = 0; i < message.question_count && in.stop() == Stop::kNone; ++i) {
    std::string name = in.name();
    const uint16_t type = in.u16();
    in.u16();  // class
    if (i == 0 && in.stop() == Stop::kNone) {
      message.name = std::move(name);
      message.query_type = type;
    }
  }
  if (in.stop() != Stop::kNone) {
    error = "question: " + in.why();
    return std::nullopt;
  }

  for (uint16_t i = 0; i < answer_count; ++i) {
    DnsRecord record;
    record.name = in.name();
    record.type = in.u16();
    const uint16_t record_class = in.u16();
    record.ttl = in.u32();
    const uint16_t data_length = in.u16();
    const size_t data_start = in.offset();
    const std::string_view data = in.take(data_length);
    if (in.stop() != Stop::kNone) break;
    if (record_class != kClassIn) continue;
    if (record.type == kTypeA || record.type == kTypeAaaa) {
      const size_t size = record.type == kTypeA ? 4 : 16;
      if (data.size() != size) {
        error = "answer " + std::to_string(i) + ": " + dns_type_name(record.type) + " data of " +
                std::to_string(data.size()) + " bytes";
        return std::nullopt;
      }
      record.data = address_text(record.type == kTypeA ? AF_INET : AF_INET6, data);
    } else if (record.type == kTypeCname) {
      // The target may be compressed against anything before it: read it in place.
      Reader target(bytes.substr(0, data_start + data.size()));
      target.take(data_start);
      record.data = target.name();
      if (target.stop() != Stop::kNone) {
        error = "answer " + std::to_string(i) + ": CNAME target: " + target.why();
        return std::nullopt;
      }
    } else {
      continue;
    }
    message.answers.push_back(std::move(record));
  }
  if (in.stop() == Stop::kShort && copy_cut) {
    message.answers_cut = true;
  } else if (in.stop() != Stop::kNone) {
    error = "answers: " + in.why();
    return std::nullopt;
  }
  return message;
}

std::string_view strip_tcp_length(std::string_view bytes, uint32_t message_bytes) {
  if (bytes.size() < 2 || message_bytes < 2) return bytes;
  const uint32_t length = static_cast<uint32_t>(static_cast<uint8_t>(bytes[0])) << 8 | static_cast<uint8_t>(bytes[1]);
  return length == message_bytes - 2 ? bytes.substr(2) : bytes;
}

std::string dns_type_name(uint16_t type) {
  switch (type) {
    case 1: return "A";
    case 2: return "NS";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 12: return "PTR";
    case 15: return "MX";
    case 16: return "TXT";
    case 28: return "AAAA";
    case 33: return "SRV";
    case 35: return "NAPTR";
    case 41: return "OPT";
    case 43: return "DS";
    case 46: return "RRSIG";
    case 48: return "DNSKEY";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case 255: return "ANY";
    case 257: return "CAA";
    default: return std::to_string(type);
  }
}

std::string dns_rcode_name(uint8_t rcode) {
  static const char* const kNames[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                       "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
  return rcode < sizeof(kNames) / sizeof(kNames[0]) ? kNames[rcode] : std::to_string(rcode);
}

}  // namespace vajra
