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
