// Giving up root for good once the bridge has done what needs it (registering over the manager
// socket, binding its own socket in osquery's directory, preparing its state directory).
#pragma once

#include <sys/types.h>

#include <optional>
#include <stdexcept>
#include <string>

namespace vajra::bridge {

class PrivilegeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Account {
  std::string name;
  uid_t uid;
  gid_t gid;  // primary group
};

// Throws PrivilegeError when the user does not exist.
Account lookup_account(const std::string& user);

// Must run while the process has a single thread: capability sets, the bounding set and
// no_new_privs are per thread. Throws PrivilegeError (naming the step) on any failure, and when
// the result does not hold: uid/gid not the target's, setuid(0) succeeding, any capability left.
//
// With an account: supplementary groups become the account's, then gid, then uid (real, effective
// and saved); the bounding and ambient sets are emptied before, the remaining sets after.
// Without (bridge.user empty): the uid stays, every capability goes. For uid 0 that still leaves
// ownership of root's files, so it is meant for development only.
void drop_privileges(const std::optional<Account>& account);

// "CapEff" etc. from /proc/self/status, for logs and checks.
std::string capability_summary();

}  // namespace vajra::bridge
