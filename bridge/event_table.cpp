#include "event_table.h"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "free_memory.h"

namespace vajra::bridge {
namespace {

// How long a query waits for the start-up restore before answering with what the store holds.
constexpr std::chrono::seconds kRestoreWait{10};

// A row is allocated as its event's bytes are freed, in other size classes, so the freed pages are
// not reused: a query that builds many rows hands them back every so often, or the bridge's RSS would
// hold both for the allocator's decay time (10 s). Measured before events of one process shared their
// process field, when the bytes were most of the memory: RSS after the mixed storm's query 199 → 154 MB.
constexpr uint64_t kReleaseEveryRows = 8192;

}  // namespace

uint64_t EventTable::wall_seconds() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

EventTable::EventTable(const EventFamily& family, std::string name, StoreLimits limits, const RestoreGate& gate,
                       Clock now_s)
    : family_(family), name_(std::move(name)), store_(limits), gate_(gate), now_s_(std::move(now_s)) {
  for (const EventColumn& column : family_.columns) columns_.push_back(column.column);
  by_name_.resize(columns_.size());
  for (size_t i = 0; i < by_name_.size(); ++i) by_name_[i] = i;
  std::sort(by_name_.begin(), by_name_.end(),
            [this](size_t a, size_t b) { return columns_[a].name < columns_[b].name; });
}

bool EventTable::accepts(v1::EventKind kind) const {
  return std::find(family_.kinds.begin(), family_.kinds.end(), kind) != family_.kinds.end();
}

void EventTable::add(StreamedEvent&& event, const std::shared_ptr<const std::string>& daemon_instance) {
  // The `time` column's value (event_header_columns), which the store orders and expires by.
  const uint64_t time_s = event.time_ns / 1000000000ull;
  std::shared_ptr<const std::string> process;
  if (!event.process.empty()) process = share_process(std::move(event.process));
  store_.insert(*daemon_instance, event.seq, time_s,
                std::make_shared<StoredEvent>(std::move(event.bytes), std::move(process), daemon_instance, held_bytes_),
                now_s_());
}

std::shared_ptr<const std::string> EventTable::share_process(std::string&& process) {
  for (size_t i = 1; i <= kRecentProcesses; ++i) {
    const auto& recent = recent_processes_[(next_recent_ + kRecentProcesses - i) % kRecentProcesses];
    if (recent && *recent == process) return recent;
  }
  // Counted once however many events share it, until the last one lets it go.
  std::atomic<uint64_t>* held = &held_bytes_;
  held->fetch_add(process.capacity(), std::memory_order_relaxed);
  std::shared_ptr<const std::string> shared(new std::string(std::move(process)), [held](const std::string* bytes) {
    held->fetch_sub(bytes->capacity(), std::memory_order_relaxed);
    delete bytes;
  });
  recent_processes_[next_recent_] = shared;
  next_recent_ = (next_recent_ + 1) % kRecentProcesses;
  return shared;
}

TableCounters EventTable::counters() const {
  TableCounters counters;
  counters.store = store_.counters();
  counters.bytes = held_bytes_.load(std::memory_order_relaxed);
  counters.rows_built = rows_built_.load(std::memory_order_relaxed);
  counters.unreadable = unreadable_.load(std::memory_order_relaxed);
  return counters;
}

void EventTable::build_rows(const std::vector<std::shared_ptr<StoredEvent>>& stored) {
  std::vector<std::optional<std::string>> values;
  uint64_t built = 0;
  for (const std::shared_ptr<StoredEvent>& event : stored) {
    if (event->built()) continue;
    if (!parse_streamed_event(event->event_bytes(), event->process_bytes(), parsed_)) {
      // vajrad sent bytes whose top level read well but whose nested fields do not parse.
      unreadable_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("{}: an event from vajrad does not parse ({} bytes); it has no row", name_,
                   event->event_bytes().size());
      event->set_row(nullptr);
      continue;
    }
    const EventSource source{parsed_, event->instance()};
    values.clear();
    values.reserve(family_.columns.size());
    for (const EventColumn& column : family_.columns) values.push_back(column.value(source));
    event->set_row(std::make_shared<const PackedRow>(std::move(values), &interner_));
    rows_built_.fetch_add(1, std::memory_order_relaxed);
    if (++built % kReleaseEveryRows == 0) release_free_memory();
  }
  if (built >= kReleaseEveryRows / 8) release_free_memory();
}

namespace {

// Stored rows and the columns the query reads, in name order.
class PackedBatch : public RowBatch {
 public:
  PackedBatch(std::vector<std::shared_ptr<const PackedRow>> rows, const std::vector<Column>& columns,
              std::vector<size_t> used)
      : rows_(std::move(rows)), columns_(columns), used_(std::move(used)) {}

  size_t size() const override { return rows_.size(); }
  size_t cell_count(size_t row) const override {
    size_t count = 0;
    for (size_t index : used_) count += rows_[row]->get(index).has_value() ? 1 : 0;
    return count;
  }
  void visit(size_t row, CellSink& sink) const override {
    for (size_t index : used_) {
      if (const auto value = rows_[row]->get(index)) sink.cell(columns_[index].name, *value);
    }
  }

 private:
  std::vector<std::shared_ptr<const PackedRow>> rows_;
  const std::vector<Column>& columns_;
  std::vector<size_t> used_;
};

}  // namespace

std::unique_ptr<RowBatch> EventTable::select(const QueryContext& context) {
  if (!gate_.is_open() && !gate_.wait(kRestoreWait)) {
    spdlog::warn("{}: answering before the start-up restore from vajrad finished (waited {} s)", name_,
                 kRestoreWait.count());
  }
  const auto stored = store_.select(integer_range(context, "time"), integer_range(context, "seq"), now_s_());
  std::vector<std::shared_ptr<const PackedRow>> rows;
  rows.reserve(stored.size());
  {
    std::lock_guard<std::mutex> lock(build_mu_);
    build_rows(stored);
    for (const std::shared_ptr<StoredEvent>& event : stored) {
      if (event->row()) rows.push_back(event->row());
    }
  }
  std::vector<size_t> used;
  for (size_t index : by_name_) {
    if (context.uses(columns_[index].name)) used.push_back(index);
  }
  return std::make_unique<PackedBatch>(std::move(rows), columns_, std::move(used));
}

}  // namespace vajra::bridge
