#include "server.h"

#include <grp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <grpc/grpc.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>
#include <grpcpp/support/byte_buffer.h>
#include <spdlog/spdlog.h>

#include "file_filter.h"
#include "net_filter.h"
#include "vajra/v1/vajra.grpc.pb.h"

namespace vajra {
namespace {

// How long stop() lets streams and calls end by themselves before cancelling them.
constexpr std::chrono::milliseconds kShutdownGrace{500};
// How long the accept loop rests after accept() failed for lack of fds or memory.
constexpr std::chrono::milliseconds kAcceptBackoff{500};
// A SubscribeBatches message carries at most kMaxBatchEvents events (hub.h), and stops before this
// many bytes (an event larger than that goes alone). Either bound is far above what one message needs
// to make a gRPC write cheap per event, and the bytes keep a batch well under any client's receive
// limit.
constexpr size_t kBatchBytes = 1 << 20;
// Filters run for every event on the publishing thread; huge ones would slow every subscriber.
constexpr int kMaxFilterEntries = 256;
// Requests are filters; anything bigger is not one.
constexpr int kMaxRequestBytes = 1 << 20;
constexpr uint32_t kUnknownId = UINT32_MAX;

// `action` is a view so that building the call's arguments cannot disturb the errno passed with it.
std::runtime_error socket_error(const std::string& path, std::string_view action, int err) {
  return std::runtime_error("socket.path " + path + ": " + std::string(action) + ": " +
                            std::strerror(err));
}

bool contains(const std::vector<uint32_t>& ids, uint32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

void make_parent_dirs(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      const int err = errno;
      throw socket_error(path, "creating directory " + dir, err);
    }
  }
}

sockaddr_un socket_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    throw std::runtime_error("socket.path '" + path + "': must be 1 to " +
                             std::to_string(sizeof(address.sun_path) - 1) + " characters");
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

// A socket file left by a vajrad that died is removed; one that still answers is another
// vajrad's, and anything else at the path is not ours to delete.
void remove_stale_socket(const std::string& path, const sockaddr_un& address) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw socket_error(path, "stat", errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    throw std::runtime_error("socket.path " + path + ": exists and is not a socket");
  }
  const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (probe < 0) throw socket_error(path, "socket", errno);
  const int connected =
      connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  const int connect_errno = errno;
  close(probe);
  // EAGAIN: the listener's backlog is full, so someone is listening.
  if (connected == 0 || connect_errno == EAGAIN) {
    throw std::runtime_error("socket.path " + path + ": another process is listening on it");
  }
  if (connect_errno != ECONNREFUSED) throw socket_error(path, "probing existing socket", connect_errno);
  if (unlink(path.c_str()) != 0) throw socket_error(path, "removing stale socket", errno);
  spdlog::info("removed stale socket {}", path);
}

gid_t resolve_group(const std::string& group) {
  uint32_t gid = 0;
  const char* end = group.data() + group.size();
  auto [parsed_end, error] = std::from_chars(group.data(), end, gid);
  if (error == std::errc() && parsed_end == end) return gid;

  long size_hint = sysconf(_SC_GETGR_R_SIZE_MAX);
  std::vector<char> buffer(size_hint > 0 ? static_cast<size_t>(size_hint) : 4096);
  struct group entry {};
  struct group* found = nullptr;
  int err;
  while ((err = getgrnam_r(group.c_str(), &entry, buffer.data(), buffer.size(), &found)) == ERANGE) {
    buffer.resize(buffer.size() * 2);
  }
  if (err != 0) {
    throw std::runtime_error("socket.group '" + group + "': looking it up: " + std::strerror(err));
  }
  if (found == nullptr) throw std::runtime_error("socket.group '" + group + "': no such group");
  return found->gr_gid;
}

// The peer's supplementary groups, read from /proc because SO_PEERCRED carries only the primary
// gid. Empty when the pid is gone or now belongs to another user (its pid was reused).
std::vector<uint32_t> supplementary_groups(pid_t pid, uid_t euid) {
  std::vector<uint32_t> groups;
  if (pid <= 0) return groups;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  bool same_user = false;
  std::string line;
  while (std::getline(status, line)) {
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    if (key == "Uid:") {
      uint32_t real_uid, effective_uid;
      same_user = (fields >> real_uid >> effective_uid) && effective_uid == euid;
    } else if (key == "Groups:") {
      for (uint32_t gid; fields >> gid;) groups.push_back(gid);
    }
  }
  if (!same_user) groups.clear();
  return groups;
}

