// A start-up setting of vajrad and the osquery bridge: gRPC's locks without abseil's debug checks.
#pragma once

namespace vajra {

// gRPC locks with absl::Mutex. Debian builds abseil without NDEBUG, so every lock also updates a
// global lock-order graph to detect deadlocks (1.2 % of vajrad's samples in the exec storm, 1.5 %
// with its lock). Releases of abseil leave the check off; this does the same for the whole process.
// Call before any thread starts.
void disable_lock_order_checks();

}  // namespace vajra
