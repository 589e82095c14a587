// Opens once the bridge's store holds what the daemon could give back after a (re)start, so that a
// query never sees a half-restored store. That matters for osquery's differential results: a row
// missing from one run and back in the next would be logged as "added" twice.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace vajra::bridge {

class RestoreGate {
 public:
  void open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

  bool is_open() const {
    std::lock_guard<std::mutex> lock(mu_);
    return open_;
  }

  // True when open, false when `limit` passed first.
  bool wait(std::chrono::milliseconds limit) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [this] { return open_; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool open_ = false;
};

}  // namespace vajra::bridge
