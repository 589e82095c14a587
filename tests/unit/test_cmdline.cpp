// argv and environment decoding: osquery's cmdline quoting, UTF-8 repair, NUL splitting.
#include <catch2/catch.hpp>

#include <string>

#include "cmdline.h"

using namespace vajra;
using namespace std::string_literals;

TEST_CASE("cmdline: arguments are joined by single spaces", "[cmdline]") {
  CHECK(join_cmdline({}) == "");
  CHECK(join_cmdline({"/bin/true"}) == "/bin/true");
  CHECK(join_cmdline({"ls", "-l", "/tmp"}) == "ls -l /tmp");
}

TEST_CASE("cmdline: arguments holding whitespace are single-quoted, as osquery does", "[cmdline]") {
  CHECK(join_cmdline({"sh", "-c", "echo hi"}) == "sh -c 'echo hi'");
  CHECK(join_cmdline({"printf", "a\tb"}) == "printf 'a\tb'");
  CHECK(join_cmdline({"x", "line1\nline2"}) == "x 'line1\nline2'");
  CHECK(join_cmdline({"x", "\v", "\f", "\r"}) == "x '\v' '\f' '\r'");
  CHECK(join_cmdline({" "}) == "' '");
}

TEST_CASE("cmdline: osquery's lossy corners are kept for compatibility", "[cmdline]") {
  // Embedded quotes are not escaped.
  CHECK(join_cmdline({"echo", "it's"}) == "echo it's");
  CHECK(join_cmdline({"echo", "it's here"}) == "echo 'it's here'");
  CHECK(join_cmdline({"echo", "\"a b\""}) == "echo '\"a b\"'");
  // An empty argument leaves only its separator.
  CHECK(join_cmdline({"a", "", "b"}) == "a  b");
  CHECK(join_cmdline({""}) == "");
  CHECK(join_cmdline({"a", ""}) == "a ");
  // Only ASCII whitespace counts: a no-break space (U+00A0) is not quoted.
  CHECK(join_cmdline({"echo", "a\u00a0b"}) == "echo a\u00a0b");
}

TEST_CASE("utf8: valid text passes unchanged", "[utf8]") {
  CHECK(sanitize_utf8("") == "");
  CHECK(sanitize_utf8("plain ascii ~") == "plain ascii ~");
  CHECK(sanitize_utf8("\0inner\0nul"s) == "\0inner\0nul"s);
  // The first and last code point of every sequence length, and both sides of the surrogate gap.
  for (const std::string valid : {"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
                                  "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf"}) {
    CHECK(sanitize_utf8(valid) == valid);
  }
  // A literal backslash-x is text like any other; the escape is not reversible.
  CHECK(sanitize_utf8("\\x80") == "\\x80");
}

