// One table row as the bridge keeps it: short values in one allocation, in the table's column
// order, and long values as shared pointers into an Interner (see interner.h). 100,000 rows of ~60
// columns as std::map<string,string> would cost several times the memory; rows are only turned
// into Thrift maps, for the columns a query reads, as the reply is written.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "interner.h"

namespace vajra::bridge {

class PackedRow {
 public:
  // Values of at least kShareFrom bytes are pooled in `interner` (when given). nullopt is SQL NULL
  // (osquery: a missing key).
  static constexpr size_t kShareFrom = 48;
  PackedRow(std::vector<std::optional<std::string>>&& values, Interner* interner);

  size_t size() const { return count_; }
  std::optional<std::string_view> get(size_t column) const;
  // What this row costs beyond the pooled values it points to.
  size_t bytes() const { return data_.size() + shared_.size() * sizeof(shared_[0]); }

 private:
  // Header: one uint32 per column. An inline value's slot holds the end offset of the value in the
  // payload that follows the header; a NULL's, kNull and the payload's end so far; a pooled
  // value's, kShared and its index in shared_.
  static constexpr uint32_t kNull = 0x80000000u;
  static constexpr uint32_t kShared = 0x40000000u;
  static constexpr uint32_t kFlags = kNull | kShared;
  uint32_t entry(size_t column) const;

  uint32_t count_;
  std::string data_;
  std::vector<std::shared_ptr<const std::string>> shared_;
};

}  // namespace vajra::bridge
