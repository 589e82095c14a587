// Fan-out: subscriber filters, bounded queues with counted and announced loss, closing, replay and
// batches. The gRPC streams the server makes of them are in test_server_streams.cpp.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "hub.h"
#include "hub_events.h"

using namespace vajra;
using namespace vajra::test;
using namespace std::chrono_literals;

namespace {

const std::string kContainerId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

v1::Event loss_event(v1::LossPlace place, uint64_t count) {
  v1::Event event;
  event.set_kind(v1::EVENT_KIND_LOSS);
  event.mutable_loss()->set_place(place);
  event.mutable_loss()->set_count(count);
  return event;
}

// The Event a serialized one holds; its kind and seq must agree with the copies kept beside it.
v1::Event parsed(const EventPtr& event) {
  REQUIRE(event);
  const std::string_view body = event->body();
  v1::Event message;
  REQUIRE(message.ParseFromArray(body.data(), static_cast<int>(body.size())));
  CHECK(message.kind() == event->kind());
  CHECK(message.seq() == event->seq());
  return message;
}

std::vector<v1::Event> parsed(const std::vector<EventPtr>& events) {
  std::vector<v1::Event> messages;
  for (const EventPtr& event : events) messages.push_back(parsed(event));
  return messages;
}

// Everything the subscription has queued, as a stream sends it.
std::vector<EventPtr> take_all(Subscription& subscription) {
  std::vector<EventPtr> events;
  while (subscription.take_batch(events, kMaxBatchEvents) > 0) {
  }
  return events;
}

std::vector<v1::Event> drain(Subscription& subscription) { return parsed(take_all(subscription)); }

// One batch, without waiting when nothing is queued.
std::vector<v1::Event> batch_of(Subscription& subscription, size_t max_events) {
  std::vector<EventPtr> events;
  subscription.take_batch(events, max_events);
  return parsed(events);
}

// Subscribes and takes the StreamStart every stream begins with, leaving the live events.
std::shared_ptr<Subscription> subscribe_live(Hub& hub, const v1::SubscribeRequest& filter, uint32_t uid,
                                             uint32_t pid) {
  auto subscription = hub.subscribe(filter, uid, pid);
  if (!subscription->closed()) {
    const std::vector<v1::Event> start = batch_of(*subscription, 1);
    REQUIRE(start.size() == 1);
    REQUIRE(start[0].kind() == v1::EVENT_KIND_STREAM_START);
  }
  return subscription;
}

std::vector<uint64_t> seqs_of(const std::vector<v1::Event>& events) {
  std::vector<uint64_t> seqs;
  for (const auto& event : events) seqs.push_back(event.seq());
  return seqs;
}

}  // namespace

TEST_CASE("an empty filter passes every event") {
  const v1::SubscribeRequest everything;
  CHECK(filter_matches(everything, exec_event(1)));
  CHECK(filter_matches(everything, process_event(v1::EVENT_KIND_EXIT, 2, "/bin/sh", kContainerId)));
}

TEST_CASE("kinds filter passes only the listed kinds") {
  v1::SubscribeRequest filter;
  filter.add_kinds(v1::EVENT_KIND_EXEC);
  filter.add_kinds(v1::EVENT_KIND_EXIT);
  CHECK(filter_matches(filter, process_event(v1::EVENT_KIND_EXEC, 1, "/bin/a")));
  CHECK(filter_matches(filter, process_event(v1::EVENT_KIND_EXIT, 1, "/bin/a")));
  CHECK_FALSE(filter_matches(filter, process_event(v1::EVENT_KIND_FORK, 1, "/bin/a")));
  CHECK_FALSE(filter_matches(filter, process_event(v1::EVENT_KIND_EXEC_FAILED, 1, "/bin/a")));
}

TEST_CASE("pids filter matches the event's process pid") {
  v1::SubscribeRequest filter;
  filter.add_pids(42);
  filter.add_pids(7);
  CHECK(filter_matches(filter, exec_event(42)));
  CHECK(filter_matches(filter, exec_event(7)));
  CHECK_FALSE(filter_matches(filter, exec_event(43)));
}

TEST_CASE("container filter takes the full id or a prefix of at least 12 characters") {
  const v1::Event in_container = process_event(v1::EVENT_KIND_EXEC, 1, "/bin/sh", kContainerId);
  const v1::Event on_host = process_event(v1::EVENT_KIND_EXEC, 1, "/bin/sh");
  v1::SubscribeRequest filter;

  SECTION("full id") {
    filter.add_container_ids(kContainerId);
    CHECK(filter_matches(filter, in_container));
  }
  SECTION("12-character prefix, as docker ps shows it") {
    filter.add_container_ids(kContainerId.substr(0, 12));
    CHECK(filter_matches(filter, in_container));
  }
  SECTION("shorter prefixes do not match") {
    filter.add_container_ids(kContainerId.substr(0, 11));
    CHECK_FALSE(filter_matches(filter, in_container));
  }
  SECTION("another container's id") {
    filter.add_container_ids("fedcba9876543210");
    CHECK_FALSE(filter_matches(filter, in_container));
  }
  SECTION("a process outside containers never matches a container filter") {
    filter.add_container_ids(kContainerId.substr(0, 12));
    CHECK_FALSE(filter_matches(filter, on_host));
  }
}

