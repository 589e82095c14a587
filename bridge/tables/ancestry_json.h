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
// hit is checked field by field, since a process that execs keeps its pid and start time.
class AncestryJson {
 public:
  explicit AncestryJson(size_t capacity = 4096) : capacity_(capacity) {}

  // Nearest ancestor first. A field the daemon did not know is left out, never filled with a guess.
  std::string of(const v1::Process& process);

 private:
  struct Entry {
    v1::Ancestor ancestor;
    std::string json;
  };
  const std::string& ancestor_json(const v1::Ancestor& ancestor);

  size_t capacity_;  // entries kept; all are dropped when it is reached (a cheap bound, rarely hit)
  std::unordered_map<uint64_t, Entry> entries_;
};

}  // namespace vajra::bridge
