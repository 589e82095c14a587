#include "file_filter.h"

#include <algorithm>

#include "pathnorm.h"

namespace vajra {
namespace {

bool path_listed(const v1::SubscribeRequest& filter, const v1::FileEvent& file) {
  const std::string* paths[] = {&file.path().path(), &file.path().host_path(), &file.new_path().path(),
                                &file.new_path().host_path()};
  return std::any_of(filter.path_prefixes().begin(), filter.path_prefixes().end(), [&](const std::string& prefix) {
    return std::any_of(std::begin(paths), std::end(paths),
                       [&](const std::string* path) { return !path->empty() && path_has_prefix(*path, prefix); });
  });
}

bool category_listed(const v1::SubscribeRequest& filter, const v1::FileEvent& file) {
  return std::any_of(file.categories().begin(), file.categories().end(), [&](const std::string& category) {
    return std::find(filter.categories().begin(), filter.categories().end(), category) != filter.categories().end();
  });
}

}  // namespace

bool file_filter_matches(const v1::SubscribeRequest& filter, const v1::Event& event) {
  if (filter.categories().empty() && filter.path_prefixes().empty()) return true;
  if (!event.has_file()) return false;
  if (!filter.categories().empty() && !category_listed(filter, event.file())) return false;
  if (!filter.path_prefixes().empty() && !path_listed(filter, event.file())) return false;
  return true;
}

std::string file_filter_problem(const v1::SubscribeRequest& filter) {
  for (int i = 0; i < filter.path_prefixes_size(); ++i) {
    if (filter.path_prefixes(i).empty() || filter.path_prefixes(i)[0] != '/')
      return "path_prefixes[" + std::to_string(i) + "]: '" + filter.path_prefixes(i) + "' is not an absolute path";
  }
  for (int i = 0; i < filter.categories_size(); ++i) {
    if (filter.categories(i).empty()) return "categories[" + std::to_string(i) + "]: empty category name";
  }
  return "";
}

}  // namespace vajra
