#include "file_hasher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "digest.h"

namespace vajra {

FileHashResult hash_watched_file(const std::string& path, uint64_t expected_ino,
                                 const std::vector<std::string>& algorithms, uint64_t max_bytes) {
  FileHashResult result;
  // O_NONBLOCK: a fifo put where the file was must not hang the worker; O_NOFOLLOW: nor may a symlink
  // put there send it elsewhere.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0) {
    result.error = "open " + path + ": " + std::strerror(errno);
    return result;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    result.error = "fstat " + path + ": " + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    result.error = path + " is not a regular file";
  } else if (expected_ino && st.st_ino != expected_ino) {
    result.error = path + " was replaced before it could be hashed";
  } else if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    result.error = std::to_string(st.st_size) + " bytes exceeds hash_max_bytes " + std::to_string(max_bytes);
  } else {
    std::vector<std::string> hex;
    result.error = digest_fd(fd, algorithms, hex);
    for (size_t i = 0; i < hex.size(); ++i) {
      v1::FileHash& hash = result.hashes.emplace_back();
      hash.set_algorithm(algorithms[i]);
      hash.set_hex(hex[i]);
    }
  }
  close(fd);
  return result;
}

FileHasher::FileHasher() : worker_([this] { run(); }) {}

FileHasher::~FileHasher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

FileHasher::Pending FileHasher::request(std::string path, uint64_t expected_ino, std::vector<std::string> algorithms,
                                        uint64_t max_bytes) {
  Job job{std::move(path), expected_ino, std::move(algorithms), max_bytes, {}};
  Pending pending = job.promise.get_future().share();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() < kMaxQueuedJobs) {
      queue_.push_back(std::move(job));
      cv_.notify_one();
      return pending;
    }
  }
  refused_.fetch_add(1, std::memory_order_relaxed);
  job.promise.set_value(FileHashResult{{}, "hash queue full: " + std::to_string(kMaxQueuedJobs) + " files waiting"});
  return pending;
}

void FileHasher::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job.promise.set_value(hash_watched_file(job.path, job.expected_ino, job.algorithms, job.max_bytes));
  }
}

}  // namespace vajra
