// bpf_file_events: operations on watched files, named like osquery's file_events (target_path,
// action, inode, mode, size, md5/sha1) and process_file_events (dest_path, owner ids), with `path`
// the process's executable as in the other bpf_* tables.
#pragma once

#include "tables/event_family.h"

namespace vajra::bridge {

EventFamily file_family();

}  // namespace vajra::bridge
