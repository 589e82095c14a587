// The file watch lists: exact glob matching in vajrad, and the superset the kernel filters with.
//
// Globs are absolute paths. Within one name, `*` matches any run of characters, `?` one character,
// `[abc]`, `[a-z]` and `[!abc]` one character of (or not of) a set, and `\` escapes the next character;
// none of them matches `/`. A whole-name `**` matches zero or more names, so `/etc/**` matches `/etc`
// itself and everything below it. Characters are bytes: `?` is one byte of a UTF-8 name.
//
// The kernel cannot run globs. From each include glob it gets the literal part before the first
// wildcard, as inodes (a directory whose whole subtree is wanted, or a directory plus the hash of one
// child's name when the glob has no wildcard at all) and as a string prefix for absolute names. That
// is a superset of what the globs match: vajrad applies the globs to everything the kernel passes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "devno.h"
#include "vajra_wire.h"

namespace vajra {

// "" when `glob` is a valid absolute glob, otherwise why not, e.g. "unterminated [ at offset 5".
std::string glob_error(std::string_view glob);
// Whether a normalised absolute path matches a valid glob.
bool glob_match(std::string_view glob, std::string_view path);

// FNV-1a 64 of a name, as the kernel computes it for struct vj_fim_name_key.
uint64_t fnv1a64(std::string_view bytes);

// Contents of the kernel filter maps (see vajra_wire.h). Ops are masks of 1 << vj_file_op.
struct FimDirEntry {
  vj_fim_inode_key key;
  vj_fim_dir value;
};
struct FimNameEntry {
  vj_fim_name_key key;
  uint32_t ops;
};
struct FimPrefixEntry {
  std::string prefix;  // at most VJ_FIM_PREFIX_MAX bytes: longer literal parts are cut (still a superset)
  uint32_t ops;
};

struct FimPlan {
  std::vector<FimDirEntry> dirs;       // one entry per inode, ops of every glob merged
  std::vector<FimNameEntry> names;
  std::vector<FimPrefixEntry> prefixes;
  // Literal directories that did not exist when planned; their nearest existing ancestor is watched
  // as a whole subtree instead, and the plan is redone when one of them appears.
  std::vector<std::string> unresolved;
  uint32_t all_ops = 0;  // union over categories: the kernel skips work for operations nobody wants
  uint32_t subtree_ops = 0;  // union of dirs' subtree_ops: other ops skip the kernel's ancestor walk
};

struct PathIdentity {
  uint32_t dev;  // kernel encoding
  uint64_t ino;
  bool is_dir;
};
// Stats a path (following symlinks, as a watched directory behind a symlink is watched at its target).
using StatFn = std::function<std::optional<PathIdentity>(const std::string& path)>;
std::optional<PathIdentity> stat_path(const std::string& path);

// Plans the kernel maps for a config's categories. stat_fn is injectable for tests.
FimPlan plan_kernel_filter(const FilesConfig& files, const StatFn& stat_fn = stat_path);

class WatchList {
 public:
  explicit WatchList(const FilesConfig& files);

  const std::vector<WatchCategory>& categories() const { return categories_; }

  // Indices of the categories that want `op` and whose globs match `path` or `host_path` (either may
  // be empty): an include glob matches and no exclude glob of the same category does.
  std::vector<size_t> match(std::string_view path, std::string_view host_path, uint16_t op) const;

  // Whether a create, mkdir, rename, link, symlink or delete at `path` can change the kernel plan:
  // `path` is a literal directory of some glob (or the file a glob without wildcards names), or one of
  // their ancestors.
  bool affects_plan(std::string_view path) const;

  // The literal directories of the globs (and the files named by literal globs): the roots of the
  // watched trees.
  const std::vector<std::string>& literal_paths() const { return literal_dirs_; }

 private:
  // A glob and the literal directory its matches all lie in: most globs are ruled out for a path by
  // comparing that prefix, before the glob itself is run.
  struct Glob {
    std::string text;
    std::string dir;
    bool may_match(std::string_view path) const;
  };
  struct Globs {
    std::vector<Glob> include, exclude;
  };

  std::vector<WatchCategory> categories_;
  std::vector<Globs> globs_;  // per category
  std::vector<std::string> literal_dirs_;  // and the files named by literal globs; sorted, unique
};

}  // namespace vajra
