// bpf_process_events: one row per exec, failed exec, fork and process exit.
#pragma once

#include "tables/event_family.h"

namespace vajra::bridge {

// Columns beyond the shared ones (see docs/osquery.md for the full list):
//   event     exec | exec_failed | fork | exit
//   syscall   exec (a successful exec: the tracepoint cannot tell execve from execveat),
//             execve | execveat (failed exec), fork (fork, vfork, clone: the tracepoint is the same),
//             exit
//   path      exec: the new executable; exec_failed: the path as the caller passed it;
//             fork/exit: the process's executable
//   exit_code exec: "0"; exec_failed: the syscall's return, -errno; exit: the exit status, NULL when
//             a signal ended it; fork: NULL
EventFamily process_family();

}  // namespace vajra::bridge
