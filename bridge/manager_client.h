// vajra.ext as a client of osquery core's ExtensionManager: one kept connection (the manager
// socket is root-only, and the bridge drops root after registering), binary protocol, buffered
// transport.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "ExtensionManager.h"

namespace vajra::bridge {

// The manager could not be reached or did not answer; what() says which socket and why.
class ManagerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ManagerClient {
 public:
  // Retries until the socket accepts a connection or `timeout` has passed (osquery may still be
  // creating it). Throws ManagerError.
  static std::unique_ptr<ManagerClient> connect(const std::string& socket_path, std::chrono::seconds timeout);
  ~ManagerClient();

  // Each throws ManagerError when the connection fails; the client is then unusable.
  osquery::InternalExtensionList extensions();
  osquery::ExtensionStatus register_extension(const osquery::InternalExtensionInfo& info,
                                              const osquery::ExtensionRegistry& registry);
  osquery::ExtensionResponse query(const std::string& sql);

  const std::string& socket_path() const { return path_; }

 private:
  ManagerClient(std::string path, std::shared_ptr<apache::thrift::transport::TTransport> transport);
  template <typename Call>
  auto guarded(const char* method, Call call);

  const std::string path_;
  std::shared_ptr<apache::thrift::transport::TTransport> transport_;
  std::unique_ptr<osquery::ExtensionManagerClient> client_;
};

}  // namespace vajra::bridge
