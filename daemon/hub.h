// Fan-out: hands every published event to each subscriber whose filter matches, through a bounded
// queue per subscriber. Publishing never blocks: a full queue drops the event for that subscriber,
// counts it, and the subscriber's stream gets a Loss event before its next delivered event.
// The hub also retains the most recent events, so that a subscriber that reconnects with a cursor
// resumes where it stopped.
// An event is serialized once, when published, however many subscribers take it; queues and the
// replay buffer hold those bytes (serialized_event.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "serialized_event.h"
#include "vajra/v1/vajra.pb.h"

namespace vajra {

using SteadyTime = std::chrono::steady_clock::time_point;

// A batch (Subscription::take_batch) carries at most this many events; a held batch is due once
// this many are queued.
constexpr size_t kMaxBatchEvents = 256;
// The longest a subscriber may ask vajrad to hold its batches (SubscribeRequest.max_batch_delay_ms).
constexpr uint32_t kMaxBatchDelayMs = 1000;

// True when the event passes the subscriber's filter. Loss events always pass.
bool filter_matches(const v1::SubscribeRequest& filter, const v1::Event& event);

class Subscription {
 public:
  // Queues at most `capacity` events and `byte_capacity` bytes of them (serialized size; one event
  // is always taken, however big).
  Subscription(uint64_t id, v1::SubscribeRequest filter, size_t capacity, size_t byte_capacity, uint32_t peer_uid,
               uint32_t peer_pid);

  // Appends to `out` what is queued, at most `max_events` (at least 1), without waiting. Where events
  // were dropped, a Loss event counting them takes their place in the stream: after the events queued
  // before the drops, before the first event queued after them. Returns how many were appended: 0
  // when nothing is queued, or when the filter's max_batch_delay_ms holds the batch and it is not due
  // yet (held_due_locked). The listener says when to call it again.
  size_t take_batch(std::vector<EventPtr>& out, size_t max_events);
  void close();
  bool closed() const;
  // Called whenever the hub has queued events that are due, or closed the subscription, on the hub's
  // caller's thread, with no lock of the hub's or the queue's held. set_listener(nullptr) returns only
  // once no call is running, so the listener's owner may go away after it.
  void set_listener(std::function<void()> listener);

  uint64_t id() const { return id_; }
  v1::SubscriberStatus status() const;

 private:
  friend class Hub;
  // Called by the hub; never blocks on the consumer. A full queue drops live events only: what the
  // hub queues at subscription (StreamStart, replay) is bounded by the replay buffer it shares.
  // Returns whether the listener is due: something was queued and, for a held subscription, the
  // batch is due.
  bool offer(const std::vector<EventPtr>& events);
  void offer_unbounded(const EventPtr& event);

  // A queued event, and the drops that happened just before it was queued.
  struct Queued {
    EventPtr event;
    uint64_t lost_before;
    v1::EventKind lost_kind;
  };
  // Removes the front event (its lost_before already announced) and returns it.
  EventPtr pop_locked();

  // Queues one event or counts it dropped; returns whether it was queued. Caller holds mu_.
  bool queue_locked(const EventPtr& event);
  // Whether what is queued may go now: always, unless the filter holds batches; then once
  // kMaxBatchEvents are queued, the oldest has waited the hold, or the subscription is closed.
  bool held_due_locked(SteadyTime now) const;
  void notify_listener();

  const uint64_t id_;
  const v1::SubscribeRequest filter_;
  const size_t capacity_;
  const size_t byte_capacity_;
  const std::chrono::milliseconds hold_;  // the filter's max_batch_delay_ms; 0: never held
  const uint32_t peer_uid_, peer_pid_;
  const uint64_t connected_ns_;
  mutable std::mutex mu_;
  std::deque<Queued> queue_;
  size_t queued_bytes_ = 0;
  // When the oldest queued event was queued; SteadyTime::min() when it must go without waiting (what
  // subscribe() queued, or the rest of a batch that was full).
  SteadyTime batch_started_ = SteadyTime::min();
  uint64_t pending_loss_ = 0;   // dropped after the last queued event, not yet announced
  v1::EventKind pending_loss_kind_ = v1::EVENT_KIND_UNSPECIFIED;  // UNSPECIFIED once kinds mix
  uint64_t delivered_ = 0;
  uint64_t dropped_ = 0;
  bool closed_ = false;
  std::mutex listener_mu_;  // held while the listener runs
  std::function<void()> listener_;
};

class Hub {
 public:
  // `instance` names this daemon run in cursors; the newest `replay_capacity` events (0: none), and
  // at most `replay_bytes` of them, are retained. Each subscriber queues at most
  // `subscriber_queue_capacity` events and `subscriber_queue_bytes` bytes of them. Bytes are serialized
  // sizes, the memory an event holds once published.
  Hub(size_t subscriber_queue_capacity, size_t replay_capacity, size_t replay_bytes, std::string instance,
      size_t subscriber_queue_bytes = SIZE_MAX);

  // Assigns the event its seq, retains it and offers it to every matching subscriber.
  void publish(v1::Event&& event);
  // The same for several events in order, moved out of `events`: each subscriber's queue is locked
  // and its consumer woken once for all of them, not once per event.
  void publish(std::vector<v1::Event>& events);

  // The new subscription's queue starts with a StreamStart event, then, when the filter carries a
  // resume cursor, the retained events after it (and a Loss event for what is no longer retained),
  // then live events. Done under the hub's lock, so replay and live meet with no gap or duplicate.
  std::shared_ptr<Subscription> subscribe(const v1::SubscribeRequest& filter, uint32_t peer_uid,
                                          uint32_t peer_pid);
  void unsubscribe(const std::shared_ptr<Subscription>& subscription);
  // Closes every subscription, so that streams end.
  void close_all();
  // Wakes the listener of every held subscription (max_batch_delay_ms) whose batch is due at `now`.
  // Returns when the next held batch falls due, or SteadyTime::max() when nothing is held. Publishing
  // wakes a listener when a batch fills or its time has come; this sends what a quiet spell left.
  SteadyTime flush_held(SteadyTime now);

  std::vector<v1::SubscriberStatus> subscribers() const;
  uint64_t next_seq() const;
  // Drops of all subscribers, including those that have left.
  uint64_t subscriber_drops() const;

  const std::string& instance() const { return instance_; }
  size_t replay_retained() const;
  size_t replay_bytes() const;  // serialized size of the retained events
  size_t replay_capacity() const { return replay_capacity_; }

 private:
  void publish_locked(std::vector<v1::Event>& events, std::vector<std::shared_ptr<Subscription>>& offered);
  // Appends to `out` what a resuming subscriber missed (a Loss event for what is no longer retained,
  // then the retained events after its cursor that pass its filter); returns how many retained events.
  uint64_t replay(const v1::SubscribeRequest& filter, std::vector<EventPtr>& out) const;

  const size_t capacity_;
  const size_t byte_capacity_;
  const size_t replay_capacity_;
  const size_t replay_bytes_;
  const std::string instance_;
  mutable std::mutex mu_;
  std::deque<EventPtr> retained_;  // oldest first, consecutive seqs
  size_t retained_bytes_ = 0;
  std::vector<std::shared_ptr<Subscription>> subscriptions_;
  uint64_t next_seq_ = 1;
  uint64_t next_id_ = 1;
  uint64_t departed_drops_ = 0;
  bool closed_ = false;  // after close_all, new subscriptions start closed
};

}  // namespace vajra
