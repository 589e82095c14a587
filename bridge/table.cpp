#include "table.h"

namespace vajra::bridge {

const char* type_name(ColumnType type) {
  switch (type) {
    case ColumnType::kText: return "TEXT";
    case ColumnType::kInteger: return "INTEGER";
    case ColumnType::kBigInt: return "BIGINT";
    case ColumnType::kDouble: return "DOUBLE";
  }
  return "TEXT";
}

void MapBatch::visit(size_t row, CellSink& sink) const {
  for (const auto& [column, value] : rows_[row]) sink.cell(column, value);
}

Rows to_rows(const RowBatch& batch) {
  struct Builder : CellSink {
    Row* row = nullptr;
    void cell(const std::string& column, std::string_view value) override {
      row->emplace_hint(row->end(), column, std::string(value));
    }
  } builder;
  Rows rows(batch.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    builder.row = &rows[i];
    batch.visit(i, builder);
  }
  return rows;
}

Rows route_rows(const Table& table) {
  Rows rows;
  rows.reserve(table.columns().size() + 1);
  for (const Column& column : table.columns()) {
    rows.push_back({{"id", "column"},
                    {"name", column.name},
                    {"type", type_name(column.type)},
                    {"op", std::to_string(column.options)}});
  }
  if (table.attributes() != kNoAttributes) {
    rows.push_back({{"id", "attributes"}, {"attributes", std::to_string(table.attributes())}});
  }
  return rows;
}

}  // namespace vajra::bridge
