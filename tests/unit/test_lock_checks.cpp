// disable_lock_order_checks(), which vajrad and the bridge call at start-up.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <absl/synchronization/mutex.h>

#include "lock_checks.h"

namespace {

// Takes two locks in one order, then in the other, in a child process: the status it ends with.
// abseil's deadlock check, when on, kills the process at the second order.
int status_after_inverted_locks(bool disable_checks) {
  const pid_t child = fork();
  if (child == 0) {
    // abseil's report of the inversion, and the failure Catch2's signal handler reports for this copy
    // of the test process, are expected: only noise (a false FAILED) in the test's output.
    const int null_fd = open("/dev/null", O_WRONLY);
    if (null_fd >= 0) {
      dup2(null_fd, STDOUT_FILENO);
      dup2(null_fd, STDERR_FILENO);
    }
    if (disable_checks) vajra::disable_lock_order_checks();
    absl::Mutex first, second;
    first.Lock();
    second.Lock();
    second.Unlock();
    first.Unlock();
    second.Lock();
    first.Lock();
    first.Unlock();
    second.Unlock();
    _exit(0);
  }
  int status = -1;
  REQUIRE(waitpid(child, &status, 0) == child);
  return status;
}

}  // namespace

TEST_CASE("lock checks: Debian's abseil checks lock order unless told not to") {
  // The premise: without the call, the check is on and costs a graph update per lock.
  const int checked = status_after_inverted_locks(false);
  CHECK(WIFSIGNALED(checked));
  CHECK(WTERMSIG(checked) == SIGABRT);

  const int unchecked = status_after_inverted_locks(true);
  REQUIRE(WIFEXITED(unchecked));
  CHECK(WEXITSTATUS(unchecked) == 0);
}
