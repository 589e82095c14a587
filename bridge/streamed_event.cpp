#include "streamed_event.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <vector>

namespace vajra::bridge {
namespace {

using google::protobuf::io::CodedInputStream;
using google::protobuf::internal::WireFormatLite;

constexpr uint32_t kVarint = WireFormatLite::WIRETYPE_VARINT;
constexpr uint32_t kLengthDelimited = WireFormatLite::WIRETYPE_LENGTH_DELIMITED;

constexpr uint32_t tag_of(int field, uint32_t wire_type) { return static_cast<uint32_t>(field) << 3 | wire_type; }

// Field numbers of v1::Event and v1::EventBatch, checked against the generated code.
constexpr uint32_t kSeqTag = tag_of(v1::Event::kSeqFieldNumber, kVarint);
constexpr uint32_t kTimeTag = tag_of(v1::Event::kTimeNsFieldNumber, kVarint);
constexpr uint32_t kKindTag = tag_of(v1::Event::kKindFieldNumber, kVarint);
constexpr uint32_t kProcessTag = tag_of(v1::Event::kProcessFieldNumber, kLengthDelimited);
constexpr uint32_t kEventsTag = tag_of(v1::EventBatch::kEventsFieldNumber, kLengthDelimited);

}  // namespace

bool read_streamed_event(std::string bytes, StreamedEvent& out) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
  out = StreamedEvent{};
  // Where the process field lies. vajrad writes it in two parts (the event's own fields, then the
  // process image and ancestry it caches already serialized, daemon/enrich.h), which parsing merges;
  // the parts are kept together, in wire order, so that they merge the same way.
  std::vector<std::pair<size_t, size_t>> process_parts;  // [begin, end)
  for (;;) {
    const int at = in.CurrentPosition();
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    uint64_t value = 0;
    switch (tag) {
      case kSeqTag:
        if (!in.ReadVarint64(&out.seq)) return false;
        break;
      case kTimeTag:
        if (!in.ReadVarint64(&out.time_ns)) return false;
        break;
      case kKindTag:
        if (!in.ReadVarint64(&value)) return false;
        out.kind = static_cast<v1::EventKind>(static_cast<int32_t>(value));  // an open enum, as protobuf reads it
        break;
      default:
        if (!WireFormatLite::SkipField(&in, tag)) return false;
        if (tag == kProcessTag) {
          process_parts.emplace_back(static_cast<size_t>(at), static_cast<size_t>(in.CurrentPosition()));
        }
    }
  }
  if (!in.ConsumedEntireMessage()) return false;
  if (process_parts.empty()) {
    out.bytes = std::move(bytes);
    return true;
  }
  size_t process_size = 0;
  for (const auto& [begin, end] : process_parts) process_size += end - begin;
  out.process.reserve(process_size);
  out.bytes.reserve(bytes.size() - process_size);  // held until a query reads the event: no slack
  size_t copied = 0;
  for (const auto& [begin, end] : process_parts) {
    out.bytes.append(bytes, copied, begin - copied);
    out.process.append(bytes, begin, end - begin);
    copied = end;
  }
  out.bytes.append(bytes, copied);
  return true;
}

bool parse_streamed_event(const std::string& bytes, const std::string* process, v1::Event& out) {
  return out.ParseFromString(bytes) && (process == nullptr || process->empty() || out.MergeFromString(*process));
}

StreamedEvent streamed_event_of(const v1::Event& event) {
  StreamedEvent streamed;
  read_streamed_event(event.SerializeAsString(), streamed);  // a message's own bytes always read
  return streamed;
}

bool read_event_batch(grpc::ByteBuffer& batch, const std::function<void(StreamedEvent&&)>& each) {
  grpc::ProtoBufferReader reader(&batch);
  CodedInputStream in(&reader);
  for (;;) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return in.ConsumedEntireMessage();
    if (tag != kEventsTag) {
      if (!WireFormatLite::SkipField(&in, tag)) return false;
      continue;
    }
    uint32_t size = 0;
    std::string bytes;
    if (!in.ReadVarint32(&size) || !in.ReadString(&bytes, static_cast<int>(size))) return false;
    StreamedEvent event;
    if (!read_streamed_event(std::move(bytes), event)) return false;
    each(std::move(event));
  }
}

bool message_bytes(grpc::ByteBuffer& message, std::string& out) {
  std::vector<grpc::Slice> slices;
  if (!message.Dump(&slices).ok()) return false;
  out.clear();
  out.reserve(message.Length());
  for (const grpc::Slice& slice : slices) out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  return true;
}

}  // namespace vajra::bridge