TEST_CASE("exe prefix filter matches the start of the executable path") {
  v1::SubscribeRequest filter;
  filter.add_exe_prefixes("/usr/bin/");
  filter.add_exe_prefixes("/tmp/");
  CHECK(filter_matches(filter, process_event(v1::EVENT_KIND_EXEC, 1, "/usr/bin/curl")));
  CHECK(filter_matches(filter, process_event(v1::EVENT_KIND_EXEC, 1, "/tmp/x")));
  CHECK_FALSE(filter_matches(filter, process_event(v1::EVENT_KIND_EXEC, 1, "/usr/sbin/sshd")));
  CHECK_FALSE(filter_matches(filter, process_event(v1::EVENT_KIND_EXEC, 1, "/usr/bin")));
}

TEST_CASE("every filter field must match") {
  v1::SubscribeRequest filter;
  filter.add_kinds(v1::EVENT_KIND_EXEC);
  filter.add_pids(10);
  filter.add_exe_prefixes("/bin/");
  CHECK(filter_matches(filter, process_event(v1::EVENT_KIND_EXEC, 10, "/bin/sh")));
  CHECK_FALSE(filter_matches(filter, process_event(v1::EVENT_KIND_EXIT, 10, "/bin/sh")));
  CHECK_FALSE(filter_matches(filter, process_event(v1::EVENT_KIND_EXEC, 11, "/bin/sh")));
  CHECK_FALSE(filter_matches(filter, process_event(v1::EVENT_KIND_EXEC, 10, "/sbin/init")));
}

TEST_CASE("loss events pass every filter") {
  v1::SubscribeRequest filter;
  filter.add_kinds(v1::EVENT_KIND_EXEC);
  filter.add_pids(10);
  filter.add_container_ids(kContainerId);
  filter.add_exe_prefixes("/bin/");
  CHECK(filter_matches(filter, loss_event(v1::LOSS_PLACE_KERNEL_RING, 5)));
  CHECK(filter_matches(filter, loss_event(v1::LOSS_PLACE_PIPELINE, 5)));
  CHECK(filter_matches(filter, loss_event(v1::LOSS_PLACE_SUBSCRIBER, 5)));
}

TEST_CASE("a serialized event is an EventBatch entry: joined, the entries parse as one batch") {
  v1::Event exec = exec_event(7);
  exec.set_seq(41);
  v1::Event exit = process_event(v1::EVENT_KIND_EXIT, 7, std::string(300, 'x'));  // a two-byte length
  exit.set_seq(42);
  const EventPtr first = serialize_event(exec);
  const EventPtr second = serialize_event(exit);
  CHECK(first->kind() == v1::EVENT_KIND_EXEC);
  CHECK(first->seq() == 41);
  CHECK(first->body() == exec.SerializeAsString());
  CHECK(second->body_offset() == 3);
  CHECK(second->size() == second->bytes().size());

  v1::EventBatch batch;
  REQUIRE(batch.ParseFromString(std::string(first->bytes()) + std::string(second->bytes())));
  REQUIRE(batch.events_size() == 2);
  CHECK(batch.events(0).SerializeAsString() == exec.SerializeAsString());
  CHECK(batch.events(1).SerializeAsString() == exit.SerializeAsString());
}

TEST_CASE("publish numbers events and delivers only what each filter wants") {
  Hub hub(16, 0, 1 << 20, "test-instance");
  v1::SubscribeRequest only_exits;
  only_exits.add_kinds(v1::EVENT_KIND_EXIT);
  auto everything = subscribe_live(hub, v1::SubscribeRequest(), 0, 100);
  auto exits = subscribe_live(hub, only_exits, 1000, 200);

  hub.publish(exec_event(1));
  hub.publish(process_event(v1::EVENT_KIND_EXIT, 1, "/usr/bin/true"));
  hub.publish(loss_event(v1::LOSS_PLACE_KERNEL_RING, 3));
  CHECK(hub.next_seq() == 4);

  const auto all = take_all(*everything);
  CHECK(seqs_of(parsed(all)) == std::vector<uint64_t>{1, 2, 3});

  const auto some = take_all(*exits);
  REQUIRE(some.size() == 2);
  CHECK(parsed(some[0]).kind() == v1::EVENT_KIND_EXIT);
  CHECK(parsed(some[1]).kind() == v1::EVENT_KIND_LOSS);
  CHECK(parsed(some[1]).loss().place() == v1::LOSS_PLACE_KERNEL_RING);
  // One event, serialized once and shared by both subscribers.
  CHECK(all[1].get() == some[0].get());
}

