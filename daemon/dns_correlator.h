// Pairs DNS responses with the queries they answer: a query a process sent is remembered, and the
// response that process receives with the same id, name and type in the same network namespace gets
// the query's time and the latency. Bounded: queries that get no answer are forgotten after a while,
// or when too many are pending. Runs on the pipeline's decode thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <tuple>

#include "vajra/v1/vajra.pb.h"

namespace vajra {

class DnsCorrelator {
 public:
  DnsCorrelator(size_t capacity, uint64_t expiry_ns);

  // Remembers a sent query, or fills matched_query, query_time_ns and latency_ns of a received
  // response. Other DNS events (malformed, or a query received, a response sent) pass unchanged.
  void correlate(v1::Event& event);

  size_t pending() const { return pending_.size(); }

 private:
  // pid, network namespace, id, lower-cased name, query type.
  using Key = std::tuple<uint32_t, uint32_t, uint32_t, std::string, uint32_t>;
  struct Query {
    uint64_t ktime_ns;
    uint64_t time_ns;
  };
  void expire(uint64_t now_ktime_ns);

  const size_t capacity_;
  const uint64_t expiry_ns_;
  std::map<Key, Query> pending_;
  // (ktime, key) of every query remembered, oldest first; entries answered or replaced since are skipped.
  std::deque<std::pair<uint64_t, Key>> order_;
};

}  // namespace vajra
