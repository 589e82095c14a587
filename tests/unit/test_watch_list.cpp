// The file watch lists: glob syntax and matching, the kernel filter plan, and category matching.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>

#include "watch_list.h"

using namespace vajra;

namespace {

uint32_t bit(uint32_t op) { return 1u << op; }

// A file system of directories only, for plan_kernel_filter.
struct FakeFs {
  std::map<std::string, PathIdentity> entries{
      {"/", {1, 2, true}},        {"/etc", {1, 10, true}},     {"/etc/ssh", {1, 11, true}},
      {"/home", {1, 20, true}},   {"/usr", {2, 30, true}},     {"/usr/bin", {2, 31, true}},
      {"/etc/passwd", {1, 12, false}}};
  StatFn fn() const {
    return [this](const std::string& path) -> std::optional<PathIdentity> {
      const auto it = entries.find(path);
      if (it == entries.end()) return std::nullopt;
      return it->second;
    };
  }
};

FilesConfig config_of(std::vector<WatchCategory> categories) {
  FilesConfig files;
  files.categories = std::move(categories);
  return files;
}

WatchCategory category(std::vector<std::string> include, uint32_t ops, std::vector<std::string> exclude = {}) {
  WatchCategory c;
  c.name = "c";
  c.include = std::move(include);
  c.exclude = std::move(exclude);
  c.operations = ops;
  return c;
}

// The dir entry for an inode, or all zero masks when there is none.
vj_fim_dir dir_of(const FimPlan& plan, uint32_t dev, uint64_t ino) {
  for (const FimDirEntry& entry : plan.dirs) {
    if (entry.key.dev == dev && entry.key.ino == ino) return entry.value;
  }
  return vj_fim_dir{};
}

uint32_t prefix_ops(const FimPlan& plan, const std::string& prefix) {
  for (const FimPrefixEntry& entry : plan.prefixes) {
    if (entry.prefix == prefix) return entry.ops;
  }
  return 0;
}

template <typename F>
double seconds_of(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("glob: syntax errors name the offset", "[watch_list]") {
  for (const char* valid : {"/etc/**", "/a/b", "/[!a-c]x", "/\\*", "/**", "/a/**/b", "/[]]", "/[!]]", "/[a-]",
                            "/*", "/a/**/**", "/\\[x]", "/[\\]]"}) {
    INFO(valid);
    CHECK(glob_error(valid).empty());
  }
  CHECK(glob_error("") == "not absolute: a glob starts with '/'");
  CHECK(glob_error("etc/*") == "not absolute: a glob starts with '/'");
  CHECK(glob_error("/") == "names only the root directory; /** is everything");
  CHECK(glob_error("/etc/[a") == "unterminated [ at offset 5");
  CHECK(glob_error("/[]") == "unterminated [ at offset 1");
  CHECK(glob_error("/a/[a/b]") == "unterminated [ at offset 3");
  CHECK(glob_error("/a**") == "** at offset 2 must be a whole name, as in /etc/**/x");
  CHECK(glob_error("/etc/**a") == "** at offset 5 must be a whole name, as in /etc/**/x");
  CHECK(glob_error("/x/***") == "** at offset 3 must be a whole name, as in /etc/**/x");
  CHECK(glob_error("/a\\") == "'\\' at offset 2 escapes nothing");
  CHECK(glob_error("/a//b") == "empty name at offset 3 (a doubled or trailing '/')");
  CHECK(glob_error("/etc/") == "empty name at offset 5 (a doubled or trailing '/')");
  CHECK(glob_error("/a/../b") == "'..' at offset 3: paths are matched without . and ..");
  CHECK(glob_error("/./b") == "'.' at offset 1: paths are matched without . and ..");
  CHECK(glob_error("/x/[az-a]") == "empty range z-a at offset 5");
  CHECK(glob_error(std::string_view("/a\0b", 4)) == "NUL byte at offset 2");
}

TEST_CASE("glob: names, wildcards, sets and escapes", "[watch_list]") {
  CHECK(glob_match("/etc/passwd", "/etc/passwd"));
  CHECK_FALSE(glob_match("/etc/passwd", "/etc/passw"));
  CHECK_FALSE(glob_match("/etc/passw", "/etc/passwd"));
  CHECK(glob_match("/etc/*", "/etc/passwd"));
  CHECK(glob_match("/etc/*", "/etc/.hidden"));  // unlike the shell, * matches a leading dot
  CHECK_FALSE(glob_match("/etc/*", "/etc"));
  CHECK_FALSE(glob_match("/etc/*", "/etc/ssh/sshd_config"));
  CHECK(glob_match("/etc/*.conf", "/etc/a.conf"));
  CHECK(glob_match("/etc/*.conf", "/etc/.conf"));
  CHECK_FALSE(glob_match("/etc/*.conf", "/etc/a.conf.bak"));
  CHECK(glob_match("/etc/passw?", "/etc/passwd"));
  CHECK_FALSE(glob_match("/etc/?", "/etc/ab"));
  CHECK_FALSE(glob_match("/a?b", "/a/b"));
  CHECK_FALSE(glob_match("/a*", "/a/b"));

  CHECK(glob_match("/dev/tty[0-9]", "/dev/tty5"));
  CHECK_FALSE(glob_match("/dev/tty[0-9]", "/dev/ttyS"));
  CHECK(glob_match("/x/[!a-c]", "/x/d"));
  CHECK_FALSE(glob_match("/x/[!a-c]", "/x/b"));
  CHECK_FALSE(glob_match("/x/[!a-c]", "/x/a"));
  CHECK(glob_match("/x/[abc]", "/x/c"));
  CHECK(glob_match("/x/[]]", "/x/]"));
  CHECK(glob_match("/x/[!]]", "/x/a"));
  CHECK_FALSE(glob_match("/x/[!]]", "/x/]"));
  CHECK(glob_match("/x/[a-]", "/x/-"));
  CHECK(glob_match("/x/[\\]]", "/x/]"));
  CHECK(glob_match("/x/[\\!a]", "/x/!"));

  CHECK(glob_match("/etc/\\*", "/etc/*"));
  CHECK_FALSE(glob_match("/etc/\\*", "/etc/x"));
  CHECK(glob_match("/a/\\?", "/a/?"));
  CHECK_FALSE(glob_match("/a/\\?", "/a/b"));
  CHECK(glob_match("/a/\\[x]", "/a/[x]"));
  CHECK(glob_match("/a/\\*\\*", "/a/**"));
  CHECK_FALSE(glob_match("/a/\\*\\*", "/a/b/c"));

  CHECK_FALSE(glob_match("/etc/*", "etc/passwd"));
  CHECK_FALSE(glob_match("etc/*", "/etc/passwd"));
  CHECK_FALSE(glob_match("/etc/*", ""));
}

TEST_CASE("glob: ** is zero or more whole names", "[watch_list]") {
  CHECK(glob_match("/etc/**", "/etc"));
  CHECK(glob_match("/etc/**", "/etc/a"));
  CHECK(glob_match("/etc/**", "/etc/a/b/c"));
  CHECK_FALSE(glob_match("/etc/**", "/etcx"));
  CHECK_FALSE(glob_match("/etc/**", "/etcx/a"));
  CHECK_FALSE(glob_match("/etc/**", "/"));
  CHECK(glob_match("/**", "/"));
  CHECK(glob_match("/**", "/a/b"));
  CHECK(glob_match("/a/**/b", "/a/b"));
  CHECK(glob_match("/a/**/b", "/a/x/b"));
  CHECK(glob_match("/a/**/b", "/a/x/y/b"));
  CHECK_FALSE(glob_match("/a/**/b", "/a/x/c"));
  CHECK_FALSE(glob_match("/a/**/b", "/a/b/c"));
  CHECK(glob_match("/a/**/**/b", "/a/b"));
  CHECK(glob_match("/**/b", "/b"));
  CHECK(glob_match("/**/b", "/x/y/b"));
  CHECK(glob_match("/home/*/.ssh/**", "/home/alice/.ssh/authorized_keys"));
  CHECK(glob_match("/home/*/.ssh/**", "/home/alice/.ssh"));
  CHECK_FALSE(glob_match("/home/*/.ssh/**", "/home/.ssh"));
  CHECK_FALSE(glob_match("/home/*/.ssh/**", "/home/a/b/.ssh/x"));
  CHECK(glob_match("/a/**/b*/c", "/a/x/bee/c"));
}

TEST_CASE("glob: 255-byte names", "[watch_list]") {
  const std::string name(255, 'x');
  CHECK(glob_error("/d/" + name).empty());
  CHECK(glob_match("/d/" + name, "/d/" + name));
  CHECK(glob_match("/d/*", "/d/" + name));
  CHECK(glob_match("/d/" + name.substr(0, 254) + "?", "/d/" + name));
  CHECK(glob_match("/d/x*x", "/d/" + name));
  CHECK_FALSE(glob_match("/d/" + name, "/d/" + name.substr(1)));
  CHECK(glob_match("/d/**", "/d/" + name + "/" + name));
}

TEST_CASE("glob: pathological patterns take linear-ish time", "[watch_list]") {
  const std::string long_a = "/" + std::string(100000, 'a');
  std::string stars = "/";
  for (int i = 0; i < 50; ++i) stars += "a*";
  std::string deep;
  for (int i = 0; i < 2000; ++i) deep += "/a";
  std::string doubles;
  for (int i = 0; i < 30; ++i) doubles += "/**/a";
  const double elapsed = seconds_of([&] {
    CHECK_FALSE(glob_match("/a*a*a*a*a*a*b", long_a));
    CHECK_FALSE(glob_match(stars + "b", long_a));
    CHECK(glob_match(stars, long_a));
    CHECK_FALSE(glob_match(doubles + "/b", deep));
    CHECK(glob_match(doubles, deep));
  });
  CHECK(elapsed < 1.0);
}

TEST_CASE("fnv1a64 and device numbers match the kernel's", "[watch_list]") {
  CHECK(fnv1a64("") == 0xcbf29ce484222325ull);
  CHECK(fnv1a64("a") == 0xaf63dc4c8601ec8cull);
  CHECK(fnv1a64("foobar") == 0x85944171f73967e8ull);
  CHECK(kernel_dev(makedev(8, 1)) == ((8u << 20) | 1u));
  CHECK(kernel_dev(makedev(259, 0x12345)) == ((259u << 20) | 0x12345u));
  CHECK(user_dev(kernel_dev(makedev(259, 0x12345))) == makedev(259, 0x12345));
}

TEST_CASE("stat_path follows the path to its inode", "[watch_list]") {
  const std::optional<PathIdentity> root = stat_path("/");
  REQUIRE(root);
  CHECK(root->is_dir);
  CHECK_FALSE(stat_path("/vajra-no-such-path/x"));

  char name[] = "/tmp/vajra-watch-test-XXXXXX";
  const int fd = mkstemp(name);
  REQUIRE(fd >= 0);
  struct stat st {};
  REQUIRE(fstat(fd, &st) == 0);
  const std::optional<PathIdentity> file = stat_path(name);
  close(fd);
  unlink(name);
  REQUIRE(file);
  CHECK_FALSE(file->is_dir);
  CHECK(file->ino == st.st_ino);
  CHECK(file->dev == kernel_dev(st.st_dev));
}

TEST_CASE("plan: a glob with wildcards watches its literal directory's subtree", "[watch_list]") {
  const FakeFs fs;
  const uint32_t ops = bit(VJ_FILE_MODIFY) | bit(VJ_FILE_CREATE);
  const FimPlan plan = plan_kernel_filter(config_of({category({"/etc/ssh/**"}, ops)}), fs.fn());
  CHECK(plan.all_ops == ops);
  // The watched directory is also named under its parent, for `mv ssh x` run in /etc.
  REQUIRE(plan.names.size() == 1);
  CHECK(plan.names[0].key.dir_ino == 10);
  CHECK(plan.names[0].key.name_hash == fnv1a64("ssh"));
  CHECK(plan.names[0].ops == ops);
  CHECK(dir_of(plan, 1, 10).named_ops == ops);
  CHECK(plan.unresolved.empty());
  REQUIRE(plan.dirs.size() == 3);
  CHECK(dir_of(plan, 1, 11).subtree_ops == ops);
  CHECK(dir_of(plan, 1, 11).ancestor_ops == 0);  // not the watched directory itself
  CHECK(dir_of(plan, 1, 10).ancestor_ops == ops);
  CHECK(dir_of(plan, 1, 10).subtree_ops == 0);
  CHECK(dir_of(plan, 1, 2).ancestor_ops == ops);
  REQUIRE(plan.prefixes.size() == 1);
  CHECK(prefix_ops(plan, "/etc/ssh") == ops);
  for (const FimDirEntry& entry : plan.dirs) {
    CHECK(entry.key.pad == 0);
    CHECK(entry.value.pad == 0);
  }

  // A wildcard in the middle: the part before it; in the first name: the root.
  const FimPlan home = plan_kernel_filter(config_of({category({"/home/*/.ssh/**"}, ops)}), fs.fn());
  CHECK(dir_of(home, 1, 20).subtree_ops == ops);
  CHECK(prefix_ops(home, "/home") == ops);
  const FimPlan all = plan_kernel_filter(config_of({category({"/**"}, ops)}), fs.fn());
  REQUIRE(all.dirs.size() == 1);
  CHECK(dir_of(all, 1, 2).subtree_ops == ops);
  CHECK(dir_of(all, 1, 2).ancestor_ops == 0);
  CHECK(prefix_ops(all, "/") == ops);

  // Another file system below: keys carry each inode's own device.
  const FimPlan usr = plan_kernel_filter(config_of({category({"/usr/bin/*"}, ops)}), fs.fn());
  CHECK(dir_of(usr, 2, 31).subtree_ops == ops);
  CHECK(dir_of(usr, 2, 30).ancestor_ops == ops);
  CHECK(dir_of(usr, 1, 2).ancestor_ops == ops);
}

TEST_CASE("plan: a glob without wildcards watches one name in its directory", "[watch_list]") {
  const FakeFs fs;
  const uint32_t ops = bit(VJ_FILE_OPEN_READ);
  const FimPlan plan = plan_kernel_filter(config_of({category({"/etc/shadow"}, ops)}), fs.fn());
  REQUIRE(plan.names.size() == 1);
  CHECK(plan.names[0].key.dev == 1);
  CHECK(plan.names[0].key.pad == 0);
  CHECK(plan.names[0].key.dir_ino == 10);
  CHECK(plan.names[0].key.name_hash == fnv1a64("shadow"));
  CHECK(plan.names[0].ops == ops);
  CHECK(dir_of(plan, 1, 10).named_ops == ops);
  CHECK(dir_of(plan, 1, 10).subtree_ops == 0);
  CHECK(dir_of(plan, 1, 10).ancestor_ops == 0);
  CHECK(dir_of(plan, 1, 2).ancestor_ops == ops);
  CHECK(prefix_ops(plan, "/etc/shadow") == ops);
  CHECK(plan.prefixes.size() == 1);
  CHECK(plan.unresolved.empty());
  CHECK(plan.subtree_ops == 0);

  // Escapes are dropped from the literal name and prefix.
  const FimPlan escaped = plan_kernel_filter(config_of({category({"/etc/a\\*b"}, ops)}), fs.fn());
  REQUIRE(escaped.names.size() == 1);
  CHECK(escaped.names[0].key.name_hash == fnv1a64("a*b"));
  CHECK(prefix_ops(escaped, "/etc/a*b") == ops);
}

TEST_CASE("plan: a missing directory is covered by its nearest existing ancestor", "[watch_list]") {
  const FakeFs fs;
  const uint32_t ops = bit(VJ_FILE_CREATE);
  const FimPlan plan =
      plan_kernel_filter(config_of({category({"/etc/app/conf.d/**", "/etc/ssh/keys/id", "/opt/x/*"}, ops)}), fs.fn());
  CHECK(plan.unresolved == std::vector<std::string>{"/etc/app/conf.d", "/etc/ssh/keys", "/opt/x"});
  CHECK(plan.names.size() == 2);  // the stand-ins /etc and /etc/ssh by name under their parents
  CHECK(dir_of(plan, 1, 10).subtree_ops == ops);  // /etc for /etc/app/conf.d
  CHECK(dir_of(plan, 1, 11).subtree_ops == ops);  // /etc/ssh for /etc/ssh/keys/id
  CHECK(dir_of(plan, 1, 11).named_ops == 0);
  CHECK(dir_of(plan, 1, 2).subtree_ops == ops);   // / for /opt/x
  CHECK(dir_of(plan, 1, 2).named_ops == ops);     // /etc by name
  CHECK(dir_of(plan, 1, 2).ancestor_ops == ops);
  CHECK(prefix_ops(plan, "/etc/app/conf.d") == ops);
  CHECK(prefix_ops(plan, "/etc/ssh/keys/id") == ops);
  CHECK(prefix_ops(plan, "/opt/x") == ops);

  // Escaped wildcards name a literal directory, here a missing one.
  const FimPlan escaped = plan_kernel_filter(config_of({category({"/etc/\\*star/**"}, ops)}), fs.fn());
  CHECK(escaped.unresolved == std::vector<std::string>{"/etc/*star"});
  CHECK(prefix_ops(escaped, "/etc/*star") == ops);
}

TEST_CASE("plan: masks merge per inode, name and prefix", "[watch_list]") {
  const FakeFs fs;
  const uint32_t a = bit(VJ_FILE_MODIFY), b = bit(VJ_FILE_CHMOD), c = bit(VJ_FILE_OPEN_READ),
                 d = bit(VJ_FILE_DELETE);
  const FimPlan plan = plan_kernel_filter(config_of({category({"/etc/**", "/etc/passwd"}, a),
                                                     category({"/etc/ssh/**"}, b),
                                                     category({"/etc/passwd", "/etc/shadow"}, c),
                                                     category({"/etc/**"}, d)}),
                                          fs.fn());
  CHECK(plan.all_ops == (a | b | c | d));
  CHECK(plan.dirs.size() == 3);
  CHECK(dir_of(plan, 1, 10).subtree_ops == (a | d));
  CHECK(dir_of(plan, 1, 10).named_ops == (a | b | c));  // passwd, shadow, and ssh itself
  CHECK(dir_of(plan, 1, 10).ancestor_ops == b);
  CHECK(dir_of(plan, 1, 11).subtree_ops == b);
  CHECK(dir_of(plan, 1, 2).ancestor_ops == (a | b | c | d));
  // Reads are watched by name only: the kernel skips the ancestor walk for them.
  CHECK(plan.subtree_ops == (a | b | d));
  REQUIRE(plan.names.size() == 4);
  for (const FimNameEntry& name : plan.names) {
    const uint64_t h = name.key.name_hash;
    const uint32_t expected = h == fnv1a64("passwd") ? (a | c) : h == fnv1a64("shadow") ? c : h == fnv1a64("ssh") ? b : (a | d);
    CHECK(name.ops == expected);
  }
  CHECK(prefix_ops(plan, "/etc") == (a | d));
  CHECK(prefix_ops(plan, "/etc/passwd") == (a | c));
  CHECK(plan.prefixes.size() == 4);
}

TEST_CASE("plan: long prefixes are cut, categories without operations are left out", "[watch_list]") {
  const FakeFs fs;
  const std::string deep = "/" + std::string(200, 'x') + "/" + std::string(200, 'y');
  const FimPlan plan = plan_kernel_filter(config_of({category({deep + "/**"}, bit(VJ_FILE_CREATE))}), fs.fn());
  REQUIRE(plan.prefixes.size() == 1);
  CHECK(plan.prefixes[0].prefix == deep.substr(0, VJ_FIM_PREFIX_MAX));
  CHECK(plan.unresolved == std::vector<std::string>{deep});
  CHECK(dir_of(plan, 1, 2).subtree_ops == bit(VJ_FILE_CREATE));

  const FimPlan none = plan_kernel_filter(config_of({category({"/etc/**"}, 0)}), fs.fn());
  CHECK(none.all_ops == 0);
  CHECK(none.dirs.empty());
  CHECK(none.names.empty());
  CHECK(none.prefixes.empty());
}

TEST_CASE("watch list: categories match by include, exclude and operation", "[watch_list]") {
  FilesConfig files;
  files.categories = default_watch_categories();  // etc, binaries, ssh, credentials
  const WatchList list(files);
  using Indices = std::vector<size_t>;
  CHECK(list.categories().size() == 4);
  CHECK(list.match("/etc/passwd", "", VJ_FILE_MODIFY) == Indices{0});
  CHECK(list.match("/etc", "", VJ_FILE_CHMOD) == Indices{0});
  CHECK(list.match("/etc/shadow", "", VJ_FILE_MODIFY) == Indices{0, 3});
  CHECK(list.match("/etc/shadow", "", VJ_FILE_OPEN_READ) == Indices{3});
  CHECK(list.match("/etc/passwd", "", VJ_FILE_OPEN_READ).empty());
  CHECK(list.match("/etc/mtab", "", VJ_FILE_MODIFY).empty());
  CHECK(list.match("/etc/sudoers.d/90-admin", "", VJ_FILE_CREATE) == Indices{0, 3});
  CHECK(list.match("/home/alice/.ssh/authorized_keys", "", VJ_FILE_MODIFY) == Indices{2});
  CHECK(list.match("/root/.ssh/id_ed25519", "", VJ_FILE_OPEN_READ) == Indices{3});
  CHECK(list.match("/usr/bin/ls", "", VJ_FILE_RENAME) == Indices{1});
  CHECK(list.match("/tmp/x", "", VJ_FILE_MODIFY).empty());
  // A glob's literal directory is compared whole names at a time.
  CHECK(list.match("/etcetera/passwd", "", VJ_FILE_MODIFY).empty());
  CHECK(list.match("/usr/binaries/ls", "", VJ_FILE_MODIFY).empty());
  CHECK(list.match("/usr/bin", "", VJ_FILE_CHMOD) == Indices{1});
  CHECK(list.match("/etc/passwd", "", 0).empty());
  CHECK(list.match("/etc/passwd", "", 40).empty());
}

TEST_CASE("watch list: a glob whose literal directory is / or has escapes", "[watch_list]") {
  const WatchList list(config_of({category({"/*.conf", "/data\\[1\\]/**"}, bit(VJ_FILE_MODIFY))}));
  using Indices = std::vector<size_t>;
  CHECK(list.match("/a.conf", "", VJ_FILE_MODIFY) == Indices{0});
  CHECK(list.match("/etc/a.conf", "", VJ_FILE_MODIFY).empty());
  CHECK(list.match("/data[1]/x", "", VJ_FILE_MODIFY) == Indices{0});
  CHECK(list.match("/data1/x", "", VJ_FILE_MODIFY).empty());
}

TEST_CASE("watch list: the host path is matched too, each with its own excludes", "[watch_list]") {
  const WatchList list(config_of({category({"/srv/**"}, bit(VJ_FILE_MODIFY), {"/srv/tmp/**"})}));
  using Indices = std::vector<size_t>;
  CHECK(list.match("/x", "/srv/a", VJ_FILE_MODIFY) == Indices{0});
  CHECK(list.match("/srv/tmp/a", "/srv/a", VJ_FILE_MODIFY) == Indices{0});
  CHECK(list.match("", "/srv/a", VJ_FILE_MODIFY) == Indices{0});
  CHECK(list.match("/srv/tmp/a", "", VJ_FILE_MODIFY).empty());
  CHECK(list.match("/srv/tmp/a", "/srv/tmp/b", VJ_FILE_MODIFY).empty());
  CHECK(list.match("/srv/a", "", VJ_FILE_CREATE).empty());
}

TEST_CASE("watch list: which paths can change the kernel plan", "[watch_list]") {
  FilesConfig files;
  files.categories = default_watch_categories();
  const WatchList list(files);
  for (const char* yes : {"/", "/etc", "/etc/shadow", "/etc/sudoers", "/etc/sudoers.d", "/usr", "/usr/lib",
                          "/usr/lib/systemd", "/usr/lib/systemd/system", "/root", "/root/.ssh", "/home"}) {
    INFO(yes);
    CHECK(list.affects_plan(yes));
  }
  for (const char* no : {"", "/etc/ssh", "/etcx", "/et", "/etc/shadow-", "/usr/libexec", "/root/.ssh/id_rsa",
                         "/home/alice", "/tmp", "/etc/sudoers.d/x"}) {
    INFO(no);
    CHECK_FALSE(list.affects_plan(no));
  }
  // A category without operations is not planned.
  CHECK_FALSE(WatchList(config_of({category({"/opt/**"}, 0)})).affects_plan("/opt"));
}
