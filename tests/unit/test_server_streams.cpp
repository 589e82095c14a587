// The gRPC streams the server makes of the hub's subscriptions (Subscribe, SubscribeBatches), in
// process: a Server on a private socket, fed through its hub.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "hub.h"
#include "hub_events.h"
#include "server.h"
#include "vajra/v1/vajra.grpc.pb.h"

using namespace vajra;
using namespace vajra::test;
using namespace std::chrono_literals;

namespace {

constexpr size_t kBatchEvents = kMaxBatchEvents;  // hub.h
constexpr size_t kBatchBytes = 1 << 20;

class LocalServer {
 public:
  LocalServer(size_t queue, size_t replay) : hub_(queue, replay, size_t{1} << 30, "run-s") {
    char pattern[] = "/tmp/vajra-unit-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    dir_ = pattern;
    SocketConfig config;
    config.path = socket_path();
    config.allow_uids = {getuid()};
    server_ = std::make_unique<Server>(config, hub_, [] { return v1::StatusResponse(); });
    server_->start();
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(-1);
    stub_ = v1::Sensor::NewStub(
        grpc::CreateCustomChannel("unix:" + config.path, grpc::InsecureChannelCredentials(), args));
  }
  ~LocalServer() {
    server_->stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  Hub& hub() { return hub_; }
  std::string socket_path() const { return dir_ + "/vajra.sock"; }
  Server& server() { return *server_; }
  v1::Sensor::Stub& stub() { return *stub_; }

  // Waits until the hub has `n` subscriptions, so that what is published next reaches them.
  void wait_subscribers(size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (hub_.subscribers().size() < n) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(5ms);
    }
  }

 private:
  Hub hub_;
  std::string dir_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<v1::Sensor::Stub> stub_;
};

// One call of either stream, read on the test's thread with a deadline that ends a hung test.
struct Call {
  grpc::ClientContext context;
  Call() { context.set_deadline(std::chrono::system_clock::now() + 60s); }
  ~Call() { context.TryCancel(); }
};

// Reads batches until `n` events have come; returns the batches.
std::vector<v1::EventBatch> read_batches(grpc::ClientReader<v1::EventBatch>& reader, size_t n) {
  std::vector<v1::EventBatch> batches;
  size_t events = 0;
  v1::EventBatch batch;
  while (events < n && reader.Read(&batch)) {
    events += static_cast<size_t>(batch.events_size());
    batches.push_back(batch);
  }
  return batches;
}

// A stub on its own connection with small windows, so that what the client does not read soon blocks
// the server's writes.
std::unique_ptr<v1::Sensor::Stub> small_window_stub(const std::string& socket_path) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16384);
  args.SetMaxReceiveMessageSize(-1);
  return v1::Sensor::NewStub(
      grpc::CreateCustomChannel("unix:" + socket_path, grpc::InsecureChannelCredentials(), args));
}

// A SubscribeBatches stream on a small-window connection, its StreamStart read, that reads no more
// unless the test does.
struct SlowReader {
  Call call;
  std::unique_ptr<v1::Sensor::Stub> stub;
  std::unique_ptr<grpc::ClientReader<v1::EventBatch>> reader;

  explicit SlowReader(LocalServer& local) : stub(small_window_stub(local.socket_path())) {
    reader = stub->SubscribeBatches(&call.context, v1::SubscribeRequest());
    local.wait_subscribers(1);
    v1::EventBatch batch;
    REQUIRE(reader->Read(&batch));
    REQUIRE(batch.events(0).kind() == v1::EVENT_KIND_STREAM_START);
  }
};

// An exec event with a 256 KiB argument: a few fill a small-window stream's transport buffers.
v1::Event big_event() {
  v1::Event big = exec_event(1);
  big.mutable_process()->add_argv(std::string(256 * 1024, 'b'));
  return big;
}

// How a stream the server refuses ends: no message, then this status.
template <typename Message>
grpc::Status refusal(grpc::ClientReader<Message>& reader) {
  Message message;
  CHECK_FALSE(reader.Read(&message));
  return reader.Finish();
}

