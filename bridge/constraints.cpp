#include "constraints.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include <nlohmann/json.hpp>

#include "table.h"

namespace vajra::bridge {
namespace {

using nlohmann::json;

[[noreturn]] void malformed(const std::string& what) {
  throw RequestError("generate: malformed context: " + what);
}

int parse_op(const json& op, const std::string& column) {
  if (op.is_number_integer()) return op.get<int>();
  if (op.is_string()) {
    const std::string text = op.get<std::string>();
    int value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && ptr == text.data() + text.size() && !text.empty()) return value;
  }
  malformed("constraint on '" + column + "': \"op\" must be an integer or a string holding one, got " +
            op.dump());
}

std::vector<Constraint> parse_list(const json& list, const std::string& column) {
  std::vector<Constraint> constraints;
  if (list.is_string()) {
    // The older shape writes an empty list as "".
    if (!list.get<std::string>().empty())
      malformed("constraint on '" + column + "': \"list\" is a non-empty string");
    return constraints;
  }
  if (!list.is_array())
    malformed("constraint on '" + column + "': \"list\" must be an array, got " + list.dump());
  for (const json& item : list) {
    if (!item.is_object()) malformed("constraint on '" + column + "': list item is not an object");
    const auto op = item.find("op");
    const auto expr = item.find("expr");
    if (op == item.end() || expr == item.end())
      malformed("constraint on '" + column + "': list item needs \"op\" and \"expr\"");
    Constraint constraint;
    constraint.op = parse_op(*op, column);
    if (expr->is_string()) {
      constraint.expr = expr->get<std::string>();
    } else if (expr->is_number()) {
      constraint.expr = expr->dump();
    } else {
      malformed("constraint on '" + column + "': \"expr\" must be a string, got " + expr->dump());
    }
    constraints.push_back(std::move(constraint));
  }
  return constraints;
}

// An expression as the integers around it: floor == ceil for an integer. Saturates at int64.
struct Number {
  int64_t floor = 0;
  int64_t ceil = 0;
  bool integral() const { return floor == ceil; }
};

std::optional<Number> parse_number(const std::string& text) {
  int64_t integer = 0;
  const char* end = text.data() + text.size();
  if (const auto [ptr, ec] = std::from_chars(text.data(), end, integer); ec == std::errc() && ptr == end)
    return Number{integer, integer};
  if (text.empty()) return std::nullopt;
  char* parsed_end = nullptr;
  const double value = std::strtod(text.c_str(), &parsed_end);
  if (parsed_end != text.c_str() + text.size() || std::isnan(value)) return std::nullopt;
  auto clamp = [](double v) {
    if (v >= 9.2e18) return std::numeric_limits<int64_t>::max();
    if (v <= -9.2e18) return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(v);
  };
  return Number{clamp(std::floor(value)), clamp(std::ceil(value))};
}

// Unsigned values v with v >= bound.
void raise_min(Range& range, int64_t bound) {
  if (bound > 0 && static_cast<uint64_t>(bound) > range.min) range.min = static_cast<uint64_t>(bound);
}

// Unsigned values v with v <= bound.
void lower_max(Range& range, int64_t bound) {
  if (bound < 0) {
    range.min = 1;
    range.max = 0;
  } else if (static_cast<uint64_t>(bound) < range.max) {
    range.max = static_cast<uint64_t>(bound);
  }
}

int64_t plus_one(int64_t v) { return v == std::numeric_limits<int64_t>::max() ? v : v + 1; }
int64_t minus_one(int64_t v) { return v == std::numeric_limits<int64_t>::min() ? v : v - 1; }

}  // namespace

QueryContext parse_context(const std::string& json_text) {
  QueryContext context;
  if (json_text.empty()) return context;
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::parse_error& e) {
    malformed(std::string("not JSON (") + e.what() + ")");
  }
  if (!doc.is_object()) malformed("expected a JSON object, got " + std::string(doc.type_name()));

  if (const auto constraints = doc.find("constraints"); constraints != doc.end()) {
    if (!constraints->is_array()) malformed("\"constraints\" must be an array");
    for (const json& entry : *constraints) {
      if (!entry.is_object()) malformed("\"constraints\" item is not an object");
      const auto name = entry.find("name");
      if (name == entry.end() || !name->is_string()) malformed("\"constraints\" item without a \"name\" string");
      const auto list = entry.find("list");
      if (list == entry.end()) malformed("constraint on '" + name->get<std::string>() + "' has no \"list\"");
      std::vector<Constraint> parsed = parse_list(*list, name->get<std::string>());
      if (parsed.empty()) continue;
      auto& slot = context.constraints[name->get<std::string>()];
      slot.insert(slot.end(), parsed.begin(), parsed.end());
    }
  }

  if (const auto used = doc.find("colsUsed"); used != doc.end()) {
    if (!used->is_array()) malformed("\"colsUsed\" must be an array");
    std::set<std::string> columns;
    for (const json& column : *used) {
      if (!column.is_string()) malformed("\"colsUsed\" item is not a string");
      columns.insert(column.get<std::string>());
    }
    context.columns_used = std::move(columns);
  }
  return context;
}

Range integer_range(const QueryContext& context, const std::string& column) {
  Range range;
  const auto found = context.constraints.find(column);
  if (found == context.constraints.end()) return range;
  for (const Constraint& constraint : found->second) {
    const std::optional<Number> number = parse_number(constraint.expr);
    if (!number) continue;
    switch (constraint.op) {
      case kEquals:
        if (!number->integral()) return Range{1, 0};
        raise_min(range, number->floor);
        lower_max(range, number->floor);
        break;
      case kGreaterThan: raise_min(range, plus_one(number->floor)); break;
      case kGreaterThanOrEquals: raise_min(range, number->ceil); break;
      case kLessThan: lower_max(range, minus_one(number->ceil)); break;
      case kLessThanOrEquals: lower_max(range, number->floor); break;
      default: break;
    }
    if (range.empty()) return range;
  }
  return range;
}

}  // namespace vajra::bridge
