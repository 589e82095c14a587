// Compact JSON for the row columns that hold it (ancestry, env, notes), written straight into a
// string: building them through nlohmann::json took 40% of the bridge's time per event.
// Strings from vajrad are valid UTF-8 (protobuf refuses anything else in a string field), so only
// quotes, backslashes and control characters need escaping.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vajra::bridge {

class JsonText {
 public:
  JsonText& begin_object() { return open('{'); }
  JsonText& end_object() { return close('}'); }
  JsonText& begin_array() { return open('['); }
  JsonText& end_array() { return close(']'); }
  JsonText& key(std::string_view name);  // inside an object, before its value
  JsonText& value(std::string_view text);
  JsonText& value(uint64_t number);

  std::string take() { return std::move(out_); }

 private:
  JsonText& open(char bracket);
  JsonText& close(char bracket);
  void separate();
  void quoted(std::string_view text);

  std::string out_;
  bool first_ = true;  // no comma before the next element
};

}  // namespace vajra::bridge
