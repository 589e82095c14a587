#include "scheduling.h"

#include <dirent.h>
#include <sched.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace vajra {

std::string apply_cpu_policy(CpuPolicy policy) {
  if (policy == CpuPolicy::kInherit) return "";
  // sched_setscheduler() sets one thread. Every thread that exists is set, not only this one, so
  // that none started before this call (a library's, say) keeps the old policy.
  DIR* tasks = opendir("/proc/self/task");
  if (tasks == nullptr) return std::string("cannot list /proc/self/task: ") + strerror(errno);
  std::string error;
  const sched_param param{};  // SCHED_BATCH takes priority 0; the nice value is kept
  while (const dirent* entry = readdir(tasks)) {
    char* end = nullptr;
    const long tid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;  // "." and ".."
    // A thread that exited since the listing is gone (ESRCH), not a failure.
    if (sched_setscheduler(static_cast<pid_t>(tid), SCHED_BATCH, &param) != 0 && errno != ESRCH && error.empty())
      error = "sched_setscheduler(SCHED_BATCH) on thread " + std::to_string(tid) + ": " + strerror(errno);
  }
  closedir(tasks);
  return error;
}

std::string current_cpu_policy() {
  const int policy = sched_getscheduler(0);
  switch (policy) {
    case SCHED_OTHER: return "other";
    case SCHED_BATCH: return "batch";
    case SCHED_IDLE: return "idle";
    case SCHED_FIFO: return "fifo";
    case SCHED_RR: return "rr";
#ifdef SCHED_DEADLINE
    case SCHED_DEADLINE: return "deadline";
#endif
    default: return std::to_string(policy);
  }
}

}  // namespace vajra
