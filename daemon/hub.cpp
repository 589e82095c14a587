#include "hub.h"

#include <algorithm>
#include <string>
#include <utility>

#include "file_filter.h"
#include "net_filter.h"

namespace vajra {
namespace {

// Docker and friends show ids cut to 12 characters; shorter prefixes would match by accident.
constexpr size_t kMinContainerPrefix = 12;

uint64_t wall_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

bool container_matches(const std::string& wanted, const std::string& actual) {
  if (actual.empty()) return false;
  return actual == wanted || (wanted.size() >= kMinContainerPrefix && starts_with(actual, wanted));
}

EventPtr loss_event(v1::LossPlace place, uint64_t count, v1::EventKind kind) {
  v1::Event event;
  event.set_time_ns(wall_clock_ns());
  event.set_kind(v1::EVENT_KIND_LOSS);
  v1::LossEvent* loss = event.mutable_loss();
  loss->set_place(place);
  loss->set_count(count);
  loss->set_kind(kind);
  return serialize_event(event);
}

// The Loss event a subscriber sees in place of the events its full queue could not take.
EventPtr subscriber_loss(uint64_t count, v1::EventKind kind) {
  return loss_event(v1::LOSS_PLACE_SUBSCRIBER, count, kind);
}

// Whether the filter selects by anything but the event's kind (the resume cursor and the hold select
// nothing): only then must a serialized event be parsed to be matched.
bool looks_past_kind(const v1::SubscribeRequest& filter) {
  v1::SubscribeRequest rest = filter;
  rest.clear_kinds();
  rest.clear_resume();
  rest.clear_max_batch_delay_ms();
  return rest.ByteSizeLong() > 0;
}

bool kind_passes(const v1::SubscribeRequest& filter, v1::EventKind kind) {
  const auto& kinds = filter.kinds();
  return kind == v1::EVENT_KIND_LOSS || kind == v1::EVENT_KIND_STREAM_START || kinds.empty() ||
         std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

}  // namespace

bool filter_matches(const v1::SubscribeRequest& filter, const v1::Event& event) {
  // A consumer must always learn that it is missing events, and where its stream starts.
  if (event.kind() == v1::EVENT_KIND_LOSS || event.kind() == v1::EVENT_KIND_STREAM_START) return true;
  if (!kind_passes(filter, event.kind())) return false;
  const v1::Process& process = event.process();
  const auto& pids = filter.pids();
  if (!pids.empty() && std::find(pids.begin(), pids.end(), process.pid()) == pids.end()) {
    return false;
  }
  const auto& container_ids = filter.container_ids();
  if (!container_ids.empty() &&
      std::none_of(container_ids.begin(), container_ids.end(), [&](const std::string& wanted) {
        return container_matches(wanted, process.container().id());
      })) {
    return false;
  }
  const auto& exe_prefixes = filter.exe_prefixes();
  if (!exe_prefixes.empty() &&
      std::none_of(exe_prefixes.begin(), exe_prefixes.end(),
                   [&](const std::string& prefix) { return starts_with(process.exe(), prefix); })) {
    return false;
  }
  return net_filter_matches(filter, event) && file_filter_matches(filter, event);
}

Subscription::Subscription(uint64_t id, v1::SubscribeRequest filter, size_t capacity, size_t byte_capacity,
                           uint32_t peer_uid, uint32_t peer_pid)
    : id_(id),
      filter_(std::move(filter)),
      capacity_(capacity),
      byte_capacity_(byte_capacity),
      hold_(std::chrono::milliseconds(filter_.max_batch_delay_ms())),
      peer_uid_(peer_uid),
      peer_pid_(peer_pid),
      connected_ns_(wall_clock_ns()) {}

void Subscription::offer_unbounded(const EventPtr& event) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  queue_.push_back(Queued{event, 0, v1::EVENT_KIND_UNSPECIFIED});
  queued_bytes_ += event->size();
  batch_started_ = SteadyTime::min();
}

bool Subscription::held_due_locked(SteadyTime now) const {
  return hold_.count() == 0 || closed_ || queue_.size() >= kMaxBatchEvents || batch_started_ + hold_ <= now;
}

bool Subscription::queue_locked(const EventPtr& event) {
  if (closed_) return false;
  const size_t bytes = event->size();
  if (queue_.size() >= capacity_ || (!queue_.empty() && queued_bytes_ + bytes > byte_capacity_)) {
    if (pending_loss_ == 0) {
      pending_loss_kind_ = event->kind();
    } else if (pending_loss_kind_ != event->kind()) {
      pending_loss_kind_ = v1::EVENT_KIND_UNSPECIFIED;
    }
    ++pending_loss_;
    ++dropped_;
    return false;
  }
  queue_.push_back(Queued{event, pending_loss_, pending_loss_kind_});
  queued_bytes_ += bytes;
  pending_loss_ = 0;
  return true;
}

bool Subscription::offer(const std::vector<EventPtr>& events) {
  bool queued = false;
  std::lock_guard<std::mutex> lock(mu_);
  const bool was_empty = queue_.empty();
  for (const EventPtr& event : events) queued = queue_locked(event) || queued;
  if (!queued) return false;
  if (hold_.count() == 0) return true;
  const SteadyTime now = std::chrono::steady_clock::now();
  if (was_empty) batch_started_ = now;
  return held_due_locked(now);
}

void Subscription::set_listener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(listener_mu_);
  listener_ = std::move(listener);
}

