// Reads one process's context from procfs, in the same shape the exec probe reports it. Used to
// seed the process cache at start-up and to fill gaps for processes the cache never saw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "devno.h"

#include "boot_clock.h"
#include "process_cache.h"

namespace vajra {

// The cgroup v2 mount point ("/sys/fs/cgroup" or, on hybrid hosts, "/sys/fs/cgroup/unified"), or "".
std::string find_cgroup2_mount(const std::string& mountinfo_path = "/proc/self/mountinfo");


// Inode of vajrad's own mount namespace: paths of processes in it are host paths.
uint32_t own_mnt_namespace();

// Reads /proc/<pid>; nullopt when the process is gone or unreadable.
std::optional<CachedProcess> read_proc_process(const std::string& proc_root, uint32_t pid,
                                               const std::string& cgroup2_mount, const BootClock& clock);

}  // namespace vajra
