// The CPU scheduling policy of vajrad and of the osquery bridge (scheduler.policy), set once at start-up.
#pragma once

#include <string>

#include "config.h"

namespace vajra {

// Sets `policy` on every thread of this process; threads started later inherit it from their
// creator. Returns "" when set (or when the policy is kInherit), else what failed.
std::string apply_cpu_policy(CpuPolicy policy);

// The calling thread's policy as sched(7) names it: "batch", "other", "idle", "fifo", "rr",
// "deadline", or the number the kernel returned.
std::string current_cpu_policy();

}  // namespace vajra
