// The `context` osquery sends with a table's `generate`: constraints from the WHERE clause and the
// columns the query uses.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace vajra::bridge {

// SQLite's constraint operators as osquery forwards them.
enum ConstraintOp : int {
  kEquals = 2,
  kGreaterThan = 4,
  kLessThanOrEquals = 8,
  kLessThan = 16,
  kGreaterThanOrEquals = 32,
};

struct Constraint {
  int op = 0;
  std::string expr;
};

struct QueryContext {
  // Column -> its constraints (ANDed); columns without any are absent.
  std::map<std::string, std::vector<Constraint>> constraints;
  // The columns the query reads; unset when the peer did not say (then every column is built).
  std::optional<std::set<std::string>> columns_used;

  bool uses(const std::string& column) const {
    return !columns_used || columns_used->count(column) != 0;
  }
};

// Parses both shapes osquery has sent: {"constraints":[{"name":C,"list":[{"op":2,"expr":"x"}],
// "affinity":T}],"colsUsed":[...]} and the older one where "op" is a string and an empty "list"
// is "". An empty text means no constraints. Throws RequestError naming what is malformed.
QueryContext parse_context(const std::string& json_text);

// Inclusive bounds on an unsigned column.
struct Range {
  uint64_t min = 0;
  uint64_t max = UINT64_MAX;
  bool empty() const { return min > max; }
  bool contains(uint64_t value) const { return value >= min && value <= max; }
  bool unbounded() const { return min == 0 && max == UINT64_MAX; }
};

// The values of an unsigned integer column that can satisfy all its =, >, >=, <, <= constraints.
// Other operators, and expressions that are not numbers, do not narrow it: SQLite re-checks every
// term, so a range that is too wide is safe and one that is too narrow would lose rows.
Range integer_range(const QueryContext& context, const std::string& column);

}  // namespace vajra::bridge
