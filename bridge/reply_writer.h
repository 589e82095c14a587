// The reply to Extension.call written field by field exactly as the generated
// Extension_call_result::write would write it, but with the rows streamed from a RowBatch instead
// of a vector of maps (see table.h).
#pragma once

#include <cstdint>

#include <thrift/protocol/TProtocol.h>

#include "Extension.h"
#include "table.h"

namespace vajra::bridge {

void write_call_reply(apache::thrift::protocol::TProtocol& out, int32_t seqid, const osquery::ExtensionStatus& status,
                      const RowBatch& rows);

// The exact size of that reply in the binary protocol.
size_t reply_wire_size(const osquery::ExtensionStatus& status, const RowBatch& rows);

// Thrift 0.17 clients, osquery's included, refuse a message larger than TConfiguration's default
// maximum (100 MiB): a bigger reply would fail in osquery as a transport error, so the bridge
// answers such a query with an error status that says how to narrow it.
constexpr size_t kMaxReplyBytes = 100u * 1024 * 1024;

}  // namespace vajra::bridge
