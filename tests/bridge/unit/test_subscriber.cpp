// The bridge's subscription against a fake vajrad (a gRPC Sensor service on a Unix socket): what it
// sends is read raw, markers are parsed, events land in their family's table, and a vajrad older than
// SubscribeBatches is read event by event.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/grpcpp.h>

#include "table_set.h"
#include "vajra/v1/vajra.grpc.pb.h"

using namespace vajra::bridge;
namespace v1 = vajra::v1;

namespace {

// Now: rows older than the retention (an hour) would be expired.
const uint64_t kTimeNs = EventTable::wall_seconds() * 1'000'000'000ull;

enum class Serves { kBatches, kEventByEvent, kBadStreamStart };

// What the stream carries: StreamStart, an exec, a fork, a connect, then a Loss of 5 events.
std::vector<v1::Event> stream_events(Serves serves) {
  std::vector<v1::Event> events(5);
  events[0].set_kind(v1::EVENT_KIND_STREAM_START);
  events[0].mutable_stream_start()->set_daemon_instance("fake-run");
  events[0].mutable_stream_start()->set_next_seq(1);
  if (serves == Serves::kBadStreamStart) {
    // Its body's bytes are no StreamStart: a varint that never ends.
    events[0].clear_stream_start();
    events[0].GetReflection()->MutableUnknownFields(&events[0])->AddLengthDelimited(
        v1::Event::kStreamStartFieldNumber, "\x08\x80");
  }
  const v1::EventKind kinds[] = {v1::EVENT_KIND_EXEC, v1::EVENT_KIND_FORK, v1::EVENT_KIND_SOCKET};
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    v1::Event& event = events[seq];
    event.set_seq(seq);
    event.set_time_ns(kTimeNs + seq);
    event.set_kind(kinds[seq - 1]);
    event.mutable_process()->set_pid(static_cast<uint32_t>(1000 + seq));
    event.mutable_process()->set_exe("/usr/bin/fake");
  }
  events[2].mutable_fork()->set_child_pid(2002);
  events[3].mutable_socket()->set_operation(v1::SOCKET_OPERATION_CONNECT);
  events[4].set_kind(v1::EVENT_KIND_LOSS);
  events[4].mutable_loss()->set_place(v1::LOSS_PLACE_SUBSCRIBER);
  events[4].mutable_loss()->set_count(5);
  return events;
}

class FakeSensor final : public v1::Sensor::Service {
 public:
  explicit FakeSensor(Serves serves) : serves_(serves) {}

  grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest*, v1::StatusResponse* response) override {
    response->set_daemon_instance("fake-run");
    return grpc::Status::OK;
  }

  grpc::Status SubscribeBatches(grpc::ServerContext* context, const v1::SubscribeRequest* request,
                                grpc::ServerWriter<v1::EventBatch>* writer) override {
    if (serves_ == Serves::kEventByEvent) return Service::SubscribeBatches(context, request, writer);  // UNIMPLEMENTED
    record("SubscribeBatches", *request);
    const std::vector<v1::Event> events = stream_events(serves_);
    v1::EventBatch start, rest;
    *start.add_events() = events[0];
    for (size_t i = 1; i < events.size(); ++i) *rest.add_events() = events[i];
    if (writer->Write(start) && writer->Write(rest)) wait_for_cancel(context);
    return grpc::Status::OK;
  }

  grpc::Status Subscribe(grpc::ServerContext* context, const v1::SubscribeRequest* request,
                         grpc::ServerWriter<v1::Event>* writer) override {
    record("Subscribe", *request);
    for (const v1::Event& event : stream_events(serves_)) {
      if (!writer->Write(event)) return grpc::Status::OK;
    }
    wait_for_cancel(context);
    return grpc::Status::OK;
  }

  std::vector<std::pair<std::string, v1::SubscribeRequest>> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  void record(const char* method, const v1::SubscribeRequest& request) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.emplace_back(method, request);
  }
  static void wait_for_cancel(grpc::ServerContext* context) {
    while (!context->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  const Serves serves_;
  std::mutex mu_;
  std::vector<std::pair<std::string, v1::SubscribeRequest>> calls_;
};

// The fake on a socket of its own, and the bridge's tables subscribed to it.
struct Bridge {
  std::string dir;
  std::string socket;
  FakeSensor fake;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<TableSet> tables;

  explicit Bridge(Serves serves) : fake(serves) {
    char pattern[] = "/tmp/vajra-subscriber-XXXXXX";
    dir = mkdtemp(pattern);
    socket = dir + "/vajra.sock";
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
    builder.RegisterService(&fake);
    server = builder.BuildAndStart();
    REQUIRE(server);
    tables = std::make_unique<TableSet>("bpf", vajra::BridgeConfig{}, socket, std::nullopt);
    tables->subscriber().start();
  }
  ~Bridge() {
    tables->subscriber().stop();
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
    std::filesystem::remove_all(dir);
  }

  bool wait_until(const std::function<bool(const StreamStats&)>& done) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < end) {
      if (done(tables->subscriber().stats())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // The one Subscribe or SubscribeBatches call the fake served: its method and request.
  std::pair<std::string, v1::SubscribeRequest> only_call() {
    const auto calls = fake.calls();
    REQUIRE(calls.size() == 1);
    return calls[0];
  }

  Rows rows(const std::string& table) { return tables->by_name().at(table)->generate(QueryContext{}); }

  // What every serving mode delivers.
  void check_delivered() {
    REQUIRE(wait_until([](const StreamStats& s) { return s.events == 3 && s.loss_events == 1; }));
    const StreamStats stats = tables->subscriber().stats();
    CHECK(stats.state == "connected");
    CHECK(stats.daemon_instance == "fake-run");
    CHECK(stats.cursor_seq == 3);
    CHECK(stats.lost_subscriber == 5);
    CHECK(stats.duplicates == 0);
    const Rows processes = rows("bpf_process_events");
    REQUIRE(processes.size() == 2);
    CHECK(processes[0].at("event") == "exec");
    CHECK(processes[0].at("pid") == "1001");
    CHECK(processes[0].at("path") == "/usr/bin/fake");
    CHECK(processes[0].at("daemon_instance") == "fake-run");
    CHECK(processes[1].at("event") == "fork");
    CHECK(processes[1].at("child_pid") == "2002");
    const Rows sockets = rows("bpf_socket_events");
    REQUIRE(sockets.size() == 1);
    CHECK(sockets[0].at("seq") == "3");
    CHECK(sockets[0].at("pid") == "1003");
    CHECK(rows("bpf_file_events").empty());
  }
};

}  // namespace

TEST_CASE("the bridge keeps what vajrad's batches carry, each event in its family's table", "[bridge][subscriber]") {
  Bridge bridge(Serves::kBatches);
  bridge.check_delivered();
  const auto [method, request] = bridge.only_call();
  CHECK(method == "SubscribeBatches");
  CHECK(request.resume().daemon_instance() == "fake-run");
  CHECK(request.resume().seq() == 0);
  CHECK(request.max_batch_delay_ms() == 250);
}

TEST_CASE("a vajrad without SubscribeBatches is read event by event", "[bridge][subscriber]") {
  Bridge bridge(Serves::kEventByEvent);
  bridge.check_delivered();
  const auto [method, request] = bridge.only_call();
  CHECK(method == "Subscribe");
  CHECK(request.resume().daemon_instance() == "fake-run");
  CHECK(request.max_batch_delay_ms() == 0);  // Subscribe never holds events
}

TEST_CASE("a StreamStart that does not parse ends the stream, and the bridge subscribes again",
          "[bridge][subscriber]") {
  Bridge bridge(Serves::kBadStreamStart);
  REQUIRE(bridge.wait_until([&](const StreamStats&) { return bridge.fake.calls().size() >= 2; }));
  const StreamStats stats = bridge.tables->subscriber().stats();
  CHECK(stats.last_error == "error handling the stream: vajrad sent a malformed StreamStart or Loss");
  CHECK(stats.streams == 0);
  CHECK(stats.events == 0);
}
