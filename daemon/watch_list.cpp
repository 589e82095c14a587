// Glob matching and the kernel filter plan (see watch_list.h).
#include "watch_list.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace vajra {
namespace {

constexpr size_t npos = std::string_view::npos;

struct Name {
  std::string_view text;
  size_t offset;  // in the absolute string it came from
};

// The '/'-separated names of an absolute string: none for "/".
std::vector<Name> split_names(std::string_view absolute) {
  std::vector<Name> names;
  if (absolute.size() <= 1) return names;
  for (size_t begin = 1; begin <= absolute.size();) {
    const size_t end = std::min(absolute.find('/', begin), absolute.size());
    names.push_back({absolute.substr(begin, end - begin), begin});
    begin = end + 1;
  }
  return names;
}

// Where the set opened by the '[' at p[open] closes, or npos. A ']' right after "[" or "[!" is a member.
size_t set_end(std::string_view p, size_t open) {
  size_t i = open + 1;
  if (i < p.size() && p[i] == '!') ++i;
  for (bool first = true; i < p.size(); first = false) {
    if (p[i] == ']' && !first) return i;
    i += (p[i] == '\\' && i + 1 < p.size()) ? 2 : 1;
  }
  return npos;
}

// Calls visit(low, high, offset in body) for each member or range of a set's body (between the
// brackets, any '!' included in it).
template <typename Visit>
void for_each_set_item(std::string_view body, Visit&& visit) {
  size_t i = !body.empty() && body[0] == '!' ? 1 : 0;
  auto read_char = [&body, &i]() {
    if (body[i] == '\\' && i + 1 < body.size()) ++i;
    return static_cast<unsigned char>(body[i++]);
  };
  while (i < body.size()) {
    const size_t offset = i;
    const unsigned char low = read_char();
    unsigned char high = low;
    if (i + 1 < body.size() && body[i] == '-') {
      ++i;
      high = read_char();
    }
    visit(low, high, offset);
  }
}

// Matches character `c` against the element of `p` at `i` (anything but '*'), moving `i` past it.
// A malformed pattern is read safely: an unterminated '[' and a trailing '\' stand for themselves.
bool match_element(std::string_view p, size_t& i, char c) {
  if (p[i] == '?') {
    ++i;
    return true;
  }
  if (p[i] == '[') {
    if (const size_t end = set_end(p, i); end != npos) {
      const std::string_view body = p.substr(i + 1, end - i - 1);
      const auto u = static_cast<unsigned char>(c);
      bool found = false;
      for_each_set_item(body, [&](unsigned char low, unsigned char high, size_t) {
        found = found || (low <= u && u <= high);
      });
      i = end + 1;
      return found != (body[0] == '!');
    }
  }
  if (p[i] == '\\' && i + 1 < p.size()) ++i;
  return p[i++] == c;
}

// One name against one pattern name. Two pointers, backtracking only to the last '*': O(|p| * |s|).
bool match_name(std::string_view p, std::string_view s) {
  size_t pi = 0, si = 0, star = npos, star_si = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = ++pi;
      star_si = si;
      continue;
    }
    if (size_t next = pi; pi < p.size() && match_element(p, next, s[si])) {
      pi = next;
      ++si;
      continue;
    }
    if (star == npos) return false;
    pi = star;
    si = ++star_si;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

// An absolute string's names, walked in place (matching runs for every file event and categories
// have many globs, so no vector of names is built): a name starts at `begin`, just after a '/', and
// there is one while `begin` is within the string. "/" has none.
bool has_name(std::string_view t, size_t begin) { return t.size() > 1 && begin <= t.size(); }
std::string_view name_at(std::string_view t, size_t begin) {
  return t.substr(begin, std::min(t.find('/', begin), t.size()) - begin);
}
size_t next_name(std::string_view t, size_t begin) { return begin + name_at(t, begin).size() + 1; }
bool is_globstar(std::string_view t, size_t begin) { return has_name(t, begin) && name_at(t, begin) == "**"; }

// The same algorithm one level up: `**` is the star, every other pattern name matches one name.
bool match_names(std::string_view p, std::string_view s) {
  size_t pi = 1, si = 1, star = npos, star_si = 0;
  while (has_name(s, si)) {
    if (is_globstar(p, pi)) {
      star = pi = next_name(p, pi);
      star_si = si;
      continue;
    }
    if (has_name(p, pi) && match_name(name_at(p, pi), name_at(s, si))) {
      pi = next_name(p, pi);
      si = next_name(s, si);
      continue;
    }
    if (star == npos) return false;
    pi = star;
    si = star_si = next_name(s, star_si);
  }
  while (is_globstar(p, pi)) pi = next_name(p, pi);
  return !has_name(p, pi);
}

bool has_wildcard(std::string_view name) {
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '\\') {
      ++i;
    } else if (name[i] == '*' || name[i] == '?' || name[i] == '[') {
      return true;
    }
  }
  return false;
}

