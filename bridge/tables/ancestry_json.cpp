#include "tables/ancestry_json.h"

#include <algorithm>
#include <vector>

#include "cmdline.h"
#include "json_text.h"

namespace vajra::bridge {
namespace {

bool same(const v1::Ancestor& a, const v1::Ancestor& b) {
  return a.pid() == b.pid() && a.start_time_ns() == b.start_time_ns() && a.exe() == b.exe() &&
         a.argv_truncated() == b.argv_truncated() &&
         std::equal(a.argv().begin(), a.argv().end(), b.argv().begin(), b.argv().end());
}

std::string write(const v1::Ancestor& ancestor) {
  JsonText json;
  json.begin_object().key("pid").value(ancestor.pid());
  if (!ancestor.exe().empty()) json.key("path").value(ancestor.exe());
  if (!ancestor.argv().empty()) {
    const std::vector<std::string> argv(ancestor.argv().begin(), ancestor.argv().end());
    json.key("cmdline").value(join_cmdline(argv));
    json.key("argv").begin_array();
    for (const std::string& arg : argv) json.value(arg);
    json.end_array();
  }
  if (ancestor.argv_truncated()) json.key("argv_truncated").value(uint64_t{1});  // osquery's 0/1, only when set
  if (ancestor.start_time_ns() != 0) json.key("start_time_ns").value(ancestor.start_time_ns());
  return json.end_object().take();
}

}  // namespace

const std::string& AncestryJson::ancestor_json(const v1::Ancestor& ancestor) {
  // An ancestor comes with its argv near an event's process and without it farther up
  // (process.ancestry_argv_depth): both forms are kept, so that events at different depths below
  // it do not take turns replacing one with the other.
  const bool argv_left_out = ancestor.argv_truncated() && ancestor.argv().empty();
  const uint64_t key = (ancestor.start_time_ns() * 0x9e3779b97f4a7c15ull ^ ancestor.pid()) + argv_left_out;
  auto found = entries_.find(key);
  if (found != entries_.end() && same(found->second.ancestor, ancestor)) return found->second.json;
  std::string json = write(ancestor);
  if (found != entries_.end()) bytes_ -= found->second.json.size();  // replaced below
  if ((found == entries_.end() && entries_.size() >= max_entries_) || bytes_ + json.size() > max_bytes_) {
    entries_.clear();
    bytes_ = 0;
  }
  Entry& entry = entries_[key];
  entry.ancestor = ancestor;
  entry.json = std::move(json);
  bytes_ += entry.json.size();
  return entry.json;
}

std::string AncestryJson::of(const v1::Process& process) {
  std::string out = "[";
  for (const v1::Ancestor& ancestor : process.ancestry()) {
    if (out.size() > 1) out += ',';
    out += ancestor_json(ancestor);
  }
  out += ']';
  return out;
}

}  // namespace vajra::bridge
