// The decode thread's wake-ups, read from Status.ring_drains (one per wake-up): it sleeps while
// nothing happens (the kernel signals the first record after a drain), records after a quiet spell
// still reach a subscriber, and under load it drains no more often than buffers.batch_delay_ms
// allows. Counts, not timings: the decode thread used to wake on a 10 ms poll timeout, 100 times a
// second, busy or not. How soon a record arrives is measured by the benchmark's latency figures.
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "harness.h"

using namespace vajra::v1;

namespace {

SubscribeRequest helper_events() {
  SubscribeRequest request;
  request.add_exe_prefixes(vt::helper_path());
  return request;
}

// A daemon and a stream of the test helper's events, once the start-up work (the /proc scan, the
// first status calls) has passed.
struct Watched {
  vt::Daemon daemon;
  vt::EventStream stream;

  explicit Watched(const std::string& overrides = "") : daemon(overrides), stream(daemon, helper_events()) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }

  uint64_t drains() { return daemon.status().ring_drains(); }
};

}  // namespace

TEST_CASE("wakeups: an idle decode thread sleeps between records, and records after a quiet spell arrive") {
  REQUIRE_KERNEL();
  Watched watched;
  const uint64_t before = watched.drains();
  CHECK(before > 0);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const uint64_t woken = watched.drains() - before;
  // In 2 s: 8 kernel-drop checks and 2 clock resamples, plus a wake-up per record the host's own
  // activity makes. A polling loop would have woken 200 times.
  INFO("decode thread drained the rings " << woken << " times in 2 s of quiet");
  CHECK(woken < 50);

  // Sleeping has not cost the records that end it.
  const pid_t pid = vt::spawn({vt::helper_path(), "exit", "0"});
  CHECK(vt::wait_status(pid) == 0);
  const Event exit = watched.stream.wait_for(
      vt::all_of({vt::kind_is(EVENT_KIND_EXIT), vt::pid_is(static_cast<uint32_t>(pid))}),
      "the exit of a helper run after the quiet spell");
  CHECK(exit.exit().exit_code() == 0);
  CHECK(exit.exit().signal() == 0);
}

TEST_CASE("wakeups: under steady load the decode thread drains once per buffers.batch_delay_ms") {
  REQUIRE_KERNEL();
  Watched watched("buffers:\n  batch_delay_ms: 100\n");

  // Back-to-back helpers for 2 s: records keep coming, so every drain finds some and the wait between
  // drains grows to its bound.
  const uint64_t before = watched.drains();
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  pid_t last = -1;
  int spawned = 0;
  while (std::chrono::steady_clock::now() < end) {
    last = vt::spawn({vt::helper_path(), "exit", "0"});
    REQUIRE(vt::wait_status(last) == 0);
    ++spawned;
  }
  const uint64_t woken = watched.drains() - before;
  // About 20 drains at the 100 ms bound, plus the 1, 2, 4 ... 64 ms steps that lead to it. With the
  // default bound of 10 ms it drains about 200 times.
  INFO("decode thread drained the rings " << woken << " times in 2 s of " << spawned << " helpers");
  CHECK(spawned > 100);
  CHECK(woken < 60);

  const Event exit = watched.stream.wait_for(
      vt::all_of({vt::kind_is(EVENT_KIND_EXIT), vt::pid_is(static_cast<uint32_t>(last))}), "the exit of the last helper");
  CHECK(exit.exit().exit_code() == 0);
}
