// The gRPC API on a Unix socket. vajrad accepts connections itself, so that every peer's
// credentials are checked (SO_PEERCRED against socket.allow_uids / allow_gids) before gRPC sees a
// byte from it; admitted connections are then handed to a gRPC server that listens on no port.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "config.h"
#include "hub.h"
#include "vajra/v1/vajra.pb.h"

namespace grpc {
class Server;
class ServerContextBase;
}

namespace vajra {

class Server {
 public:
  // `status_provider` fills what only the daemon knows (probes, counters, caches); the server adds
  // subscribers, subscriber drops, refused connections and next_seq.
  Server(const SocketConfig& config, Hub& hub,
         std::function<v1::StatusResponse()> status_provider);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Creates the socket and starts serving. Throws std::runtime_error naming the socket path (or
  // group) and the system's reason.
  void start();
  // Stops accepting, ends every stream and waits for the server's threads. Safe to call twice.
  void stop();

  uint64_t refused_connections() const { return refused_.load(std::memory_order_relaxed); }

 private:
  class SensorService;
  class EventStream;
  struct Peer {
    uint32_t uid;
    uint32_t pid;
    uint64_t inode;  // of the connection's socket: tells it from a later one on the same fd number
  };

  void bind_socket();
  void end_streams();
  void accept_loop();
  void admit(int fd);
  std::optional<Peer> peer_of(int fd) const;
  // Streams of either kind (Subscribe, SubscribeBatches). A stream is listed, so that stop() can end
  // it, unless the server is stopping (then false); it leaves the list however it ends.
  bool register_stream(grpc::ServerContextBase* context, int fd);
  void deregister_stream(grpc::ServerContextBase* context);
  // The stream's subscription to the hub, and its end, logged with the peer on connection `fd`.
  std::shared_ptr<Subscription> open_subscription(const v1::SubscribeRequest& request, int fd,
                                                  const std::string& grpc_peer);
  void close_subscription(const std::shared_ptr<Subscription>& subscription);
  // Shuts an admitted connection down under gRPC's feet, failing the writes it is blocked in.
  void hang_up(int fd) const;

  const SocketConfig config_;
  Hub& hub_;
  const std::function<v1::StatusResponse()> status_provider_;
  std::unique_ptr<SensorService> service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd that wakes the accept loop to stop
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> refused_{0};
  std::mutex streams_mu_;
  std::condition_variable streams_ended_;
  // Subscribe and SubscribeBatches calls in progress, with their connection's fd (-1 when not known).
  std::unordered_map<grpc::ServerContextBase*, int> streams_;
  mutable std::mutex peers_mu_;
  std::unordered_map<int, Peer> peers_;  // by connection fd; an entry is replaced when the fd is reused
};

}  // namespace vajra
