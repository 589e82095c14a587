// One copy of each long value, shared by every row that holds it. Rows repeat long values a lot:
// every event of a process carries its command line, every child of a shell the same ancestry
// chain, every process in a container the same cgroup path. Measured on a busy host, ancestry alone
// was 80% of a row; shared, a row shrinks to its short values.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace vajra::bridge {

class Interner {
 public:
  // The pooled copy equal to `value`, added when new. Not thread-safe: one writer per interner.
  std::shared_ptr<const std::string> intern(std::string&& value);

  size_t size() const { return pool_.size(); }

 private:
  // Drops values no row holds any more; runs when the pool has doubled since the last purge, so
  // its cost is spread over the insertions that grew it.
  void purge();

  // Keys view the pooled strings, which live as long as their entry.
  std::unordered_map<std::string_view, std::shared_ptr<const std::string>> pool_;
  size_t purge_at_ = 1024;
};

}  // namespace vajra::bridge