grpc::Status invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

template <typename Repeated>
grpc::Status check_size(const char* field, const Repeated& entries) {
  if (entries.size() <= kMaxFilterEntries) return grpc::Status::OK;
  return invalid(std::string(field) + ": " + std::to_string(entries.size()) + " entries, at most " +
                 std::to_string(kMaxFilterEntries));
}

// `batches`: the request came with SubscribeBatches, the one call that can hold batches.
grpc::Status validate(const v1::SubscribeRequest& request, bool batches) {
  for (const grpc::Status& status :
       {check_size("kinds", request.kinds()), check_size("pids", request.pids()),
        check_size("container_ids", request.container_ids()),
        check_size("exe_prefixes", request.exe_prefixes()), check_size("ports", request.ports()),
        check_size("remote_addresses", request.remote_addresses())}) {
    if (!status.ok()) return status;
  }
  for (int i = 0; i < request.kinds_size(); ++i) {
    const int kind = request.kinds(i);
    const std::string field = "kinds[" + std::to_string(i) + "]: ";
    if (kind == v1::EVENT_KIND_UNSPECIFIED) {
      return invalid(field + "EVENT_KIND_UNSPECIFIED selects no events");
    }
    if (!v1::EventKind_IsValid(kind)) {
      return invalid(field + "unknown event kind " + std::to_string(kind));
    }
  }
  for (int i = 0; i < request.container_ids_size(); ++i) {
    const std::string& id = request.container_ids(i);
    if (id.empty()) return invalid("container_ids[" + std::to_string(i) + "]: empty container id");
  }
  const uint32_t delay = request.max_batch_delay_ms();
  if (delay != 0 && !batches) {
    return invalid("max_batch_delay_ms: " + std::to_string(delay) +
                   ": Subscribe sends every event at once; only SubscribeBatches holds batches");
  }
  if (delay > kMaxBatchDelayMs) {
    return invalid("max_batch_delay_ms: " + std::to_string(delay) + ", at most " + std::to_string(kMaxBatchDelayMs));
  }
  if (const std::string problem = net_filter_problem(request); !problem.empty()) return invalid(problem);
  if (const std::string problem = file_filter_problem(request); !problem.empty()) return invalid(problem);
  return grpc::Status::OK;
}

const grpc::Status kStopping(grpc::StatusCode::UNAVAILABLE, "vajrad is stopping");

// The fd of the connection a call came in on: gRPC names connections made from an fd "fd:<number>".
std::optional<int> connection_fd(const std::string& grpc_peer) {
  constexpr std::string_view kPrefix = "fd:";
  if (grpc_peer.compare(0, kPrefix.size(), kPrefix) != 0) return std::nullopt;
  int fd = -1;
  const char* end = grpc_peer.data() + grpc_peer.size();
  const auto [parsed_end, error] = std::from_chars(grpc_peer.data() + kPrefix.size(), end, fd);
  if (error != std::errc() || parsed_end != end) return std::nullopt;
  return fd;
}

std::optional<uint64_t> socket_inode(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return std::nullopt;
  return st.st_ino;
}

// The request of a raw (ByteBuffer) call, parsed.
std::optional<v1::SubscribeRequest> parse_request(const grpc::ByteBuffer& request) {
  std::vector<grpc::Slice> slices;
  if (!request.Dump(&slices).ok()) return std::nullopt;
  std::string bytes;
  for (const grpc::Slice& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  v1::SubscribeRequest parsed;
  if (!parsed.ParseFromString(bytes)) return std::nullopt;
  return parsed;
}

// One message of a stream from the events in `events` starting at `next`; returns the index after the
// last one taken. A Subscribe message is one Event; a SubscribeBatches message is an EventBatch, whose
// bytes are its events' entries one after another, taken until the byte bound (at least one). Either
// refers to the events' slices: nothing is copied. `slices` is scratch space.
size_t fill_message(const std::vector<EventPtr>& events, size_t next, bool batches, std::vector<grpc::Slice>& slices,
                    grpc::ByteBuffer& message) {
  slices.clear();
  if (!batches) {
    const SerializedEvent& event = *events[next];
    slices.emplace_back(grpc_slice_sub(event.entry(), event.body_offset(), event.size()), grpc::Slice::STEAL_REF);
    next += 1;
  } else {
    size_t bytes = 0;
    for (; next < events.size(); ++next) {
      const size_t size = events[next]->size();
      if (!slices.empty() && bytes + size > kBatchBytes) break;
      slices.emplace_back(events[next]->entry(), grpc::Slice::ADD_REF);
      bytes += size;
    }
  }
  message = grpc::ByteBuffer(slices.data(), slices.size());
  slices.clear();
  return next;
}

}  // namespace

