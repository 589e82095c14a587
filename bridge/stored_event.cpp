#include "stored_event.h"

namespace vajra::bridge {

StoredEvent::StoredEvent(std::string event_bytes, std::shared_ptr<const std::string> process,
                         std::shared_ptr<const std::string> instance, std::atomic<uint64_t>& held_bytes)
    : event_bytes_(std::move(event_bytes)),
      process_(std::move(process)),
      instance_(std::move(instance)),
      held_bytes_(held_bytes) {
  held_bytes_.fetch_add(held(), std::memory_order_relaxed);
}

StoredEvent::~StoredEvent() { held_bytes_.fetch_sub(held(), std::memory_order_relaxed); }

size_t StoredEvent::held() const { return event_bytes_.capacity() + (row_ ? row_->bytes() : 0); }

void StoredEvent::set_row(std::shared_ptr<const PackedRow> row) {
  const size_t before = held();
  row_ = std::move(row);
  built_ = true;
  std::string().swap(event_bytes_);
  process_.reset();
  held_bytes_.fetch_add(held(), std::memory_order_relaxed);
  held_bytes_.fetch_sub(before, std::memory_order_relaxed);
}

}  // namespace vajra::bridge
