// sha256 of executables, off the hot path: one worker thread hashes; results are cached by file
// identity (dev, inode, size, mtime), so a binary is read once however often it runs. Callers never
// block longer than the deadline they choose.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "config.h"
#include "decode.h"
#include "vajra/v1/vajra.pb.h"

namespace vajra {

struct HashResult {
  v1::HashStatus status = v1::HASH_STATUS_UNSPECIFIED;
  std::string sha256;  // lower-case hex when status is OK
  std::string error;   // why not, otherwise
};

struct FileIdentityHash {
  size_t operator()(const FileIdentity& id) const {
    return std::hash<uint64_t>()(id.ino * 1000003u ^ id.dev ^ (id.size << 17) ^ id.mtime_ns);
  }
};

// Hashes an open file after checking it is still `expected`. Exposed for tests.
HashResult hash_file(const std::string& path, const FileIdentity& expected, uint64_t max_size);

class Hasher {
 public:
  using Pending = std::shared_future<HashResult>;

  explicit Hasher(const HashConfig& config);
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  // A finished result for this file, if there is one. Never waits.
  std::optional<HashResult> lookup(const FileIdentity& id);
  // Queues the file unless it is cached or already queued; `open_path` is how the daemon reaches it.
  // The returned future is ready at once when the answer is already known.
  Pending request(const FileIdentity& id, const std::string& open_path);

  v1::CacheStatus status() const;

 private:
  struct Job {
    FileIdentity id;
    std::string open_path;
    std::promise<HashResult> promise;
  };
  void run();
  void remember(const FileIdentity& id, const Pending& result);
  static Pending ready(HashResult result);

  const HashConfig config_;
  static constexpr size_t kMaxQueuedJobs = 4096;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::unordered_map<FileIdentity, Pending, FileIdentityHash> in_flight_;
  std::list<FileIdentity> cache_order_;  // front = newest
  // Kept as ready futures, handed out as copies: making a future costs a futex system call (the
  // promise's once-flag), which every event of a cached executable would otherwise pay.
  std::unordered_map<FileIdentity, std::pair<Pending, std::list<FileIdentity>::iterator>, FileIdentityHash>
      cache_;
  const Pending disabled_;
  bool stopping_ = false;
  std::atomic<uint64_t> hits_{0}, misses_{0}, evictions_{0};
  std::thread worker_;
};

}  // namespace vajra
