// Subscribe filters of file events: categories and path prefixes.
#include <catch2/catch.hpp>

#include "file_filter.h"
#include "hub.h"

using namespace vajra;

namespace {

v1::Event file_event(const std::string& path, const std::string& host_path, std::vector<std::string> categories) {
  v1::Event event;
  event.set_kind(v1::EVENT_KIND_FILE);
  v1::FileEvent& f = *event.mutable_file();
  f.mutable_path()->set_path(path);
  f.mutable_path()->set_host_path(host_path);
  for (auto& c : categories) f.add_categories(c);
  return event;
}

}  // namespace

TEST_CASE("file filters: categories and path prefixes") {
  v1::SubscribeRequest filter;
  const v1::Event etc = file_event("/etc/passwd", "", {"etc"});
  const v1::Event container = file_event("/data/f", "/var/lib/x/data/f", {"data", "all"});
  CHECK(file_filter_matches(filter, etc));

  filter.add_categories("all");
  CHECK_FALSE(file_filter_matches(filter, etc));
  CHECK(file_filter_matches(filter, container));

  filter.clear_categories();
  filter.add_path_prefixes("/var/lib");
  CHECK_FALSE(file_filter_matches(filter, etc));
  CHECK(file_filter_matches(filter, container));  // by its host path

  v1::Event exec;
  exec.set_kind(v1::EVENT_KIND_EXEC);
  CHECK_FALSE(file_filter_matches(filter, exec));  // a file-only filter lets only file events through
  CHECK(filter_matches(filter, exec) == false);
}

TEST_CASE("file filters: bad prefixes are refused, naming the field") {
  v1::SubscribeRequest filter;
  filter.add_path_prefixes("/ok");
  filter.add_path_prefixes("relative");
  CHECK(file_filter_problem(filter) == "path_prefixes[1]: 'relative' is not an absolute path");
  filter.clear_path_prefixes();
  filter.add_categories("");
  CHECK(file_filter_problem(filter) == "categories[0]: empty category name");
}
