#include "packed_row.h"

#include <cstring>
#include <stdexcept>

namespace vajra::bridge {

PackedRow::PackedRow(std::vector<std::optional<std::string>>&& values, Interner* interner)
    : count_(static_cast<uint32_t>(values.size())) {
  const size_t header = values.size() * sizeof(uint32_t);
  auto shares = [&](const std::optional<std::string>& value) {
    return interner != nullptr && value && value->size() >= kShareFrom;
  };
  size_t payload = 0;
  for (const auto& value : values) payload += value && !shares(value) ? value->size() : 0;
  if (payload >= kShared) throw std::length_error("row of " + std::to_string(payload) + " bytes is too large");
  data_.resize(header + payload);

  uint32_t end = 0;  // of the inline values written so far
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t slot = 0;
    if (!values[i]) {
      slot = kNull | end;
    } else if (shares(values[i])) {
      slot = kShared | static_cast<uint32_t>(shared_.size());
      shared_.push_back(interner->intern(std::move(*values[i])));
    } else {
      std::memcpy(&data_[header + end], values[i]->data(), values[i]->size());
      end += static_cast<uint32_t>(values[i]->size());
      slot = end;
    }
    std::memcpy(&data_[i * sizeof(uint32_t)], &slot, sizeof(slot));
  }
}

uint32_t PackedRow::entry(size_t column) const {
  uint32_t slot = 0;
  std::memcpy(&slot, &data_[column * sizeof(uint32_t)], sizeof(slot));
  return slot;
}

std::optional<std::string_view> PackedRow::get(size_t column) const {
  if (column >= count_) return std::nullopt;
  const uint32_t slot = entry(column);
  if (slot & kNull) return std::nullopt;
  if (slot & kShared) return std::string_view(*shared_[slot & ~kFlags]);
  // An inline value starts where the payload ended at the closest slot before it that records
  // that (inline and NULL slots do; pooled ones, a few per row, are skipped).
  uint32_t begin = 0;
  for (size_t previous = column; previous-- > 0;) {
    const uint32_t before = entry(previous);
    if ((before & kShared) == 0) {
      begin = before & ~kFlags;
      break;
    }
  }
  const size_t header = static_cast<size_t>(count_) * sizeof(uint32_t);
  return std::string_view(data_.data() + header + begin, slot - begin);
}

}  // namespace vajra::bridge