TEST_CASE("a slow subscriber loses events, counted and announced, while a fast one gets all") {
  constexpr size_t kCapacity = 4;
  constexpr uint64_t kPublished = 10;
  Hub hub(kCapacity, 0, 1 << 20, "test-instance");
  auto fast = subscribe_live(hub, v1::SubscribeRequest(), 0, 1);
  auto slow = subscribe_live(hub, v1::SubscribeRequest(), 0, 2);

  std::vector<uint64_t> fast_seqs;
  for (uint64_t i = 0; i < kPublished; ++i) {
    hub.publish(exec_event(100));
    for (const v1::Event& event : drain(*fast)) fast_seqs.push_back(event.seq());
  }
  CHECK(fast_seqs == std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});

  // The queue took the first four; the loss comes after them, where the gap is.
  const auto received = drain(*slow);
  REQUIRE(received.size() == kCapacity + 1);
  for (size_t i = 0; i < kCapacity; ++i) CHECK(received[i].seq() == i + 1);
  const v1::Event& loss = received.back();
  CHECK(loss.kind() == v1::EVENT_KIND_LOSS);
  CHECK(loss.loss().place() == v1::LOSS_PLACE_SUBSCRIBER);
  CHECK(loss.loss().count() == kPublished - kCapacity);
  CHECK(loss.loss().kind() == v1::EVENT_KIND_EXEC);

  CHECK(slow->status().dropped() == kPublished - kCapacity);
  CHECK(slow->status().delivered() == kCapacity);
  CHECK(fast->status().dropped() == 0);
  CHECK(hub.subscriber_drops() == kPublished - kCapacity);
}

TEST_CASE("a loss is announced before the first event queued after it") {
  Hub hub(2, 0, 1 << 20, "test-instance");
  auto subscription = subscribe_live(hub, v1::SubscribeRequest(), 0, 1);
  hub.publish(exec_event(1));                                            // seq 1, queued
  hub.publish(exec_event(1));                                            // seq 2, queued
  hub.publish(exec_event(1));                                            // seq 3, dropped
  hub.publish(process_event(v1::EVENT_KIND_EXIT, 1, "/usr/bin/true"));  // seq 4, dropped
  REQUIRE(seqs_of(batch_of(*subscription, 1)) == std::vector<uint64_t>{1});
  hub.publish(exec_event(1));  // seq 5, queued behind seq 2

  const auto rest = drain(*subscription);
  REQUIRE(rest.size() == 3);
  CHECK(rest[0].seq() == 2);
  CHECK(rest[1].kind() == v1::EVENT_KIND_LOSS);
  CHECK(rest[1].loss().count() == 2);
  CHECK(rest[1].loss().kind() == v1::EVENT_KIND_UNSPECIFIED);  // exec and exit were lost
  CHECK(rest[2].seq() == 5);
}

TEST_CASE("a subscriber queue is bounded in bytes too, and always takes one event") {
  v1::Event big = exec_event(1);
  big.mutable_process()->add_argv(std::string(600, 'a'));
  const size_t one = big.ByteSizeLong() + 8;  // room for the seq the hub adds
  Hub hub(64, 0, 1 << 20, "test-instance", 2 * one);
  auto subscription = subscribe_live(hub, v1::SubscribeRequest(), 0, 1);
  for (int i = 0; i < 3; ++i) hub.publish(v1::Event(big));  // the third exceeds two events' bytes
  const v1::SubscriberStatus status = hub.subscribers().at(0);
  CHECK(status.queue_depth() == 2);
  CHECK(status.queue_bytes() > one);
  CHECK(status.queue_bytes() <= 2 * one);
  CHECK(status.queue_bytes_capacity() == 2 * one);
  CHECK(hub.subscriber_drops() == 1);
  const auto taken = drain(*subscription);
  REQUIRE(taken.size() == 3);
  CHECK(taken[2].loss().count() == 1);
  CHECK(hub.subscribers().at(0).queue_bytes() == 0);

  Hub tiny(64, 0, 1 << 20, "test-instance", 1);  // smaller than any event: one still fits
  auto alone = subscribe_live(tiny, v1::SubscribeRequest(), 0, 1);
  tiny.publish(v1::Event(big));
  tiny.publish(v1::Event(big));
  CHECK(tiny.subscribers().at(0).queue_depth() == 1);
  CHECK(tiny.subscriber_drops() == 1);
}

