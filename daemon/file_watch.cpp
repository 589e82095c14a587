#include "file_watch.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>

#include "decode.h"

namespace vajra {
namespace {

// Directory entries scanned for watched files with hard links, at start-up and on each reload.
constexpr size_t kHardlinkScanMax = 200000;

// Operations that change a file's content: the ones a write through another name performs.
bool changes_content(const WatchList& list, const std::string& path) {
  for (uint16_t op : {VJ_FILE_OPEN_WRITE, VJ_FILE_MODIFY, VJ_FILE_TRUNCATE})
    if (!list.match(path, "", op).empty()) return true;
  return false;
}

// Operations after which the named path exists and its attributes say something.
bool leaves_a_file(v1::FileOperation op) {
  return op != v1::FILE_OPERATION_DELETE && op != v1::FILE_OPERATION_UNSPECIFIED;
}

// Calls by name that change a file without replacing it (see bpf/file.bpf.c changes_in_place()).
bool changes_file_in_place(v1::FileOperation op) {
  return op == v1::FILE_OPERATION_TRUNCATE || op == v1::FILE_OPERATION_CHMOD || op == v1::FILE_OPERATION_CHOWN ||
         op == v1::FILE_OPERATION_SETXATTR || op == v1::FILE_OPERATION_REMOVEXATTR;
}

// Operations that can make a watched directory appear or disappear, and so change the kernel plan.
bool changes_tree(v1::FileOperation op) {
  switch (op) {
    case v1::FILE_OPERATION_CREATE:
    case v1::FILE_OPERATION_MKDIR:
    case v1::FILE_OPERATION_RENAME:
    case v1::FILE_OPERATION_LINK:
    case v1::FILE_OPERATION_SYMLINK:
    case v1::FILE_OPERATION_DELETE:
      return true;
    default:
      return false;
  }
}

}  // namespace

FileWatch::FileWatch(const ProbeSet& probes, uint32_t host_mnt_ns)
    : host_mnt_ns_(host_mnt_ns), mounts_(host_mnt_ns), maps_(probes) {}

std::string FileWatch::replan(const FilesConfig& files) {
  const FimPlan plan = plan_kernel_filter(files);
  if (std::string error = maps_.apply(plan, host_mnt_ns_); !error.empty()) return error;
  unresolved_ = plan.unresolved;
  return "";
}

namespace {

bool same_categories(const std::vector<WatchCategory>& a, const std::vector<WatchCategory>& b) {
  auto same = [](const WatchCategory& x, const WatchCategory& y) {
    return x.name == y.name && x.include == y.include && x.exclude == y.exclude && x.operations == y.operations &&
           x.hashes == y.hashes && x.hash_max_bytes == y.hash_max_bytes;
  };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), same);
}

}  // namespace

std::string FileWatch::apply(const FilesConfig& files) {
  auto fresh = std::make_shared<State>(State{files, WatchList(files), {}});
  const WatchList& list = fresh->list;
  const size_t scanned = hardlinks_.rebuild(
      list.literal_paths(), [&list](const std::string& path) { return changes_content(list, path); },
      kHardlinkScanMax);
  if (scanned >= kHardlinkScanMax)
    spdlog::warn("files: stopped looking for hard-linked watched files after {} entries; a write through "
                 "another name of a file not seen is reported only once its link is made while vajrad runs",
                 scanned);

  std::lock_guard<std::mutex> lock(plan_mu_);
  if (maps_.available()) {
    maps_.set_flags(hardlinks_.size() > 0 ? VJ_FIM_HARDLINKS : 0);
    if (std::string error = replan(files); !error.empty()) {
      last_error_ = "applying the watch lists to the kernel filter: " + error;
      return last_error_;
    }
  }
  for (const WatchCategory& category : files.categories) {
    auto& counters = counters_by_name_[category.name];
    if (!counters) counters = std::make_shared<CategoryCounters>();
    fresh->counters.push_back(counters);
  }
  const std::shared_ptr<const State> previous = state();
  if (!previous || !same_categories(previous->files.categories, files.categories)) ++generation_;
  std::atomic_store(&state_, std::shared_ptr<const State>(std::move(fresh)));
  last_error_.clear();
  return "";
}

void FileWatch::reload_failed(const std::string& error) {
  std::lock_guard<std::mutex> lock(plan_mu_);
  last_error_ = error;
}

