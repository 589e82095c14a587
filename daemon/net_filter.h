// The Subscribe filters that only network events can meet: ports, and remote addresses or CIDRs.
#pragma once

#include <string>

#include "vajra/v1/vajra.pb.h"

namespace vajra {

// True when `filter` sets no port or remote address, or when the event is a socket or DNS event whose
// local or remote port is listed and whose remote address (a DNS event's server) is in one of the
// listed addresses or CIDRs. Events of other kinds carry neither, so such a filter excludes them.
bool net_filter_matches(const v1::SubscribeRequest& filter, const v1::Event& event);

// Why the filter's remote_addresses or ports cannot be used ("remote_addresses[1]: ..."), or "".
std::string net_filter_problem(const v1::SubscribeRequest& filter);

}  // namespace vajra
