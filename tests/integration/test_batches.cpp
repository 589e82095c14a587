// SubscribeBatches against a real vajrad: the same stream as Subscribe, several events per message.
// StreamStart comes first, seqs run on from batch to batch with nothing missing or doubled, a slow
// subscriber is told of its losses by a Loss event exactly where the events are missing, and a
// resumed stream carries on from its cursor. The streams here take every event of the machine (no
// filter), so that every seq the daemon publishes must be accounted for. Only counts and orders are
// asserted, never times.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "harness.h"

using namespace vajra::v1;

namespace {

constexpr int kMaxBatchEvents = 256;  // daemon/hub.h

// A SubscribeBatches call read on its own thread, batches kept as they came. Like vt::EventStream,
// it returns once vajrad lists the subscription, and a paused one reads nothing until resume().
class BatchStream {
 public:
  BatchStream(vt::Daemon& daemon, SubscribeRequest request = {}, bool paused = false)
      : request_(std::move(request)), paused_(paused) {
    std::shared_ptr<grpc::Channel> channel = daemon.channel();
    if (paused) {
      // Not read, so its own connection, with small windows: the daemon's writes to it block soon.
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
      args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16384);
      channel = daemon.new_channel(args);
    }
    stub_ = Sensor::NewStub(channel);
    std::set<uint64_t> before;
    const StatusResponse initial = daemon.status();
    for (const auto& s : initial.subscribers()) before.insert(s.id());
    thread_ = std::thread(&BatchStream::reader, this);

    // No assertion may throw while the reader runs unjoined: find the problem, clean up, then FAIL.
    std::string problem;
    const auto deadline = std::chrono::steady_clock::now() + vt::kWait;
    while (subscriber_id_ == 0 && problem.empty()) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + vt::kWait);
      StatusResponse status;
      const grpc::Status s = daemon.stub().Status(&context, StatusRequest(), &status);
      if (!s.ok()) {
        problem = "Status failed while waiting for the subscription: " + s.error_message();
        break;
      }
      for (const auto& subscriber : status.subscribers()) {
        if (before.count(subscriber.id()) == 0 && subscriber.peer_pid() == static_cast<uint32_t>(getpid())) {
          subscriber_id_ = subscriber.id();
        }
      }
      if (subscriber_id_ != 0) break;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (ended_) problem = "subscription ended before it was live: " + end_status_;
      }
      if (std::chrono::steady_clock::now() > deadline) problem = "subscription not listed in Status within the wait";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!problem.empty()) {
      cancel();
      FAIL(problem);
    }
  }
  ~BatchStream() { cancel(); }
  BatchStream(const BatchStream&) = delete;
  BatchStream& operator=(const BatchStream&) = delete;

  uint64_t subscriber_id() const { return subscriber_id_; }

  void resume() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      paused_ = false;
    }
    cv_.notify_all();
  }

  // Ends the call and waits for the reader: what was received stays.
  void cancel() {
    context_.TryCancel();
    resume();
    if (thread_.joinable()) thread_.join();
  }

  std::vector<EventBatch> batches() const {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }

  std::vector<Event> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

  // Wall-clock time each batch was read, in the order of batches().
  std::vector<uint64_t> arrivals_ns() const {
    std::lock_guard<std::mutex> lock(mu_);
    return arrivals_ns_;
  }

  // The first event (in stream order) matching `predicate`, if one comes within `timeout`.
  std::optional<Event> try_wait_for(const vt::Predicate& predicate, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock<std::mutex> lock(mu_);
    size_t scanned = 0;
    while (true) {
      for (; scanned < events_.size(); ++scanned) {
        if (predicate(events_[scanned])) return events_[scanned];
      }
      if (ended_ || cv_.wait_until(lock, deadline) == std::cv_status::timeout) break;
    }
    for (; scanned < events_.size(); ++scanned) {
      if (predicate(events_[scanned])) return events_[scanned];
    }
    return std::nullopt;
  }

  // The same, but FAILs when none comes within the wait.
  Event wait_for(const vt::Predicate& predicate, const std::string& what) {
    if (std::optional<Event> found = try_wait_for(predicate, vt::kWait)) return *found;
    FAIL("waited for " << what << "\n" << summary());
    return Event();
  }

  std::string summary() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::ostringstream out;
    out << "batch stream (subscriber " << subscriber_id_ << ") saw " << events_.size() << " events in "
        << batches_.size() << " batches";
    if (ended_) out << "; stream ended (" << end_status_ << ")";
    out << "\nlast events:\n";
    const size_t first = events_.size() > 40 ? events_.size() - 40 : 0;
    for (size_t i = first; i < events_.size(); ++i) out << "  " << vt::describe(events_[i]) << "\n";
    return out.str();
  }

 private:
  void reader() {
    auto reader = stub_->SubscribeBatches(&context_, request_);
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return !paused_; });
    }
    EventBatch batch;
    while (reader->Read(&batch)) {
      std::lock_guard<std::mutex> lock(mu_);
      arrivals_ns_.push_back(vt::wall_ns());
      batches_.push_back(batch);
      events_.insert(events_.end(), batch.events().begin(), batch.events().end());
      cv_.notify_all();
    }
    const grpc::Status status = reader->Finish();
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    end_status_ = "code " + std::to_string(status.error_code()) + ": " + status.error_message();
    cv_.notify_all();
  }

  const SubscribeRequest request_;
  std::unique_ptr<Sensor::Stub> stub_;
  grpc::ClientContext context_;
  uint64_t subscriber_id_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<EventBatch> batches_;
  std::vector<uint64_t> arrivals_ns_;
  std::vector<Event> events_;
  bool paused_;
  bool ended_ = false;
  std::string end_status_;
  std::thread thread_;
};

