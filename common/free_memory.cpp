#include "free_memory.h"

#include <malloc.h>

#include <cstddef>

// Defined when jemalloc is linked (VAJRA_USE_JEMALLOC); null otherwise, and glibc's malloc is in use.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace vajra {

void release_free_memory() {
  if (mallctl != nullptr) {
    // "arena.<MALLCTL_ARENAS_ALL>.purge"; MALLCTL_ARENAS_ALL is 4096 (jemalloc.h).
    mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
    return;
  }
  malloc_trim(0);
}

}  // namespace vajra