TEST_CASE("drops of departed subscribers stay counted") {
  Hub hub(1, 0, 1 << 20, "test-instance");
  auto subscription = subscribe_live(hub, v1::SubscribeRequest(), 0, 1);
  hub.publish(exec_event(1));
  hub.publish(exec_event(1));
  hub.unsubscribe(subscription);
  CHECK(hub.subscribers().empty());
  CHECK(hub.subscriber_drops() == 1);
  hub.publish(exec_event(1));
  CHECK(hub.subscriber_drops() == 1);
}

TEST_CASE("subscriber status reports peer, filter and queue") {
  Hub hub(8, 0, 1 << 20, "test-instance");
  v1::SubscribeRequest filter;
  filter.add_pids(5);
  auto subscription = subscribe_live(hub, filter, 1000, 4321);
  hub.publish(exec_event(5));

  const auto statuses = hub.subscribers();
  REQUIRE(statuses.size() == 1);
  CHECK(statuses[0].id() == subscription->id());
  CHECK(statuses[0].peer_uid() == 1000);
  CHECK(statuses[0].peer_pid() == 4321);
  CHECK(statuses[0].queue_depth() == 1);
  CHECK(statuses[0].queue_capacity() == 8);
  CHECK(statuses[0].connected_ns() > 0);
  REQUIRE(statuses[0].filter().pids_size() == 1);
  CHECK(statuses[0].filter().pids(0) == 5);
}

TEST_CASE("every stream starts with StreamStart naming the daemon run") {
  Hub hub(16, 4, 1 << 20, "run-a");
  hub.publish(exec_event(1));
  auto subscription = hub.subscribe(v1::SubscribeRequest(), 0, 1);
  const std::vector<v1::Event> taken = batch_of(*subscription, kMaxBatchEvents);
  REQUIRE(taken.size() == 1);  // no cursor: live events only
  const v1::Event& start = taken[0];
  CHECK(start.kind() == v1::EVENT_KIND_STREAM_START);
  CHECK(start.stream_start().daemon_instance() == "run-a");
  CHECK(start.stream_start().oldest_retained_seq() == 1);
  CHECK(start.stream_start().next_seq() == 2);
  CHECK(start.stream_start().replayed() == 0);
  CHECK(subscription->status().delivered() == 0);
}

TEST_CASE("a resuming subscriber gets the retained events after its cursor, then live ones") {
  Hub hub(64, 8, 1 << 20, "run-a");
  for (int i = 0; i < 5; ++i) hub.publish(exec_event(1));  // seqs 1..5
  auto subscription = hub.subscribe(resume_from("run-a", 3), 0, 1);
  hub.publish(exec_event(1));  // seq 6
  const auto events = drain(*subscription);
  REQUIRE(events.size() == 4);
  CHECK(events[0].stream_start().replayed() == 2);
  CHECK(seqs_of({events.begin() + 1, events.end()}) == std::vector<uint64_t>{4, 5, 6});
}

TEST_CASE("replay honours the subscriber's filter") {
  Hub hub(64, 8, 1 << 20, "run-a");
  hub.publish(exec_event(1));
  hub.publish(process_event(v1::EVENT_KIND_EXIT, 1, "/usr/bin/true"));
  v1::SubscribeRequest request = resume_from("run-a", 0);
  request.add_kinds(v1::EVENT_KIND_EXIT);
  const auto events = drain(*hub.subscribe(request, 0, 1));
  REQUIRE(events.size() == 2);
  CHECK(events[0].stream_start().replayed() == 1);
  CHECK(events[1].seq() == 2);
}

TEST_CASE("replay parses retained events for a filter on more than kinds") {
  Hub hub(64, 8, 1 << 20, "run-a");
  hub.publish(exec_event(1));
  hub.publish(exec_event(2));
  hub.publish(process_event(v1::EVENT_KIND_EXIT, 2, "/usr/bin/true"));
  v1::SubscribeRequest request = resume_from("run-a", 0);
  request.add_pids(2);
  request.add_kinds(v1::EVENT_KIND_EXEC);
  const auto events = drain(*hub.subscribe(request, 0, 1));
  REQUIRE(events.size() == 2);
  CHECK(events[0].stream_start().replayed() == 1);
  CHECK(events[1].seq() == 2);
  CHECK(events[1].process().pid() == 2);
}

TEST_CASE("a cursor older than the replay buffer is told how much expired") {
  Hub hub(64, 3, 1 << 20, "run-a");
  for (int i = 0; i < 10; ++i) hub.publish(exec_event(1));  // retains 8..10
  const auto events = drain(*hub.subscribe(resume_from("run-a", 2), 0, 1));
  REQUIRE(events.size() == 5);
  CHECK(events[0].stream_start().oldest_retained_seq() == 8);
  CHECK(events[1].kind() == v1::EVENT_KIND_LOSS);
  CHECK(events[1].loss().place() == v1::LOSS_PLACE_REPLAY_EXPIRED);
  CHECK(events[1].loss().count() == 5);  // seqs 3..7
  CHECK(seqs_of({events.begin() + 2, events.end()}) == std::vector<uint64_t>{8, 9, 10});
}

