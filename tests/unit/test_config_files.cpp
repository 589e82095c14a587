// The files: section: watch categories, their defaults, and errors that name the category, key and line.
#include <catch2/catch.hpp>

#include <string>

#include "config.h"
#include "vajra_wire.h"

using namespace vajra;

namespace {

std::string error_of(const std::string& yaml) {
  try {
    parse_config(yaml, "t.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

// A config whose only category is `etc` with `body` (indented settings lines) as its settings.
std::string etc_category(const std::string& body) {
  return "files:\n  categories:\n    etc:\n" + body;
}

const std::string kOps =
    "create, open_write, modify, truncate, delete, rename, link, symlink, mkdir, chmod, chown, setxattr, "
    "removexattr, open_read";

}  // namespace

TEST_CASE("config files: the built-in categories", "[config]") {
  CHECK(default_file_operations() == 0x3ffe);  // 1 << 1 ... 1 << 13
  CHECK_FALSE(default_file_operations() & (1u << VJ_FILE_OPEN_READ));

  const Config config = parse_config("", "t.yaml");
  CHECK(config.files.enabled);
  const std::vector<WatchCategory>& categories = config.files.categories;
  REQUIRE(categories.size() == 4);
  CHECK(categories[0].name == "etc");
  CHECK(categories[0].include == std::vector<std::string>{"/etc/**"});
  CHECK(categories[0].exclude == std::vector<std::string>{"/etc/mtab", "/etc/ld.so.cache", "/etc/adjtime"});
  CHECK(categories[0].hashes == std::vector<std::string>{"sha256"});
  CHECK(categories[1].name == "binaries");
  CHECK(categories[1].include.size() == 5);
  CHECK(categories[2].name == "ssh");
  CHECK(categories[2].include == std::vector<std::string>{"/root/.ssh/**", "/home/*/.ssh/**"});
  CHECK(categories[3].name == "credentials");
  CHECK(categories[3].operations == (default_file_operations() | (1u << VJ_FILE_OPEN_READ)));
  CHECK(categories[3].hashes.empty());
  for (const WatchCategory& category : categories) {
    INFO(category.name);
    CHECK(category.hash_max_bytes == (64ull << 20));
    if (category.name != "credentials") CHECK(category.operations == default_file_operations());
  }

  // A files: section without categories keeps them.
  CHECK(parse_config("files:\n  enabled: false\n", "t.yaml").files.categories.size() == 4);
  CHECK_FALSE(parse_config("files:\n  enabled: false\n", "t.yaml").files.enabled);
}

TEST_CASE("config files: categories given replace the built-in ones, in the order written", "[config]") {
  const Config config = parse_config(R"(files:
  categories:
    web.root-1:
      include: ['/srv/www/**', '/srv/\*literal']
      exclude: ["/srv/www/cache/**"]
      operations: [open_read, chmod, create]
      hashes: [md5, sha1]
      hash_max_bytes: 0
    a:
      include: [/opt/x]
)",
                                     "t.yaml");
  const std::vector<WatchCategory>& categories = config.files.categories;
  REQUIRE(categories.size() == 2);
  CHECK(categories[0].name == "web.root-1");
  CHECK(categories[0].include == std::vector<std::string>{"/srv/www/**", "/srv/\\*literal"});
  CHECK(categories[0].exclude == std::vector<std::string>{"/srv/www/cache/**"});
  CHECK(categories[0].operations ==
        ((1u << VJ_FILE_OPEN_READ) | (1u << VJ_FILE_CHMOD) | (1u << VJ_FILE_CREATE)));
  CHECK(categories[0].hashes == std::vector<std::string>{"md5", "sha1"});
  CHECK(categories[0].hash_max_bytes == 0);
  CHECK(categories[1].name == "a");
  CHECK(categories[1].exclude.empty());
  CHECK(categories[1].operations == default_file_operations());
  CHECK(categories[1].hashes.empty());
  CHECK(categories[1].hash_max_bytes == (64ull << 20));

  // Every name maps to its enum vj_file_op.
  CHECK(parse_config(etc_category("      include: [/etc]\n      operations: [" + kOps + "]\n"), "t.yaml")
            .files.categories[0]
            .operations == (default_file_operations() | (1u << VJ_FILE_OPEN_READ)));
  CHECK(parse_config(etc_category("      include: [/etc]\n      operations: [removexattr]\n"), "t.yaml")
            .files.categories[0]
            .operations == (1u << VJ_FILE_REMOVEXATTR));
  // No operations: the category matches nothing, but is still valid.
  CHECK(parse_config(etc_category("      include: [/etc]\n      operations: []\n"), "t.yaml")
            .files.categories[0]
            .operations == 0);
}

TEST_CASE("config files: an empty categories mapping watches nothing", "[config]") {
  CHECK(parse_config("files:\n  categories: {}\n", "t.yaml").files.categories.empty());
  CHECK(parse_config("files:\n  categories:\n  enabled: true\n", "t.yaml").files.categories.empty());
}

TEST_CASE("config files: bad globs name the glob and the reason", "[config]") {
  CHECK(error_of(etc_category("      include: [/etc/**, '/etc/[a']\n")) ==
        "t.yaml:4: files.categories.etc.include[1]: '/etc/[a' is not a valid glob: unterminated [ at offset 5");
  CHECK(error_of(etc_category("      include: ['etc/*']\n")) ==
        "t.yaml:4: files.categories.etc.include[0]: 'etc/*' is not a valid glob: not absolute: a glob "
        "starts with '/'");
  CHECK(error_of(etc_category("      include: [/etc]\n      exclude:\n        - /etc/a**\n")) ==
        "t.yaml:6: files.categories.etc.exclude[0]: '/etc/a**' is not a valid glob: ** at offset 6 must be a "
        "whole name, as in /etc/**/x");
  CHECK(error_of(etc_category("      include: ['/etc//x']\n")) ==
        "t.yaml:4: files.categories.etc.include[0]: '/etc//x' is not a valid glob: empty name at offset 5 (a "
        "doubled or trailing '/')");
  CHECK(error_of(etc_category("      include: [[]]\n")) ==
        "t.yaml:4: files.categories.etc.include[0]: expected a string, got a list");
}

TEST_CASE("config files: include is required and not empty", "[config]") {
  CHECK(error_of(etc_category("      include: []\n")) ==
        "t.yaml:4: files.categories.etc.include: must list at least one glob");
  CHECK(error_of(etc_category("      exclude: [/etc/x]\n")) ==
        "t.yaml:3: files.categories.etc: needs an include list of globs");
  CHECK(error_of("files:\n  categories:\n    etc:\n    ssh:\n      include: [/root]\n") ==
        "t.yaml:3: files.categories.etc: needs an include list of globs");
  CHECK(error_of(etc_category("      include: /etc/**\n")) ==
        "t.yaml:4: files.categories.etc.include: expected a list (write [] for none), got '/etc/**'");
}

TEST_CASE("config files: operations and hashes are known names", "[config]") {
  CHECK(error_of(etc_category("      include: [/etc]\n      operations: [create, modfy]\n")) ==
        "t.yaml:5: files.categories.etc.operations[1]: expected one of " + kOps +
            ", got 'modfy' (did you mean 'modify'?)");
  CHECK(error_of(etc_category("      include: [/etc]\n      operations: [all]\n")) ==
        "t.yaml:5: files.categories.etc.operations[0]: expected one of " + kOps + ", got 'all'");
  CHECK(error_of(etc_category("      include: [/etc]\n      hashes: [sha512]\n")) ==
        "t.yaml:5: files.categories.etc.hashes[0]: expected one of sha256, sha1, md5, got 'sha512'");
  CHECK(error_of(etc_category("      include: [/etc]\n      hashes: [sha256, sha256]\n")) ==
        "t.yaml:5: files.categories.etc.hashes[1]: 'sha256' is listed twice");
  CHECK(error_of(etc_category("      include: [/etc]\n      hash_max_bytes: 1099511627777\n")) ==
        "t.yaml:5: files.categories.etc.hash_max_bytes: must be between 0 and 1099511627776, got "
        "1099511627777");
}

TEST_CASE("config files: unknown keys are errors, with suggestions", "[config]") {
  CHECK(error_of("files:\n  categorys: {}\n") ==
        "t.yaml:2: files.categorys: unknown key; did you mean 'categories'?");
  CHECK(error_of(etc_category("      include: [/etc]\n      exclud: []\n")) ==
        "t.yaml:5: files.categories.etc.exclud: unknown key; did you mean 'exclude'?");
  CHECK(error_of(etc_category("      include: [/etc]\n      paths: []\n")) ==
        "t.yaml:5: files.categories.etc.paths: unknown key; known keys here: include, exclude, operations, "
        "hashes, hash_max_bytes");
}

TEST_CASE("config files: category names", "[config]") {
  const std::string rule = "a category name is letters, digits, '_', '.' and '-', at most 64 of them";
  CHECK(error_of("files:\n  categories:\n    my etc:\n      include: [/etc]\n") ==
        "t.yaml:3: files.categories.my etc: " + rule);
  CHECK(error_of("files:\n  categories:\n    etc/x:\n      include: [/etc]\n") ==
        "t.yaml:3: files.categories.etc/x: " + rule);
  CHECK(error_of("files:\n  categories:\n    '':\n      include: [/etc]\n") == "t.yaml:3: files.categories.: " + rule);
  const std::string longest(64, 'n');
  CHECK(parse_config("files:\n  categories:\n    " + longest + ":\n      include: [/etc]\n", "t.yaml")
            .files.categories[0]
            .name == longest);
  CHECK(error_of("files:\n  categories:\n    " + longest + "n:\n      include: [/etc]\n") ==
        "t.yaml:3: files.categories." + longest + "n: " + rule);
  CHECK(error_of("files:\n  categories:\n    ? [a]\n    : {include: [/etc]}\n") ==
        "t.yaml:3: files.categories: keys must be plain names, got a list");
  CHECK(error_of("files:\n  categories:\n    etc:\n      include: [/etc]\n    etc:\n      include: [/x]\n") ==
        "t.yaml:5: files.categories.etc: given twice (first at line 3)");
  CHECK(error_of("files:\n  categories: [etc]\n") ==
        "t.yaml:2: files.categories: expected a mapping of category names to their settings, got a list");
  CHECK(error_of(etc_category("      [include]\n")) ==
        "t.yaml:4: files.categories.etc: expected a mapping of settings, got a list");
}
