#include "subscriber.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include <spdlog/spdlog.h>

namespace vajra::bridge {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{250};
constexpr std::chrono::milliseconds kMaxBackoff{5000};
constexpr std::chrono::seconds kStatusDeadline{2};

uint64_t now_s() { return EventTable::wall_seconds(); }

}  // namespace

uint64_t replay_expired_missed(uint64_t count, uint64_t oldest, std::optional<uint64_t> held_seq) {
  if (!held_seq || oldest == 0) return count;
  const uint64_t newest_expired = oldest - 1;
  return newest_expired > *held_seq ? std::min(count, newest_expired - *held_seq) : 0;
}

Subscriber::Subscriber(std::string daemon_socket, std::vector<EventTable*> tables, std::optional<Cursor> saved,
                       RestoreGate& gate, uint32_t max_batch_delay_ms)
    : socket_(std::move(daemon_socket)),
      tables_(std::move(tables)),
      max_batch_delay_ms_(max_batch_delay_ms),
      gate_(gate),
      known_(std::move(saved)) {
  prehistory_ = !known_.has_value();
}

Subscriber::~Subscriber() { stop(); }

void Subscriber::start() { thread_ = std::thread([this] { run(); }); }

void Subscriber::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (active_ != nullptr) active_->TryCancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<grpc::Channel> Subscriber::new_channel() const {
  grpc::ChannelArguments args;
  // A fresh connection per attempt: a shared subchannel would sit in gRPC's own reconnect backoff
  // (up to two minutes) after vajrad restarts, while ours is at most five seconds.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(-1);
  return grpc::CreateCustomChannel("unix:" + socket_, grpc::InsecureChannelCredentials(), args);
}

std::optional<v1::StatusResponse> Subscriber::daemon_status(std::string* error) const {
  auto stub = v1::Sensor::NewStub(new_channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kStatusDeadline);
  v1::StatusResponse response;
  const grpc::Status status = stub->Status(&context, v1::StatusRequest(), &response);
  if (!status.ok()) {
    *error = "Status on " + socket_ + ": " + status.error_message();
    return std::nullopt;
  }
  return response;
}

void Subscriber::run() {
  std::chrono::milliseconds backoff = kFirstBackoff;
  for (;;) {
    bool started = false;
    std::string why;
    try {
      why = stream_once(&started);
    } catch (const std::exception& e) {
      // Nothing an event can hold should get here; if it does, the stream starts over rather
      // than the bridge dying.
      why = std::string("error handling the stream: ") + e.what();
      spdlog::error("vajrad stream on {}: {}", socket_, why);
      std::lock_guard<std::mutex> lock(mu_);
      active_ = nullptr;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) return;
    const bool was_connected = stats_.state == "connected" || stats_.state == "starting";
    stats_.state = "disconnected";
    stats_.connected_since_s = 0;
    stats_.last_error = why;
    if (started) backoff = kFirstBackoff;
    if (!gate_.is_open()) {
      // vajrad is unreachable or the restore broke off: answer from what the store holds.
      spdlog::warn("start-up restore from vajrad did not complete ({}); tables answer with what they hold", why);
      gate_.open();
    }
    if (was_connected || started) {
      spdlog::warn("vajrad stream on {}: {}; reconnecting", socket_, why);
    } else {
      spdlog::debug("vajrad stream on {}: {}; retrying in {} ms", socket_, why, backoff.count());
    }
    cv_.wait_for(lock, backoff, [this] { return stopping_; });
    if (stopping_) return;
    stats_.state = "connecting";
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

std::optional<Cursor> Subscriber::choose_resume(std::string* error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!cursor_.instance.empty()) return cursor_;
    // Start of this bridge run: rewind to the daemon's oldest retained event (seq 0 of its run).
    if (known_ && !prehistory_) return Cursor{known_->instance, 0};
  }
  // No saved cursor: the daemon's run id comes from Status, so that the resume is not mistaken
  // for one across a daemon restart.
  const auto status = daemon_status(error);
  if (!status) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  known_ = Cursor{status->daemon_instance(), 0};
  return Cursor{status->daemon_instance(), 0};
}