TEST_CASE("a cursor from an earlier daemon run replays everything retained, after a restart loss") {
  Hub hub(64, 8, 1 << 20, "run-b");
  hub.publish(exec_event(1));
  hub.publish(exec_event(1));
  const auto events = drain(*hub.subscribe(resume_from("run-a", 500), 0, 1));
  REQUIRE(events.size() == 4);
  CHECK(events[1].loss().place() == v1::LOSS_PLACE_DAEMON_RESTART);
  CHECK(events[1].loss().count() == 0);
  CHECK(seqs_of({events.begin() + 2, events.end()}) == std::vector<uint64_t>{1, 2});
}

TEST_CASE("a cursor at or past the newest event replays nothing and loses nothing") {
  Hub hub(64, 8, 1 << 20, "run-a");
  hub.publish(exec_event(1));
  CHECK(drain(*hub.subscribe(resume_from("run-a", 1), 0, 1)).size() == 1);
  CHECK(drain(*hub.subscribe(resume_from("run-a", UINT64_MAX), 0, 1)).size() == 1);
}

TEST_CASE("the replay buffer is bounded by bytes as well as by count") {
  v1::Event big = exec_event(1);
  big.mutable_process()->add_argv(std::string(4000, 'a'));
  const size_t one = v1::Event(big).ByteSizeLong();
  Hub hub(64, 100, 3 * one + one / 2, "run-a");
  for (int i = 0; i < 10; ++i) hub.publish(v1::Event(big));
  CHECK(hub.replay_retained() == 3);
  const auto events = drain(*hub.subscribe(resume_from("run-a", 0), 0, 1));
  REQUIRE(events.size() == 5);  // StreamStart, the expiry, and the 3 newest
  CHECK(events[1].loss().place() == v1::LOSS_PLACE_REPLAY_EXPIRED);
  CHECK(events[1].loss().count() == 7);
  CHECK(events[2].seq() == 8);
}

TEST_CASE("a replay longer than the subscriber queue is delivered whole") {
  Hub hub(4, 100, 1 << 20, "run-a");
  for (int i = 0; i < 20; ++i) hub.publish(exec_event(1));
  auto subscription = hub.subscribe(resume_from("run-a", 0), 0, 1);
  const auto events = drain(*subscription);
  REQUIRE(events.size() == 21);
  CHECK(events.back().seq() == 20);
  CHECK(subscription->status().dropped() == 0);
}

// ---------------------------------------------------------------------------------------------
// take_batch: what SubscribeBatches sends, several events per message.

namespace {

// How a stream looks to a consumer: seq, or the loss it announces, per event.
std::string describe_stream(const std::vector<v1::Event>& events) {
  std::string text;
  for (const v1::Event& event : events) {
    if (event.kind() == v1::EVENT_KIND_LOSS) {
      text += "loss(" + std::to_string(event.loss().place()) + "," + std::to_string(event.loss().count()) + "," +
              std::to_string(event.loss().kind()) + ") ";
    } else if (event.kind() == v1::EVENT_KIND_STREAM_START) {
      text += "start ";
    } else {
      text += std::to_string(event.seq()) + " ";
    }
  }
  return text;
}

}  // namespace

TEST_CASE("take_batch takes everything queued at once, StreamStart first, in stream order") {
  Hub hub(64, 0, 1 << 20, "run-a");
  auto subscription = hub.subscribe(v1::SubscribeRequest(), 0, 1);
  for (int i = 0; i < 5; ++i) hub.publish(exec_event(1));

  std::vector<EventPtr> taken;
  REQUIRE(subscription->take_batch(taken, 256) == 6);
  const std::vector<v1::Event> events = parsed(taken);
  CHECK(events[0].kind() == v1::EVENT_KIND_STREAM_START);
  CHECK(seqs_of({events.begin() + 1, events.end()}) == std::vector<uint64_t>{1, 2, 3, 4, 5});
  CHECK(subscription->status().delivered() == 5);  // StreamStart is not an event delivered
  CHECK(subscription->status().queue_depth() == 0);
  CHECK(batch_of(*subscription, 256).empty());
}

TEST_CASE("take_batch appends to what the caller holds") {
  Hub hub(64, 0, 1 << 20, "run-a");
  auto subscription = subscribe_live(hub, v1::SubscribeRequest(), 0, 1);
  hub.publish(exec_event(1));
  std::vector<EventPtr> events{nullptr};
  CHECK(subscription->take_batch(events, 256) == 1);
  REQUIRE(events.size() == 2);
  CHECK(events[0] == nullptr);
  CHECK(parsed(events[1]).seq() == 1);
}

