#include <catch2/catch.hpp>

#include "constraints.h"
#include "table.h"

using namespace vajra::bridge;

namespace {

QueryContext with(const std::string& column, const std::string& list) {
  return parse_context(R"({"constraints":[{"name":")" + column + R"(","list":)" + list +
                       R"(,"affinity":"BIGINT"},{"name":"pid","list":[],"affinity":"BIGINT"}],"colsUsed":["time","pid"],"colsUsedBitset":3})");
}

}  // namespace

TEST_CASE("the new context shape: numeric ops, arrays, colsUsed", "[bridge][constraints]") {
  const QueryContext context = with("time", R"([{"op":4,"expr":"100"},{"op":16,"expr":"200"}])");
  REQUIRE(context.constraints.size() == 1);  // pid's empty list is no constraint
  REQUIRE(context.constraints.at("time").size() == 2);
  CHECK(context.uses("pid"));
  CHECK_FALSE(context.uses("cmdline"));
  const Range range = integer_range(context, "time");
  CHECK(range.min == 101);
  CHECK(range.max == 199);
}

TEST_CASE("the old context shape: string ops and \"\" for an empty list", "[bridge][constraints]") {
  const QueryContext context = parse_context(
      R"({"constraints":[{"name":"time","list":[{"op":"32","expr":"5"}],"affinity":"BIGINT"},)"
      R"({"name":"seq","list":"","affinity":"BIGINT"}]})");
  CHECK_FALSE(context.columns_used.has_value());
  CHECK(context.uses("anything"));
  CHECK(integer_range(context, "time").min == 5);
  CHECK(integer_range(context, "seq").unbounded());
}

TEST_CASE("each operator narrows the range exactly", "[bridge][constraints]") {
  auto range = [](int op, const std::string& expr) {
    return integer_range(with("time", R"([{"op":)" + std::to_string(op) + R"(,"expr":")" + expr + R"("}])"), "time");
  };
  CHECK(range(kEquals, "7").min == 7);
  CHECK(range(kEquals, "7").max == 7);
  CHECK(range(kGreaterThan, "7").min == 8);
  CHECK(range(kGreaterThanOrEquals, "7").min == 7);
  CHECK(range(kLessThan, "7").max == 6);
  CHECK(range(kLessThanOrEquals, "7").max == 7);
  // Fractions: time > 7.5 means >= 8, time < 7.5 means <= 7, time = 7.5 matches no integer.
  CHECK(range(kGreaterThan, "7.5").min == 8);
  CHECK(range(kGreaterThanOrEquals, "7.5").min == 8);
  CHECK(range(kLessThan, "7.5").max == 7);
  CHECK(range(kLessThanOrEquals, "7.5").max == 7);
  CHECK(range(kEquals, "7.5").empty());
  // Below zero on an unsigned column.
  CHECK(range(kGreaterThan, "-5").min == 0);
  CHECK(range(kLessThan, "0").empty());
  CHECK(range(kLessThanOrEquals, "-1").empty());
  // Not a number, or an operator that is not a range (LIKE, !=): no narrowing, SQLite decides.
  CHECK(range(kGreaterThan, "abc").unbounded());
  CHECK(range(65, "1%").unbounded());
  CHECK(range(68, "3").unbounded());
}

TEST_CASE("contradicting constraints give an empty range", "[bridge][constraints]") {
  CHECK(integer_range(with("seq", R"([{"op":4,"expr":"10"},{"op":16,"expr":"5"}])"), "seq").empty());
}

TEST_CASE("malformed contexts are refused with a message", "[bridge][constraints]") {
  CHECK_THROWS_WITH(parse_context("{not json"), Catch::Contains("not JSON"));
  CHECK_THROWS_WITH(parse_context("[]"), Catch::Contains("expected a JSON object"));
  CHECK_THROWS_WITH(parse_context(R"({"constraints":{}})"), Catch::Contains("\"constraints\" must be an array"));
  CHECK_THROWS_WITH(parse_context(R"({"constraints":[{"list":[]}]})"), Catch::Contains("\"name\""));
  CHECK_THROWS_WITH(parse_context(R"({"constraints":[{"name":"time"}]})"), Catch::Contains("no \"list\""));
  CHECK_THROWS_WITH(parse_context(R"({"constraints":[{"name":"time","list":[{"op":"x","expr":"1"}]}]})"),
                    Catch::Contains("\"op\""));
  CHECK_THROWS_WITH(parse_context(R"({"constraints":[{"name":"time","list":[{"op":2}]}]})"),
                    Catch::Contains("\"op\" and \"expr\""));
  CHECK_THROWS_WITH(parse_context(R"({"constraints":[{"name":"time","list":"x"}]})"), Catch::Contains("non-empty string"));
  CHECK_THROWS_WITH(parse_context(R"({"colsUsed":[1]})"), Catch::Contains("colsUsed"));
  CHECK_THROWS_AS(parse_context("{not json"), RequestError);
}

TEST_CASE("an empty context means no constraints", "[bridge][constraints]") {
  const QueryContext context = parse_context("");
  CHECK(context.constraints.empty());
  CHECK(integer_range(context, "time").unbounded());
}
