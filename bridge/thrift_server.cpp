#include "thrift_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <spdlog/spdlog.h>
#include <thrift/TProcessor.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TThreadedServer.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TServerSocket.h>


namespace vajra::bridge {
namespace {

using apache::thrift::TException;

osquery::ExtensionStatus make_status(int32_t code, std::string message, int64_t uuid) {
  osquery::ExtensionStatus status;
  status.code = code;
  status.message = std::move(message);
  status.uuid = uuid;
  return status;
}

std::string size_text(size_t bytes) {
  return bytes < (1u << 20) ? fmt::format("{} bytes", bytes) : fmt::format("{:.1f} MiB", bytes / 1048576.0);
}

// TThreadedServer::serve() calls listen(); the socket was already bound and listening, so only the
// first call does anything.
class PreboundServerSocket : public apache::thrift::transport::TServerSocket {
 public:
  using TServerSocket::TServerSocket;
  void listen() override {
    if (listening_now_) return;
    TServerSocket::listen();
    listening_now_ = true;
  }

 private:
  bool listening_now_ = false;
};

// osquery's buffered transport, with a write buffer large enough that a reply of 100,000 rows goes
// out in 64 KiB writes rather than Thrift's default 512-byte ones.
class BufferedTransportFactory : public apache::thrift::transport::TTransportFactory {
 public:
  std::shared_ptr<apache::thrift::transport::TTransport> getTransport(
      std::shared_ptr<apache::thrift::transport::TTransport> transport) override {
    return std::make_shared<apache::thrift::transport::TBufferedTransport>(transport, kReadBuffer, kWriteBuffer);
  }

 private:
  static constexpr uint32_t kReadBuffer = 4096;
  static constexpr uint32_t kWriteBuffer = 64 * 1024;
};

// Runs on_shutdown after the reply to shutdown() has been flushed, so osquery gets its answer.
class ShutdownNotifier : public apache::thrift::TProcessorEventHandler {
 public:
  explicit ShutdownNotifier(std::function<void()> on_shutdown) : on_shutdown_(std::move(on_shutdown)) {}
  void postWrite(void*, const char* fn_name, uint32_t) override {
    if (std::strcmp(fn_name, "Extension.shutdown") == 0) on_shutdown_();
  }

 private:
  std::function<void()> on_shutdown_;
};

// The generated processor, except that `call` replies are written from the RowBatch directly.
class StreamingProcessor : public osquery::ExtensionProcessor {
 public:
  StreamingProcessor(std::shared_ptr<ExtensionHandler> handler, size_t max_reply_bytes)
      : ExtensionProcessor(handler), handler_(std::move(handler)), max_reply_bytes_(max_reply_bytes) {}

 protected:
  bool dispatchCall(apache::thrift::protocol::TProtocol* in, apache::thrift::protocol::TProtocol* out,
                    const std::string& name, int32_t seqid, void* context) override {
    if (name != "call") return ExtensionProcessor::dispatchCall(in, out, name, seqid, context);
    osquery::Extension_call_args args;
    args.read(in);
    in->readMessageEnd();
    in->getTransport()->readEnd();
    CallReply reply = handler_->answer(args.registry, args.item, args.request);
    if (const size_t bytes = reply_wire_size(reply.status, *reply.rows); bytes > max_reply_bytes_) {
      reply.status.code = 1;
      reply.status.message = fmt::format(
          "vajra.ext: {}: the result ({} rows, {}) is larger than the {} a Thrift reply to osquery may be; narrow "
          "it by time or select fewer columns",
          args.item, reply.rows->size(), size_text(bytes), size_text(max_reply_bytes_));
      spdlog::warn("{}", reply.status.message);
      reply.rows = std::make_unique<MapBatch>(Rows{});
    }
    write_call_reply(*out, seqid, reply.status, *reply.rows);
    return true;
  }

