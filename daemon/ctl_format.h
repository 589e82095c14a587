// What vajractl prints, and the names it gives kinds on its command line and in its output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/message.h>

#include "vajra/v1/vajra.pb.h"

namespace vajra::ctl {

// A kind's short name, from its proto name: EVENT_KIND_EXEC_FAILED -> "exec_failed". Kinds added
// to the proto are named without touching this code.
std::string kind_name(v1::EventKind kind);

// The kinds a --kind value selects: one kind by its short name, or a group such as "process".
// Empty when the name means nothing. Loss events cannot be selected: they are always delivered.
std::vector<v1::EventKind> kinds_named(std::string_view name);
// Every name kinds_named() accepts, single kinds first, for help and error messages.
std::vector<std::string> kind_names();

// ISO-8601 UTC with milliseconds, e.g. "2024-05-01T12:34:56.789Z".
std::string format_time(uint64_t unix_ns);

// Appends one line (without its newline) describing the event: time, kind, pid, ppid, uid, exe,
// what matters for the kind, the container (runtime:short id) and the cmdline. Strings the traced
// process controls are quoted and escaped, so that one event can never print as two lines.
void append_event_text(const v1::Event& event, std::string& line);

// One-line JSON with the proto's field names. Every field of a message that is present is printed,
// zeros and empty lists included, so that consumers need not know proto3's defaults; 64-bit integers
// are strings, as the proto3 JSON mapping has them. Throws std::runtime_error if conversion fails.
std::string to_json(const google::protobuf::Message& message);

// The status report in readable sections, ending in a newline; `now_ns` (wall clock) gives uptimes.
std::string format_status_text(const v1::StatusResponse& status, uint64_t now_ns);

}  // namespace vajra::ctl
