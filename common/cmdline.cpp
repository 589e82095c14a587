#include "cmdline.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace vajra {
namespace {

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 when s[i] does not start one
// (Unicode Table 3-7: the second byte's range depends on the lead byte).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;

  size_t length = 0;
  unsigned char second_min = 0x80, second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;  // below is overlong
    if (lead == 0xED) second_max = 0x9F;  // above are UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;  // below is overlong
    if (lead == 0xF4) second_max = 0x8F;  // above is past U+10FFFF
  } else {
    return 0;  // continuation byte, overlong C0/C1 lead, or F5..FF
  }

  if (i + length > s.size()) return 0;
  if (byte(i + 1) < second_min || byte(i + 1) > second_max) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Length of the leading run of bytes below 0x80 (plain ASCII, always valid), eight at a time.
size_t ascii_prefix(std::string_view s) {
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, s.data() + i, 8);
    if (word & 0x8080808080808080ull) break;
  }
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) ++i;
  return i;
}

}  // namespace

std::string sanitize_utf8(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t i = ascii_prefix(bytes);
  if (i == bytes.size()) return std::string(bytes);  // the common case: nothing to check further
  std::string out;
  out.reserve(bytes.size());
  out.append(bytes.substr(0, i));
  while (i < bytes.size()) {
    // Copy the run of valid sequences from here at once.
    size_t end = i;
    while (end < bytes.size()) {
      const size_t length = utf8_sequence_length(bytes, end);
      if (length == 0) break;
      end += length;
    }
    out.append(bytes.substr(i, end - i));
    i = end;
    if (i == bytes.size()) break;
    const auto bad = static_cast<unsigned char>(bytes[i]);
    out += "\\x";
    out += kHex[bad >> 4];
    out += kHex[bad & 0xF];
    ++i;  // resynchronise on the very next byte, so one bad byte never swallows good ones
  }
  return out;
}

std::string join_cmdline(const std::vector<std::string>& argv) {
  std::string out;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (i > 0) out += ' ';
    const std::string& arg = argv[i];
    const bool quote = std::any_of(arg.begin(), arg.end(), is_ascii_space);
    if (quote) out += '\'';
    out += arg;
    if (quote) out += '\'';
  }
  return out;
}

std::vector<std::string> split_nul(std::string_view block, size_t max_items, bool* truncated) {
  std::vector<std::string> items;
  bool dropped = false;
  // Checked before trimming the terminator: "" holds no items, "\0" one empty one.
  if (!block.empty()) {
    if (block.back() == '\0') block.remove_suffix(1);
    size_t start = 0;
    while (true) {
      if (items.size() == max_items) {
        dropped = true;
        break;
      }
      const size_t end = std::min(block.find('\0', start), block.size());
      items.push_back(sanitize_utf8(block.substr(start, end - start)));
      if (end == block.size()) break;
      start = end + 1;
    }
  }
  if (truncated != nullptr) *truncated = dropped;
  return items;
}

std::map<std::string, std::string> env_select(std::string_view env_block,
                                              const std::vector<std::string>& allow) {
  std::map<std::string, std::string> selected;
  size_t start = 0;
  while (start < env_block.size()) {
    const size_t end = std::min(env_block.find('\0', start), env_block.size());
    const std::string_view entry = env_block.substr(start, end - start);
    start = end + 1;

    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view name = entry.substr(0, eq);
    if (std::find(allow.begin(), allow.end(), name) == allow.end()) continue;
    // emplace keeps the first value when the name comes again, as getenv() would.
    selected.emplace(std::string(name), sanitize_utf8(entry.substr(eq + 1)));
  }
  return selected;
}

}  // namespace vajra
