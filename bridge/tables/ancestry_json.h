// The `ancestry` column's JSON, one ancestor at a time, remembered between events.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "vajra/v1/vajra.pb.h"

namespace vajra::bridge {

// Consecutive events mostly share their ancestors (every thread or child of one parent does), and
// writing each ancestor's argv as JSON again for every event was the bridge's largest cost per event.
// So each ancestor's text is kept by (pid, start time) and reused when the ancestor is unchanged: a
// hit is checked field by field, since a process that execs keeps its pid and start time. An ancestor
// with its argv and the same ancestor without it (beyond vajrad's argv depth) are two entries.
class AncestryJson {
 public:
  // Bounded by entries and by the bytes of their text (an ancestor's argv can be 64 KiB; the copy kept
  // to check a hit is no larger than its text): about 2 x max_bytes of memory at most.
  explicit AncestryJson(size_t max_entries = 4096, size_t max_bytes = 4u << 20)
      : max_entries_(max_entries), max_bytes_(max_bytes) {}

  // Nearest ancestor first. A field the daemon did not know is left out, never filled with a guess.
  std::string of(const v1::Process& process);

 private:
  struct Entry {
    v1::Ancestor ancestor;
    std::string json;
  };
  const std::string& ancestor_json(const v1::Ancestor& ancestor);

  // All entries are dropped when either bound would be passed: a cheap bound, rarely reached.
  size_t max_entries_;
  size_t max_bytes_;
  size_t bytes_ = 0;  // text held
  std::unordered_map<uint64_t, Entry> entries_;
};

}  // namespace vajra::bridge
