// The Subscribe filters that only file events can meet: watch categories and path prefixes.
#pragma once

#include <string>

#include "vajra/v1/vajra.pb.h"

namespace vajra {

// True when the filter names no categories or path prefixes, or when `event` is a file event that
// meets them.
bool file_filter_matches(const v1::SubscribeRequest& filter, const v1::Event& event);

// Why the filter's path_prefixes cannot be used ("path_prefixes[0]: ..."), or "".
std::string file_filter_problem(const v1::SubscribeRequest& filter);

}  // namespace vajra
