// bpf_socket_events: bind, listen, accept, connect, close and UDP flows, with osquery's
// bpf_socket_events and socket_events columns plus what only vajrad reports (status of non-blocking
// connects, byte counts at close, network namespace).
#pragma once

#include "tables/event_family.h"

namespace vajra::bridge {

EventFamily socket_family();

}  // namespace vajra::bridge
