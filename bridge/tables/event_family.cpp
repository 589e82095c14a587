#include "tables/event_family.h"

#include "tables/dns_table.h"
#include "tables/event_columns.h"
#include "tables/file_table.h"
#include "tables/process_table.h"
#include "tables/socket_table.h"

namespace vajra::bridge {

std::string family_table_name(const EventFamily& family, const std::string& prefix) {
  return prefix + "_" + family.name + "_events";
}

const std::vector<EventFamily>& event_families() {
  static const std::vector<EventFamily> families{process_family(), socket_family(), dns_family(),
                                                  file_family()};
  return families;
}

Value number(uint64_t value) { return std::to_string(value); }
Value signed_number(int64_t value) { return std::to_string(value); }
Value flag(bool value) { return std::string(value ? "1" : "0"); }

void append_shared_columns(EventFamily& family) {
  for (auto* shared : {&process_context_columns, &event_header_columns}) {
    for (EventColumn& column : (*shared)()) family.columns.push_back(std::move(column));
  }
}

}  // namespace vajra::bridge
