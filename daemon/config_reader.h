// Internal to the config reader: the primitives every section of the YAML config is read with, so that
// sections can live in files of their own. Every error says "<source>:<line>: <dotted.key>: <what>".
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config.h"

namespace vajra::config_reader {

// The config text and its name, to place errors in it.
class Document {
 public:
  Document(const std::string& text, const std::string& source)
      : text_(text), source_(source.empty() ? "<config text>" : source) {}

  // 1-based line of a node; an empty value is placed on the line of its key or `-`.
  int line_of(const YAML::Node& node) const;
  [[noreturn]] void fail(int line, const std::string& key, const std::string& what) const;
  const std::string& source() const { return source_; }

 private:
  const std::string& text_;
  std::string source_;
};

// A node with the dotted key that names it, e.g. "process.env_allow[2]".
struct Value {
  const Document* doc;
  std::string key;
  YAML::Node node;

  [[noreturn]] void fail(const std::string& what) const { doc->fail(doc->line_of(node), key, what); }
};

// How a node reads in a message: its text when it is a scalar, its kind otherwise.
std::string describe(const YAML::Node& node);
std::string join(const std::vector<std::string_view>& words);
// The candidate `word` was probably meant to be, or "" if none is close.
std::string_view closest(std::string_view word, const std::vector<std::string_view>& candidates);

// One mapping of the config, checked against the keys it may hold: a key that is not a plain name,
// unknown or given twice is an error. An empty section (`socket:` with every key commented out) is
// an empty mapping, not an error.
class Section {
 public:
  Section(const Value& section, std::vector<std::string_view> known_keys);

  // Sets `field` to `read_value(value)` when the key is present; otherwise the default stays.
  template <typename Field, typename Reader>
  void read(std::string_view name, Field& field, Reader&& read_value) const {
    if (const Value* value = find(name)) field = read_value(*value);
  }

  // Runs `read_section(value, field)` when the key is present, for sections that fill a struct.
  template <typename Field, typename SectionReader>
  void read_into(std::string_view name, Field& field, SectionReader&& read_section) const {
    if (const Value* value = find(name)) read_section(*value, field);
  }

 private:
  struct Entry {
    YAML::Node key_node;
    Value value;
  };
  const Value* find(std::string_view name) const {
    const auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second.value;
  }

  std::map<std::string, Entry, std::less<>> entries_;
};

bool read_bool(const Value& v);
std::string read_string(const Value& v);
// A plain decimal integer; nullopt when it is negative or beyond uint64_t (so outside every range).
std::optional<uint64_t> read_decimal(const Value& v);
uint64_t read_integer(const Value& v, uint64_t min, uint64_t max);

// A reader for integers in [min, max] that fit in uint32_t.
inline auto u32_between(uint64_t min, uint64_t max) {
  return [min, max](const Value& v) { return static_cast<uint32_t>(read_integer(v, min, max)); };
}

template <typename Element, typename ReadElement>
std::vector<Element> read_list(const Value& v, ReadElement&& read_element) {
  if (!v.node.IsSequence()) v.fail("expected a list (write [] for none), got " + describe(v.node));
  std::vector<Element> list;
  for (const YAML::Node& element : v.node) {
    list.push_back(read_element(Value{v.doc, v.key + "[" + std::to_string(list.size()) + "]", element}));
  }
  return list;
}

// Sections read in files of their own.
void read_files(const Value& v, FilesConfig& files);  // config_files.cpp

}  // namespace vajra::config_reader