// A Subscribe or SubscribeBatches stream, written from the hub's serialized events (raw messages: an
// event is serialized once for all subscribers, when published). It has no thread of its own: the
// thread that queues events for an idle stream starts the write (the publishing thread), and a write's
// completion starts the next while more is queued. At most one write is in flight, as gRPC requires.
class Server::EventStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  // `batches`: a SubscribeBatches call (EventBatch messages), else Subscribe (one Event per message).
  EventStream(Server& server, grpc::CallbackServerContext* context, const grpc::ByteBuffer& raw_request, bool batches)
      : server_(server), context_(context), batches_(batches) {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    const std::optional<v1::SubscribeRequest> request = parse_request(raw_request);
    if (!request) {
      end(invalid("request: not a SubscribeRequest message"));
      return;
    }
    if (grpc::Status status = validate(*request, batches); !status.ok()) {
      end(status);
      return;
    }
    const int fd = connection_fd(context->peer()).value_or(-1);
    if (!server_.register_stream(context, fd)) {
      end(kStopping);
      return;
    }
    registered_ = true;
    subscription_ = server_.open_subscription(*request, fd, context->peer());
    subscription_->set_listener([this] { send_next(); });
    send_next();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    message_.Clear();
    writing_ = false;
    // A failed write means the client has gone or the call was cancelled.
    if (!ok) {
      end(grpc::Status::OK);
      return;
    }
    send_next();
  }

  void OnCancel() override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    end(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    if (subscription_) {
      subscription_->set_listener(nullptr);  // waits out a publisher's call into send_next
      server_.close_subscription(subscription_);
    }
    if (registered_) server_.deregister_stream(context_);
    delete this;
  }

 private:
  // Starts a write of what is queued, unless one is in flight or the stream has ended.
  void send_next() {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (writing_ || ended_) return;
    if (next_ == events_.size()) {
      events_.clear();
      next_ = 0;
      if (subscription_->take_batch(events_, kMaxBatchEvents) == 0) {
        if (subscription_->closed()) end(kStopping);
        return;
      }
    }
    next_ = fill_message(events_, next_, batches_, slices_, message_);
    writing_ = true;
    StartWrite(&message_);
  }

  void end(const grpc::Status& status) {
    if (ended_) return;
    ended_ = true;
    Finish(status);
  }

  Server& server_;
  grpc::CallbackServerContext* const context_;
  const bool batches_;
  std::shared_ptr<Subscription> subscription_;
  bool registered_ = false;
  // Held by whichever thread starts or completes a write; recursive in case gRPC runs a completion
  // inline in StartWrite.
  std::recursive_mutex mu_;
  bool writing_ = false;
  bool ended_ = false;
  std::vector<EventPtr> events_;  // taken from the subscription
  size_t next_ = 0;               // the first of events_ not yet written
  std::vector<grpc::Slice> slices_;
  grpc::ByteBuffer message_;  // the write in flight
};

// Callback methods only, so that no call passes through a sync server's thread pool: gRPC starts
// and ends threads there per call, and with events.threads on each of those threads is an event.
class Server::SensorService final
    : public v1::Sensor::WithCallbackMethod_Status<
          v1::Sensor::WithRawCallbackMethod_Subscribe<v1::Sensor::WithRawCallbackMethod_SubscribeBatches<v1::Sensor::Service>>> {
 public:
  explicit SensorService(Server& server) : server_(server) {}

  grpc::ServerWriteReactor<grpc::ByteBuffer>* Subscribe(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request) override {
    return new EventStream(server_, context, *request, /*batches=*/false);
  }

  grpc::ServerWriteReactor<grpc::ByteBuffer>* SubscribeBatches(grpc::CallbackServerContext* context,
                                                               const grpc::ByteBuffer* request) override {
    return new EventStream(server_, context, *request, /*batches=*/true);
  }

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* context, const v1::StatusRequest*,
                                   v1::StatusResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(fill_status(response));
    return reactor;
  }

 private:
  grpc::Status fill_status(v1::StatusResponse* response) {
    try {
      *response = server_.status_provider_();
    } catch (const std::exception& e) {
      return grpc::Status(grpc::StatusCode::INTERNAL, std::string("collecting status: ") + e.what());
    }
    response->clear_subscribers();
    for (v1::SubscriberStatus& subscriber : server_.hub_.subscribers()) {
      *response->add_subscribers() = std::move(subscriber);
    }
    response->set_subscriber_drops(server_.hub_.subscriber_drops());
    response->set_refused_connections(server_.refused_connections());
    response->set_next_seq(server_.hub_.next_seq());
    return grpc::Status::OK;
  }

  Server& server_;
};

