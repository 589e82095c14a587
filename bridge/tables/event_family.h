// An event family's table, defined once: which daemon events become its rows and how each column
// is read from an event. Adding a family (file, socket, dns) is one more EventFamily.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "table.h"
#include "vajra/v1/vajra.pb.h"

namespace vajra::bridge {

using Value = std::optional<std::string>;  // nullopt is NULL

// What a row is made from: the event and the daemon run that published it (seq is per run).
struct EventSource {
  const v1::Event& event;
  const std::string& instance;
};

struct EventColumn {
  Column column;
  std::function<Value(const EventSource&)> value;
};

struct EventFamily {
  std::string name;  // "process" names bpf_process_events or vajra_process_events
  std::vector<v1::EventKind> kinds;
  std::vector<EventColumn> columns;  // event_header_columns() and process_context_columns() included
};

// Table name of a family under a naming: "bpf" -> bpf_<family>_events, "vajra" -> vajra_<family>_events.
std::string family_table_name(const EventFamily& family, const std::string& prefix);

// Every family the bridge serves, in registration order.
const std::vector<EventFamily>& event_families();

// Value helpers shared by the column definitions.
Value number(uint64_t value);
Value signed_number(int64_t value);
Value flag(bool value);

// A column read from the event alone.
template <typename Get>
EventColumn event_column(const char* name, ColumnType type, Get get) {
  return EventColumn{Column{name, type, kDefault},
                     [get](const EventSource& s) -> Value { return get(s.event); }};
}

// A column only rows of `kind` have; NULL on the others.
template <typename Get>
EventColumn kind_column(v1::EventKind kind, const char* name, ColumnType type, Get get) {
  return event_column(name, type, [kind, get](const v1::Event& e) -> Value {
    if (e.kind() != kind) return std::nullopt;
    return get(e);
  });
}

// Appends the columns every event table shares (process context, then the event header).
void append_shared_columns(EventFamily& family);

}  // namespace vajra::bridge