std::string unescape(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '\\' && i + 1 < name.size()) ++i;
    out += name[i];
  }
  return out;
}

std::string child(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

std::string parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// The literal directory before a glob's first wildcard name; when the glob has none, the directory
// holding the one file it names, and that file's name.
struct LiteralPart {
  std::string dir = "/";
  std::optional<std::string> leaf;
};

LiteralPart literal_part(std::string_view glob) {
  const std::vector<Name> names = split_names(glob);
  LiteralPart part;
  for (size_t i = 0; i < names.size(); ++i) {
    if (has_wildcard(names[i].text)) return part;
    if (i + 1 == names.size()) {
      part.leaf = unescape(names[i].text);
    } else {
      part.dir = child(part.dir, unescape(names[i].text));
    }
  }
  return part;
}

std::string at(size_t offset) { return " at offset " + std::to_string(offset); }

// Why one name of a glob is invalid, or "".
std::string name_error(const Name& name) {
  const std::string_view n = name.text;
  if (n.empty()) return "empty name" + at(name.offset) + " (a doubled or trailing '/')";
  if (n == "." || n == "..") {
    return "'" + std::string(n) + "'" + at(name.offset) + ": paths are matched without . and ..";
  }
  if (n == "**") return "";
  for (size_t i = 0; i < n.size(); ++i) {
    const size_t offset = name.offset + i;
    if (n[i] == '\\') {
      if (i + 1 == n.size()) return "'\\'" + at(offset) + " escapes nothing";
      ++i;
    } else if (n[i] == '*' && i + 1 < n.size() && n[i + 1] == '*') {
      return "**" + at(offset) + " must be a whole name, as in /etc/**/x";
    } else if (n[i] == '[') {
      const size_t end = set_end(n, i);
      if (end == npos) return "unterminated [" + at(offset);
      std::string error;
      for_each_set_item(n.substr(i + 1, end - i - 1), [&](unsigned char low, unsigned char high, size_t item) {
        if (low > high && error.empty()) {
          error = "empty range " + std::string(1, static_cast<char>(low)) + "-" +
                  std::string(1, static_cast<char>(high)) + at(offset + 1 + item);
        }
      });
      if (!error.empty()) return error;
      i = end;
    }
  }
  return "";
}

}  // namespace

std::string glob_error(std::string_view glob) {
  if (glob.empty() || glob[0] != '/') return "not absolute: a glob starts with '/'";
  if (const size_t nul = glob.find('\0'); nul != npos) return "NUL byte" + at(nul);
  if (glob == "/") return "names only the root directory; /** is everything";
  for (const Name& name : split_names(glob)) {
    if (std::string error = name_error(name); !error.empty()) return error;
  }
  return "";
}

bool glob_match(std::string_view glob, std::string_view path) {
  if (glob.empty() || glob[0] != '/' || path.empty() || path[0] != '/') return false;
  return match_names(glob, path);
}

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t hash = VJ_FNV64_OFFSET;
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= VJ_FNV64_PRIME;
  }
  return hash;
}

std::optional<PathIdentity> stat_path(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return PathIdentity{kernel_dev(st.st_dev), static_cast<uint64_t>(st.st_ino), S_ISDIR(st.st_mode)};
}

