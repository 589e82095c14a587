// A table's rows, bounded by age and count, with `time` and `seq` lookups that do not scan
// everything.
//
// Rows are kept in arrival order, which is the daemon's seq order within one daemon run (a run is a
// "segment"; seq restarts at 1 when vajrad restarts). Kernel time is only nearly in that order
// (events wait for their exe hash, CPUs race), so each row also carries two envelopes:
//   prefix_max_time = the largest time of this row and every row before it  (never decreases)
//   suffix_min_time = the smallest time of this row and every row after it   (never decreases)
// `time >= T` starts at the first row whose prefix_max_time >= T (every row before is older), and
// `time <= T` stops before the first row whose suffix_min_time > T (every row after is newer): two
// binary searches, exact whatever the disorder. Appending keeps prefix_max in O(1); suffix_min is
// fixed up backwards only across the rows newer than the new one, which are few.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "constraints.h"
#include "stored_event.h"

namespace vajra::bridge {

struct StoreLimits {
  uint64_t retention_seconds = 3600;  // rows older than this (by kernel time) are expired
  size_t max_rows = 100000;           // beyond this the oldest rows go first
};

struct StoreCounters {
  uint64_t rows = 0;
  uint64_t inserted = 0;
  uint64_t evicted_expired = 0;     // older than the retention window (including rows that arrived too old)
  uint64_t evicted_max_rows = 0;    // pushed out by max_rows
  uint64_t duplicates_dropped = 0;  // a seq already held for the same daemon run
  uint64_t selects = 0;
  uint64_t rows_examined = 0;       // rows looked at by selects after the binary searches
};

class EventStore {
 public:
  explicit EventStore(StoreLimits limits);

  // Adds a row of daemon run `instance`, whose seq must be above the last one held for that run
  // (otherwise it is a duplicate and is dropped). `now_s` is the wall clock in UNIX seconds.
  void insert(const std::string& instance, uint64_t seq, uint64_t time_s,
              std::shared_ptr<StoredEvent> row, uint64_t now_s);

  // Rows whose time and seq lie in the ranges and that have not expired, in arrival order.
  std::vector<std::shared_ptr<StoredEvent>> select(const Range& time_s, const Range& seq, uint64_t now_s);

  StoreCounters counters() const;

 private:
  struct Entry {
    uint64_t time_s;
    uint64_t prefix_max_time;
    uint64_t suffix_min_time;
    uint64_t seq;
    std::shared_ptr<StoredEvent> row;
  };
  struct Segment {
    uint64_t first;  // absolute index (counting evicted rows) of the run's first row
    std::string instance;
    uint64_t last_seq;
  };

  void expire_locked(uint64_t now_s);
  void pop_front_locked();
  uint64_t cutoff(uint64_t now_s) const;

  const StoreLimits limits_;
  mutable std::mutex mu_;
  std::deque<Entry> entries_;
  uint64_t base_ = 0;  // absolute index of entries_.front()
  std::deque<Segment> segments_;
  StoreCounters counters_;
};

}  // namespace vajra::bridge
