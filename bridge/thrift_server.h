// vajra.ext as an osquery Extension: answers ping, call and shutdown on <manager socket>.<uuid>.
// A thread per connection (osquery opens one per call), so a long generate never delays a ping.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "Extension.h"
#include "reply_writer.h"
#include "table.h"

namespace apache::thrift::server {
class TThreadedServer;
}

namespace vajra::bridge {

// The answer to one call: a status and, when it succeeded, rows (route rows for `columns`).
struct CallReply {
  osquery::ExtensionStatus status;
  std::unique_ptr<RowBatch> rows;
};

class ExtensionHandler : public osquery::ExtensionIf {
 public:
  explicit ExtensionHandler(std::map<std::string, Table*> tables) : tables_(std::move(tables)) {}

  void set_uuid(int64_t uuid) { uuid_ = uuid; }

  // Never throws: a request it cannot serve gets a non-zero status naming what is wrong.
  CallReply answer(const std::string& registry, const std::string& item,
                   const osquery::ExtensionPluginRequest& request);

  void ping(osquery::ExtensionStatus& status) override;
  // What the generated processor would call; the server streams answer() instead.
  void call(osquery::ExtensionResponse& response, const std::string& registry, const std::string& item,
            const osquery::ExtensionPluginRequest& request) override;
  // The reply is sent first; ExtensionServer's on_shutdown runs once it is on the wire.
  void shutdown() override {}

 private:
  std::unique_ptr<RowBatch> call_table(Table& table, const osquery::ExtensionPluginRequest& request);

  const std::map<std::string, Table*> tables_;
  std::atomic<int64_t> uuid_{0};
};

class ExtensionServer {
 public:
  // Binds `path` and listens at once, so that this can happen while the bridge still has the
  // rights to create a file in osquery's socket directory; connections wait in the backlog until
  // start(). The socket is made 0600: only its owner (osquery's user, root) may call it.
  // A reply larger than max_reply_bytes becomes an error status (see reply_writer.h).
  ExtensionServer(const std::string& path, std::shared_ptr<ExtensionHandler> handler,
                  std::function<void()> on_shutdown, size_t max_reply_bytes = kMaxReplyBytes);
  ~ExtensionServer();
  ExtensionServer(const ExtensionServer&) = delete;
  ExtensionServer& operator=(const ExtensionServer&) = delete;

  void start();
  void stop();
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  std::shared_ptr<apache::thrift::server::TThreadedServer> server_;
  std::thread thread_;
};

}  // namespace vajra::bridge
