#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "interner.h"
#include "store.h"

using namespace vajra::bridge;

namespace {

std::atomic<uint64_t> held_bytes{0};

// The store keeps events as they came; here an event's bytes are its seq, in text.
std::shared_ptr<StoredEvent> row_of(uint64_t seq) {
  return std::make_shared<StoredEvent>(std::to_string(seq), nullptr, std::make_shared<const std::string>("run"),
                                       held_bytes);
}

uint64_t seq_of(const std::shared_ptr<StoredEvent>& row) { return std::stoull(row->event_bytes()); }

std::vector<uint64_t> seqs(const std::vector<std::shared_ptr<StoredEvent>>& rows) {
  std::vector<uint64_t> out;
  for (const auto& row : rows) out.push_back(seq_of(row));
  return out;
}

constexpr uint64_t kNow = 1'000'000;

}  // namespace

TEST_CASE("packed rows keep values, empty strings and NULLs apart", "[bridge][store]") {
  const std::string long_a(60, 'a'), long_b(80, 'b');
  Interner interner;
  const PackedRow row({std::string("a"), std::nullopt, long_a, std::string(""), std::nullopt, long_b,
                       std::string("longer value"), std::nullopt},
                      &interner);
  REQUIRE(row.size() == 8);
  CHECK(*row.get(0) == "a");
  CHECK_FALSE(row.get(1).has_value());
  CHECK(*row.get(2) == long_a);
  REQUIRE(row.get(3).has_value());
  CHECK(row.get(3)->empty());
  CHECK_FALSE(row.get(4).has_value());
  CHECK(*row.get(5) == long_b);
  CHECK(*row.get(6) == "longer value");
  CHECK_FALSE(row.get(7).has_value());
  CHECK_FALSE(row.get(8).has_value());
  CHECK(interner.size() == 2);
}

TEST_CASE("long values are stored once for every row that has them", "[bridge][store]") {
  Interner interner;
  const std::string chain(500, 'x');
  std::vector<std::shared_ptr<const PackedRow>> rows;
  for (int i = 0; i < 100; ++i) {
    rows.push_back(std::make_shared<const PackedRow>(
        std::vector<std::optional<std::string>>{std::to_string(i), chain}, &interner));
  }
  CHECK(interner.size() == 1);
  CHECK(rows[0]->get(1)->data() == rows[99]->get(1)->data());
  CHECK(rows[0]->bytes() < chain.size());
  // Values no row holds are dropped once the pool has grown enough to purge.
  rows.clear();
  for (int i = 0; i < 3000; ++i) {
    rows.push_back(std::make_shared<const PackedRow>(
        std::vector<std::optional<std::string>>{std::string(60, 'y') + std::to_string(i)}, &interner));
    if (rows.size() > 10) rows.erase(rows.begin());
  }
  CHECK(interner.size() < 2100);
  CHECK(*rows.back()->get(0) == std::string(60, 'y') + "2999");
}

TEST_CASE("time lookups match a full scan and skip what is out of range, whatever the disorder", "[bridge][store]") {
  EventStore store(StoreLimits{3600, 100000});
  std::mt19937 random(7);
  std::vector<std::pair<uint64_t, uint64_t>> all;  // seq, time
  for (uint64_t seq = 1; seq <= 2000; ++seq) {
    // Nearly increasing times with jitter of a few seconds, as hash waits and CPUs cause.
    const uint64_t time = kNow - 3000 + seq + (random() % 5);
    all.emplace_back(seq, time);
    store.insert("run", seq, time, row_of(seq), kNow);
  }
  for (int trial = 0; trial < 200; ++trial) {
    const uint64_t lo = kNow - 3000 + random() % 2100;
    const uint64_t hi = lo + random() % 300;
    std::vector<uint64_t> expected;
    for (const auto& [seq, time] : all)
      if (time >= lo && time <= hi) expected.push_back(seq);
    const uint64_t examined_before = store.counters().rows_examined;
    const auto got = seqs(store.select(Range{lo, hi}, Range{}, kNow));
    CHECK(got == expected);
    // The binary searches bound the scan to the range plus the jitter around its edges.
    CHECK(store.counters().rows_examined - examined_before <= expected.size() + 16);
  }
}

