// A published event in the form the streams send it. The hub serializes each event once, however many
// subscribers take it, and keeps only these bytes: they are all a stream sends, and take less memory
// than the message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include <grpc/slice.h>

#include "vajra/v1/vajra.pb.h"

namespace vajra {

class SerializedEvent {
 public:
  // Serializes `event`, its seq already set.
  explicit SerializedEvent(const v1::Event& event);
  ~SerializedEvent();
  SerializedEvent(const SerializedEvent&) = delete;
  SerializedEvent& operator=(const SerializedEvent&) = delete;

  // An EventBatch `events` entry: its field tag and length, then the Event. A SubscribeBatches message
  // is such entries one after another; a Subscribe message is the Event alone (body()). A gRPC slice,
  // so that messages carry it by reference, not by copy.
  const grpc_slice& entry() const { return entry_; }
  std::string_view bytes() const;
  size_t size() const { return GRPC_SLICE_LENGTH(entry_); }
  std::string_view body() const { return bytes().substr(body_offset_); }
  size_t body_offset() const { return body_offset_; }

  v1::EventKind kind() const { return kind_; }
  uint64_t seq() const { return seq_; }

 private:
  grpc_slice entry_;
  size_t body_offset_;
  v1::EventKind kind_;
  uint64_t seq_;
};

using EventPtr = std::shared_ptr<const SerializedEvent>;

inline EventPtr serialize_event(const v1::Event& event) { return std::make_shared<const SerializedEvent>(event); }

}  // namespace vajra