// Runs the helper to completion with `mark` as its argument; returns its pid.
pid_t run_helper(const std::string& mark, const std::string& pad = "") {
  std::vector<std::string> argv{vt::helper_path(), "exit", "0", mark};
  if (!pad.empty()) argv.push_back(pad);
  const pid_t pid = vt::spawn(argv);
  const int status = vt::wait_status(pid);
  REQUIRE(WIFEXITED(status));
  return pid;
}

// Runs `runs` helpers one after the other, each marked; returns the last one's pid.
pid_t run_helpers(const std::string& mark, size_t runs) {
  pid_t last = -1;
  for (size_t i = 0; i < runs; ++i) last = run_helper(mark);
  return last;
}

vt::Predicate exit_of(pid_t pid) {
  return vt::all_of({vt::kind_is(EVENT_KIND_EXIT), vt::pid_is(static_cast<uint32_t>(pid))});
}

vt::Predicate exec_marked(const std::string& mark) {
  const std::string helper = vt::helper_path();
  return [helper, mark](const Event& e) {
    return e.kind() == EVENT_KIND_EXEC && e.process().exe() == helper && e.process().argv_size() >= 4 &&
           e.process().argv(3) == mark;
  };
}

// Walks an unfiltered stream from `first_seq` on: every seq must come once, in order, or be counted
// by a subscriber Loss event standing exactly where it is missing. Returns the seq after the last.
struct Accounting {
  uint64_t next_seq = 0;        // the seq the next event must carry
  uint64_t announced_lost = 0;  // by LOSS_PLACE_SUBSCRIBER events
  size_t subscriber_losses = 0;
  size_t other_unsequenced = 0;  // seq-0 events other than StreamStart and subscriber losses
};
Accounting account(const std::vector<Event>& events, size_t from, uint64_t first_seq) {
  Accounting a;
  a.next_seq = first_seq;
  for (size_t i = from; i < events.size(); ++i) {
    const Event& e = events[i];
    if (e.seq() == 0) {
      if (e.kind() == EVENT_KIND_LOSS && e.loss().place() == LOSS_PLACE_SUBSCRIBER) {
        a.next_seq += e.loss().count();
        a.announced_lost += e.loss().count();
        ++a.subscriber_losses;
      } else {
        ++a.other_unsequenced;
      }
      continue;
    }
    INFO("event " << i << ": " << vt::describe(e));
    REQUIRE(e.seq() == a.next_seq);
    ++a.next_seq;
  }
  return a;
}

}  // namespace

TEST_CASE("batches: StreamStart first, then every seq once and in order across batches, as Subscribe has them") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  BatchStream batches(daemon);
  SubscribeRequest helper_only;
  helper_only.add_exe_prefixes(vt::helper_path());
  vt::EventStream single(daemon, helper_only);  // Subscribe, for comparison

  const std::string mark = "batched-" + vt::random_hex(12);
  constexpr size_t kRuns = 150;
  const pid_t last = run_helpers(mark, kRuns);
  batches.wait_for(exit_of(last), "exit of the last helper");
  single.wait_for(exit_of(last), "exit of the last helper, on Subscribe");
  batches.cancel();

  const std::vector<Event> events = batches.events();
  const std::vector<EventBatch> messages = batches.batches();
  INFO(batches.summary());
  REQUIRE_FALSE(events.empty());
  REQUIRE(events[0].kind() == EVENT_KIND_STREAM_START);
  const StreamStart& start = events[0].stream_start();
  CHECK(start.replayed() == 0);
  CHECK(start.daemon_instance() == daemon.status().daemon_instance());
  CHECK(std::count_if(events.begin(), events.end(), vt::kind_is(EVENT_KIND_STREAM_START)) == 1);

  // Every message holds something and at most the batch bound; together they are the stream.
  for (const EventBatch& batch : messages) {
    CHECK(batch.events_size() >= 1);
    CHECK(batch.events_size() <= kMaxBatchEvents);
  }
  // From the first live seq on, nothing missing, nothing doubled (a loss would say where).
  const Accounting a = account(events, 1, start.next_seq());
  CHECK(a.other_unsequenced == 0);
  CHECK(a.subscriber_losses == 0);
  CHECK(a.next_seq > start.next_seq() + 3 * kRuns - 1);  // at least the helpers' exec, fork and exit

  // The helpers' execs: all of them, the same events Subscribe delivered (same seqs, same bytes).
  std::map<uint64_t, std::string> on_batches, on_single;
  for (const Event& e : events) {
    if (exec_marked(mark)(e)) on_batches[e.seq()] = e.SerializeAsString();
  }
  for (const Event& e : single.matching(exec_marked(mark))) on_single[e.seq()] = e.SerializeAsString();
  CHECK(on_batches.size() == kRuns);
  CHECK(on_batches == on_single);
}

