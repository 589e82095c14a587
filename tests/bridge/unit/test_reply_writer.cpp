#include <catch2/catch.hpp>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include "reply_writer.h"

using namespace vajra::bridge;
using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TMemoryBuffer;

namespace {

std::string generated_bytes(int32_t seqid, const vajra::osquery::ExtensionStatus& status, const Rows& rows) {
  auto buffer = std::make_shared<TMemoryBuffer>();
  TBinaryProtocol out(buffer);
  vajra::osquery::Extension_call_result result;
  result.success.status = status;
  result.success.response = rows;
  result.__isset.success = true;
  out.writeMessageBegin("call", apache::thrift::protocol::T_REPLY, seqid);
  result.write(&out);
  out.writeMessageEnd();
  return buffer->getBufferAsString();
}

std::string streamed_bytes(int32_t seqid, const vajra::osquery::ExtensionStatus& status, const RowBatch& rows) {
  auto buffer = std::make_shared<TMemoryBuffer>();
  TBinaryProtocol out(buffer);
  write_call_reply(out, seqid, status, rows);
  return buffer->getBufferAsString();
}

}  // namespace

TEST_CASE("a streamed reply is byte for byte what the generated code writes", "[bridge][reply]") {
  vajra::osquery::ExtensionStatus status;
  status.code = 0;
  status.message = "OK";
  status.uuid = 321;
  const Rows rows = {{{"cmdline", "ls -l 'a b'"}, {"pid", "42"}, {"time", "1700000000"}},
                     {},
                     {{"path", std::string("nul\0byte", 8)}, {"pid", "7"}}};
  CHECK(streamed_bytes(9, status, MapBatch(rows)) == generated_bytes(9, status, rows));
  CHECK(reply_wire_size(status, MapBatch(rows)) == generated_bytes(9, status, rows).size());
  CHECK(streamed_bytes(10, status, MapBatch({})) == generated_bytes(10, status, {}));
  status.code = 1;
  status.message = "vajra.ext: unknown registry 'config'";
  CHECK(streamed_bytes(11, status, MapBatch({})) == generated_bytes(11, status, {}));
  CHECK(reply_wire_size(status, MapBatch({})) == generated_bytes(11, status, {}).size());
}
