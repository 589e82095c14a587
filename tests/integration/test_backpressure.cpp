// A subscriber that does not read loses events, counted and announced, without costing a reading
// subscriber a single one; so does a kernel ring that vajrad cannot drain. Only counts are asserted,
// never times.
#include <signal.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "harness.h"

using namespace vajra::v1;

namespace {

const SubscriberStatus* find_subscriber(const StatusResponse& status, uint64_t id) {
  for (const auto& s : status.subscribers()) {
    if (s.id() == id) return &s;
  }
  return nullptr;
}

// Waits for the stream's first Loss event of `place`, and checks it counts something and names no
// process.
void expect_loss(vt::EventStream& stream, LossPlace place, const std::string& what) {
  const Event loss = stream.wait_for(
      [place](const Event& e) { return e.kind() == EVENT_KIND_LOSS && e.loss().place() == place; }, what);
  INFO("loss event: " << vt::to_json(loss));
  CHECK(loss.loss().count() > 0);
  CHECK_FALSE(loss.has_process());
}

// The counts of the stream's Loss events of `place`, added up.
uint64_t announced_losses(const vt::EventStream& stream, LossPlace place) {
  uint64_t total = 0;
  for (const Event& e : stream.matching(vt::kind_is(EVENT_KIND_LOSS))) {
    if (e.loss().place() == place) total += e.loss().count();
  }
  return total;
}

}  // namespace

TEST_CASE("loss: a slow subscriber loses events with counted drops while a fast one gets all of them") {
  REQUIRE_KERNEL();
  constexpr uint32_t kQueue = 16;
  vt::Daemon daemon("buffers:\n  subscriber_queue: 16\n");
  const std::string helper = vt::helper_path();
  const std::string burst = "burst-" + vt::random_hex(12);
  const std::string filler = "filler-" + vt::random_hex(12);
  // Large events fill the slow client's transport buffers quickly, so the daemon's writes to it block
  // and its queue has to overflow.
  const std::string pad(8192, 'p');

  SubscribeRequest fast_request;
  fast_request.add_kinds(EVENT_KIND_EXEC);
  fast_request.add_exe_prefixes(helper);
  vt::EventStream fast(daemon, fast_request);
  // Every kind of the helper's events, and no one else's: the machine's own activity can neither
  // fill this queue nor push the barrier below out of it once the subscriber reads again.
  SubscribeRequest slow_request;
  slow_request.add_exe_prefixes(helper);
  vt::EventStream slow(daemon, slow_request, /*paused=*/true);  // reads nothing until resume()

  auto exec_with_marker = [&](const std::string& mark) {
    return [&, mark](const Event& e) {
      return e.kind() == EVENT_KIND_EXEC && e.process().exe() == helper && e.process().argv_size() >= 4 &&
             e.process().argv(3) == mark;
    };
  };
  auto run_helper = [&](const std::string& mark) {
    const pid_t pid = vt::spawn({helper, "exit", "0", mark, pad});
    const int status = vt::wait_status(pid);
    REQUIRE(WIFEXITED(status));
  };

  // 500 execs, in windows of 8: a window never holds more of the fast subscriber's events than its
  // 16-event queue takes, so whatever it loses would be the daemon's fault, not the test's pace.
  constexpr size_t kBurst = 500, kWindow = 8;
  for (size_t sent = 0; sent < kBurst;) {
    for (size_t i = 0; i < kWindow && sent < kBurst; ++i, ++sent) run_helper(burst);
    fast.wait_count(exec_with_marker(burst), sent, "burst execs seen by the fast subscriber");
  }

  // The slow subscriber must have overflowed by now; if its client buffered more than expected, keep
  // feeding it (filler is not counted in the burst) until the daemon reports drops.
  uint64_t slow_dropped = 0;
  for (int round = 0; round < 100; ++round) {
    const StatusResponse status = daemon.status();
    const SubscriberStatus* s = find_subscriber(status, slow.subscriber_id());
    REQUIRE(s != nullptr);
    slow_dropped = s->dropped();
    if (slow_dropped > 0) break;
    for (int i = 0; i < 50; ++i) run_helper(filler);
  }
  REQUIRE(slow_dropped > 0);

  vt::barrier(fast);
  {
    INFO(fast.summary());
    CHECK(fast.count(exec_with_marker(burst)) == kBurst);  // exactly: none lost, none doubled
    CHECK(fast.count(vt::kind_is(EVENT_KIND_LOSS)) == 0);
    const StatusResponse status = daemon.status();
    const SubscriberStatus* f = find_subscriber(status, fast.subscriber_id());
    REQUIRE(f != nullptr);
    CHECK(f->dropped() == 0);
    CHECK(f->queue_capacity() == kQueue);
    const SubscriberStatus* s = find_subscriber(status, slow.subscriber_id());
    REQUIRE(s != nullptr);
    CHECK(s->queue_capacity() == kQueue);
    CHECK(s->queue_depth() <= kQueue);
    CHECK(status.subscriber_drops() >= s->dropped());
  }

  // The slow subscriber reads again: its stream says where events went missing, and how many.
  slow.resume();
  expect_loss(slow, LOSS_PLACE_SUBSCRIBER, "a subscriber Loss event in the slow stream");

  // After a barrier every drop counted before it has been announced (the Loss comes before the next
  // delivered event), and nothing is announced that the daemon did not count.
  vt::barrier(slow);
  const StatusResponse after = daemon.status();
  const SubscriberStatus* s = find_subscriber(after, slow.subscriber_id());
  REQUIRE(s != nullptr);
  const uint64_t announced = announced_losses(slow, LOSS_PLACE_SUBSCRIBER);
  INFO(slow.summary());
  CHECK(announced >= slow_dropped);
  CHECK(announced <= s->dropped());
}