TEST_CASE("take_batch takes at most max_events: the rest comes with the next batch") {
  Hub hub(64, 0, 1 << 20, "run-a");
  auto subscription = subscribe_live(hub, v1::SubscribeRequest(), 0, 1);
  for (int i = 0; i < 7; ++i) hub.publish(exec_event(1));
  CHECK(seqs_of(batch_of(*subscription, 3)) == std::vector<uint64_t>{1, 2, 3});
  CHECK(seqs_of(batch_of(*subscription, 3)) == std::vector<uint64_t>{4, 5, 6});
  CHECK(seqs_of(batch_of(*subscription, 3)) == std::vector<uint64_t>{7});
  CHECK(seqs_of(batch_of(*subscription, 0)).empty());  // 0 is taken as 1: nothing left anyway
  hub.publish(exec_event(1));
  CHECK(seqs_of(batch_of(*subscription, 0)) == std::vector<uint64_t>{8});
}

TEST_CASE("the listener runs once the hub has queued events for it, with the hub unlocked") {
  Hub hub(2, 0, 1 << 20, "run-a");
  v1::SubscribeRequest only_exits;
  only_exits.add_kinds(v1::EVENT_KIND_EXIT);
  auto subscription = subscribe_live(hub, only_exits, 0, 1);
  std::vector<EventPtr> taken;
  int calls = 0;
  subscription->set_listener([&] {
    ++calls;
    hub.next_seq();  // takes the hub's lock: this would deadlock under publish()'s
    subscription->take_batch(taken, 256);
  });

  // Not for it (the filter): no call.
  hub.publish(exec_event(1));
  CHECK(calls == 0);
  // For it: one call for the batch, which finds the events queued.
  std::vector<v1::Event> two;
  two.push_back(process_event(v1::EVENT_KIND_EXIT, 1, "/bin/x"));
  two.push_back(process_event(v1::EVENT_KIND_EXIT, 2, "/bin/x"));
  auto published = std::async(std::launch::async, [&] { hub.publish(two); });
  REQUIRE(published.wait_for(10s) == std::future_status::ready);
  CHECK(calls == 1);
  CHECK(seqs_of(parsed(taken)) == std::vector<uint64_t>{2, 3});

  // A full queue queues nothing, so no call: the Loss comes with the next batch taken.
  subscription->set_listener([&] { ++calls; });
  for (uint32_t pid : {3, 4, 5}) hub.publish(process_event(v1::EVENT_KIND_EXIT, pid, "/bin/x"));
  CHECK(calls == 3);  // the two that fitted
  // Cleared: no more calls.
  subscription->set_listener(nullptr);
  const std::string loss_of_6 =
      "loss(" + std::to_string(v1::LOSS_PLACE_SUBSCRIBER) + ",1," + std::to_string(v1::EVENT_KIND_EXIT) + ") ";
  CHECK(describe_stream(batch_of(*subscription, 256)) == "4 5 " + loss_of_6);
  hub.publish(process_event(v1::EVENT_KIND_EXIT, 6, "/bin/x"));
  CHECK(calls == 3);
}

TEST_CASE("take_batch puts a loss where the events are missing, between the events around it") {
  Hub hub(2, 0, 1 << 20, "run-a");
  auto subscription = subscribe_live(hub, v1::SubscribeRequest(), 0, 1);
  hub.publish(exec_event(1));                                            // seq 1, queued
  hub.publish(exec_event(1));                                            // seq 2, queued
  hub.publish(exec_event(1));                                            // seq 3, dropped
  hub.publish(process_event(v1::EVENT_KIND_EXIT, 1, "/usr/bin/true"));  // seq 4, dropped
  REQUIRE(seqs_of(batch_of(*subscription, 1)) == std::vector<uint64_t>{1});
  hub.publish(exec_event(1));  // seq 5, queued behind seq 2
  hub.publish(exec_event(1));  // seq 6, dropped after seq 5

  const auto batch = batch_of(*subscription, 256);
  REQUIRE(batch.size() == 4);
  CHECK(batch[0].seq() == 2);
  CHECK(batch[1].kind() == v1::EVENT_KIND_LOSS);
  CHECK(batch[1].loss().place() == v1::LOSS_PLACE_SUBSCRIBER);
  CHECK(batch[1].loss().count() == 2);
  CHECK(batch[1].loss().kind() == v1::EVENT_KIND_UNSPECIFIED);
  CHECK(batch[2].seq() == 5);
  // The queue drained after a drop: announced at the end of this batch, not held back.
  CHECK(batch[3].kind() == v1::EVENT_KIND_LOSS);
  CHECK(batch[3].loss().count() == 1);
  CHECK(batch[3].loss().kind() == v1::EVENT_KIND_EXEC);
  CHECK(batch_of(*subscription, 256).empty());
  CHECK(subscription->status().delivered() == 3);
  CHECK(subscription->status().dropped() == 3);
}

