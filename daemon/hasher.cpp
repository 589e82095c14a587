#include "hasher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "digest.h"
#include "proc_reader.h"

namespace vajra {
namespace {

HashResult failure(v1::HashStatus status, std::string error) {
  return HashResult{status, "", std::move(error)};
}

}  // namespace

HashResult hash_file(const std::string& path, const FileIdentity& expected, uint64_t max_size) {
  if (expected.size > max_size)
    return failure(v1::HASH_STATUS_TOO_LARGE,
                   std::to_string(expected.size) + " bytes exceeds hash.max_file_size " + std::to_string(max_size));
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return failure(v1::HASH_STATUS_UNREADABLE, "open " + path + ": " + strerror(errno));
  std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { close(*f); });

  struct stat st {};
  if (fstat(fd, &st) != 0) return failure(v1::HASH_STATUS_UNREADABLE, "fstat " + path + ": " + strerror(errno));
  const FileIdentity found{kernel_dev(st.st_dev), st.st_ino, static_cast<uint64_t>(st.st_size),
                           static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000ull +
                               static_cast<uint64_t>(st.st_mtim.tv_nsec)};
  if (!(found == expected))
    return failure(v1::HASH_STATUS_CHANGED, path + " is no longer the executed file (inode, size or mtime differ)");

  std::vector<std::string> hex;
  if (std::string error = digest_fd(fd, {"sha256"}, hex); !error.empty())
    return failure(v1::HASH_STATUS_UNREADABLE, path + ": " + error);
  return HashResult{v1::HASH_STATUS_OK, hex.front(), ""};
}

Hasher::Hasher(const HashConfig& config)
    : config_(config), disabled_(ready(HashResult{v1::HASH_STATUS_DISABLED, "", ""})) {
  if (config_.enabled) worker_ = std::thread([this] { run(); });
}

Hasher::~Hasher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

Hasher::Pending Hasher::ready(HashResult result) {
  std::promise<HashResult> promise;
  promise.set_value(std::move(result));
  return promise.get_future().share();
}

std::optional<HashResult> Hasher::lookup(const FileIdentity& id) {
  if (!config_.enabled) return disabled_.get();
  std::lock_guard<std::mutex> lock(mu_);
  auto found = cache_.find(id);
  if (found == cache_.end()) return std::nullopt;
  return found->second.first.get();
}

Hasher::Pending Hasher::request(const FileIdentity& id, const std::string& open_path) {
  if (!config_.enabled) return disabled_;
  std::lock_guard<std::mutex> lock(mu_);
  if (auto found = cache_.find(id); found != cache_.end()) {
    hits_.fetch_add(1, std::memory_order_relaxed);
    cache_order_.splice(cache_order_.begin(), cache_order_, found->second.second);
    return found->second.first;
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  if (auto found = in_flight_.find(id); found != in_flight_.end()) return found->second;
  if (queue_.size() >= kMaxQueuedJobs)
    return ready(failure(v1::HASH_STATUS_QUEUE_FULL, "hash queue full (" + std::to_string(kMaxQueuedJobs) + " files)"));
  Job job{id, open_path, {}};
  Pending pending = job.promise.get_future().share();
  in_flight_.emplace(id, pending);
  queue_.push_back(std::move(job));
  cv_.notify_one();
  return pending;
}

void Hasher::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    HashResult result = hash_file(job.open_path, job.id, config_.max_file_size);
    // Failures to open may be transient (a short-lived process's /proc/<pid>/root is gone): only
    // answers that depend on the file alone are remembered.
    const bool lasting = result.status == v1::HASH_STATUS_OK || result.status == v1::HASH_STATUS_TOO_LARGE;
    const Pending kept = lasting ? ready(result) : Pending();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (lasting) remember(job.id, kept);
      in_flight_.erase(job.id);
    }
    job.promise.set_value(std::move(result));
  }
}

void Hasher::remember(const FileIdentity& id, const Pending& result) {
  if (cache_.count(id)) return;
  cache_order_.push_front(id);
  cache_.emplace(id, std::make_pair(result, cache_order_.begin()));
  if (cache_.size() > config_.cache_size) {
    cache_.erase(cache_order_.back());
    cache_order_.pop_back();
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
}

v1::CacheStatus Hasher::status() const {
  v1::CacheStatus s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.set_size(cache_.size());
  }
  s.set_capacity(config_.cache_size);
  s.set_hits(hits_.load(std::memory_order_relaxed));
  s.set_misses(misses_.load(std::memory_order_relaxed));
  s.set_evictions(evictions_.load(std::memory_order_relaxed));
  return s;
}

}  // namespace vajra