std::vector<v1::Event> flatten(const std::vector<v1::EventBatch>& batches) {
  std::vector<v1::Event> events;
  for (const auto& batch : batches) events.insert(events.end(), batch.events().begin(), batch.events().end());
  return events;
}

}  // namespace

TEST_CASE("server: SubscribeBatches streams what Subscribe streams, at most 256 events per message") {
  LocalServer local(64, 4096);
  constexpr uint64_t kRetained = 1000;
  for (uint64_t i = 0; i < kRetained; ++i) local.hub().publish(exec_event(static_cast<uint32_t>(i)));

  Call batched, single;
  const v1::SubscribeRequest request = resume_from("run-s", 0);
  auto batches_reader = local.stub().SubscribeBatches(&batched.context, request);
  auto events_reader = local.stub().Subscribe(&single.context, request);

  // StreamStart, then the replay: all of it queued at once, so the batches come full.
  const auto batches = read_batches(*batches_reader, kRetained + 1);
  const auto events = flatten(batches);
  REQUIRE(events.size() == kRetained + 1);
  CHECK(events[0].kind() == v1::EVENT_KIND_STREAM_START);
  CHECK(events[0].stream_start().replayed() == kRetained);
  for (uint64_t i = 1; i <= kRetained; ++i) REQUIRE(events[i].seq() == i);
  CHECK(batches.size() >= (kRetained + 1 + kBatchEvents - 1) / kBatchEvents);
  CHECK(batches.front().events_size() == static_cast<int>(kBatchEvents));
  for (const auto& batch : batches) {
    CHECK(batch.events_size() > 0);
    CHECK(batch.events_size() <= static_cast<int>(kBatchEvents));
  }

  std::vector<v1::Event> singles;
  v1::Event event;
  while (singles.size() < kRetained + 1 && events_reader->Read(&event)) singles.push_back(event);
  REQUIRE(singles.size() == kRetained + 1);
  // The same StreamStart (but for its time: two subscriptions), then the same events, byte for byte.
  CHECK(singles[0].stream_start().SerializeAsString() == events[0].stream_start().SerializeAsString());
  for (size_t i = 1; i < singles.size(); ++i) REQUIRE(singles[i].SerializeAsString() == events[i].SerializeAsString());

  // Live: one event published is one batch of one, sent without waiting for more.
  local.hub().publish(exec_event(7));
  const auto live = read_batches(*batches_reader, 1);
  REQUIRE(live.size() == 1);
  REQUIRE(live[0].events_size() == 1);
  CHECK(live[0].events(0).seq() == kRetained + 1);
  REQUIRE(events_reader->Read(&event));
  CHECK(event.seq() == kRetained + 1);
}

TEST_CASE("server: a SubscribeBatches message stops before 1 MiB: a larger event goes alone") {
  LocalServer local(64, 64);
  v1::Event big = exec_event(1);
  big.mutable_process()->add_argv(std::string(300 * 1024, 'a'));
  v1::Event huge = exec_event(2);
  huge.mutable_process()->add_argv(std::string(1536 * 1024, 'h'));
  for (int i = 0; i < 7; ++i) local.hub().publish(v1::Event(big));   // seqs 1..7
  local.hub().publish(v1::Event(huge));                             // seq 8
  for (int i = 0; i < 2; ++i) local.hub().publish(v1::Event(big));   // seqs 9..10

  Call call;
  auto reader = local.stub().SubscribeBatches(&call.context, resume_from("run-s", 0));
  const auto batches = read_batches(*reader, 11);
  const auto events = flatten(batches);
  REQUIRE(events.size() == 11);
  for (uint64_t i = 1; i <= 10; ++i) CHECK(events[i].seq() == i);
  bool huge_alone = false;
  for (const auto& batch : batches) {
    INFO("batch of " << batch.events_size() << " events, " << batch.ByteSizeLong() << " bytes");
    if (batch.events_size() == 1 && batch.events(0).seq() == 8) {
      huge_alone = true;
    } else {
      CHECK(batch.ByteSizeLong() <= kBatchBytes);
    }
  }
  CHECK(huge_alone);
  CHECK(batches.size() >= 4);  // 3 big events fit in 1 MiB, 4 do not
}

