#include "serialized_event.h"

#include <google/protobuf/io/coded_stream.h>

namespace vajra {

SerializedEvent::SerializedEvent(const v1::Event& event) : kind_(event.kind()), seq_(event.seq()) {
  using google::protobuf::io::CodedOutputStream;
  constexpr uint8_t kEventsTag = (v1::EventBatch::kEventsFieldNumber << 3) | 2;  // length-delimited
  const size_t body = event.ByteSizeLong();
  body_offset_ = 1 + CodedOutputStream::VarintSize64(body);
  entry_ = grpc_slice_malloc(body_offset_ + body);
  uint8_t* out = GRPC_SLICE_START_PTR(entry_);
  out[0] = kEventsTag;
  CodedOutputStream::WriteVarint64ToArray(body, out + 1);
  event.SerializeWithCachedSizesToArray(out + body_offset_);
}

SerializedEvent::~SerializedEvent() { grpc_slice_unref(entry_); }

std::string_view SerializedEvent::bytes() const {
  return std::string_view(reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(entry_)), GRPC_SLICE_LENGTH(entry_));
}

}  // namespace vajra
