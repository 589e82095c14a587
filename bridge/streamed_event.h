// An event as the bridge receives it: vajrad's bytes, kept as they came, and the three fields the
// bridge needs before any query reads the event (which table takes it, the cursor, the store's time
// order). Parsing the whole event waits for a query (see stored_event.h). The process field is kept
// apart: every event of a process carries the same one (ancestry, command line, cgroup...), most of
// an event's bytes, so a table holds one copy of it for all of them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <grpcpp/support/byte_buffer.h>

#include "vajra/v1/vajra.pb.h"

namespace vajra::bridge {

struct StreamedEvent {
  uint64_t seq = 0;
  uint64_t time_ns = 0;
  v1::EventKind kind = v1::EVENT_KIND_UNSPECIFIED;
  std::string bytes;    // the serialized v1::Event without its process field
  std::string process;  // that field as on the wire (tag, length, Process; each part, in order); empty when none
};

// An event from its bytes, reading seq, time_ns and kind; false when the bytes are not a well-formed
// message at the top level (nested messages are checked when the event is parsed whole).
bool read_streamed_event(std::string bytes, StreamedEvent& out);

// The whole event from the two parts; false when they do not parse.
bool parse_streamed_event(const std::string& bytes, const std::string* process, v1::Event& out);

// What the bridge receives for `event` (tests and the benchmark make events as messages).
StreamedEvent streamed_event_of(const v1::Event& event);

// The events of one EventBatch message, in order, each handed to `each`; false when the batch or
// one of its events is malformed (the events before it were handed on).
bool read_event_batch(grpc::ByteBuffer& batch, const std::function<void(StreamedEvent&&)>& each);

// A message's bytes in one string (a Subscribe message is one event); false when gRPC cannot give them.
bool message_bytes(grpc::ByteBuffer& message, std::string& out);

}  // namespace vajra::bridge