TEST_CASE("server: a slow SubscribeBatches reader gets the Loss in place of what its queue dropped") {
  LocalServer local(4, 0);
  SlowReader slow(local);
  auto& reader = slow.reader;
  v1::EventBatch batch;

  // Large events the client does not read: the transport's buffers fill, the server's write blocks,
  // and the queue of 4 overflows.
  const v1::Event big = big_event();
  uint64_t published = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (local.hub().subscriber_drops() < 10) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    local.hub().publish(v1::Event(big));
    ++published;
  }
  const uint64_t dropped = local.hub().subscriber_drops();
  local.hub().publish(exec_event(2));  // queued (or dropped) last; the stream must end with it or its loss
  ++published;

  // Every seq is either delivered or counted by a Loss event in its place: between the events
  // before and after the gap, with the gap's exact size.
  uint64_t expected = 1, announced = 0;
  size_t losses = 0;
  while (expected <= published && reader->Read(&batch)) {
    for (const v1::Event& event : batch.events()) {
      if (event.kind() == v1::EVENT_KIND_LOSS) {
        CHECK(event.loss().place() == v1::LOSS_PLACE_SUBSCRIBER);
        CHECK(event.seq() == 0);
        expected += event.loss().count();
        announced += event.loss().count();
        ++losses;
        continue;
      }
      REQUIRE(event.seq() == expected);
      ++expected;
    }
  }
  CHECK(expected == published + 1);
  CHECK(losses >= 1);
  CHECK(announced >= dropped);
  CHECK(announced == local.hub().subscriber_drops());
}

TEST_CASE("server: SubscribeBatches refuses a bad filter as Subscribe does, and ends when the server stops") {
  LocalServer local(64, 0);
  {
    Call call;
    v1::SubscribeRequest request;
    request.add_kinds(v1::EVENT_KIND_UNSPECIFIED);
    auto reader = local.stub().SubscribeBatches(&call.context, request);
    const grpc::Status status = refusal(*reader);
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(status.error_message().find("EVENT_KIND_UNSPECIFIED") != std::string::npos);
  }
  Call call;
  auto reader = local.stub().SubscribeBatches(&call.context, v1::SubscribeRequest());
  v1::EventBatch batch;
  REQUIRE(reader->Read(&batch));
  auto stopped = std::async(std::launch::async, [&] { local.server().stop(); });
  while (reader->Read(&batch)) {
  }
  const grpc::Status status = reader->Finish();
  CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);
  REQUIRE(stopped.wait_for(20s) == std::future_status::ready);
}

TEST_CASE("server: a request that is no SubscribeRequest is refused, naming the request") {
  LocalServer local(64, 0);
  const auto channel = grpc::CreateChannel("unix:" + local.socket_path(), grpc::InsecureChannelCredentials());
  // A container_ids entry that claims 5 bytes and has 2: no protobuf parser takes it.
  const std::string truncated = "\x1a\x05" "ab";
  grpc::Slice slice(truncated);
  const grpc::ByteBuffer request(&slice, 1);
  for (const char* method : {"/vajra.v1.Sensor/Subscribe", "/vajra.v1.Sensor/SubscribeBatches"}) {
    INFO(method);
    Call call;
    const grpc::internal::RpcMethod rpc(method, grpc::internal::RpcMethod::SERVER_STREAMING);
    std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
        grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(channel.get(), rpc, &call.context, request));
    const grpc::Status status = refusal(*reader);
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(status.error_message() == "request: not a SubscribeRequest message");
  }
  CHECK(local.hub().subscribers().empty());
}

