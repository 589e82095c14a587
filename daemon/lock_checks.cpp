#include "lock_checks.h"

#include <absl/synchronization/mutex.h>

namespace vajra {

void disable_lock_order_checks() { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); }

}  // namespace vajra