std::string Subscriber::stream_once(bool* started) {
  std::string error;
  const std::optional<Cursor> resume = choose_resume(&error);
  if (!resume) return error;

  v1::SubscribeRequest request;
  request.mutable_resume()->set_daemon_instance(resume->instance);
  request.mutable_resume()->set_seq(resume->seq);
  request.set_max_batch_delay_ms(max_batch_delay_ms_);
  grpc::GenericStub stub(new_channel());
  bool received = false;
  std::optional<grpc::Status> status = call(stub, request, /*batches=*/true, *resume, started, &received);
  if (status && status->error_code() == grpc::StatusCode::UNIMPLEMENTED && !received) {
    // A vajrad older than SubscribeBatches: the same stream, one event per message.
    spdlog::info("vajrad on {} has no SubscribeBatches; subscribing event by event", socket_);
    request.clear_max_batch_delay_ms();  // Subscribe never holds events
    status = call(stub, request, /*batches=*/false, *resume, started, &received);
  }
  if (!status) return "stopping";
  if (status->ok()) return "vajrad ended the stream";
  return "Subscribe on " + socket_ + ": " + status->error_message();
}

namespace {

// One asynchronous operation at a time on `queue`: waits for the one just started; false when it
// failed (the call ended, or was cancelled).
bool completed(grpc::CompletionQueue& queue) {
  void* tag = nullptr;
  bool ok = false;
  return queue.Next(&tag, &ok) && ok;
}

}  // namespace

std::optional<grpc::Status> Subscriber::call(grpc::GenericStub& stub, const v1::SubscribeRequest& request,
                                             bool batches, const Cursor& resume, bool* started, bool* received) {
  grpc::ClientContext context;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return std::nullopt;
    active_ = &context;
  }
  // However the call ends (an exception included), stop() must not cancel it once it is gone.
  struct Inactive {
    Subscriber& self;
    ~Inactive() {
      std::lock_guard<std::mutex> lock(self.mu_);
      self.active_ = nullptr;
    }
  } inactive{*this};

  const std::string method = batches ? "/vajra.v1.Sensor/SubscribeBatches" : "/vajra.v1.Sensor/Subscribe";
  grpc::CompletionQueue queue;
  // Every operation completes before the next starts, and the queue is drained before it goes.
  struct Drained {
    grpc::CompletionQueue& queue;
    ~Drained() {
      queue.Shutdown();
      void* tag = nullptr;
      bool ok = false;
      while (queue.Next(&tag, &ok)) {
      }
    }
  } drained{queue};
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> stream = stub.PrepareCall(&context, method, &queue);
  void* const tag = stream.get();
  // Handling an event can fail (a malformed one); the call is then cancelled and finished before the
  // failure ends the stream.
  std::string failure;
  stream->StartCall(tag);
  if (completed(queue)) {
    const std::string serialized = request.SerializeAsString();
    grpc::Slice slice(serialized);
    grpc::ByteBuffer message(&slice, 1);
    stream->WriteLast(message, grpc::WriteOptions(), tag);
    grpc::ByteBuffer read;
    std::string bytes;
    const auto handle = [&](StreamedEvent&& event) { on_event(std::move(event), resume, started); };
    const bool written = completed(queue);
    while (written && failure.empty()) {
      stream->Read(&read, tag);
      if (!completed(queue)) break;
      *received = true;
      try {
        if (batches) {
          if (!read_event_batch(read, handle)) failure = "vajrad sent a malformed EventBatch";
        } else {
          StreamedEvent event;
          if (!message_bytes(read, bytes) || !read_streamed_event(std::move(bytes), event)) {
            failure = "vajrad sent a malformed Event";
          } else {
            handle(std::move(event));
          }
        }
      } catch (const std::exception& e) {
        failure = e.what();
      }
      if (!failure.empty()) context.TryCancel();
    }
  }
  grpc::Status status;
  stream->Finish(&status, tag);
  completed(queue);
  if (!failure.empty()) throw std::runtime_error(failure);
  return status;
}

void Subscriber::on_event(StreamedEvent&& streamed, const Cursor& resume, bool* started) {
  if (streamed.kind != v1::EVENT_KIND_STREAM_START && streamed.kind != v1::EVENT_KIND_LOSS) {
    on_sequenced(std::move(streamed));
    return;
  }
  // Markers are few: parsed whole here.
  v1::Event event;
  if (!parse_streamed_event(streamed.bytes, &streamed.process, event)) {
    throw std::runtime_error("vajrad sent a malformed StreamStart or Loss");
  }
  if (event.kind() == v1::EVENT_KIND_STREAM_START) {
    *started = true;
    on_stream_start(event.stream_start(), resume);
    return;
  }
  if (event.seq() != 0) on_sequenced(std::move(streamed));
  on_loss(event.loss());
}

