// The bridge's subscription to vajrad: one gRPC stream at a time, resumed from a cursor after
// every break, feeding the event tables and counting every loss the stream announces.
//
// Resuming. Within one bridge run the cursor is the last event received, so a reconnect replays
// exactly what was missed. A (re)started bridge has an empty store: it rewinds to the oldest event
// vajrad still retains (cursor seq 0 of the daemon run), so every event still in the daemon's
// replay buffer comes back, and the cursor saved by its previous run tells which of the events the
// daemon no longer has were really missed (counted) and which that run had received (not counted).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "cursor_file.h"
#include "event_table.h"
#include "restore_gate.h"
#include "streamed_event.h"
#include "vajra/v1/vajra.grpc.pb.h"

namespace vajra::bridge {

struct StreamStats {
  std::string state = "starting";  // connecting, connected, disconnected
  bool restored = false;           // the start-up restore is over (see RestoreGate)
  std::string last_error;          // why the last stream ended or could not start
  std::string daemon_instance;     // of the current (or last) stream
  uint64_t cursor_seq = 0;         // last seq received from it
  uint64_t connected_since_s = 0;  // UNIX s; 0 when not connected
  uint64_t streams = 0;            // streams started
  uint64_t reconnects = 0;         // streams started after the first
  uint64_t events = 0;             // sequenced events received (rows, loss markers, kinds no table takes)
  uint64_t replayed = 0;           // of which came from the daemon's replay buffer
  uint64_t duplicates = 0;         // events at or below the cursor, dropped (should stay 0)
  uint64_t loss_events = 0;        // Loss messages received
  uint64_t lost_kernel_ring = 0;
  uint64_t lost_pipeline = 0;
  uint64_t lost_subscriber = 0;    // this bridge read too slowly
  uint64_t lost_replay_expired = 0;  // missed events the daemon no longer retained when the bridge resumed
  uint64_t replay_gaps = 0;        // resumes that found such a gap
  uint64_t daemon_restarts = 0;    // resumes across a daemon restart (what happened meanwhile is unknown)
};

// Of a REPLAY_EXPIRED loss of `count` events (the seqs just below `oldest`, the oldest event the
// daemon still retains), how many were really missed, given that events up to `held_seq` of that
// daemon run were received by this bridge or its previous run (nullopt: none were).
uint64_t replay_expired_missed(uint64_t count, uint64_t oldest, std::optional<uint64_t> held_seq);

class Subscriber {
 public:
  // `saved` is the cursor the previous bridge run left, if any. `max_batch_delay_ms`: how long vajrad
  // may hold events for fuller batches (bridge.max_batch_delay_ms, sent as the SubscribeRequest field).
  Subscriber(std::string daemon_socket, std::vector<EventTable*> tables, std::optional<Cursor> saved,
             RestoreGate& gate, uint32_t max_batch_delay_ms);
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  void start();
  void stop();

  StreamStats stats() const;
  // What to save for the next bridge run: never behind what the previous run had saved.
  Cursor cursor_to_save() const;
  // vajrad's Status; nullopt with *error set when it does not answer.
  std::optional<v1::StatusResponse> daemon_status(std::string* error) const;

  const std::string& daemon_socket() const { return socket_; }

 private:
  void run();
  // One stream from connecting to its end; returns why it ended. It is a SubscribeBatches call (a
  // vajrad older than that call gets a Subscribe call instead); either way each event is handled
  // on its own, in stream order, and moves the cursor by itself.
  std::string stream_once(bool* started);
  // One call of that stream; nullopt when stopping. `received`: whether any message came. The call
  // reads raw messages: each event is kept as its bytes, and parsed whole only when a query reads
  // its row (StoredEvent), or here when it is a StreamStart or a Loss.
  std::optional<grpc::Status> call(grpc::GenericStub& stub, const v1::SubscribeRequest& request, bool batches,
                                   const Cursor& resume, bool* started, bool* received);
  void on_event(StreamedEvent&& event, const Cursor& resume, bool* started);
  std::optional<Cursor> choose_resume(std::string* error);
  void on_stream_start(const v1::StreamStart& start, const Cursor& resume);
  void on_loss(const v1::LossEvent& loss);
  void on_sequenced(StreamedEvent&& event);
  std::shared_ptr<grpc::Channel> new_channel() const;

  const std::string socket_;
  const std::vector<EventTable*> tables_;
  const uint32_t max_batch_delay_ms_;
  RestoreGate& gate_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  grpc::ClientContext* active_ = nullptr;  // the running call, for stop() to cancel
  std::thread thread_;

  // Stream position (mu_).
  Cursor cursor_;               // empty instance until the first stream of this bridge run starts
  std::optional<Cursor> known_;  // events up to known_->seq of that run were the previous run's
  bool prehistory_ = false;     // no saved cursor: the first stream sets known_ to what precedes it
  uint64_t stream_oldest_ = 0;  // oldest seq the current stream's daemon retained
  uint64_t stream_next_ = 0;    // its first live seq
  uint64_t restore_until_ = 0;  // the gate opens when this seq arrives
  StreamStats stats_;
  // The current run's name, shared by its rows (subscriber thread only).
  std::shared_ptr<const std::string> instance_;
};

}  // namespace vajra::bridge
