// The primitives of the config reader (see config_reader.h).
#include "config_reader.h"

#include <algorithm>
#include <cstdint>

namespace vajra::config_reader {

// yaml-cpp marks an empty value (`key:` with nothing after it, or a bare `-`) where the next token
// starts, often lines later, so those are traced back to the line that holds their `:` or `-`: the
// nearest text before the mark that is not blank or a comment.
int Document::line_of(const YAML::Node& node) const {
  const YAML::Mark mark = node.Mark();
  if (mark.pos < 0) return 1;
  if (!node.IsNull()) return mark.line + 1;

  // The byte offset, not line and column: at the end of the text yaml-cpp's column is off.
  size_t end = std::min(static_cast<size_t>(mark.pos), text_.size());
  while (true) {
    const size_t begin = end == 0 ? 0 : text_.rfind('\n', end - 1) + 1;  // npos + 1 wraps to 0
    const std::string_view before(text_.data() + begin, end - begin);
    const size_t first = before.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && before[first] != '#') {
      return static_cast<int>(std::count(text_.begin(), text_.begin() + begin, '\n')) + 1;
    }
    if (begin == 0) return 1;
    end = begin - 1;  // the newline that ends the line above
  }
}

void Document::fail(int line, const std::string& key, const std::string& what) const {
  std::string message = source_ + ":" + std::to_string(line) + ": ";
  if (!key.empty()) message += key + ": ";
  throw ConfigError(message + what);
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      return text.size() <= 60 ? "'" + text + "'" : "'" + text.substr(0, 57) + "...'";
    }
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "nothing";
  }
}

std::string join(const std::vector<std::string_view>& words) {
  std::string out;
  for (std::string_view word : words) {
    if (!out.empty()) out += ", ";
    out += word;
  }
  return out;
}

namespace {

// Edit distance counting a swap of neighbours as one edit (so "inof" is one from "info"), ignoring
// case, to suggest the key or name that was probably meant.
size_t distance(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

// The candidate within a third of its length (at least 1) of `word`, closest first; "" if none is.
std::string_view closest(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_distance = SIZE_MAX;
  for (std::string_view candidate : candidates) {
    const size_t d = distance(word, candidate);
    if (d <= std::max<size_t>(1, candidate.size() / 3) && d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

Section::Section(const Value& section, std::vector<std::string_view> known_keys) {
  if (section.node.IsNull()) return;
  if (!section.node.IsMap()) section.fail("expected a mapping of settings, got " + describe(section.node));

  const Document& doc = *section.doc;
  const std::string prefix = section.key.empty() ? "" : section.key + ".";
  for (const auto& pair : section.node) {
    if (!pair.first.IsScalar()) {
      doc.fail(doc.line_of(pair.first), section.key, "keys must be plain names, got " + describe(pair.first));
    }
    const std::string& name = pair.first.Scalar();
    const std::string key = prefix + name;
    if (std::find(known_keys.begin(), known_keys.end(), name) == known_keys.end()) {
      const std::string_view suggestion = closest(name, known_keys);
      doc.fail(doc.line_of(pair.first), key,
               suggestion.empty() ? "unknown key; known keys here: " + join(known_keys)
                                  : "unknown key; did you mean '" + std::string(suggestion) + "'?");
    }
    const auto [previous, inserted] = entries_.emplace(name, Entry{pair.first, Value{&doc, key, pair.second}});
    if (!inserted) {
      doc.fail(doc.line_of(pair.first), key,
               "given twice (first at line " + std::to_string(doc.line_of(previous->second.key_node)) + ")");
    }
  }
}

bool read_bool(const Value& v) {
  // YAML 1.2 core schema spellings only: "yes", "on" and friends are strings there.
  if (v.node.IsScalar()) {
    const std::string& text = v.node.Scalar();
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
  }
  v.fail("expected true or false, got " + describe(v.node));
}

std::string read_string(const Value& v) {
  if (!v.node.IsScalar()) v.fail("expected a string, got " + describe(v.node));
  return v.node.Scalar();
}

// Plain decimal only: yaml-cpp's own conversion would read "010" as octal, "0x10" as hex.
std::optional<uint64_t> read_decimal(const Value& v) {
  const std::string text = v.node.IsScalar() ? v.node.Scalar() : "";
  const bool negative = !text.empty() && text[0] == '-';
  const std::string_view digits = std::string_view(text).substr(negative ? 1 : 0);
  if (digits.empty() ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    v.fail("expected an integer, got " + describe(v.node));
  }
  if (negative) return std::nullopt;
  uint64_t value = 0;
  for (char c : digits) {
    const auto digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

uint64_t read_integer(const Value& v, uint64_t min, uint64_t max) {
  const std::optional<uint64_t> value = read_decimal(v);
  if (!value || *value < min || *value > max) {
    v.fail("must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
           v.node.Scalar());
  }
  return *value;
}

}  // namespace vajra::config_reader