// How vajrad reaches the file: its host path, or through the process's root when the mount table
// gave none.
std::string FileWatch::open_path(const v1::Event& event, const v1::FilePath& path) const {
  if (!path.host_path().empty()) return path.host_path();
  if (event.process().namespaces().mnt() == host_mnt_ns_) return path.path();
  return "/proc/" + std::to_string(event.process().pid()) + "/root" + path.path();
}

void FileWatch::fill_attributes(const v1::Event& event, v1::FileEvent& file) {
  const bool two_paths = file.operation() == v1::FILE_OPERATION_RENAME || file.operation() == v1::FILE_OPERATION_LINK;
  const v1::FilePath& target = two_paths ? file.new_path() : file.path();
  struct stat st {};
  if (lstat(open_path(event, target).c_str(), &st) != 0) return;
  file.set_inode(st.st_ino);
  file.set_dev(static_cast<uint32_t>(st.st_dev));
  file.set_file_type(file_type_name(st.st_mode));
  file.set_mode(st.st_mode & 07777);
  file.set_uid(st.st_uid);
  file.set_gid(st.st_gid);
  file.set_size(static_cast<uint64_t>(st.st_size));
  file.set_attributes_source("lstat");
}

// A change through a name outside the watched trees to a file that also has a watched name.
std::vector<size_t> FileWatch::match_hardlink(const State& state, v1::FileEvent& file, uint16_t op) const {
  if (file.inode() == 0) return {};
  const std::optional<std::string> watched = hardlinks_.find(kernel_dev(file.dev()), file.inode());
  if (!watched) return {};
  std::vector<size_t> matched = state.list.match(*watched, "", op);
  if (!matched.empty()) file.set_watched_as(*watched);
  return matched;
}

// A path deeper than the kernel walks has lost its top, so no glob can match it; the kernel passed it
// because a watched directory lies above it. The categories that can watch that deep are those with a
// recursive glob that want the operation.
std::vector<size_t> FileWatch::match_truncated(const State& state, v1::FileEvent& file, uint16_t op) const {
  std::vector<size_t> matched;
  for (size_t i = 0; i < state.files.categories.size(); ++i) {
    const WatchCategory& category = state.files.categories[i];
    const bool recursive = std::any_of(category.include.begin(), category.include.end(),
                                       [](const std::string& glob) { return glob.find("**") != std::string::npos; });
    if (recursive && (category.operations & (1u << op))) matched.push_back(i);
  }
  if (!matched.empty())
    file.mutable_path()->set_unresolved(
        "deeper than the kernel walks: only the last names are known; categories are those with a "
        "recursive glob that want this operation");
  return matched;
}

// A new name of a watched file: writes through either name are the watched file's from now on.
void FileWatch::learn_link(const State& state, const v1::Event& event) {
  const v1::FileEvent& file = event.file();
  if (file.operation() != v1::FILE_OPERATION_LINK || file.result() < 0 || file.inode() == 0) return;
  for (const v1::FilePath* name : {&file.path(), &file.new_path()}) {
    if (changes_content(state.list, name->path())) {
      hardlinks_.add(kernel_dev(file.dev()), file.inode(), name->path());
      std::lock_guard<std::mutex> lock(plan_mu_);
      if (std::string error = maps_.set_flags(VJ_FIM_HARDLINKS); !error.empty())
        spdlog::warn("files: telling the kernel filter about a new hard link: {}", error);
      return;
    }
  }
}

std::optional<FileHasher::Pending> FileWatch::request_hash(const State& state, const std::vector<size_t>& matched,
                                                           const v1::Event& event) {
  const v1::FileEvent& file = event.file();
  if (file.result() < 0 || (file.operation() != v1::FILE_OPERATION_CREATE &&
                            file.operation() != v1::FILE_OPERATION_MODIFY))
    return std::nullopt;
  std::vector<std::string> algorithms;
  uint64_t max_bytes = 0;
  for (size_t index : matched) {
    const WatchCategory& category = state.files.categories[index];
    for (const std::string& algorithm : category.hashes)
      if (std::find(algorithms.begin(), algorithms.end(), algorithm) == algorithms.end())
        algorithms.push_back(algorithm);
    if (!category.hashes.empty()) max_bytes = std::max(max_bytes, category.hash_max_bytes);
  }
  if (algorithms.empty()) return std::nullopt;
  for (size_t index : matched) state.counters[index]->hashed.fetch_add(1, std::memory_order_relaxed);
  return hasher_.request(open_path(event, file.path()), file.inode(), std::move(algorithms), max_bytes);
}