TEST_CASE("loss: records the kernel ring could not hold are counted in Status and announced in the stream") {
  REQUIRE_KERNEL();
  // A 64 KiB ring (short argv and env limits let the config accept it) fills within a few dozen execs
  // of long command lines while vajrad is stopped and cannot drain it.
  vt::Daemon daemon(
      "buffers:\n  ring_buffer_bytes: 65536\n"
      "process:\n  argv_max_bytes: 4096\n  env_max_bytes: 1024\n");
  const std::string helper = vt::helper_path();
  SubscribeRequest request;
  request.add_exe_prefixes(helper);
  vt::EventStream stream(daemon, request);
  const std::string pad(2048, 'p');

  constexpr int kExecs = 300;  // about 3 KiB of exec record each: 14 rings' worth
  {
    REQUIRE(kill(daemon.pid(), SIGSTOP) == 0);
    // Resumed however this block ends, so that the daemon can stop at the end of the test.
    struct Resume {
      pid_t pid;
      ~Resume() { kill(pid, SIGCONT); }
    } resume{daemon.pid()};
    for (int i = 0; i < kExecs; ++i) {
      const pid_t pid = vt::spawn({helper, "exit", "0", pad});
      vt::wait_status(pid);
    }
  }

  expect_loss(stream, LOSS_PLACE_KERNEL_RING, "a kernel-ring Loss event");

  // Events after the overflow are delivered again, and every drop Status counts is announced in the
  // stream (Loss events pass every filter): the two totals meet once the daemon's periodic check has
  // seen them all.
  uint64_t counted = 0, announced = 0;
  for (int attempt = 0; attempt < 20; ++attempt) {
    vt::barrier(stream);
    counted = 0;
    const StatusResponse status = daemon.status();
    for (const KindCounters& kind : status.kinds()) counted += kind.kernel_drops();
    announced = announced_losses(stream, LOSS_PLACE_KERNEL_RING);
    if (announced == counted) break;
  }
  INFO(stream.summary());
  CHECK(counted > 0);
  CHECK(announced == counted);
  uint64_t exec_drops = 0;
  const StatusResponse status = daemon.status();
  for (const KindCounters& kind : status.kinds()) {
    if (kind.kind() == EVENT_KIND_EXEC) exec_drops = kind.kernel_drops();
  }
  CHECK(exec_drops > 0);
  CHECK(stream.count(vt::kind_is(EVENT_KIND_EXEC)) < static_cast<size_t>(kExecs));
}