TEST_CASE("utf8: every invalid byte becomes \\xNN", "[utf8]") {
  CHECK(sanitize_utf8("\x80") == "\\x80");                             // lone continuation byte
  CHECK(sanitize_utf8("a\xffz") == "a\\xffz");                         // never valid
  CHECK(sanitize_utf8("\xf5\x80\x80\x80") == "\\xf5\\x80\\x80\\x80");  // lead byte past U+10FFFF
  CHECK(sanitize_utf8("\xc0\xaf") == "\\xc0\\xaf");                    // overlong '/'
  CHECK(sanitize_utf8("\xc1\xbf") == "\\xc1\\xbf");                    // overlong
  CHECK(sanitize_utf8("\xe0\x9f\xbf") == "\\xe0\\x9f\\xbf");           // overlong 3-byte form
  CHECK(sanitize_utf8("\xf0\x8f\xbf\xbf") == "\\xf0\\x8f\\xbf\\xbf");  // overlong 4-byte form
  CHECK(sanitize_utf8("\xed\xa0\x80") == "\\xed\\xa0\\x80");           // UTF-16 surrogate U+D800
  CHECK(sanitize_utf8("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // U+110000
  CHECK(sanitize_utf8("end\xe2\x82") == "end\\xe2\\x82");              // cut short at the end
  CHECK(sanitize_utf8("\xe2\x82"
                      "A") == "\\xe2\\x82A");  // cut short by ASCII
}

TEST_CASE("utf8: a bad byte never swallows the good ones after it", "[utf8]") {
  CHECK(sanitize_utf8("\xe2\xe2\x82\xac") == "\\xe2\xe2\x82\xac");  // stray lead, then a valid euro sign
  CHECK(sanitize_utf8("\xc3\xa9\x80\xc3\xa9") == "\xc3\xa9\\x80\xc3\xa9");
  CHECK(sanitize_utf8("\xf0\x9f\x98") == "\\xf0\\x9f\\x98");
}

namespace {

// sanitize_utf8 as first written, one sequence at a time: the reference for the faster one.
std::string sanitize_reference(std::string_view bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size();) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
    size_t length = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b(i) < 0x80) {
      length = 1;
    } else if (b(i) >= 0xC2 && b(i) <= 0xDF) {
      length = 2;
    } else if (b(i) >= 0xE0 && b(i) <= 0xEF) {
      length = 3;
      if (b(i) == 0xE0) lo = 0xA0;
      if (b(i) == 0xED) hi = 0x9F;
    } else if (b(i) >= 0xF0 && b(i) <= 0xF4) {
      length = 4;
      if (b(i) == 0xF0) lo = 0x90;
      if (b(i) == 0xF4) hi = 0x8F;
    }
    bool valid = length > 0 && i + length <= bytes.size();
    if (valid && length > 1) valid = b(i + 1) >= lo && b(i + 1) <= hi;
    for (size_t k = 2; valid && k < length; ++k) valid = b(i + k) >= 0x80 && b(i + k) <= 0xBF;
    if (valid) {
      out.append(bytes.substr(i, length));
      i += length;
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[b(i) >> 4];
      out += kHex[b(i) & 0xF];
      ++i;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("utf8: long and mixed inputs match the byte-at-a-time reference", "[utf8]") {
  // Bad bytes at every offset around the 8-byte ASCII scan, and random mixes of ASCII, valid
  // multi-byte sequences and junk.
  for (size_t at = 0; at < 20; ++at) {
    std::string s(20, 'a');
    s[at] = '\xff';
    CHECK(sanitize_utf8(s) == sanitize_reference(s));
    s[at] = '\xc3';  // a lead byte cut short, or followed by 'a'
    CHECK(sanitize_utf8(s) == sanitize_reference(s));
  }
  uint32_t seed = 12345;
  auto next = [&seed] { return (seed = seed * 1103515245u + 12345u) >> 16; };
  const std::vector<std::string> pieces{"a", "path/to/x", " ", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                        "\x80", "\xff", "\xc3", "\xed\xa0\x80", "\xf4\x90", std::string(1, '\0')};
  for (int round = 0; round < 2000; ++round) {
    std::string s;
    const int n = static_cast<int>(next() % 24);
    for (int k = 0; k < n; ++k) s += pieces[next() % pieces.size()];
    CHECK(sanitize_utf8(s) == sanitize_reference(s));
  }
}

TEST_CASE("split_nul: items of a NUL-separated block", "[split_nul]") {
  bool truncated = true;
  CHECK(split_nul(""s, 10, &truncated).empty());
  CHECK_FALSE(truncated);
  CHECK(split_nul("\0"s, 10, &truncated) == std::vector<std::string>{""});
  CHECK(split_nul("ls\0-l\0"s, 10, &truncated) == std::vector<std::string>{"ls", "-l"});
  CHECK(split_nul("ls\0-l"s, 10, &truncated) == std::vector<std::string>{"ls", "-l"});
  CHECK(split_nul("a\0\0b\0"s, 10, &truncated) == std::vector<std::string>{"a", "", "b"});
  CHECK(split_nul("a\0\0"s, 10, &truncated) == std::vector<std::string>{"a", ""});
  CHECK(split_nul("\0\0"s, 10, &truncated) == std::vector<std::string>{"", ""});
  CHECK_FALSE(truncated);
}

TEST_CASE("split_nul: stops at max_items and says so", "[split_nul]") {
  bool truncated = false;
  CHECK(split_nul("a\0b\0c\0"s, 2, &truncated) == std::vector<std::string>{"a", "b"});
  CHECK(truncated);
  CHECK(split_nul("a\0b\0"s, 2, &truncated) == std::vector<std::string>{"a", "b"});
  CHECK_FALSE(truncated);
  CHECK(split_nul("a\0"s, 0, &truncated).empty());
  CHECK(truncated);
  CHECK(split_nul(""s, 0, &truncated).empty());
  CHECK_FALSE(truncated);
  CHECK(split_nul("a\0b\0c"s, 1, nullptr) == std::vector<std::string>{"a"});
}

TEST_CASE("split_nul: items are sanitized", "[split_nul]") {
  CHECK(split_nul("ok\0bad\xff\0\xc3\xa9\0"s, 10, nullptr) ==
        std::vector<std::string>{"ok", "bad\\xff", "\xc3\xa9"});
}

TEST_CASE("env_select: picks allow-listed variables by exact name", "[env]") {
  const std::string env = "HOME=/root\0LD_PRELOAD=/tmp/evil.so\0PATH=/bin\0LD_AUDIT=\0"s;
  CHECK(env_select(env, {"LD_PRELOAD", "LD_AUDIT", "LD_LIBRARY_PATH"}) ==
        std::map<std::string, std::string>{{"LD_PRELOAD", "/tmp/evil.so"}, {"LD_AUDIT", ""}});
  CHECK(env_select(env, {}).empty());
  CHECK(env_select("", {"HOME"}).empty());
  CHECK(env_select("LD_PRELOADX=1\0XLD_PRELOAD=2\0ld_preload=3\0"s, {"LD_PRELOAD"}).empty());
}

TEST_CASE("env_select: the first of a repeated name wins, as getenv() does", "[env]") {
  CHECK(env_select("A=first\0A=second\0"s, {"A"}) == std::map<std::string, std::string>{{"A", "first"}});
}

TEST_CASE("env_select: odd entries", "[env]") {
  // Only the first '=' separates name and value.
  CHECK(env_select("OPTS=a=b=c\0"s, {"OPTS"}) == std::map<std::string, std::string>{{"OPTS", "a=b=c"}});
  // An entry without '=' names no variable.
  CHECK(env_select("A\0\0B=2\0"s, {"A", "B"}) == std::map<std::string, std::string>{{"B", "2"}});
  // The copy can end mid-value; what was copied is kept (the caller flags the truncation).
  CHECK(env_select("A=1\0LD_PRELOAD=/tmp/ev"s, {"LD_PRELOAD"}) ==
        std::map<std::string, std::string>{{"LD_PRELOAD", "/tmp/ev"}});
  CHECK(env_select("LD_PRELOAD=/tmp/\xff.so\0"s, {"LD_PRELOAD"}) ==
        std::map<std::string, std::string>{{"LD_PRELOAD", "/tmp/\\xff.so"}});
}
