// Hands the heap's free pages back to the kernel now, rather than when the allocator would.
#pragma once

namespace vajra {

// With jemalloc (common/allocator.cpp), purges every arena's unused dirty pages; with glibc's malloc,
// malloc_trim. For after a burst of frees whose memory the process will not reuse soon: jemalloc
// otherwise keeps freed pages for its 10 s decay, and they count in RSS (which osquery's watchdog
// limits for the bridge).
void release_free_memory();

}  // namespace vajra