Server::Server(const SocketConfig& config, Hub& hub,
               std::function<v1::StatusResponse()> status_provider)
    : config_(config),
      hub_(hub),
      status_provider_(std::move(status_provider)),
      service_(std::make_unique<SensorService>(*this)) {}

Server::~Server() { stop(); }

void Server::start() {
  // gRPC 1.51 tears its library down when its last object goes, joining an executor thread that
  // can sit up to 10 s in the TCP backup poller a write to a client that stopped reading started.
  // Nothing is left to flush by then, so one library reference is kept for the life of the
  // process: neither ~Server nor exit waits for that poller.
  static std::once_flag keep_grpc;
  std::call_once(keep_grpc, [] { grpc_init(); });

  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) throw socket_error(config_.path, "eventfd", errno);
  bind_socket();

  grpc::ServerBuilder builder;
  builder.RegisterService(service_.get());
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  grpc_server_ = builder.BuildAndStart();
  if (!grpc_server_) {
    throw std::runtime_error("socket.path " + config_.path + ": gRPC server failed to start");
  }

  accept_thread_ = std::thread(&Server::accept_loop, this);
  spdlog::info("listening on {}", config_.path);
}

void Server::bind_socket() {
  const std::string& path = config_.path;
  const sockaddr_un address = socket_address(path);
  const gid_t group = config_.group.empty() ? gid_t(-1) : resolve_group(config_.group);
  make_parent_dirs(path);
  remove_stale_socket(path, address);

  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) throw socket_error(path, "socket", errno);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    const int err = errno;
    close(fd);
    throw socket_error(path, "bind", err);
  }
  // Past bind the file exists: remove it again if the rest fails, so that no half-set-up socket
  // with the wrong owner or mode is left behind.
  auto fail = [&](const std::string& what, int err) {
    close(fd);
    unlink(path.c_str());
    return std::runtime_error(what + ": " + std::strerror(err));
  };
  if (chmod(path.c_str(), config_.mode) != 0) {
    const int err = errno;
    char mode[16];
    std::snprintf(mode, sizeof(mode), "%04o", config_.mode);
    throw fail(std::string("socket.mode ") + mode + ": chmod " + path, err);
  }
  if (group != gid_t(-1) && chown(path.c_str(), uid_t(-1), group) != 0) {
    const int err = errno;
    throw fail("socket.group '" + config_.group + "': chown " + path, err);
  }
  if (listen(fd, SOMAXCONN) != 0) {
    const int err = errno;
    throw fail("socket.path " + path + ": listen", err);
  }
  listen_fd_ = fd;
}

void Server::stop() {
  if (stopping_.exchange(true)) return;
  if (accept_thread_.joinable()) {
    const uint64_t wake = 1;
    if (write(stop_fd_, &wake, sizeof(wake)) != sizeof(wake)) {
      spdlog::error("waking the accept loop on {}: {}", config_.path, std::strerror(errno));
    }
    accept_thread_.join();
  }
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
    unlink(config_.path.c_str());
  }
  if (grpc_server_) {
    end_streams();
    grpc_server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
    grpc_server_->Wait();
  }
  if (stop_fd_ >= 0) {
    close(stop_fd_);
    stop_fd_ = -1;
  }
}

void Server::end_streams() {
  // Each stream ends once it has written what its subscription had queued.
  hub_.close_all();
  std::unique_lock<std::mutex> lock(streams_mu_);
  if (streams_ended_.wait_for(lock, kShutdownGrace, [this] { return streams_.empty(); })) return;
  // What is left is blocked writing to clients that do not read: their socket buffers are full,
  // and neither gRPC's shutdown deadline nor cancelling the call frees a write the socket will
  // not take. Shutting the socket down fails it at once.
  spdlog::info("closing {} stream(s) whose clients stopped reading", streams_.size());
  for (const auto& [context, fd] : streams_) {
    context->TryCancel();
    hang_up(fd);
  }
  if (!streams_ended_.wait_for(lock, kShutdownGrace, [this] { return streams_.empty(); })) {
    spdlog::warn("{} stream(s) still running after their connections were shut down",
                 streams_.size());
  }
}