TEST_CASE("batches: a slow subscriber is told of its losses by a Loss event where the events are missing") {
  REQUIRE_KERNEL();
  vt::Daemon daemon("buffers:\n  subscriber_queue: 16\n");
  BatchStream slow(daemon, {}, /*paused=*/true);
  const std::string filler = "filler-" + vt::random_hex(12);
  // Large events fill the slow client's transport buffers quickly, so the daemon's writes to it
  // block and its queue has to overflow.
  const std::string pad(8192, 'p');

  uint64_t dropped = 0;
  for (int round = 0; round < 100 && dropped == 0; ++round) {
    for (int i = 0; i < 50; ++i) run_helper(filler, pad);
    const StatusResponse status = daemon.status();
    for (const auto& s : status.subscribers()) {
      if (s.id() == slow.subscriber_id()) dropped = s.dropped();
    }
  }
  REQUIRE(dropped > 0);

  // Reading again: once a last helper's exit is here, every drop counted before it has been
  // announced. (The machine's own events could overflow the small queue again and take that exit
  // with them; then another helper runs.)
  slow.resume();
  bool barrier = false;
  for (int attempt = 0; attempt < 5 && !barrier; ++attempt) {
    const pid_t last = run_helper("last-" + vt::random_hex(12));
    barrier = slow.try_wait_for(exit_of(last), std::chrono::seconds(10)).has_value();
  }
  slow.cancel();
  REQUIRE(barrier);

  const std::vector<Event> events = slow.events();
  INFO(slow.summary());
  REQUIRE_FALSE(events.empty());
  REQUIRE(events[0].kind() == EVENT_KIND_STREAM_START);
  const Accounting a = account(events, 1, events[0].stream_start().next_seq());
  CHECK(a.subscriber_losses >= 1);
  CHECK(a.announced_lost >= dropped);
  // Nothing is announced that the daemon did not count (this is its only subscriber).
  CHECK(a.announced_lost <= daemon.status().subscriber_drops());
  for (const Event& e : events) {
    if (e.kind() == EVENT_KIND_LOSS && e.seq() == 0) {
      CHECK(e.loss().place() == LOSS_PLACE_SUBSCRIBER);
      CHECK(e.loss().count() > 0);
      CHECK_FALSE(e.has_process());
    }
  }
}

