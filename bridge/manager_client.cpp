#include "manager_client.h"

#include <thread>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

namespace vajra::bridge {
namespace {

using apache::thrift::TException;
using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TBufferedTransport;
using apache::thrift::transport::TSocket;

// osquery's own client timeout for extension calls.
constexpr int kCallTimeoutMs = 300 * 1000;
constexpr std::chrono::milliseconds kConnectRetry{100};

}  // namespace

ManagerClient::ManagerClient(std::string path, std::shared_ptr<apache::thrift::transport::TTransport> transport)
    : path_(std::move(path)),
      transport_(std::move(transport)),
      client_(std::make_unique<osquery::ExtensionManagerClient>(std::make_shared<TBinaryProtocol>(transport_))) {}

ManagerClient::~ManagerClient() {
  try {
    transport_->close();
  } catch (const TException&) {
    // Closing a dead connection has nothing left to report.
  }
}

std::unique_ptr<ManagerClient> ManagerClient::connect(const std::string& socket_path, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last_error;
  for (;;) {
    auto socket = std::make_shared<TSocket>(socket_path);
    socket->setRecvTimeout(kCallTimeoutMs);
    socket->setSendTimeout(kCallTimeoutMs);
    auto transport = std::make_shared<TBufferedTransport>(socket);
    try {
      transport->open();
      return std::unique_ptr<ManagerClient>(new ManagerClient(socket_path, transport));
    } catch (const TException& e) {
      last_error = e.what();
    }
    if (std::chrono::steady_clock::now() + kConnectRetry > deadline) break;
    std::this_thread::sleep_for(kConnectRetry);
  }
  throw ManagerError("osquery extension manager socket " + socket_path + ": no connection within " +
                     std::to_string(timeout.count()) + " s (" + last_error + ")");
}

template <typename Call>
auto ManagerClient::guarded(const char* method, Call call) {
  try {
    return call();
  } catch (const TException& e) {
    throw ManagerError(std::string("osquery extension manager ") + path_ + ": " + method + ": " + e.what());
  }
}

osquery::InternalExtensionList ManagerClient::extensions() {
  return guarded("extensions", [&] {
    osquery::InternalExtensionList list;
    client_->extensions(list);
    return list;
  });
}

osquery::ExtensionStatus ManagerClient::register_extension(const osquery::InternalExtensionInfo& info,
                                                           const osquery::ExtensionRegistry& registry) {
  return guarded("registerExtension", [&] {
    osquery::ExtensionStatus status;
    client_->registerExtension(status, info, registry);
    return status;
  });
}

osquery::ExtensionResponse ManagerClient::query(const std::string& sql) {
  return guarded("query", [&] {
    osquery::ExtensionResponse response;
    client_->query(response, sql);
    return response;
  });
}

}  // namespace vajra::bridge