FimPlan plan_kernel_filter(const FilesConfig& files, const StatFn& stat_fn) {
  using Inode = std::pair<uint32_t, uint64_t>;
  std::map<Inode, vj_fim_dir> dirs;
  std::map<std::tuple<uint32_t, uint64_t, uint64_t>, uint32_t> names;
  std::map<std::string, uint32_t> prefixes;
  std::set<std::string> unresolved;
  FimPlan plan;

  for (const WatchCategory& category : files.categories) {
    const uint32_t ops = category.operations;
    if (ops == 0) continue;
    plan.all_ops |= ops;
    for (const std::string& glob : category.include) {
      const LiteralPart part = literal_part(glob);
      prefixes[(part.leaf ? child(part.dir, *part.leaf) : part.dir).substr(0, VJ_FIM_PREFIX_MAX)] |= ops;

      // A missing directory cannot be keyed by inode: watch its nearest existing ancestor whole, so
      // that nothing written there before vajrad sees the directory appear is missed. Reads are
      // too frequent for that (a missing /etc/sudoers.d would pass every read in /etc): for them the
      // ancestor's missing child is watched by name, and the plan is redone when it appears.
      std::string dir = part.dir;
      std::optional<PathIdentity> id = stat_fn(dir);
      bool by_name = part.leaf.has_value();
      std::string missing_child;
      while (!id && dir != "/") {
        unresolved.insert(part.dir);
        by_name = false;
        missing_child = dir.substr(dir.rfind('/') + 1);
        dir = parent(dir);
        id = stat_fn(dir);
      }
      if (!id) continue;
      const uint32_t read_op = 1u << VJ_FILE_OPEN_READ;
      if (!missing_child.empty() && (ops & read_op)) {
        dirs[{id->dev, id->ino}].named_ops |= read_op;
        names[{id->dev, id->ino, fnv1a64(missing_child)}] |= read_op;
      }
      const uint32_t subtree_ops = missing_child.empty() ? ops : ops & ~read_op;
      vj_fim_dir& entry = dirs[{id->dev, id->ino}];
      if (by_name) {
        entry.named_ops |= ops;
        names[{id->dev, id->ino, fnv1a64(*part.leaf)}] |= ops;
      } else {
        entry.subtree_ops |= subtree_ops;
        // The directory itself by name under its parent: `mv w w2` or `rm -r w` run in the parent
        // name it relative to the parent, whose subtree is not watched.
        if (dir != "/") {
          if (const std::optional<PathIdentity> up = stat_fn(parent(dir))) {
            dirs[{up->dev, up->ino}].named_ops |= ops;
            names[{up->dev, up->ino, fnv1a64(dir.substr(dir.rfind('/') + 1))}] |= ops;
          }
        }
      }
      while (dir != "/") {
        dir = parent(dir);
        if (const std::optional<PathIdentity> ancestor = stat_fn(dir)) {
          dirs[{ancestor->dev, ancestor->ino}].ancestor_ops |= ops;
        }
      }
    }
  }

  for (const auto& [inode, value] : dirs) {
    plan.dirs.push_back({vj_fim_inode_key{inode.first, 0, inode.second}, value});
    plan.subtree_ops |= value.subtree_ops;
  }
  for (const auto& [key, ops] : names) {
    plan.names.push_back({vj_fim_name_key{std::get<0>(key), 0, std::get<1>(key), std::get<2>(key)}, ops});
  }
  for (const auto& [prefix, ops] : prefixes) plan.prefixes.push_back({prefix, ops});
  plan.unresolved.assign(unresolved.begin(), unresolved.end());
  return plan;
}

bool WatchList::Glob::may_match(std::string_view path) const {
  return dir.size() == 1 || (path.substr(0, dir.size()) == dir && (path.size() == dir.size() || path[dir.size()] == '/'));
}

WatchList::WatchList(const FilesConfig& files) : categories_(files.categories) {
  for (const WatchCategory& category : categories_) {
    Globs& globs = globs_.emplace_back();
    for (const std::string& glob : category.include) globs.include.push_back({glob, literal_part(glob).dir});
    for (const std::string& glob : category.exclude) globs.exclude.push_back({glob, literal_part(glob).dir});
  }
  for (const WatchCategory& category : categories_) {
    if (category.operations == 0) continue;  // not planned, as in plan_kernel_filter
    for (const std::string& glob : category.include) {
      const LiteralPart part = literal_part(glob);
      literal_dirs_.push_back(part.dir);
      if (part.leaf) literal_dirs_.push_back(child(part.dir, *part.leaf));
    }
  }
  std::sort(literal_dirs_.begin(), literal_dirs_.end());
  literal_dirs_.erase(std::unique(literal_dirs_.begin(), literal_dirs_.end()), literal_dirs_.end());
}

std::vector<size_t> WatchList::match(std::string_view path, std::string_view host_path, uint16_t op) const {
  std::vector<size_t> matched;
  if (op >= 32) return matched;
  auto in = [](const Globs& globs, std::string_view p) {
    auto matches = [p](const Glob& glob) { return glob.may_match(p) && glob_match(glob.text, p); };
    return !p.empty() && std::any_of(globs.include.begin(), globs.include.end(), matches) &&
           std::none_of(globs.exclude.begin(), globs.exclude.end(), matches);
  };
  for (size_t i = 0; i < categories_.size(); ++i) {
    const WatchCategory& category = categories_[i];
    if ((category.operations & (1u << op)) && (in(globs_[i], path) || in(globs_[i], host_path))) {
      matched.push_back(i);
    }
  }
  return matched;
}

bool WatchList::affects_plan(std::string_view path) const {
  if (path.empty()) return false;
  // Sorted, so every literal path that starts with `path` follows it.
  for (auto it = std::lower_bound(literal_dirs_.begin(), literal_dirs_.end(), path);
       it != literal_dirs_.end() && std::string_view(*it).substr(0, path.size()) == path; ++it) {
    if (it->size() == path.size() || path == "/" || (*it)[path.size()] == '/') return true;
  }
  return false;
}

}  // namespace vajra
