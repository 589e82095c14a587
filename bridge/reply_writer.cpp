#include "reply_writer.h"

#include <string>

namespace vajra::bridge {
namespace {

using apache::thrift::protocol::T_LIST;
using apache::thrift::protocol::T_MAP;
using apache::thrift::protocol::T_REPLY;
using apache::thrift::protocol::T_STRING;
using apache::thrift::protocol::T_STRUCT;
using apache::thrift::protocol::TProtocol;

class MapWriter : public CellSink {
 public:
  explicit MapWriter(TProtocol& out) : out_(out) {}
  void cell(const std::string& column, std::string_view value) override {
    out_.writeString(column);
    scratch_.assign(value);  // reuses its capacity: no allocation per value
    out_.writeString(scratch_);
  }

 private:
  TProtocol& out_;
  std::string scratch_;
};

// Sizes in the binary protocol: a field header is its type and id, a string its i32 length and bytes.
constexpr size_t kFieldHeader = 1 + 2;
constexpr size_t kStop = 1;
constexpr size_t kString = 4;

class SizeCounter : public CellSink {
 public:
  void cell(const std::string& column, std::string_view value) override {
    bytes += kString + column.size() + kString + value.size();
  }
  size_t bytes = 0;
};

}  // namespace

size_t reply_wire_size(const osquery::ExtensionStatus& status, const RowBatch& rows) {
  // Strict message header: version+type, the method name, the seqid.
  size_t bytes = 4 + kString + 4 + 4;
  bytes += kFieldHeader;                                                      // result.success
  bytes += kFieldHeader;                                                      // response.status
  bytes += (kFieldHeader + 4) + (kFieldHeader + kString + status.message.size()) + (kFieldHeader + 8) + kStop;
  bytes += kFieldHeader + 1 + 4;                                              // response.response: list of maps
  SizeCounter counter;
  for (size_t row = 0; row < rows.size(); ++row) {
    counter.bytes += 1 + 1 + 4;                                               // map header: key, value types, size
    rows.visit(row, counter);
  }
  bytes += counter.bytes;
  bytes += kStop + kStop;                                                     // ends of response and result
  return bytes;
}

void write_call_reply(TProtocol& out, int32_t seqid, const osquery::ExtensionStatus& status, const RowBatch& rows) {
  out.writeMessageBegin("call", T_REPLY, seqid);
  out.writeStructBegin("Extension_call_result");
  out.writeFieldBegin("success", T_STRUCT, 0);

  out.writeStructBegin("ExtensionResponse");
  out.writeFieldBegin("status", T_STRUCT, 1);
  status.write(&out);
  out.writeFieldEnd();
  out.writeFieldBegin("response", T_LIST, 2);
  out.writeListBegin(T_MAP, static_cast<uint32_t>(rows.size()));
  MapWriter writer(out);
  for (size_t row = 0; row < rows.size(); ++row) {
    out.writeMapBegin(T_STRING, T_STRING, static_cast<uint32_t>(rows.cell_count(row)));
    rows.visit(row, writer);
    out.writeMapEnd();
  }
  out.writeListEnd();
  out.writeFieldEnd();
  out.writeFieldStop();
  out.writeStructEnd();

  out.writeFieldEnd();
  out.writeFieldStop();
  out.writeStructEnd();
  out.writeMessageEnd();
  out.getTransport()->writeEnd();
  out.getTransport()->flush();
}

}  // namespace vajra::bridge