TEST_CASE("seq lookups are per daemon run, since seq restarts with vajrad", "[bridge][store]") {
  EventStore store(StoreLimits{3600, 100000});
  for (uint64_t seq = 1; seq <= 100; ++seq) store.insert("first", seq, kNow - 100, row_of(seq), kNow);
  for (uint64_t seq = 1; seq <= 50; ++seq) store.insert("second", seq, kNow - 50, row_of(1000 + seq), kNow);
  const auto got = seqs(store.select(Range{}, Range{95, 97}, kNow));
  CHECK(got == std::vector<uint64_t>{95, 96, 97});
  const auto both = seqs(store.select(Range{}, Range{48, 52}, kNow));
  CHECK(both == std::vector<uint64_t>{48, 49, 50, 51, 52, 1048, 1049, 1050});
  const uint64_t before = store.counters().rows_examined;
  CHECK(store.select(Range{}, Range{49, 49}, kNow).size() == 2);
  CHECK(store.counters().rows_examined - before == 2);
}

TEST_CASE("a seq already held for the same run is a duplicate and is dropped", "[bridge][store]") {
  EventStore store(StoreLimits{3600, 100000});
  store.insert("run", 1, kNow, row_of(1), kNow);
  store.insert("run", 2, kNow, row_of(2), kNow);
  store.insert("run", 2, kNow, row_of(2), kNow);
  store.insert("run", 1, kNow, row_of(1), kNow);
  store.insert("other", 1, kNow, row_of(11), kNow);
  CHECK(store.counters().rows == 3);
  CHECK(store.counters().duplicates_dropped == 2);
}

TEST_CASE("max_rows evicts the oldest rows and counts them", "[bridge][store]") {
  EventStore store(StoreLimits{3600, 10});
  for (uint64_t seq = 1; seq <= 25; ++seq) store.insert("run", seq, kNow, row_of(seq), kNow);
  const StoreCounters counters = store.counters();
  CHECK(counters.rows == 10);
  CHECK(counters.evicted_max_rows == 15);
  CHECK(seqs(store.select(Range{}, Range{}, kNow)) == std::vector<uint64_t>{16, 17, 18, 19, 20, 21, 22, 23, 24, 25});
  // seq lookups still work once the run's first rows are gone.
  CHECK(seqs(store.select(Range{}, Range{0, 17}, kNow)) == std::vector<uint64_t>{16, 17});
}

TEST_CASE("rows older than the retention window expire, even between inserts", "[bridge][store]") {
  EventStore store(StoreLimits{100, 1000});
  store.insert("run", 1, kNow - 150, row_of(1), kNow);  // arrived already too old
  store.insert("run", 2, kNow - 90, row_of(2), kNow);
  store.insert("run", 3, kNow - 10, row_of(3), kNow);
  CHECK(store.counters().evicted_expired == 1);
  CHECK(seqs(store.select(Range{}, Range{}, kNow)) == std::vector<uint64_t>{2, 3});
  CHECK(seqs(store.select(Range{}, Range{}, kNow + 20)) == std::vector<uint64_t>{3});
  const StoreCounters counters = store.counters();
  CHECK(counters.evicted_expired == 2);
  CHECK(counters.rows == 1);
}

TEST_CASE("empty ranges return nothing without scanning", "[bridge][store]") {
  EventStore store(StoreLimits{3600, 1000});
  for (uint64_t seq = 1; seq <= 100; ++seq) store.insert("run", seq, kNow - 100 + seq, row_of(seq), kNow);
  CHECK(store.select(Range{1, 0}, Range{}, kNow).empty());
  CHECK(store.select(Range{kNow + 1, UINT64_MAX}, Range{}, kNow).empty());
  CHECK(store.counters().rows_examined == 0);
}