 private:
  std::shared_ptr<ExtensionHandler> handler_;
  const size_t max_reply_bytes_;
};

}  // namespace

void ExtensionHandler::ping(osquery::ExtensionStatus& status) { status = make_status(0, "OK", uuid_); }

CallReply ExtensionHandler::answer(const std::string& registry, const std::string& item,
                                  const osquery::ExtensionPluginRequest& request) {
  CallReply reply;
  try {
    if (registry != "table") {
      throw RequestError("unknown registry '" + registry + "': vajra.ext serves only the 'table' registry");
    }
    const auto table = tables_.find(item);
    if (table == tables_.end()) {
      std::string names;
      for (const auto& entry : tables_) names += (names.empty() ? "" : ", ") + entry.first;
      throw RequestError("unknown table '" + item + "': vajra.ext serves " + names);
    }
    reply.rows = call_table(*table->second, request);
    reply.status = make_status(0, "OK", uuid_);
  } catch (const RequestError& e) {
    reply.status = make_status(1, std::string("vajra.ext: ") + e.what(), uuid_);
    spdlog::debug("call({}, {}) refused: {}", registry, item, e.what());
  } catch (const std::exception& e) {
    reply.status = make_status(1, "vajra.ext: internal error in " + registry + "/" + item + ": " + e.what(), uuid_);
    spdlog::error("call({}, {}) failed: {}", registry, item, e.what());
  }
  if (!reply.rows) reply.rows = std::make_unique<MapBatch>(Rows{});
  return reply;
}

void ExtensionHandler::call(osquery::ExtensionResponse& response, const std::string& registry,
                            const std::string& item, const osquery::ExtensionPluginRequest& request) {
  CallReply reply = answer(registry, item, request);
  response.status = reply.status;
  response.response = to_rows(*reply.rows);
}

std::unique_ptr<RowBatch> ExtensionHandler::call_table(Table& table, const osquery::ExtensionPluginRequest& request) {
  const auto action = request.find("action");
  if (action == request.end()) throw RequestError("table " + table.name() + ": request has no \"action\"");
  if (action->second == "columns") return std::make_unique<MapBatch>(route_rows(table));
  if (action->second == "generate") {
    const auto context = request.find("context");
    return table.select(parse_context(context == request.end() ? "" : context->second));
  }
  if (action->second == "insert" || action->second == "update" || action->second == "delete") {
    throw RequestError("table " + table.name() + " is read-only: '" + action->second + "' is not supported");
  }
  throw RequestError("table " + table.name() + ": unknown action '" + action->second +
                     "' (expected columns or generate)");
}

ExtensionServer::ExtensionServer(const std::string& path, std::shared_ptr<ExtensionHandler> handler,
                                 std::function<void()> on_shutdown, size_t max_reply_bytes)
    : path_(path) {
  // A file left at this path can only be a stale socket of ours: osquery issues a fresh uuid at
  // every registration and deletes <manager>.* when it starts.
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw std::runtime_error("extension socket " + path + ": cannot remove the old file: " + std::strerror(errno));
  }
  auto socket = std::make_shared<PreboundServerSocket>(path);
  std::string chmod_error;
  socket->setListenCallback([&](int) {
    if (chmod(path.c_str(), 0600) != 0) chmod_error = std::strerror(errno);
  });
  try {
    socket->listen();
  } catch (const TException& e) {
    throw std::runtime_error("extension socket " + path + ": cannot listen: " + e.what());
  }
  if (!chmod_error.empty()) throw std::runtime_error("extension socket " + path + ": chmod 0600: " + chmod_error);

  auto processor = std::make_shared<StreamingProcessor>(handler, max_reply_bytes);
  processor->setEventHandler(std::make_shared<ShutdownNotifier>(std::move(on_shutdown)));
  server_ = std::make_shared<apache::thrift::server::TThreadedServer>(
      processor, socket, std::make_shared<BufferedTransportFactory>(),
      std::make_shared<apache::thrift::protocol::TBinaryProtocolFactory>());
}

ExtensionServer::~ExtensionServer() { stop(); }

void ExtensionServer::start() {
  thread_ = std::thread([this] {
    try {
      server_->serve();
    } catch (const TException& e) {
      spdlog::error("extension socket {}: server stopped: {}", path_, e.what());
    }
  });
}

void ExtensionServer::stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace vajra::bridge