void Subscription::notify_listener() {
  std::lock_guard<std::mutex> lock(listener_mu_);
  if (listener_) listener_();
}

EventPtr Subscription::pop_locked() {
  Queued& front = queue_.front();
  EventPtr event = std::move(front.event);
  queued_bytes_ -= event->size();
  queue_.pop_front();
  if (event->kind() != v1::EVENT_KIND_STREAM_START) ++delivered_;
  return event;
}

size_t Subscription::take_batch(std::vector<EventPtr>& out, size_t max_events) {
  // Loss events are made once the lock is released: the publishing thread offers under this lock.
  // Their slots are held by nullptr meanwhile.
  struct Loss {
    size_t at;
    uint64_t count;
    v1::EventKind kind;
  };
  std::vector<Loss> losses;
  const size_t first = out.size();
  max_events = std::max<size_t>(max_events, 1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (hold_.count() > 0 && !held_due_locked(std::chrono::steady_clock::now())) return 0;
    while (out.size() - first < max_events) {
      if (queue_.empty()) {
        // The queue drained after drops: announce them now rather than when the next event comes.
        if (pending_loss_ > 0) {
          losses.push_back(Loss{out.size(), pending_loss_, pending_loss_kind_});
          out.emplace_back();
          pending_loss_ = 0;
        }
        break;
      }
      Queued& front = queue_.front();
      if (front.lost_before > 0) {
        losses.push_back(Loss{out.size(), front.lost_before, front.lost_kind});
        out.emplace_back();
        front.lost_before = 0;
        continue;
      }
      out.push_back(pop_locked());
    }
    // What a full batch left behind has waited long enough.
    batch_started_ = SteadyTime::min();
  }
  for (const Loss& loss : losses) out[loss.at] = subscriber_loss(loss.count, loss.kind);
  return out.size() - first;
}

void Subscription::close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
}

bool Subscription::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

v1::SubscriberStatus Subscription::status() const {
  v1::SubscriberStatus status;
  status.set_id(id_);
  status.set_peer_uid(peer_uid_);
  status.set_peer_pid(peer_pid_);
  status.set_queue_capacity(static_cast<uint32_t>(capacity_));
  status.set_queue_bytes_capacity(byte_capacity_);
  status.set_connected_ns(connected_ns_);
  *status.mutable_filter() = filter_;
  std::lock_guard<std::mutex> lock(mu_);
  status.set_delivered(delivered_);
  status.set_dropped(dropped_);
  status.set_queue_depth(static_cast<uint32_t>(queue_.size()));
  status.set_queue_bytes(queued_bytes_);
  return status;
}

Hub::Hub(size_t subscriber_queue_capacity, size_t replay_capacity, size_t replay_bytes, std::string instance,
         size_t subscriber_queue_bytes)
    : capacity_(subscriber_queue_capacity),
      byte_capacity_(subscriber_queue_bytes),
      replay_capacity_(replay_capacity),
      replay_bytes_(replay_bytes),
      instance_(std::move(instance)) {}

void Hub::publish(v1::Event&& event) {
  std::vector<v1::Event> one;
  one.push_back(std::move(event));
  publish(one);
}

void Hub::publish(std::vector<v1::Event>& events) {
  if (events.empty()) return;
  // Listeners run after the lock is released: they may start a write, which takes time.
  std::vector<std::shared_ptr<Subscription>> offered;
  {
    std::lock_guard<std::mutex> lock(mu_);
    publish_locked(events, offered);
  }
  for (const auto& subscription : offered) subscription->notify_listener();
}

void Hub::publish_locked(std::vector<v1::Event>& events, std::vector<std::shared_ptr<Subscription>>& offered) {
  // Serialized once it is retained or a subscriber wants it: without either, it costs nothing more.
  std::vector<EventPtr> serialized(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    events[i].set_seq(next_seq_++);
    if (replay_capacity_ == 0) continue;
    serialized[i] = serialize_event(events[i]);
    retained_bytes_ += serialized[i]->size();
    retained_.push_back(serialized[i]);
    while (retained_.size() > replay_capacity_ || (retained_bytes_ > replay_bytes_ && retained_.size() > 1)) {
      retained_bytes_ -= retained_.front()->size();
      retained_.pop_front();
    }
  }
  std::vector<EventPtr> wanted;
  for (const auto& subscription : subscriptions_) {
    wanted.clear();
    for (size_t i = 0; i < events.size(); ++i) {
      if (!filter_matches(subscription->filter_, events[i])) continue;
      if (!serialized[i]) serialized[i] = serialize_event(events[i]);
      wanted.push_back(serialized[i]);
    }
    if (!wanted.empty() && subscription->offer(wanted)) offered.push_back(subscription);
  }
  events.clear();
}

