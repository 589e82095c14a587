#include "json_text.h"

#include <cstring>

namespace vajra::bridge {
namespace {

constexpr uint64_t kEveryByte = 0x0101010101010101ull;
constexpr uint64_t kHighBits = 0x8080808080808080ull;

bool has_zero_byte(uint64_t word) { return ((word - kEveryByte) & ~word & kHighBits) != 0; }

// Whether any of 8 bytes needs escaping: below 0x20, '"' or '\\'. The tests are exact as a yes/no
// answer (a subtraction's borrow can only mark a byte above one that really matches), and bytes of
// 0x80 and up never match. Most text has nothing to escape, and the ancestry and env columns are long:
// scanning byte by byte was a sixth of the bridge's CPU.
bool needs_escape(uint64_t word) {
  const bool control = ((word - kEveryByte * 0x20) & ~word & kHighBits) != 0;
  return control || has_zero_byte(word ^ (kEveryByte * '"')) || has_zero_byte(word ^ (kEveryByte * '\\'));
}

}  // namespace

void JsonText::separate() {
  if (!first_) out_ += ',';
  first_ = false;
}

JsonText& JsonText::open(char bracket) {
  separate();
  out_ += bracket;
  first_ = true;
  return *this;
}

JsonText& JsonText::close(char bracket) {
  out_ += bracket;
  first_ = false;
  return *this;
}

JsonText& JsonText::key(std::string_view name) {
  separate();
  quoted(name);
  out_ += ':';
  first_ = true;  // the value follows without a comma
  return *this;
}

JsonText& JsonText::value(std::string_view text) {
  separate();
  quoted(text);
  return *this;
}

JsonText& JsonText::value(uint64_t number) {
  separate();
  out_ += std::to_string(number);
  return *this;
}

void JsonText::quoted(std::string_view text) {
  static const char* hex = "0123456789abcdef";
  out_ += '"';
  size_t plain = 0;  // start of the run of characters that need no escape
  for (size_t i = 0; i < text.size(); ++i) {
    for (uint64_t word; i + sizeof word <= text.size(); i += sizeof word) {
      std::memcpy(&word, text.data() + i, sizeof word);
      if (needs_escape(word)) break;
    }
    if (i == text.size()) break;
    const char c = text[i];
    const auto byte = static_cast<unsigned char>(c);
    if (c != '"' && c != '\\' && byte >= 0x20) continue;
    out_.append(text.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': out_ += "\\\""; break;
      case '\\': out_ += "\\\\"; break;
      case '\n': out_ += "\\n"; break;
      case '\t': out_ += "\\t"; break;
      case '\r': out_ += "\\r"; break;
      case '\b': out_ += "\\b"; break;
      case '\f': out_ += "\\f"; break;
      default:
        out_ += "\\u00";
        out_ += hex[byte >> 4];
        out_ += hex[byte & 15];
    }
  }
  out_.append(text.data() + plain, text.size() - plain);
  out_ += '"';
}

}  // namespace vajra::bridge
