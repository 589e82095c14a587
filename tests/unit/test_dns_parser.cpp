// The DNS parser on hand-built messages: queries, answers with compression, cut copies, malformed
// shapes, and a fuzz-style run over random and truncated bytes that must never crash or hang.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "dns_parser.h"

using namespace vajra;

namespace {

// Builds DNS messages byte by byte.
class Packet {
 public:
  Packet& u8(uint8_t v) {
    bytes_ += static_cast<char>(v);
    return *this;
  }
  Packet& u16(uint16_t v) { return u8(static_cast<uint8_t>(v >> 8)).u8(static_cast<uint8_t>(v)); }
  Packet& u32(uint32_t v) { return u16(static_cast<uint16_t>(v >> 16)).u16(static_cast<uint16_t>(v)); }
  Packet& raw(const std::string& bytes) {
    bytes_ += bytes;
    return *this;
  }
  // Uncompressed name: "host.vajra.test" -> 4host5vajra4test0.
  Packet& name(const std::string& dotted) {
    size_t start = 0;
    while (start < dotted.size()) {
      size_t dot = dotted.find('.', start);
      if (dot == std::string::npos) dot = dotted.size();
      u8(static_cast<uint8_t>(dot - start)).raw(dotted.substr(start, dot - start));
      start = dot + 1;
    }
    return u8(0);
  }
  Packet& pointer(uint16_t offset) { return u16(static_cast<uint16_t>(0xc000 | offset)); }
  Packet& header(uint16_t id, uint16_t flags, uint16_t questions, uint16_t answers) {
    return u16(id).u16(flags).u16(questions).u16(answers).u16(0).u16(0);
  }
  size_t size() const { return bytes_.size(); }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

constexpr uint16_t kQuery = 0x0100;     // RD
constexpr uint16_t kResponse = 0x8180;  // QR RD RA, NOERROR

std::optional<DnsMessage> parse(const std::string& bytes, std::string& error, bool cut = false) {
  return parse_dns(bytes, cut, error);
}

// The response dnsmasq gives for alias.vajra.test A: a CNAME to host.vajra.test, then its address,
// names compressed against the question.
Packet cname_response() {
  Packet p;
  p.header(0x3abc, kResponse, 1, 2);
  p.name("alias.vajra.test").u16(1).u16(1);  // question at offset 12
  p.pointer(12).u16(5).u16(1).u32(600);
  const size_t rdlength_at = p.size();
  p.u16(0);
  const size_t target_at = p.size();
  p.u8(4).raw("host").pointer(12 + 6);  // host + "vajra.test" of the question
  std::string bytes = p.bytes();
  const size_t target_len = bytes.size() - target_at;
  bytes[rdlength_at] = 0;
  bytes[rdlength_at + 1] = static_cast<char>(target_len);
  Packet out;
  out.raw(bytes).pointer(static_cast<uint16_t>(target_at)).u16(1).u16(1).u32(0).u16(4).raw(std::string("\x0a\x01\x02\x03", 4));
  return out;
}

}  // namespace

TEST_CASE("dns: a query gives id, name and type") {
  Packet p;
  p.header(0x1234, kQuery, 1, 0).name("Example.ORG").u16(28).u16(1);
  std::string error;
  const auto m = parse(p.bytes(), error);
  INFO(error);
  REQUIRE(m);
  CHECK(m->id == 0x1234);
  CHECK_FALSE(m->response);
  CHECK(m->opcode == 0);
  CHECK_FALSE(m->truncated);
  CHECK(m->rcode == 0);
  CHECK(m->question_count == 1);
  CHECK(m->name == "Example.ORG");  // case kept as sent
  CHECK(m->query_type == 28);
  CHECK(m->answers.empty());
  CHECK_FALSE(m->answers_cut);
}

TEST_CASE("dns: a response with a compressed CNAME chain and an address") {
  std::string error;
  const auto m = parse(cname_response().bytes(), error);
  INFO(error);
  REQUIRE(m);
  CHECK(m->id == 0x3abc);
  CHECK(m->response);
  CHECK(m->rcode == 0);
  CHECK(m->name == "alias.vajra.test");
  CHECK(m->query_type == 1);
  REQUIRE(m->answers.size() == 2);
  CHECK(m->answers[0].name == "alias.vajra.test");
  CHECK(m->answers[0].type == 5);
  CHECK(m->answers[0].ttl == 600);
  CHECK(m->answers[0].data == "host.vajra.test");
  CHECK(m->answers[1].name == "host.vajra.test");
  CHECK(m->answers[1].type == 1);
  CHECK(m->answers[1].ttl == 0);
  CHECK(m->answers[1].data == "10.1.2.3");
}

TEST_CASE("dns: AAAA answers, NXDOMAIN, TC and records that are not reported") {
  Packet p;
  p.header(7, 0x8380 | 3, 1, 3).name("v6.test").u16(28).u16(1);
  p.pointer(12).u16(28).u16(1).u32(30).u16(16).raw(std::string("\xfd\x00", 2) + std::string(13, '\0') + "\x03");
  p.pointer(12).u16(16).u16(1).u32(30).u16(4).raw("\x03" "abc");   // TXT: skipped
  p.pointer(12).u16(1).u16(3).u32(30).u16(4).raw("abcd");          // class CH: skipped
  std::string error;
  const auto m = parse(p.bytes(), error);
  INFO(error);
  REQUIRE(m);
  CHECK(m->rcode == 3);
  CHECK(dns_rcode_name(m->rcode) == "NXDOMAIN");
  CHECK(m->truncated);
  REQUIRE(m->answers.size() == 1);
  CHECK(m->answers[0].data == "fd00::3");
  CHECK(m->answers[0].ttl == 30);
}

TEST_CASE("dns: odd bytes in names are escaped, never passed through") {
  Packet p;
  p.header(1, kQuery, 1, 0).u8(5).raw(std::string("a.b\n\\", 5)).u8(0).u16(1).u16(1);
  std::string error;
  const auto m = parse(p.bytes(), error);
  INFO(error);
  REQUIRE(m);
  CHECK(m->name == "a\\.b\\010\\\\");
  CHECK(m->name.find('\n') == std::string::npos);
}

TEST_CASE("dns: a copy cut inside the answers keeps the answers before the cut") {
  const std::string full = cname_response().bytes();
  const std::string cut = full.substr(0, full.size() - 3);
  std::string error;
  const auto m = parse(cut, error, true);
  INFO(error);
  REQUIRE(m);
  CHECK(m->answers_cut);
  REQUIRE(m->answers.size() == 1);
  CHECK(m->answers[0].data == "host.vajra.test");
  // The same bytes as a whole message are malformed.
  CHECK_FALSE(parse(cut, error, false));
  CHECK(error == "answers: the message ends at byte " + std::to_string(cut.size()) + ", inside a field");
}

TEST_CASE("dns: malformed messages are refused with a reason") {
  std::string error;
  CHECK_FALSE(parse("short", error));
  CHECK(error == "5 bytes, shorter than a DNS header (12)");

  Packet loop;
  loop.header(1, kQuery, 1, 0).pointer(12).u16(1).u16(1);  // the name points at itself
  CHECK_FALSE(parse(loop.bytes(), error));
  CHECK(error == "question: compression pointers loop");

  Packet past;
  past.header(1, kQuery, 1, 0).pointer(500).u16(1).u16(1);
  CHECK_FALSE(parse(past.bytes(), error));
  CHECK(error == "question: a compression pointer points past the message");

  Packet label_type;
  label_type.header(1, kQuery, 1, 0).u8(0x40).u16(1).u16(1);
  CHECK_FALSE(parse(label_type.bytes(), error));
  CHECK(error == "question: label type 1 is not a length");

  Packet long_name;
  long_name.header(1, kQuery, 1, 0);
  for (int i = 0; i < 5; ++i) long_name.u8(63).raw(std::string(63, 'a'));
  long_name.u8(0).u16(1).u16(1);
  CHECK_FALSE(parse(long_name.bytes(), error));
  CHECK(error == "question: a name is longer than 255 bytes");

  Packet bad_a;
  bad_a.header(1, kResponse, 1, 1).name("x.test").u16(1).u16(1).pointer(12).u16(1).u16(1).u32(1).u16(3).raw("abc");
  CHECK_FALSE(parse(bad_a.bytes(), error));
  CHECK(error == "answer 0: A data of 3 bytes");

  Packet question_cut;
  question_cut.header(1, kQuery, 1, 0).u8(10).raw("abc");
  CHECK_FALSE(parse(question_cut.bytes(), error, true));  // a cut copy still holds the whole question
  CHECK(error == "question: a label runs past the end");
}

TEST_CASE("dns: TCP messages lose their length prefix when they carry it") {
  const std::string message = cname_response().bytes();
  const std::string prefixed = std::string(1, '\0') + static_cast<char>(message.size()) + message;
  CHECK(strip_tcp_length(prefixed, static_cast<uint32_t>(prefixed.size())) == message);
  // The body read after its length went in a recv of its own.
  CHECK(strip_tcp_length(message, static_cast<uint32_t>(message.size())) == message);
  CHECK(strip_tcp_length("", 0).empty());
}

TEST_CASE("dns: type and rcode names") {
  CHECK(dns_type_name(1) == "A");
  CHECK(dns_type_name(28) == "AAAA");
  CHECK(dns_type_name(5) == "CNAME");
  CHECK(dns_type_name(65) == "HTTPS");
  CHECK(dns_type_name(999) == "999");
  CHECK(dns_rcode_name(0) == "NOERROR");
  CHECK(dns_rcode_name(2) == "SERVFAIL");
  CHECK(dns_rcode_name(15) == "15");
}

// Random bytes, random mutations of real messages and every truncation of them: the parser must return
// (a message or a reason) every time. A fixed seed keeps the run the same everywhere.
TEST_CASE("dns: fuzz with random, mutated and truncated messages") {
  std::mt19937 random(20240501);
  const std::vector<std::string> seeds = {cname_response().bytes(),
                                          Packet().header(9, kQuery, 1, 0).name("a.b.c").u16(1).u16(1).bytes()};
  size_t parsed = 0, refused = 0;
  auto run = [&](const std::string& bytes, bool cut) {
    std::string error;
    const auto m = parse_dns(bytes, cut, error);
    if (m) {
      ++parsed;
      CHECK(m->name.size() <= 4 * 255);  // escaped bytes take 4 characters at most
      for (const DnsRecord& record : m->answers) CHECK(record.data.size() <= 4 * 255);
    } else {
      ++refused;
      CHECK_FALSE(error.empty());
    }
  };
  for (const std::string& seed : seeds) {
    for (size_t length = 0; length <= seed.size(); ++length) {
      run(seed.substr(0, length), false);
      run(seed.substr(0, length), true);
    }
  }
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes.resize(random() % 600);
      for (char& c : bytes) c = static_cast<char>(random());
      // Plausible headers reach deeper: few questions and answers.
      if (bytes.size() >= 12 && i % 4 == 0) {
        bytes[4] = 0;
        bytes[5] = static_cast<char>(random() % 3);
        bytes[6] = 0;
        bytes[7] = static_cast<char>(random() % 4);
      }
    } else {
      bytes = seeds[random() % seeds.size()];
      for (int flips = 1 + random() % 4; flips > 0; --flips) bytes[random() % bytes.size()] = static_cast<char>(random());
      bytes.resize(random() % (bytes.size() + 1));
    }
    run(bytes, random() % 2 == 0);
  }
  INFO("parsed " << parsed << ", refused " << refused);
  CHECK(parsed > 0);
  CHECK(refused > 0);
}
