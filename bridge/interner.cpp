#include "interner.h"

#include <algorithm>

namespace vajra::bridge {

std::shared_ptr<const std::string> Interner::intern(std::string&& value) {
  if (const auto found = pool_.find(value); found != pool_.end()) return found->second;
  if (pool_.size() >= purge_at_) purge();
  auto pooled = std::make_shared<const std::string>(std::move(value));
  pool_.emplace(std::string_view(*pooled), pooled);
  return pooled;
}

void Interner::purge() {
  for (auto it = pool_.begin(); it != pool_.end();) {
    // Only the pool holds it. A reader thread may still be copying a row's pointer; then the
    // count is above one and the value stays.
    it = it->second.use_count() == 1 ? pool_.erase(it) : std::next(it);
  }
  purge_at_ = std::max<size_t>(1024, pool_.size() * 2);
}

}  // namespace vajra::bridge
