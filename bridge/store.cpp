#include "store.h"

#include <algorithm>

namespace vajra::bridge {

EventStore::EventStore(StoreLimits limits) : limits_(limits) {}

uint64_t EventStore::cutoff(uint64_t now_s) const {
  return now_s > limits_.retention_seconds ? now_s - limits_.retention_seconds : 0;
}

void EventStore::pop_front_locked() {
  entries_.pop_front();
  ++base_;
  // The last segment stays even when empty: it remembers the run's last seq for duplicate checks.
  while (segments_.size() > 1 && segments_[1].first <= base_) segments_.pop_front();
}

void EventStore::expire_locked(uint64_t now_s) {
  const uint64_t oldest_kept = cutoff(now_s);
  // Arrival order is nearly time order: a row that expires behind a newer front row is skipped by
  // select() and freed when it reaches the front.
  while (!entries_.empty() && entries_.front().time_s < oldest_kept) {
    pop_front_locked();
    ++counters_.evicted_expired;
  }
}

void EventStore::insert(const std::string& instance, uint64_t seq, uint64_t time_s,
                        std::shared_ptr<StoredEvent> row, uint64_t now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!segments_.empty() && segments_.back().instance == instance && seq <= segments_.back().last_seq) {
    ++counters_.duplicates_dropped;
    return;
  }
  if (segments_.empty() || segments_.back().instance != instance) {
    segments_.push_back(Segment{base_ + entries_.size(), instance, 0});
  }
  segments_.back().last_seq = seq;
  if (time_s < cutoff(now_s)) {
    ++counters_.evicted_expired;
    return;
  }

  const uint64_t prefix_max = entries_.empty() ? time_s : std::max(entries_.back().prefix_max_time, time_s);
  entries_.push_back(Entry{time_s, prefix_max, time_s, seq, std::move(row)});
  for (auto it = entries_.rbegin() + 1; it != entries_.rend() && it->suffix_min_time > time_s; ++it) {
    it->suffix_min_time = time_s;
  }
  ++counters_.inserted;

  while (entries_.size() > limits_.max_rows) {
    pop_front_locked();
    ++counters_.evicted_max_rows;
  }
  expire_locked(now_s);
}

std::vector<std::shared_ptr<StoredEvent>> EventStore::select(const Range& time_s, const Range& seq,
                                                             uint64_t now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  expire_locked(now_s);
  ++counters_.selects;
  std::vector<std::shared_ptr<StoredEvent>> rows;
  if (time_s.empty() || seq.empty() || entries_.empty()) return rows;

  const uint64_t oldest_kept = cutoff(now_s);
  const uint64_t min_time = std::max(time_s.min, oldest_kept);
  const auto begin = std::partition_point(entries_.begin(), entries_.end(),
                                          [&](const Entry& e) { return e.prefix_max_time < min_time; });
  const auto end = std::partition_point(begin, entries_.end(),
                                        [&](const Entry& e) { return e.suffix_min_time <= time_s.max; });

  // Within one daemon run seq only grows, so each run's slice is cut by two more binary searches.
  std::vector<std::pair<std::deque<Entry>::iterator, std::deque<Entry>::iterator>> slices;
  if (seq.unbounded()) {
    slices.emplace_back(begin, end);
  } else {
    for (size_t i = 0; i < segments_.size(); ++i) {
      const uint64_t first = std::max(segments_[i].first, base_) - base_;
      const uint64_t last = i + 1 < segments_.size() ? segments_[i + 1].first - base_ : entries_.size();
      auto lo = std::max(begin, entries_.begin() + static_cast<std::ptrdiff_t>(first));
      auto hi = std::min(end, entries_.begin() + static_cast<std::ptrdiff_t>(last));
      if (lo >= hi) continue;
      lo = std::partition_point(lo, hi, [&](const Entry& e) { return e.seq < seq.min; });
      hi = std::partition_point(lo, hi, [&](const Entry& e) { return e.seq <= seq.max; });
      if (lo < hi) slices.emplace_back(lo, hi);
    }
  }

  for (const auto& [lo, hi] : slices) {
    counters_.rows_examined += static_cast<uint64_t>(hi - lo);
    for (auto it = lo; it != hi; ++it) {
      if (it->time_s >= min_time && it->time_s <= time_s.max && seq.contains(it->seq)) rows.push_back(it->row);
    }
  }
  return rows;
}

StoreCounters EventStore::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  StoreCounters counters = counters_;
  counters.rows = entries_.size();
  return counters;
}

}  // namespace vajra::bridge
