// Converts the kernel's CLOCK_BOOTTIME stamps to wall-clock time. The offset drifts when the wall
// clock is stepped (NTP, settimeofday), so it is re-sampled periodically rather than once.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>

namespace vajra {

class BootClock {
 public:
  BootClock() { resample(); }

  // Cheap enough to call once a second from the polling loop.
  void resample() {
    timespec real{}, boot{};
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_BOOTTIME, &boot);
    offset_ns_.store(to_ns(real) - to_ns(boot), std::memory_order_relaxed);
  }

  uint64_t to_wall_ns(uint64_t boottime_ns) const {
    return boottime_ns + offset_ns_.load(std::memory_order_relaxed);
  }

  static uint64_t now_boot_ns() {
    timespec boot{};
    clock_gettime(CLOCK_BOOTTIME, &boot);
    return to_ns(boot);
  }

 private:
  static uint64_t to_ns(const timespec& ts) {
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
  }
  std::atomic<uint64_t> offset_ns_{0};
};

}  // namespace vajra
