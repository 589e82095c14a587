// A row of an event table as the bridge holds it: the event's bytes until a query first reads the
// row, then the row itself. Building a row (parsing the event, formatting its ~60 columns) was most
// of the bridge's CPU, and in a storm most rows are pushed out by max_rows before any query reads
// them (docs/benchmarks.md); a row that is read is built once, however many queries read it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "packed_row.h"

namespace vajra::bridge {

class StoredEvent {
 public:
  // The event's bytes and its process field, shared with the events of the same process (see
  // streamed_event.h; null when it has none). `held_bytes` (the table's) counts the bytes and the row
  // this holds (the shared process field is counted once, by the table), until it is destroyed.
  StoredEvent(std::string event_bytes, std::shared_ptr<const std::string> process,
              std::shared_ptr<const std::string> instance, std::atomic<uint64_t>& held_bytes);
  ~StoredEvent();
  StoredEvent(const StoredEvent&) = delete;
  StoredEvent& operator=(const StoredEvent&) = delete;

  // The rest is called under the table's build lock, one thread at a time.
  bool built() const { return built_; }
  const std::string& event_bytes() const { return event_bytes_; }
  const std::string* process_bytes() const { return process_.get(); }
  const std::string& instance() const { return *instance_; }
  // The built row; null when the event's bytes did not parse (the table counts those).
  const std::shared_ptr<const PackedRow>& row() const { return row_; }
  // Keeps the row (or null) and lets the event's bytes go.
  void set_row(std::shared_ptr<const PackedRow> row);

 private:
  size_t held() const;

  std::string event_bytes_;
  std::shared_ptr<const std::string> process_;
  const std::shared_ptr<const std::string> instance_;
  std::shared_ptr<const PackedRow> row_;
  bool built_ = false;
  std::atomic<uint64_t>& held_bytes_;
};

}  // namespace vajra::bridge
