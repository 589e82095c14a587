// Lexical path arithmetic used for names the kernel could not resolve to a dentry.
#include <catch2/catch.hpp>

#include "pathnorm.h"

using namespace vajra;

TEST_CASE("normalize_path collapses ., .., and repeated slashes, never above the root") {
  CHECK(normalize_path("") == "/");
  CHECK(normalize_path("/") == "/");
  CHECK(normalize_path("//a///b/") == "/a/b");
  CHECK(normalize_path("/a/./b/../c") == "/a/c");
  CHECK(normalize_path("/../../x") == "/x");
  CHECK(normalize_path("/a/b/c/../../..") == "/");
  CHECK(normalize_path("/a/..b/.c") == "/a/..b/.c");
}

TEST_CASE("resolve_name joins a name to its base directory") {
  CHECK(resolve_name("/tmp/w", "f") == "/tmp/w/f");
  CHECK(resolve_name("/tmp/w/sub", "../f") == "/tmp/w/f");
  CHECK(resolve_name("/", "etc/passwd") == "/etc/passwd");
  // An absolute name comes with the root as its base.
  CHECK(resolve_name("/", "/etc/passwd") == "/etc/passwd");
  CHECK(resolve_name("/srv/jail", "/etc/passwd") == "/srv/jail/etc/passwd");
}

TEST_CASE("path_has_prefix compares whole components") {
  CHECK(path_has_prefix("/etc/passwd", "/etc"));
  CHECK(path_has_prefix("/etc", "/etc"));
  CHECK(path_has_prefix("/etc/passwd", "/etc/"));
  CHECK_FALSE(path_has_prefix("/etcx", "/etc"));
  CHECK(path_has_prefix("/anything", "/"));
  CHECK_FALSE(path_has_prefix("", "/"));
}