uint64_t Hub::replay(const v1::SubscribeRequest& filter, std::vector<EventPtr>& out) const {
  if (!filter.has_resume()) return 0;
  const uint64_t oldest = retained_.empty() ? next_seq_ : retained_.front()->seq();
  uint64_t first = oldest;
  if (filter.resume().daemon_instance() != instance_) {
    // Whatever happened while no daemon ran was never seen; how much is unknown.
    out.push_back(loss_event(v1::LOSS_PLACE_DAEMON_RESTART, 0, v1::EVENT_KIND_UNSPECIFIED));
  } else {
    // A cursor at or past the newest event (even a bogus one) simply means "nothing to replay".
    const uint64_t seq = filter.resume().seq();
    const uint64_t wanted = seq >= next_seq_ ? next_seq_ : seq + 1;
    if (wanted < oldest) {
      out.push_back(loss_event(v1::LOSS_PLACE_REPLAY_EXPIRED, oldest - wanted, v1::EVENT_KIND_UNSPECIFIED));
    }
    first = std::max(wanted, oldest);
  }
  // Retained events are kept serialized: one is parsed only when the filter looks past its kind.
  const bool parse = looks_past_kind(filter);
  v1::Event parsed;
  uint64_t replayed = 0;
  for (auto it = retained_.begin() + static_cast<std::ptrdiff_t>(first - oldest); it != retained_.end(); ++it) {
    const SerializedEvent& event = **it;
    if (!kind_passes(filter, event.kind())) continue;
    if (parse) {
      const std::string_view body = event.body();
      if (!parsed.ParseFromArray(body.data(), static_cast<int>(body.size())) || !filter_matches(filter, parsed)) {
        continue;
      }
    }
    out.push_back(*it);
    ++replayed;
  }
  return replayed;
}

std::shared_ptr<Subscription> Hub::subscribe(const v1::SubscribeRequest& filter, uint32_t peer_uid,
                                             uint32_t peer_pid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto subscription =
      std::make_shared<Subscription>(next_id_++, filter, capacity_, byte_capacity_, peer_uid, peer_pid);
  if (closed_) {
    subscription->close();
    return subscription;
  }
  // StreamStart comes first, and says how many retained events follow it.
  std::vector<EventPtr> replayed;
  v1::Event start;
  start.set_kind(v1::EVENT_KIND_STREAM_START);
  start.set_time_ns(wall_clock_ns());
  v1::StreamStart* info = start.mutable_stream_start();
  info->set_daemon_instance(instance_);
  info->set_oldest_retained_seq(retained_.empty() ? 0 : retained_.front()->seq());
  info->set_next_seq(next_seq_);
  info->set_replayed(replay(filter, replayed));
  subscription->offer_unbounded(serialize_event(start));
  for (const EventPtr& event : replayed) subscription->offer_unbounded(event);
  subscriptions_.push_back(subscription);
  return subscription;
}

size_t Hub::replay_retained() const {
  std::lock_guard<std::mutex> lock(mu_);
  return retained_.size();
}

size_t Hub::replay_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return retained_bytes_;
}

void Hub::unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  subscription->close();
  std::lock_guard<std::mutex> lock(mu_);
  auto found = std::find(subscriptions_.begin(), subscriptions_.end(), subscription);
  if (found == subscriptions_.end()) return;
  {
    std::lock_guard<std::mutex> subscription_lock(subscription->mu_);
    departed_drops_ += subscription->dropped_;
  }
  subscriptions_.erase(found);
}

void Hub::close_all() {
  std::vector<std::shared_ptr<Subscription>> closing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    closing = subscriptions_;
  }
  for (const auto& subscription : closing) {
    subscription->close();
    subscription->notify_listener();
  }
}

SteadyTime Hub::flush_held(SteadyTime now) {
  SteadyTime next = SteadyTime::max();
  std::vector<std::shared_ptr<Subscription>> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& subscription : subscriptions_) {
      if (subscription->hold_.count() == 0) continue;
      std::lock_guard<std::mutex> subscription_lock(subscription->mu_);
      if (subscription->queue_.empty() && subscription->pending_loss_ == 0) continue;
      if (subscription->held_due_locked(now)) {
        due.push_back(subscription);
      } else {
        next = std::min(next, subscription->batch_started_ + subscription->hold_);
      }
    }
  }
  // As publish() does: the listener may start a write, so it runs without the hub's lock.
  for (const auto& subscription : due) subscription->notify_listener();
  return next;
}

std::vector<v1::SubscriberStatus> Hub::subscribers() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::SubscriberStatus> statuses;
  statuses.reserve(subscriptions_.size());
  for (const auto& subscription : subscriptions_) statuses.push_back(subscription->status());
  return statuses;
}

uint64_t Hub::next_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_seq_;
}

uint64_t Hub::subscriber_drops() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t drops = departed_drops_;
  for (const auto& subscription : subscriptions_) {
    std::lock_guard<std::mutex> subscription_lock(subscription->mu_);
    drops += subscription->dropped_;
  }
  return drops;
}

}  // namespace vajra
