#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "json_text.h"

using vajra::bridge::JsonText;

TEST_CASE("JsonText writes compact JSON that parses back to what was written", "[bridge][json]") {
  const std::string awkward = std::string("quote\" backslash\\ newline\n tab\t nul") + '\0' + " bell\a utf8 \xc3\xa9";
  JsonText json;
  json.begin_array();
  json.begin_object().key("pid").value(uint64_t{42}).key("argv").begin_array().value("a").value(awkward).end_array();
  json.key("empty").begin_object().end_object().end_object();
  json.value(uint64_t{18446744073709551615ull});
  json.end_array();
  const std::string text = json.take();
  CHECK(text.find('\n') == std::string::npos);
  const auto parsed = nlohmann::json::parse(text);
  REQUIRE(parsed.is_array());
  CHECK(parsed[0]["pid"] == 42);
  CHECK(parsed[0]["argv"][1].get<std::string>() == awkward);
  CHECK(parsed[0]["empty"].empty());
  CHECK(parsed[1].get<uint64_t>() == 18446744073709551615ull);
  CHECK(text.substr(0, 21) == R"([{"pid":42,"argv":["a)");
}

TEST_CASE("JsonText escapes what needs it at every offset of a long string, and nothing else", "[bridge][json]") {
  // Runs of plain text are skipped 8 bytes at a time: put each special byte at each offset around the
  // word boundaries, next to its closest plain neighbours (0x1f/0x20, '!'/'#', '['/']', UTF-8 bytes).
  const std::string specials[] = {std::string(1, '\0'), "\x1f", "\"", "\\", "\n", "\x7f"};
  const std::string plain = std::string("abc !#[]~ 0123456789") + "\xc3\xa9\xe2\x82\xac";  // ASCII first: cut below
  for (const std::string& special : specials) {
    for (size_t offset = 0; offset < 18; ++offset) {
      std::string text = plain.substr(0, offset) + special + plain + special;
      JsonText json;
      json.begin_array().value(text).end_array();
      const std::string out = json.take();
      const auto parsed = nlohmann::json::parse(out);
      INFO("special 0x" << std::hex << int(static_cast<unsigned char>(special[0])) << " at " << std::dec << offset);
      CHECK(parsed[0].get<std::string>() == text);
      // The exact escaped form, as nlohmann writes it (it escapes the same set, lowercase hex).
      CHECK(out == "[" + nlohmann::json(text).dump() + "]");
    }
  }
}
