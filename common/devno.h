// Device numbers in the kernel's internal encoding (major << 20 | minor, as sb->s_dev holds them and
// the BPF records carry them) and in user space's (stat's st_dev).
#pragma once

#include <sys/sysmacros.h>
#include <sys/types.h>

#include <cstdint>

namespace vajra {

inline uint32_t kernel_dev(dev_t user) {
  return (static_cast<uint32_t>(major(user)) << 20) | (static_cast<uint32_t>(minor(user)) & 0xfffff);
}

inline dev_t user_dev(uint32_t kernel) { return makedev(kernel >> 20, kernel & 0xfffff); }

}  // namespace vajra
