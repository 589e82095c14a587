#include "tables/event_family.h"

#include "tables/process_table.h"

namespace vajra::bridge {

std::string family_table_name(const EventFamily& family, const std::string& prefix) {
  return prefix + "_" + family.name + "_events";
}

const std::vector<EventFamily>& event_families() {
  static const std::vector<EventFamily> families{process_family()};
  return families;
}

Value number(uint64_t value) { return std::to_string(value); }
Value signed_number(int64_t value) { return std::to_string(value); }
Value flag(bool value) { return std::string(value ? "1" : "0"); }

}  // namespace vajra::bridge
