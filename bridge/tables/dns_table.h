// bpf_dns_events: DNS queries and responses seen on port 53, parsed by vajrad, with the process that
// sent or received them and, for responses, the query they answer.
#pragma once

#include "tables/event_family.h"

namespace vajra::bridge {

EventFamily dns_family();

}  // namespace vajra::bridge