TEST_CASE("a loss takes a place in the batch like an event") {
  Hub hub(1, 0, 1 << 20, "run-a");
  auto subscription = subscribe_live(hub, v1::SubscribeRequest(), 0, 1);
  hub.publish(exec_event(1));  // seq 1, queued
  hub.publish(exec_event(1));  // seq 2, dropped
  REQUIRE(seqs_of(batch_of(*subscription, 1)) == std::vector<uint64_t>{1});
  hub.publish(exec_event(1));  // seq 3, queued with the loss of seq 2 before it
  const auto loss = batch_of(*subscription, 1);
  REQUIRE(loss.size() == 1);
  CHECK(loss[0].kind() == v1::EVENT_KIND_LOSS);
  CHECK(loss[0].loss().count() == 1);
  CHECK(seqs_of(batch_of(*subscription, 1)) == std::vector<uint64_t>{3});
}

TEST_CASE("batches of any size give the stream that taking one event at a time gives, drops and all") {
  // Two subscribers see the same publishes and drops; one is read event by event, the other in
  // batches of a size that changes from read to read.
  Hub hub(8, 0, 1 << 20, "run-a");
  auto single = subscribe_live(hub, v1::SubscribeRequest(), 0, 1);
  auto batched = subscribe_live(hub, v1::SubscribeRequest(), 0, 2);
  std::vector<EventPtr> by_one, by_batch;
  const std::vector<size_t> sizes{1, 3, 256, 2, 5, 1, 8, 4};
  uint64_t round = 0;
  for (int burst : {3, 12, 1, 9, 20, 2, 8, 15, 4, 30}) {
    for (int i = 0; i < burst; ++i) {
      hub.publish(i % 3 == 0 ? process_event(v1::EVENT_KIND_EXIT, 1, "/bin/x") : exec_event(1));
    }
    // Each reads as much as its batch size allows: the same number of stream entries for both.
    const size_t size = sizes[round++ % sizes.size()];
    std::vector<EventPtr> batch;
    batched->take_batch(batch, size);
    for (const EventPtr& event : batch) by_batch.push_back(event);
    for (size_t i = 0; i < batch.size(); ++i) single->take_batch(by_one, 1);
  }
  while (single->take_batch(by_one, 1) > 0) {
  }
  for (std::vector<EventPtr> batch; batched->take_batch(batch, 3) > 0; batch.clear()) {
    for (const EventPtr& event : batch) by_batch.push_back(event);
  }
  CHECK(by_one.size() == by_batch.size());
  CHECK(describe_stream(parsed(by_batch)) == describe_stream(parsed(by_one)));
  CHECK(batched->status().dropped() == single->status().dropped());
  CHECK(batched->status().dropped() > 0);
  CHECK(batched->status().delivered() == single->status().delivered());
}

TEST_CASE("a resuming subscriber's batches carry StreamStart, the replay, then live events") {
  Hub hub(64, 100, 1 << 20, "run-a");
  for (int i = 0; i < 20; ++i) hub.publish(exec_event(1));  // seqs 1..20
  auto subscription = hub.subscribe(resume_from("run-a", 5), 0, 1);
  hub.publish(exec_event(1));  // seq 21: live, queued behind the replay
  const auto first = batch_of(*subscription, 10);
  REQUIRE(first.size() == 10);
  CHECK(first[0].stream_start().replayed() == 15);
  CHECK(seqs_of({first.begin() + 1, first.end()}) == std::vector<uint64_t>{6, 7, 8, 9, 10, 11, 12, 13, 14});
  CHECK(seqs_of(batch_of(*subscription, 256)) == std::vector<uint64_t>{15, 16, 17, 18, 19, 20, 21});
  CHECK(subscription->status().dropped() == 0);
}

TEST_CASE("close_all calls the listener; the backlog is still taken, then nothing") {
  Hub hub(8, 0, 1 << 20, "run-a");
  auto subscription = subscribe_live(hub, v1::SubscribeRequest(), 0, 1);
  hub.publish(exec_event(1));
  int calls = 0;
  subscription->set_listener([&] { ++calls; });
  hub.close_all();
  CHECK(calls == 1);
  CHECK(subscription->closed());
  std::vector<EventPtr> events;
  CHECK(subscription->take_batch(events, 256) == 1);
  CHECK(subscription->take_batch(events, 256) == 0);

  // A later subscriber starts closed, and nothing published reaches it.
  auto late = hub.subscribe(v1::SubscribeRequest(), 0, 3);
  CHECK(late->closed());
  hub.publish(exec_event(1));
  CHECK(late->take_batch(events, 256) == 0);
}

namespace {

v1::SubscribeRequest held_for(std::chrono::milliseconds hold) {
  v1::SubscribeRequest request;
  request.set_max_batch_delay_ms(static_cast<uint32_t>(hold.count()));
  return request;
}

}  // namespace