bool FileWatch::enrich(v1::Event& event, std::optional<FileHasher::Pending>& hash) {
  const std::shared_ptr<const State> current = state();
  if (!current) return false;
  v1::FileEvent& file = *event.mutable_file();
  const uint32_t pid = event.process().pid();
  const uint32_t mnt_ns = event.process().namespaces().mnt();
  std::vector<v1::FilePath*> paths{file.mutable_path()};
  if (file.has_new_path()) paths.push_back(file.mutable_new_path());  // mutable_ would create it
  for (v1::FilePath* path : paths) {
    if (path->path().empty()) continue;
    std::string host = mounts_.host_path(pid, mnt_ns, path->path());
    if (host != path->path()) path->set_host_path(std::move(host));
  }

  const auto op = static_cast<uint16_t>(file.operation());
  std::vector<size_t> matched = current->list.match(file.path().path(), file.path().host_path(), op);
  if (file.has_new_path()) {
    for (size_t index : current->list.match(file.new_path().path(), file.new_path().host_path(), op))
      if (std::find(matched.begin(), matched.end(), index) == matched.end()) matched.push_back(index);
    std::sort(matched.begin(), matched.end());
  }
  if (changes_tree(file.operation()) && file.result() >= 0 &&
      (current->list.affects_plan(file.path().path()) || current->list.affects_plan(file.new_path().path()))) {
    std::lock_guard<std::mutex> lock(plan_mu_);
    if (std::string error = replan(current->files); !error.empty())
      spdlog::warn("files: updating the kernel filter after a change at {}: {}", file.path().path(), error);
  }
  if (matched.empty() && file.path().truncated()) matched = match_truncated(*current, file, op);
  if (matched.empty()) {
    // A call by name through another link carries no inode from the kernel: look at the file.
    if (file.attributes_source().empty() && file.result() >= 0 && changes_file_in_place(file.operation()))
      fill_attributes(event, file);
    matched = match_hardlink(*current, file, op);
  }
  if (matched.empty()) {
    spdlog::trace("files: no category matched {} {} by pid {}", v1::FileOperation_Name(file.operation()),
                 file.path().path(), pid);
    unmatched_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  for (size_t index : matched) {
    file.add_categories(current->files.categories[index].name);
    current->counters[index]->matched.fetch_add(1, std::memory_order_relaxed);
  }
  if (file.attributes_source().empty() && file.result() >= 0 && leaves_a_file(file.operation()))
    fill_attributes(event, file);
  learn_link(*current, event);
  hash = request_hash(*current, matched, event);
  return true;
}

void FileWatch::count_hash_failure(const v1::FileEvent& file) {
  std::lock_guard<std::mutex> lock(plan_mu_);
  for (const std::string& name : file.categories()) {
    auto found = counters_by_name_.find(name);
    if (found != counters_by_name_.end()) found->second->hash_failures.fetch_add(1, std::memory_order_relaxed);
  }
}

void FileWatch::fill_status(v1::FileStatus& out) const {
  std::lock_guard<std::mutex> lock(plan_mu_);
  const std::array<uint64_t, VJ_FILE_OP_MAX> filtered = maps_.filtered();
  for (uint32_t op = VJ_FILE_CREATE; op < VJ_FILE_OP_MAX; ++op) {
    v1::FileOperationCount& count = *out.add_kernel_filtered();
    count.set_operation(static_cast<v1::FileOperation>(op));
    count.set_count(filtered[op]);
  }
  out.set_unmatched(unmatched_.load(std::memory_order_relaxed));
  if (const std::shared_ptr<const State> current = state()) {
    for (size_t i = 0; i < current->files.categories.size(); ++i) {
      v1::FileCategoryStatus& category = *out.add_categories();
      category.set_name(current->files.categories[i].name);
      category.set_matched(current->counters[i]->matched.load(std::memory_order_relaxed));
      category.set_hashed(current->counters[i]->hashed.load(std::memory_order_relaxed));
      category.set_hash_failures(current->counters[i]->hash_failures.load(std::memory_order_relaxed));
    }
  }
  out.set_watch_generation(generation_);
  out.set_last_reload_error(last_error_);
  out.set_kernel_dirs(maps_.dirs());
  out.set_kernel_names(maps_.names());
  out.set_kernel_prefixes(maps_.prefixes());
  for (const std::string& path : unresolved_) out.add_unresolved_prefixes(path);
}

}  // namespace vajra