TEST_CASE("batches: a stream resumed from its cursor carries on with no gap and no duplicate") {
  REQUIRE_KERNEL();
  // Room to retain everything this machine does while no one is subscribed.
  vt::Daemon daemon("buffers:\n  replay_events: 200000\n  replay_bytes: 536870912\n");
  const std::string before = "before-" + vt::random_hex(12), meanwhile = "meanwhile-" + vt::random_hex(12),
                    after = "after-" + vt::random_hex(12);
  constexpr size_t kRuns = 40;

  // A first stream takes some events, then goes away holding its cursor: its last seq.
  BatchStream first(daemon);
  pid_t last = run_helpers(before, kRuns);
  first.wait_for(exit_of(last), "exit of the last helper before the break");
  first.cancel();
  const std::vector<Event> first_events = first.events();
  REQUIRE_FALSE(first_events.empty());
  REQUIRE(first_events[0].kind() == EVENT_KIND_STREAM_START);
  const std::string instance = first_events[0].stream_start().daemon_instance();
  const Accounting first_accounting = account(first_events, 1, first_events[0].stream_start().next_seq());
  REQUIRE(first_accounting.subscriber_losses == 0);
  const uint64_t cursor = first_accounting.next_seq - 1;

  // Events while no one is subscribed: more than one batch holds, so the replay spans batches.
  constexpr size_t kMeanwhile = 100;
  run_helpers(meanwhile, kMeanwhile);

  SubscribeRequest resume;
  resume.mutable_resume()->set_daemon_instance(instance);
  resume.mutable_resume()->set_seq(cursor);
  BatchStream second(daemon, resume);
  last = run_helpers(after, kRuns);
  second.wait_for(exit_of(last), "exit of the last helper after the resume");
  second.cancel();

  const std::vector<Event> events = second.events();
  INFO(second.summary());
  REQUIRE_FALSE(events.empty());
  REQUIRE(events[0].kind() == EVENT_KIND_STREAM_START);
  const StreamStart& start = events[0].stream_start();
  CHECK(start.daemon_instance() == instance);
  // Everything published after the cursor was retained (the helpers' last events may still have been
  // on their way through vajrad, and come live).
  CHECK(start.replayed() == start.next_seq() - 1 - cursor);
  CHECK(start.replayed() > 0);
  // The replay and the live events after it: from cursor + 1 on, every seq once, in order. No loss:
  // nothing expired, nothing dropped.
  const Accounting a = account(events, 1, cursor + 1);
  CHECK(a.subscriber_losses == 0);
  CHECK(a.other_unsequenced == 0);
  CHECK(a.next_seq > start.next_seq());

  // What the first stream had is not sent again; what happened during the break is all there.
  CHECK(std::count_if(events.begin(), events.end(), exec_marked(before)) == 0);
  CHECK(std::count_if(events.begin(), events.end(), exec_marked(meanwhile)) == static_cast<long>(kMeanwhile));
  CHECK(std::count_if(events.begin(), events.end(), exec_marked(after)) == static_cast<long>(kRuns));
  CHECK(std::count_if(first_events.begin(), first_events.end(), exec_marked(before)) == static_cast<long>(kRuns));
  // The replay was queued whole at subscription, so it came in batches larger than one event.
  size_t largest = 0;
  for (const EventBatch& batch : second.batches()) {
    largest = std::max(largest, static_cast<size_t>(batch.events_size()));
  }
  CHECK(largest > 1);
}

TEST_CASE("batches: a held stream (max_batch_delay_ms) gets every event, in fewer batches, none before its hold") {
  REQUIRE_KERNEL();
  vt::Daemon daemon;
  SubscribeRequest helper_only;
  helper_only.add_exe_prefixes(vt::helper_path());
  SubscribeRequest held_request = helper_only;
  constexpr uint32_t kHoldMs = 1000;
  held_request.set_max_batch_delay_ms(kHoldMs);
  BatchStream held(daemon, held_request);
  BatchStream prompt(daemon, helper_only);

  const std::string mark = "held-" + vt::random_hex(12);
  constexpr size_t kRuns = 20;
  const pid_t last = run_helpers(mark, kRuns);
  // Nothing comes after the helpers, so only the decode thread's timed flush can send the last batch.
  held.wait_for(exit_of(last), "exit of the last helper, on the held stream");
  prompt.wait_for(exit_of(last), "exit of the last helper, on the prompt stream");
  held.cancel();
  prompt.cancel();

  INFO(held.summary());
  INFO(prompt.summary());
  const std::vector<Event> held_events = held.events();
  REQUIRE(held_events[0].kind() == EVENT_KIND_STREAM_START);
  // The same events: each helper's exec and exit at least (its fork is its parent's, this test's).
  auto marked_seqs = [&](const std::vector<Event>& events) {
    std::vector<uint64_t> seqs;
    for (const Event& e : events) {
      if (exec_marked(mark)(e)) seqs.push_back(e.seq());
    }
    return seqs;
  };
  CHECK(marked_seqs(held_events).size() == kRuns);
  CHECK(marked_seqs(held_events) == marked_seqs(prompt.events()));
  CHECK(std::count_if(held_events.begin(), held_events.end(), vt::kind_is(EVENT_KIND_LOSS)) == 0);

  // Fewer messages than the prompt stream, which sends one per drain of the rings.
  const std::vector<EventBatch> held_batches = held.batches();
  CHECK(held_batches.size() < prompt.batches().size());
  // No batch of live events left before its first event had waited the hold. The event's time is
  // when the kernel saw it, before vajrad queued it; 5 ms allows for the boot-to-wall conversion.
  const std::vector<uint64_t> arrivals = held.arrivals_ns();
  for (size_t i = 1; i < held_batches.size(); ++i) {
    const EventBatch& batch = held_batches[i];
    if (batch.events_size() == kMaxBatchEvents) continue;  // full batches go at once
    INFO("batch " << i << ": " << vt::describe(batch.events(0)));
    CHECK(arrivals[i] + 5'000'000 >= batch.events(0).time_ns() + kHoldMs * 1'000'000ull);
  }
}