TEST_CASE("a held subscription's batch waits until it has 256 events; what a full batch leaves goes at once") {
  Hub hub(1024, 0, 1 << 20, "run-a");
  auto subscription = hub.subscribe(held_for(1000ms), 0, 1);
  int calls = 0;
  subscription->set_listener([&] { ++calls; });
  // StreamStart is never held.
  const std::vector<v1::Event> start = batch_of(*subscription, kMaxBatchEvents);
  REQUIRE(start.size() == 1);
  CHECK(start[0].kind() == v1::EVENT_KIND_STREAM_START);

  hub.publish(exec_event(1));
  CHECK(calls == 0);
  CHECK(batch_of(*subscription, kMaxBatchEvents).empty());
  CHECK(subscription->status().queue_depth() == 1);
  for (size_t i = 1; i < kMaxBatchEvents - 1; ++i) hub.publish(exec_event(1));
  CHECK(calls == 0);
  hub.publish(exec_event(1));  // the 256th
  CHECK(calls == 1);
  for (int i = 0; i < 10; ++i) hub.publish(exec_event(1));
  // Taken 100 at a time: the first take makes the rest due.
  CHECK(seqs_of(batch_of(*subscription, 100)).front() == 1);
  CHECK(seqs_of(batch_of(*subscription, 100)).front() == 101);
  const std::vector<v1::Event> rest = batch_of(*subscription, kMaxBatchEvents);
  REQUIRE(rest.size() == 66);
  CHECK(rest.back().seq() == 266);

  // Queued anew: held again, until the subscription closes.
  hub.publish(exec_event(1));
  CHECK(batch_of(*subscription, kMaxBatchEvents).empty());
  hub.close_all();
  CHECK(seqs_of(batch_of(*subscription, kMaxBatchEvents)) == std::vector<uint64_t>{267});
}

TEST_CASE("flush_held wakes a held subscription once its oldest event has waited, and says when the next is due") {
  Hub hub(1024, 0, 1 << 20, "run-a");
  auto unheld = subscribe_live(hub, v1::SubscribeRequest(), 0, 1);
  auto slow = subscribe_live(hub, held_for(1000ms), 0, 2);
  auto quick = subscribe_live(hub, held_for(1ms), 0, 3);
  int slow_calls = 0, quick_calls = 0;
  slow->set_listener([&] { ++slow_calls; });
  quick->set_listener([&] { ++quick_calls; });
  // Nothing held: nothing to wait for.
  CHECK(hub.flush_held(std::chrono::steady_clock::now()) == SteadyTime::max());

  const SteadyTime before = std::chrono::steady_clock::now();
  hub.publish(exec_event(1));
  const SteadyTime after = std::chrono::steady_clock::now();
  CHECK(slow_calls == 0);
  std::this_thread::sleep_for(20ms);  // well past the quick one's hold
  const SteadyTime due = hub.flush_held(std::chrono::steady_clock::now());
  // The slow one is due a second after its event was queued; the quick one was woken.
  CHECK(due >= before + 1000ms);
  CHECK(due <= after + 1000ms);
  CHECK(slow_calls == 0);
  CHECK(quick_calls == 1);
  CHECK(seqs_of(batch_of(*quick, kMaxBatchEvents)) == std::vector<uint64_t>{1});
  CHECK(batch_of(*slow, kMaxBatchEvents).empty());
  CHECK(seqs_of(batch_of(*unheld, kMaxBatchEvents)) == std::vector<uint64_t>{1});

  // Publishing also wakes a held subscription whose oldest event has waited long enough.
  hub.publish(exec_event(1));
  std::this_thread::sleep_for(20ms);
  hub.publish(exec_event(1));
  CHECK(quick_calls == 2);
  CHECK(seqs_of(batch_of(*quick, kMaxBatchEvents)) == std::vector<uint64_t>{2, 3});
}

TEST_CASE("a held subscription's replay is not held") {
  Hub hub(1024, 64, 1 << 20, "run-a");
  for (int i = 0; i < 3; ++i) hub.publish(exec_event(1));
  v1::SubscribeRequest request = held_for(1000ms);
  *request.mutable_resume() = resume_from("run-a", 1).resume();
  auto subscription = hub.subscribe(request, 0, 1);
  const std::vector<v1::Event> replay = batch_of(*subscription, kMaxBatchEvents);
  REQUIRE(replay.size() == 3);
  CHECK(replay[0].kind() == v1::EVENT_KIND_STREAM_START);
  CHECK(seqs_of({replay.begin() + 1, replay.end()}) == std::vector<uint64_t>{2, 3});
  hub.publish(exec_event(1));
  CHECK(batch_of(*subscription, kMaxBatchEvents).empty());
}