void Subscriber::on_stream_start(const v1::StreamStart& start, const Cursor& resume) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string& instance = start.daemon_instance();
  stream_next_ = start.next_seq();
  stream_oldest_ = start.oldest_retained_seq() != 0 ? start.oldest_retained_seq() : start.next_seq();
  if (prehistory_) {
    // The bridge's history begins with what the daemon retains when it first connects.
    if (known_ && known_->instance == instance) known_->seq = stream_oldest_ - 1;
    prehistory_ = false;
  }
  if (resume.instance != instance) {
    // vajrad restarted since the cursor. It says so with a DAEMON_RESTART loss (how much was lost
    // while no daemon ran is unknown), but what its new run published before our oldest retained
    // event is a known count.
    const uint64_t gone = stream_oldest_ - 1;
    stats_.lost_replay_expired += gone;
    if (gone > 0) ++stats_.replay_gaps;
  }
  if (cursor_.instance != instance) cursor_ = Cursor{instance, 0};
  stats_.cursor_seq = cursor_.seq;

  ++stats_.streams;
  if (stats_.streams > 1) ++stats_.reconnects;
  stats_.state = "connected";
  stats_.last_error.clear();
  stats_.daemon_instance = instance;
  stats_.connected_since_s = now_s();
  spdlog::info("vajrad stream on {}: daemon run {}, resuming after seq {} of run {}: {} retained events replayed, "
               "live from seq {}",
               socket_, instance, resume.seq, resume.instance, start.replayed(), start.next_seq());
  restore_until_ = 0;
  if (!gate_.is_open()) {
    if (start.replayed() == 0) {
      gate_.open();
    } else {
      // The replay ends with seq next_seq - 1; if the daemon had to drop part of it, the first live
      // event (seq >= next_seq) ends it too.
      restore_until_ = start.next_seq() - 1;
    }
  }
}

void Subscriber::on_loss(const v1::LossEvent& loss) {
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.loss_events;
  switch (loss.place()) {
    case v1::LOSS_PLACE_KERNEL_RING: stats_.lost_kernel_ring += loss.count(); break;
    case v1::LOSS_PLACE_PIPELINE: stats_.lost_pipeline += loss.count(); break;
    case v1::LOSS_PLACE_SUBSCRIBER: stats_.lost_subscriber += loss.count(); break;
    case v1::LOSS_PLACE_DAEMON_RESTART: ++stats_.daemon_restarts; break;
    case v1::LOSS_PLACE_REPLAY_EXPIRED: {
      // The expired events are the `count` seqs just below the oldest retained one. Those the
      // previous bridge run had received (up to known_->seq) were not missed.
      std::optional<uint64_t> held;
      if (known_ && known_->instance == stats_.daemon_instance) held = known_->seq;
      const uint64_t missed = replay_expired_missed(loss.count(), stream_oldest_, held);
      stats_.lost_replay_expired += missed;
      if (missed > 0) {
        ++stats_.replay_gaps;
        spdlog::warn("vajrad no longer retained {} events this bridge had not received (daemon run {})", missed,
                     stats_.daemon_instance);
      }
      break;
    }
    default:
      spdlog::warn("Loss event with unknown place {} (count {})", static_cast<int>(loss.place()), loss.count());
      break;
  }
}

void Subscriber::on_sequenced(StreamedEvent&& event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (event.seq <= cursor_.seq) {
      ++stats_.duplicates;
      return;
    }
    cursor_.seq = event.seq;
    if (!instance_ || *instance_ != cursor_.instance) instance_ = std::make_shared<const std::string>(cursor_.instance);
    ++stats_.events;
    stats_.cursor_seq = event.seq;
    if (event.seq < stream_next_) ++stats_.replayed;
    if (restore_until_ != 0 && event.seq >= restore_until_) {
      restore_until_ = 0;
      spdlog::info("start-up restore complete: {} events from vajrad's replay buffer", stats_.replayed);
      gate_.open();
    }
  }
  // Each kind belongs to one family's table.
  for (EventTable* table : tables_) {
    if (table->accepts(event.kind)) {
      table->add(std::move(event), instance_);
      return;
    }
  }
}

StreamStats Subscriber::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  StreamStats stats = stats_;
  stats.restored = gate_.is_open();
  return stats;
}

Cursor Subscriber::cursor_to_save() const {
  std::lock_guard<std::mutex> lock(mu_);
  const bool have_known = known_ && !prehistory_;
  if (cursor_.instance.empty()) return have_known ? *known_ : cursor_;
  Cursor cursor = cursor_;
  if (have_known && known_->instance == cursor.instance) cursor.seq = std::max(cursor.seq, known_->seq);
  return cursor;
}

}  // namespace vajra::bridge
