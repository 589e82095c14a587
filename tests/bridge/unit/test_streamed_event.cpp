#include <catch2/catch.hpp>

#include <vector>

#include "streamed_event.h"

using namespace vajra::bridge;
namespace v1 = vajra::v1;

namespace {

v1::Event event_of(uint64_t seq, v1::EventKind kind) {
  v1::Event event;
  event.set_seq(seq);
  event.set_time_ns(1'700'000'000'123'456'789ull + seq);
  event.set_ktime_ns(5'000 + seq);
  event.set_kind(kind);
  event.mutable_process()->set_pid(static_cast<uint32_t>(100 + seq));
  event.mutable_process()->set_exe("/usr/bin/true");
  return event;
}

grpc::ByteBuffer buffer_of(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace

// The event the two parts make, serialized (a message serializes its fields in number order).
std::string reassembled(const StreamedEvent& streamed) {
  v1::Event event;
  REQUIRE(parse_streamed_event(streamed.bytes, &streamed.process, event));
  return event.SerializeAsString();
}

TEST_CASE("an event's seq, time and kind are read from its bytes, and its process field is kept apart",
          "[bridge][streamed]") {
  const v1::Event event = event_of(42, v1::EVENT_KIND_EXIT);
  const std::string bytes = event.SerializeAsString();
  StreamedEvent streamed;
  REQUIRE(read_streamed_event(bytes, streamed));
  CHECK(streamed.seq == 42);
  CHECK(streamed.time_ns == event.time_ns());
  CHECK(streamed.kind == v1::EVENT_KIND_EXIT);
  const std::string process = event.process().SerializeAsString();
  CHECK(streamed.process == std::string(1, '\x2a') + static_cast<char>(process.size()) + process);  // field 5, length
  CHECK(streamed.bytes.size() + streamed.process.size() == bytes.size());
  CHECK(reassembled(streamed) == bytes);

  // Without a process (a Loss) the bytes stay whole.
  v1::Event loss;
  loss.set_kind(v1::EVENT_KIND_LOSS);
  loss.mutable_loss()->set_count(3);
  REQUIRE(read_streamed_event(loss.SerializeAsString(), streamed));
  CHECK(streamed.process.empty());
  CHECK(streamed.bytes == loss.SerializeAsString());

  // vajrad writes the process field in two parts, which parsing merges: both are kept apart, in order.
  v1::Process image;
  image.set_exe("/usr/bin/env");  // a later part's value wins
  image.add_argv("env");
  const std::string part = std::string(1, '\x2a') + static_cast<char>(image.ByteSizeLong()) + image.SerializeAsString();
  REQUIRE(read_streamed_event(bytes + part, streamed));
  CHECK(streamed.process == std::string(1, '\x2a') + static_cast<char>(process.size()) + process + part);
  CHECK(streamed.bytes.size() + streamed.process.size() == bytes.size() + part.size());
  v1::Event merged;
  REQUIRE(parse_streamed_event(streamed.bytes, &streamed.process, merged));
  CHECK(merged.process().pid() == event.process().pid());
  CHECK(merged.process().exe() == "/usr/bin/env");
  CHECK(merged.process().argv_size() == 1);
  v1::Event direct;
  REQUIRE(direct.ParseFromString(bytes + part));
  CHECK(merged.SerializeAsString() == direct.SerializeAsString());
}

TEST_CASE("bytes that are no message are refused", "[bridge][streamed]") {
  const std::string bytes = event_of(7, v1::EVENT_KIND_EXEC).SerializeAsString();
  StreamedEvent streamed;
  CHECK_FALSE(read_streamed_event(bytes.substr(0, bytes.size() - 3), streamed));  // cut in the exe
  CHECK_FALSE(read_streamed_event(std::string("\x08\x80", 2), streamed));        // seq's varint never ends
  CHECK_FALSE(read_streamed_event(std::string("\x0f", 1), streamed));            // wire type 7 does not exist
}

TEST_CASE("a batch's events come out in order, each with its own bytes", "[bridge][streamed]") {
  v1::EventBatch batch;
  for (uint64_t seq = 1; seq <= 3; ++seq) *batch.add_events() = event_of(seq, v1::EVENT_KIND_FORK);
  // Split over several slices, as gRPC may hand a message over.
  const std::string bytes = batch.SerializeAsString();
  std::vector<grpc::Slice> slices;
  for (size_t at = 0; at < bytes.size(); at += 7) slices.emplace_back(bytes.substr(at, 7));
  grpc::ByteBuffer buffer(slices.data(), slices.size());

  std::vector<StreamedEvent> events;
  REQUIRE(read_event_batch(buffer, [&](StreamedEvent&& event) { events.push_back(std::move(event)); }));
  REQUIRE(events.size() == 3);
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    CHECK(events[seq - 1].seq == seq);
    CHECK(events[seq - 1].kind == v1::EVENT_KIND_FORK);
    CHECK(reassembled(events[seq - 1]) == batch.events(static_cast<int>(seq - 1)).SerializeAsString());
  }

  std::string whole;
  grpc::ByteBuffer again = buffer_of(bytes);
  REQUIRE(message_bytes(again, whole));
  CHECK(whole == bytes);
}

TEST_CASE("a malformed batch stops at the bad event", "[bridge][streamed]") {
  v1::EventBatch batch;
  *batch.add_events() = event_of(1, v1::EVENT_KIND_EXEC);
  std::string bytes = batch.SerializeAsString();
  bytes += std::string("\x0a\x02\x08\x80", 4);  // an entry whose seq varint never ends
  bytes += batch.SerializeAsString();            // and one more good event after it
  grpc::ByteBuffer buffer = buffer_of(bytes);
  size_t handed = 0;
  CHECK_FALSE(read_event_batch(buffer, [&](StreamedEvent&&) { ++handed; }));
  CHECK(handed == 1);

  grpc::ByteBuffer cut = buffer_of(batch.SerializeAsString().substr(0, 10));  // an entry longer than what is left
  CHECK_FALSE(read_event_batch(cut, [&](StreamedEvent&&) { ++handed; }));
  CHECK(handed == 1);
}
