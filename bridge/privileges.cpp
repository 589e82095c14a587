#include "privileges.h"

#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace vajra::bridge {
namespace {

[[noreturn]] void fail(const std::string& step) {
  throw PrivilegeError("dropping privileges: " + step + ": " + std::strerror(errno));
}

std::string status_field(const std::string& name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ":", 0) == 0) {
      std::istringstream value(line.substr(name.size() + 1));
      std::string first;
      value >> first;
      return first;
    }
  }
  return "";
}

int last_capability() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int last = CAP_LAST_CAP;
  in >> last;
  return last;
}

void clear_bounding_and_ambient() {
  for (int cap = 0; cap <= last_capability(); ++cap) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) fail("PR_CAPBSET_DROP " + std::to_string(cap));
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) fail("PR_CAP_AMBIENT_CLEAR_ALL");
}

void clear_capability_sets() {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capset, &header, data) != 0) fail("capset (clearing effective, permitted, inheritable)");
}

void check(bool holds, const std::string& what) {
  if (!holds) throw PrivilegeError("dropping privileges: check failed: " + what + " (" + capability_summary() + ")");
}

}  // namespace

Account lookup_account(const std::string& user) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  const int err = getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (err != 0) throw PrivilegeError("bridge.user '" + user + "': getpwnam: " + std::strerror(err));
  if (found == nullptr) throw PrivilegeError("bridge.user '" + user + "': no such user");
  return Account{user, entry.pw_uid, entry.pw_gid};
}

std::string capability_summary() {
  return "Uid " + status_field("Uid") + ", CapEff " + status_field("CapEff") + ", CapPrm " + status_field("CapPrm") +
         ", CapInh " + status_field("CapInh") + ", CapBnd " + status_field("CapBnd") + ", CapAmb " +
         status_field("CapAmb") + ", NoNewPrivs " + status_field("NoNewPrivs");
}

void drop_privileges(const std::optional<Account>& account) {
  check(status_field("Threads") == "1", "the process must still be single-threaded");
  const bool root = geteuid() == 0;
  if (root) clear_bounding_and_ambient();

  if (account) {
    if (!root) throw PrivilegeError("bridge.user '" + account->name + "': switching users needs root");
    if (initgroups(account->name.c_str(), account->gid) != 0) fail("initgroups " + account->name);
    if (setresgid(account->gid, account->gid, account->gid) != 0) fail("setresgid " + std::to_string(account->gid));
    if (setresuid(account->uid, account->uid, account->uid) != 0) fail("setresuid " + std::to_string(account->uid));
  } else if (root) {
    // Staying uid 0: make sure no exec or uid change can bring capabilities back.
    const unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                               SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED;
    if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0) fail("PR_SET_SECUREBITS");
  }
  clear_capability_sets();
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("PR_SET_NO_NEW_PRIVS");

  for (const char* set : {"CapEff", "CapPrm", "CapInh", "CapAmb"}) {
    check(status_field(set) == "0000000000000000", std::string(set) + " is empty");
  }
  if (root) check(status_field("CapBnd") == "0000000000000000", "CapBnd is empty");
  check(status_field("NoNewPrivs") == "1", "no_new_privs is set");
  if (account) {
    uid_t r = 0, e = 0, s = 0;
    getresuid(&r, &e, &s);
    check(r == account->uid && e == account->uid && s == account->uid, "every uid is " + std::to_string(account->uid));
    gid_t gr = 0, ge = 0, gs = 0;
    getresgid(&gr, &ge, &gs);
    check(gr == account->gid && ge == account->gid && gs == account->gid, "every gid is " + std::to_string(account->gid));
    if (account->uid != 0) check(setuid(0) != 0 && seteuid(0) != 0, "uid 0 cannot be regained");
  }
}

}  // namespace vajra::bridge
