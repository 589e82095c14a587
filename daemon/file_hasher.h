// Digests of files after a create or modify, for watch categories that ask for them. One worker
// thread reads the files, so the decode thread never does file I/O; the publisher waits for a result
// at most hash.max_wait_ms, like it does for exe hashes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vajra/v1/vajra.pb.h"

namespace vajra {

struct FileHashResult {
  std::vector<v1::FileHash> hashes;
  std::string error;  // why some or all requested digests are missing
};

// Hashes `path` if it is still the regular file `expected_ino` and no larger than max_bytes.
FileHashResult hash_watched_file(const std::string& path, uint64_t expected_ino,
                                 const std::vector<std::string>& algorithms, uint64_t max_bytes);

class FileHasher {
 public:
  using Pending = std::shared_future<FileHashResult>;

  FileHasher();
  ~FileHasher();
  FileHasher(const FileHasher&) = delete;
  FileHasher& operator=(const FileHasher&) = delete;

  // Never blocks. A full queue answers at once, with the reason as the error.
  Pending request(std::string path, uint64_t expected_ino, std::vector<std::string> algorithms,
                  uint64_t max_bytes);
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  struct Job {
    std::string path;
    uint64_t expected_ino;
    std::vector<std::string> algorithms;
    uint64_t max_bytes;
    std::promise<FileHashResult> promise;
  };
  void run();

  static constexpr size_t kMaxQueuedJobs = 4096;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::atomic<uint64_t> refused_{0};
  std::thread worker_;
};

}  // namespace vajra
