// What every osquery table of the bridge is: a name, columns as osquery declares them, and rows.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "constraints.h"

namespace vajra::bridge {

// osquery's column types. INTEGER is read as 32-bit by osquery, so ids and times are BIGINT.
enum class ColumnType { kText, kInteger, kBigInt, kDouble };

// osquery's ColumnOptions bits.
enum ColumnOption : uint32_t {
  kDefault = 0,
  kIndex = 1,
  kRequired = 2,
  kAdditional = 4,
  kOptimized = 8,
  kHidden = 16,
};

// osquery's TableAttributes bits.
enum TableAttribute : uint32_t {
  kNoAttributes = 0,
  kUtility = 1,
  kCacheable = 2,
  kEventBased = 4,
  kUserBased = 8,
};

struct Column {
  std::string name;
  ColumnType type;
  uint32_t options = kDefault;
};

using Row = std::map<std::string, std::string>;
using Rows = std::vector<Row>;

// A request osquery should not have sent (bad context, unknown action): answered with a non-zero
// status carrying this message, never a crash.
class RequestError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class CellSink {
 public:
  virtual ~CellSink() = default;
  virtual void cell(const std::string& column, std::string_view value) = 0;
};

// The rows of one generate, readable without first turning them into maps: the Thrift reply is
// written straight from them (reply_writer.h), which for 100,000 rows saves the hundreds of MB
// and the time the maps would take.
class RowBatch {
 public:
  virtual ~RowBatch() = default;
  virtual size_t size() const = 0;
  virtual size_t cell_count(size_t row) const = 0;  // its non-NULL columns
  // Every non-NULL column of the row, in column-name order (the order of a std::map).
  virtual void visit(size_t row, CellSink& sink) const = 0;
};

Rows to_rows(const RowBatch& batch);

// A batch over rows already built as maps.
class MapBatch : public RowBatch {
 public:
  explicit MapBatch(Rows rows) : rows_(std::move(rows)) {}
  size_t size() const override { return rows_.size(); }
  size_t cell_count(size_t row) const override { return rows_[row].size(); }
  void visit(size_t row, CellSink& sink) const override;

 private:
  Rows rows_;
};

class Table {
 public:
  virtual ~Table() = default;
  virtual const std::string& name() const = 0;
  virtual const std::vector<Column>& columns() const = 0;
  virtual uint32_t attributes() const { return kNoAttributes; }
  // Rows for one SQLite xFilter. Returning extra rows is safe (SQLite re-checks every term);
  // dropping a matching row is not. Throws RequestError for requests it cannot answer.
  virtual Rows generate(const QueryContext& context) = 0;
  // The same rows as a batch; tables with many rows build it without maps.
  virtual std::unique_ptr<RowBatch> select(const QueryContext& context) {
    return std::make_unique<MapBatch>(generate(context));
  }
};

const char* type_name(ColumnType type);

// The route rows osquery builds the table from, and that `columns` must repeat identically:
// one {"id":"column",...} per column, then {"id":"attributes",...} when there are any.
Rows route_rows(const Table& table);

}  // namespace vajra::bridge