void Server::accept_loop() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  auto rest = [&] { poll(&fds[1], 1, static_cast<int>(kAcceptBackoff.count())); };
  while (true) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("waiting for connections on {}: {}", config_.path, std::strerror(errno));
      rest();
      continue;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;

    while (true) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        admit(fd);
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      // Out of fds or memory: the connection waits in the backlog until we can take it.
      spdlog::warn("accepting a connection on {}: {}", config_.path, std::strerror(errno));
      rest();
      break;
    }
  }
}

void Server::admit(int fd) {
  ucred peer{};
  socklen_t length = sizeof(peer);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) {
    spdlog::warn("connection on {}: reading peer credentials: {}", config_.path,
                 std::strerror(errno));
    close(fd);
    return;
  }
  bool allowed = contains(config_.allow_uids, peer.uid);
  if (!allowed && !config_.allow_gids.empty()) {
    allowed = contains(config_.allow_gids, peer.gid);
    if (!allowed) {
      const std::vector<uint32_t> groups = supplementary_groups(peer.pid, peer.uid);
      allowed = std::any_of(groups.begin(), groups.end(),
                            [&](uint32_t gid) { return contains(config_.allow_gids, gid); });
    }
  }
  if (!allowed) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("refused connection on {} from uid {} gid {} pid {}: not in socket.allow_uids or "
                 "socket.allow_gids",
                 config_.path, peer.uid, peer.gid, peer.pid);
    close(fd);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(peers_mu_);
    peers_[fd] = Peer{peer.uid, static_cast<uint32_t>(peer.pid), socket_inode(fd).value_or(0)};
  }
  spdlog::debug("accepted connection on {} from uid {} pid {}", config_.path, peer.uid, peer.pid);
  // gRPC owns the fd from here and closes it when the connection ends.
  grpc::AddInsecureChannelFromFd(grpc_server_.get(), fd);
}

bool Server::register_stream(grpc::ServerContextBase* context, int fd) {
  // Checked under the lock that stop() takes to cancel streams, so none slips past it.
  std::lock_guard<std::mutex> lock(streams_mu_);
  if (stopping_) return false;
  streams_.emplace(context, fd);
  return true;
}

void Server::deregister_stream(grpc::ServerContextBase* context) {
  {
    std::lock_guard<std::mutex> lock(streams_mu_);
    streams_.erase(context);
  }
  streams_ended_.notify_all();
}

std::shared_ptr<Subscription> Server::open_subscription(const v1::SubscribeRequest& request, int fd,
                                                        const std::string& grpc_peer) {
  const std::optional<Peer> peer = peer_of(fd);
  if (!peer) spdlog::warn("subscriber on unknown connection '{}'", grpc_peer);
  const uint32_t uid = peer ? peer->uid : kUnknownId;
  const uint32_t pid = peer ? peer->pid : kUnknownId;
  std::shared_ptr<Subscription> subscription = hub_.subscribe(request, uid, pid);
  spdlog::info("subscriber {} connected: uid {} pid {}", subscription->id(), uid, pid);
  return subscription;
}

void Server::close_subscription(const std::shared_ptr<Subscription>& subscription) {
  hub_.unsubscribe(subscription);
  const v1::SubscriberStatus final_status = subscription->status();
  spdlog::info("subscriber {} left: {} delivered, {} dropped", subscription->id(), final_status.delivered(),
               final_status.dropped());
}

std::optional<Server::Peer> Server::peer_of(int fd) const {
  // A call can only come in on an fd after admit() recorded its peer, so the entry is current
  // unless the connection has already closed and its fd number been reused; such a call is
  // cancelled and its stream ends at once.
  std::lock_guard<std::mutex> lock(peers_mu_);
  const auto found = peers_.find(fd);
  if (found == peers_.end()) return std::nullopt;
  return found->second;
}

void Server::hang_up(int fd) const {
  const std::optional<Peer> peer = peer_of(fd);
  // gRPC may have closed the connection and the fd number gone to another file since.
  if (!peer || socket_inode(fd) != peer->inode) return;
  if (shutdown(fd, SHUT_RDWR) != 0) {
    spdlog::warn("shutting down connection fd {} on {}: {}", fd, config_.path, std::strerror(errno));
  }
}

}  // namespace vajra
