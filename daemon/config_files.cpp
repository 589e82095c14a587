// The `files:` section of the config: file integrity monitoring's watch lists.
#include <algorithm>
#include <map>

#include "config_reader.h"
#include "vajra_wire.h"
#include "watch_list.h"

namespace vajra {
namespace {

using namespace config_reader;

// Indexed by enum vj_file_op: the names the config uses.
const std::vector<std::string_view> kOperationNames{
    "",     "create", "open_write", "modify", "truncate", "delete",      "rename",
    "link", "symlink", "mkdir",     "chmod",  "chown",    "setxattr", "removexattr", "open_read"};
static_assert(VJ_FILE_OPEN_READ == 14 && VJ_FILE_OP_MAX == 15, "kOperationNames follows enum vj_file_op");

const std::vector<std::string_view> kHashNames{"sha256", "sha1", "md5"};

constexpr size_t kMaxCategoryName = 64;

// A name that is one of `names`, or an error listing them.
std::string read_name_in(const Value& v, const std::vector<std::string_view>& names) {
  const std::string name = read_string(v);
  if (std::find(names.begin(), names.end(), name) != names.end()) return name;
  const std::string_view suggestion = closest(name, names);
  v.fail("expected one of " + join(names) + ", got " + describe(v.node) +
         (suggestion.empty() ? "" : " (did you mean '" + std::string(suggestion) + "'?)"));
}

uint32_t read_operations(const Value& v) {
  const std::vector<std::string_view> names(kOperationNames.begin() + 1, kOperationNames.end());
  uint32_t mask = 0;
  for (const std::string& name :
       read_list<std::string>(v, [&names](const Value& op) { return read_name_in(op, names); })) {
    mask |= 1u << (std::find(kOperationNames.begin(), kOperationNames.end(), name) - kOperationNames.begin());
  }
  return mask;
}

std::vector<std::string> read_hashes(const Value& v) {
  std::vector<std::string> seen;
  return read_list<std::string>(v, [&seen](const Value& hash) {
    std::string name = read_name_in(hash, kHashNames);
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) hash.fail("'" + name + "' is listed twice");
    seen.push_back(name);
    return name;
  });
}

std::string read_glob(const Value& v) {
  const std::string glob = read_string(v);
  if (const std::string error = glob_error(glob); !error.empty()) {
    v.fail(describe(v.node) + " is not a valid glob: " + error);
  }
  return glob;
}

std::vector<std::string> read_globs(const Value& v) { return read_list<std::string>(v, read_glob); }

// `key_line`: the line of the category's name, where a missing include is reported.
WatchCategory read_category(const Value& v, const std::string& name, int key_line) {
  WatchCategory category;
  category.name = name;
  category.operations = default_file_operations();
  const Section s(v, {"include", "exclude", "operations", "hashes", "hash_max_bytes"});
  s.read("include", category.include, [](const Value& list) {
    std::vector<std::string> globs = read_globs(list);
    if (globs.empty()) list.fail("must list at least one glob");
    return globs;
  });
  s.read("exclude", category.exclude, read_globs);
  s.read("operations", category.operations, read_operations);
  s.read("hashes", category.hashes, read_hashes);
  s.read("hash_max_bytes", category.hash_max_bytes,
         [](const Value& size) { return read_integer(size, 0, 1ull << 40); });
  if (category.include.empty()) v.doc->fail(key_line, v.key, "needs an include list of globs");
  return category;
}

bool valid_category_name(const std::string& name) {
  auto allowed = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  };
  return !name.empty() && name.size() <= kMaxCategoryName && std::all_of(name.begin(), name.end(), allowed);
}

// A mapping of category names to categories, kept in the order written (match() reports indices).
std::vector<WatchCategory> read_categories(const Value& v) {
  std::vector<WatchCategory> categories;
  if (v.node.IsNull()) return categories;
  if (!v.node.IsMap()) v.fail("expected a mapping of category names to their settings, got " + describe(v.node));
  const Document& doc = *v.doc;
  std::map<std::string, int> first_line;
  for (const auto& pair : v.node) {
    const int line = doc.line_of(pair.first);
    if (!pair.first.IsScalar()) doc.fail(line, v.key, "keys must be plain names, got " + describe(pair.first));
    const std::string& name = pair.first.Scalar();
    const std::string key = v.key + "." + name;
    if (!valid_category_name(name)) {
      doc.fail(line, key,
               "a category name is letters, digits, '_', '.' and '-', at most " +
                   std::to_string(kMaxCategoryName) + " of them");
    }
    if (const auto [previous, inserted] = first_line.emplace(name, line); !inserted) {
      doc.fail(line, key, "given twice (first at line " + std::to_string(previous->second) + ")");
    }
    categories.push_back(read_category(Value{&doc, key, pair.second}, name, line));
  }
  return categories;
}

}  // namespace

uint32_t default_file_operations() {
  uint32_t mask = 0;
  for (uint32_t op = VJ_FILE_CREATE; op <= VJ_FILE_REMOVEXATTR; ++op) mask |= 1u << op;
  return mask;
}

std::vector<WatchCategory> default_watch_categories() {
  const uint32_t ops = default_file_operations();
  return {
      {"etc", {"/etc/**"}, {"/etc/mtab", "/etc/ld.so.cache", "/etc/adjtime"}, ops, {"sha256"}},
      {"binaries",
       {"/usr/bin/**", "/usr/sbin/**", "/usr/local/bin/**", "/usr/local/sbin/**", "/usr/lib/systemd/system/**"},
       {},
       ops,
       {"sha256"}},
      {"ssh", {"/root/.ssh/**", "/home/*/.ssh/**"}, {}, ops, {"sha256"}},
      {"credentials",
       {"/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d/**", "/root/.ssh/id_*"},
       {},
       ops | (1u << VJ_FILE_OPEN_READ),
       {}},
  };
}

namespace config_reader {

void read_files(const Value& v, FilesConfig& files) {
  const Section s(v, {"enabled", "categories"});
  s.read("enabled", files.enabled, read_bool);
  s.read("categories", files.categories, read_categories);
}

}  // namespace config_reader
}  // namespace vajra