TEST_CASE("server: Subscribe sends one event per message, and ends when the server stops") {
  LocalServer local(64, 0);
  Call call;
  auto reader = local.stub().Subscribe(&call.context, v1::SubscribeRequest());
  local.wait_subscribers(1);
  for (uint32_t pid = 1; pid <= 3; ++pid) local.hub().publish(exec_event(pid));
  v1::Event event;
  REQUIRE(reader->Read(&event));
  CHECK(event.kind() == v1::EVENT_KIND_STREAM_START);
  for (uint32_t pid = 1; pid <= 3; ++pid) {
    REQUIRE(reader->Read(&event));
    CHECK(event.seq() == pid);
    CHECK(event.process().pid() == pid);
  }
  auto stopped = std::async(std::launch::async, [&] { local.server().stop(); });
  CHECK_FALSE(reader->Read(&event));
  CHECK(reader->Finish().error_code() == grpc::StatusCode::UNAVAILABLE);
  REQUIRE(stopped.wait_for(20s) == std::future_status::ready);
}

TEST_CASE("server: stop ends a SubscribeBatches stream whose client stopped reading") {
  LocalServer local(4, 0);
  SlowReader slow(local);

  // The client reads no more: the server's write stays in flight, and its queue overflows.
  const v1::Event big = big_event();
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (local.hub().subscriber_drops() == 0) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    local.hub().publish(v1::Event(big));
  }
  // stop() shuts the connection down under the write, so neither the stream nor stop() waits on
  // the client.
  auto stopped = std::async(std::launch::async, [&] { local.server().stop(); });
  REQUIRE(stopped.wait_for(20s) == std::future_status::ready);
  CHECK(local.hub().subscribers().empty());
}


TEST_CASE("server: max_batch_delay_ms is SubscribeBatches' alone, and bounded") {
  LocalServer local(64, 0);
  v1::SubscribeRequest request;
  request.set_max_batch_delay_ms(10);
  {
    Call call;
    auto reader = local.stub().Subscribe(&call.context, request);
    const grpc::Status status = refusal(*reader);
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(status.error_message() ==
          "max_batch_delay_ms: 10: Subscribe sends every event at once; only SubscribeBatches holds batches");
  }
  request.set_max_batch_delay_ms(1001);
  Call call;
  auto reader = local.stub().SubscribeBatches(&call.context, request);
  const grpc::Status status = refusal(*reader);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message() == "max_batch_delay_ms: 1001, at most 1000");
}

TEST_CASE("server: a held SubscribeBatches stream sends full batches, and the rest once flush_held finds it due") {
  LocalServer local(1024, 0);
  constexpr auto kHold = 200ms;
  v1::SubscribeRequest request;
  request.set_max_batch_delay_ms(kHold.count());
  Call call;
  auto reader = local.stub().SubscribeBatches(&call.context, request);
  local.wait_subscribers(1);
  // StreamStart is not held: nothing else would send it here, where no pipeline calls flush_held.
  v1::EventBatch batch;
  REQUIRE(reader->Read(&batch));
  REQUIRE(batch.events_size() == 1);
  CHECK(batch.events(0).kind() == v1::EVENT_KIND_STREAM_START);

  for (size_t i = 0; i < kBatchEvents + 44; ++i) local.hub().publish(exec_event(1));
  const SteadyTime rest_queued = std::chrono::steady_clock::now();
  REQUIRE(reader->Read(&batch));
  REQUIRE(batch.events_size() == static_cast<int>(kBatchEvents));
  CHECK(batch.events(0).seq() == 1);

  // The rest waits for its hold; here the test ticks as vajrad's decode thread does.
  std::atomic<bool> reading{true};
  std::thread ticker([&] {
    while (reading) {
      local.hub().flush_held(std::chrono::steady_clock::now());
      std::this_thread::sleep_for(5ms);
    }
  });
  const bool read = reader->Read(&batch);
  const auto waited = std::chrono::steady_clock::now() - rest_queued;
  reading = false;
  ticker.join();
  REQUIRE(read);
  REQUIRE(batch.events_size() == 44);
  CHECK(batch.events(0).seq() == kBatchEvents + 1);
  CHECK(waited >= kHold);  // never sent before its hold is up
}
