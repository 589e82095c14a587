// Columns every event table has: when the event happened and where it sits in the daemon's stream
// (event_header_columns), and the process it is about (process_context_columns).
#pragma once

#include <vector>

#include "tables/event_family.h"

namespace vajra::bridge {

// time (hidden, additional: pushed down), time_ns, ntime, ktime, uptime, seq (additional: pushed
// down), daemon_instance, eid (hidden).
std::vector<EventColumn> event_header_columns();

// Ids, credentials, cgroup and container, namespaces, exe hash, command line, ancestry, notes.
std::vector<EventColumn> process_context_columns();

}  // namespace vajra::bridge
