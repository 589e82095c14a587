// vajractl: follows vajrad's event stream and shows its status, from the command line.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "ctl_format.h"
#include "netaddr.h"
#include "vajra/v1/vajra.grpc.pb.h"
#include "version.h"

namespace {

using vajra::v1::EventKind;

constexpr const char* kDefaultSocket = "/run/vajra/vajra.sock";
constexpr std::chrono::seconds kStatusTimeout{10};

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;  // 128 + SIGINT, as shells report it

constexpr const char* kUsage = R"(Usage: vajractl [--socket PATH] events [FILTER]... [--count N] [-o text|json]
       vajractl [--socket PATH] status [-o text|json]
       vajractl --help | --version

Talks to vajrad, the Vajra eBPF sensor, over its Unix socket.

Commands:
  events            print events as they happen, until interrupted
  status            print probe states, kernel features, counters, drops and subscribers

Options:
  --socket PATH     vajrad's socket (default /run/vajra/vajra.sock)
  -o, --output FMT  text (default): one readable line per event, or a status report;
                    json: one JSON object per line, with the API's field names. Every field of
                    a message that is present is printed, zeros included; 64-bit numbers are
                    strings, as in the proto3 JSON mapping.

Event filters (repeat a flag to allow several values; different flags must all match):
  --kind K          one of: %s
  --pid N           the event's process id
  --container ID    container id in full (any runtime, LXC names too), or a prefix of at least 12 characters
  --exe-prefix P    the process's executable path starts with P
  --port N          socket and DNS events with N as their local or remote port
  --remote ADDR     socket and DNS events whose remote address is ADDR or in the CIDR ADDR
                    (10.0.0.0/8, fd00::/8); a DNS event's remote is its server
  --category NAME   file events that matched the watch category NAME (files: in vajrad's config)
  --path-prefix P   file events whose path, new path or host path is P or below it, by whole
                    names: /etc matches /etc/passwd, not /etcx
  --count N         exit after N events (Loss events, which are always shown, do not count)
  --max-batch-delay MS
                    let vajrad hold events up to MS milliseconds (0 to 1000; default 0) to send
                    them in fuller batches: less CPU for vajrad, for scripts that ship events in
                    bulk and can wait

Exit status: 0 done (or interrupted while following events), 1 vajrad unreachable or failed,
2 bad command line, 130 interrupted before --count events or before status arrived.
)";

struct Options {
  std::string socket = kDefaultSocket;
  std::string command;
  bool json = false;
  vajra::v1::SubscribeRequest filter;
  uint64_t count = 0;  // 0: follow until interrupted
};

std::string joined_kind_names() {
  std::string joined;
  for (const std::string& name : vajra::ctl::kind_names()) {
    if (!joined.empty()) joined += ", ";
    joined += name;
  }
  return joined;
}

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "vajractl: %s\nTry 'vajractl --help'.\n", message.c_str());
  std::exit(kExitUsage);
}

template <typename Number>
Number parse_number(const std::string& flag, const std::string& text, Number min,
                    Number max = std::numeric_limits<Number>::max()) {
  Number value{};
  const char* end = text.data() + text.size();
  const auto [parsed_end, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || parsed_end != end || value < min || value > max) {
    usage_error(flag + ": '" + text + "' is not a number from " + std::to_string(min) + " to " +
                std::to_string(max));
  }
  return value;
}

Options parse_args(int argc, char** argv) {
  Options options;
  std::string events_only_flag;  // a flag that only `events` takes, if one was given
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    std::string flag = arg;
    std::optional<std::string> inline_value;  // --flag=value
    if (const size_t equals = arg.find('='); arg.rfind("--", 0) == 0 && equals != std::string::npos) {
      flag = arg.substr(0, equals);
      inline_value = arg.substr(equals + 1);
    }
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) usage_error(flag + " needs a value");
      return argv[++i];
    };

    if (flag == "--help" || flag == "-h") {
      std::printf(kUsage, joined_kind_names().c_str());
      std::exit(kExitOk);
    } else if (flag == "--version") {
      std::printf("vajractl %s\n", VAJRA_VERSION);
      std::exit(kExitOk);
    } else if (flag == "--socket") {
      options.socket = value();
      if (options.socket.empty()) usage_error("--socket: the path is empty");
    } else if (flag == "-o" || flag == "--output") {
      const std::string format = value();
      if (format != "text" && format != "json") {
        usage_error(flag + ": '" + format + "' is not text or json");
      }
      options.json = format == "json";
    } else if (flag == "--kind") {
      events_only_flag = flag;
      const std::string name = value();
      const std::vector<EventKind> kinds = vajra::ctl::kinds_named(name);
      if (kinds.empty()) {
        usage_error("--kind: unknown kind '" + name + "' (one of: " + joined_kind_names() + ")");
      }
      auto* wanted = options.filter.mutable_kinds();
      for (EventKind kind : kinds) {
        if (std::find(wanted->begin(), wanted->end(), kind) == wanted->end()) wanted->Add(kind);
      }
    } else if (flag == "--pid") {
      events_only_flag = flag;
      options.filter.add_pids(parse_number<uint32_t>(flag, value(), 1));
    } else if (flag == "--container") {
      events_only_flag = flag;
      const std::string id = value();
      if (id.empty()) usage_error("--container: the id is empty");
      options.filter.add_container_ids(id);
    } else if (flag == "--exe-prefix") {
      events_only_flag = flag;
      const std::string prefix = value();
      if (prefix.empty()) usage_error("--exe-prefix: the prefix is empty");
      options.filter.add_exe_prefixes(prefix);
    } else if (flag == "--port") {
      events_only_flag = flag;
      options.filter.add_ports(parse_number<uint16_t>(flag, value(), 1));
    } else if (flag == "--remote") {
      events_only_flag = flag;
      const std::string address = value();
      std::string error;
      if (!vajra::parse_cidr(address, error)) usage_error("--remote: " + error);
      options.filter.add_remote_addresses(address);
    } else if (flag == "--category") {
      events_only_flag = flag;
      const std::string category = value();
      if (category.empty()) usage_error("--category: the name is empty");
      options.filter.add_categories(category);
    } else if (flag == "--path-prefix") {
      events_only_flag = flag;
      const std::string prefix = value();
      if (prefix.empty() || prefix[0] != '/') usage_error("--path-prefix: '" + prefix + "' is not an absolute path");
      options.filter.add_path_prefixes(prefix);
    } else if (flag == "--count") {
      events_only_flag = flag;
      options.count = parse_number<uint64_t>(flag, value(), 1);
    } else if (flag == "--max-batch-delay") {
      events_only_flag = flag;
      // The API's bound (SubscribeRequest.max_batch_delay_ms), checked here to fail as a bad flag.
      options.filter.set_max_batch_delay_ms(parse_number<uint32_t>(flag, value(), 0, 1000));
    } else if (arg.size() > 1 && arg[0] == '-') {
      usage_error("unknown flag '" + arg + "'");
    } else if (options.command.empty()) {
      if (arg != "events" && arg != "status") {
        usage_error("unknown command '" + arg + "' (events or status)");
      }
      options.command = arg;
    } else {
      usage_error("unexpected argument '" + arg + "'");
    }
  }
  if (options.command.empty()) usage_error("no command given (events or status)");
  if (options.command != "events" && !events_only_flag.empty()) {
    usage_error(events_only_flag + " applies only to the events command");
  }
  return options;
}

// Ctrl-C (or SIGTERM, SIGHUP) cancels the call in flight, so that the stream ends cleanly and
// output already printed stays whole. The signals are blocked in every thread (gRPC's threads
// inherit the mask) and taken by one thread that waits for them.
std::mutex g_call_mu;
grpc::ClientContext* g_call = nullptr;
std::atomic<bool> g_interrupted{false};

void take_interrupts() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([signals] {
    int received = 0;
    while (sigwait(&signals, &received) != 0) {
    }
    g_interrupted = true;
    {
      std::lock_guard<std::mutex> lock(g_call_mu);
      if (g_call != nullptr) g_call->TryCancel();
    }
    // A second signal means the first did not get us out: leave now.
    while (sigwait(&signals, &received) != 0) {
    }
    _exit(kExitInterrupted);
  }).detach();
}

// Makes `context` the call an interrupt cancels, for as long as it lives.
class CancelOnInterrupt {
 public:
  explicit CancelOnInterrupt(grpc::ClientContext& context) {
    std::lock_guard<std::mutex> lock(g_call_mu);
    g_call = &context;
    if (g_interrupted) context.TryCancel();
  }
  ~CancelOnInterrupt() {
    std::lock_guard<std::mutex> lock(g_call_mu);
    g_call = nullptr;
  }
  CancelOnInterrupt(const CancelOnInterrupt&) = delete;
  CancelOnInterrupt& operator=(const CancelOnInterrupt&) = delete;
};

// Writes and flushes, so that each event reaches a pipe as it happens. Returns an exit code when
// output cannot go on: 0 when the reader has gone (`vajractl events | head`), 1 on other errors.
std::optional<int> write_out(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) == text.size() && std::fflush(stdout) == 0) {
    return std::nullopt;
  }
  if (errno == EPIPE) return kExitOk;
  std::fprintf(stderr, "vajractl: writing to stdout: %s\n", std::strerror(errno));
  return kExitFailed;
}

// gRPC's reason for a failed connect, less its preamble: "failed to connect to all addresses; last
// error: UNKNOWN: unix:/run/vajra/vajra.sock: No such file or directory" -> "No such file or directory".
std::string connect_reason(const Options& options, const std::string& message) {
  const std::string address = "unix:" + options.socket + ": ";
  const size_t found = message.rfind(address);
  return found == std::string::npos ? message : message.substr(found + address.size());
}

int report_failure(const Options& options, const grpc::Status& status, bool stream_was_up) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      std::fprintf(stderr, "vajractl: vajrad ended the stream\n");
      break;
    case grpc::StatusCode::UNAVAILABLE: {
      const std::string reason = connect_reason(options, status.error_message());
      // vajrad closes connections from peers it does not allow before a word of HTTP/2.
      const bool hung_up = reason == "Socket closed" || reason == "Broken pipe" ||
                           reason == "Connection reset by peer";
      std::fprintf(stderr, "vajractl: %s vajrad at %s: %s%s\n", stream_was_up ? "lost" : "cannot reach",
                   options.socket.c_str(), reason.c_str(),
                   hung_up && !stream_was_up
                       ? " (vajrad refuses users not in its socket.allow_uids or socket.allow_gids)"
                       : "");
      break;
    }
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      std::fprintf(stderr, "vajractl: cannot reach vajrad at %s: no answer within %llds\n",
                   options.socket.c_str(), static_cast<long long>(kStatusTimeout.count()));
      break;
    default:
      std::fprintf(stderr, "vajractl: %s: %s\n", options.command.c_str(),
                   status.error_message().c_str());
  }
  return kExitFailed;
}

// Hands the events of one message of either stream to `on_event`, in order, until it returns an
// exit code.
template <typename OnEvent>
std::optional<int> each_event(const vajra::v1::Event& event, OnEvent& on_event) {
  return on_event(event);
}
template <typename OnEvent>
std::optional<int> each_event(const vajra::v1::EventBatch& batch, OnEvent& on_event) {
  for (const vajra::v1::Event& event : batch.events()) {
    if (const std::optional<int> stop = on_event(event)) return stop;
  }
  return std::nullopt;
}

// One call's stream (Subscribe or SubscribeBatches), each event handed to `on_event` in stream
// order. Returns an exit code when `on_event` ended it early (the call is cancelled on our side);
// otherwise sets `status` to how the call ended.
template <typename Message, typename OnEvent>
std::optional<int> follow(grpc::ClientContext& context, grpc::ClientReader<Message>& reader,
                          bool& received_any, OnEvent& on_event, grpc::Status& status) {
  Message message;
  while (reader.Read(&message)) {
    received_any = true;
    if (const std::optional<int> stop = each_event(message, on_event)) {
      context.TryCancel();
      reader.Finish();
      return stop;
    }
  }
  status = reader.Finish();
  return std::nullopt;
}

int run_events(const Options& options, vajra::v1::Sensor::Stub& stub) {
  std::string line;
  bool received_any = false;
  uint64_t counted = 0;
  // Prints one event; returns an exit code when output must stop.
  auto on_event = [&](const vajra::v1::Event& event) -> std::optional<int> {
    if (event.kind() == vajra::v1::EVENT_KIND_STREAM_START) {
      // Where the stream starts is for people watching; the output stays one line per event.
      if (!options.json && isatty(STDERR_FILENO))
        std::fprintf(stderr, "vajractl: streaming from vajrad run %s (next seq %llu)\n",
                     event.stream_start().daemon_instance().c_str(),
                     static_cast<unsigned long long>(event.stream_start().next_seq()));
      return std::nullopt;
    }
    line.clear();
    if (options.json) {
      try {
        line = vajra::ctl::to_json(event);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "vajractl: event %llu: %s\n",
                     static_cast<unsigned long long>(event.seq()), e.what());
        return std::nullopt;
      }
    } else {
      vajra::ctl::append_event_text(event, line);
    }
    line += '\n';
    if (const std::optional<int> stop = write_out(line)) return stop;
    if (event.kind() != vajra::v1::EVENT_KIND_LOSS && options.count > 0 &&
        ++counted == options.count) {
      return kExitOk;
    }
    return std::nullopt;
  };

  grpc::Status status;
  {
    // Several events per message: far cheaper for vajrad than one write per event.
    grpc::ClientContext context;
    CancelOnInterrupt cancel_on_interrupt(context);
    const auto reader = stub.SubscribeBatches(&context, options.filter);
    if (const auto stop = follow(context, *reader, received_any, on_event, status)) return *stop;
  }
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED && !received_any && !g_interrupted) {
    // A vajrad older than SubscribeBatches: the same events, one per message, none held.
    grpc::ClientContext context;
    CancelOnInterrupt cancel_on_interrupt(context);
    vajra::v1::SubscribeRequest filter = options.filter;
    filter.clear_max_batch_delay_ms();
    const auto reader = stub.Subscribe(&context, filter);
    if (const auto stop = follow(context, *reader, received_any, on_event, status)) return *stop;
  }
  if (g_interrupted) return options.count > 0 ? kExitInterrupted : kExitOk;
  return report_failure(options, status, received_any);
}

int run_status(const Options& options, vajra::v1::Sensor::Stub& stub) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kStatusTimeout);
  CancelOnInterrupt cancel_on_interrupt(context);
  vajra::v1::StatusResponse response;
  const grpc::Status status = stub.Status(&context, vajra::v1::StatusRequest(), &response);
  if (g_interrupted) return kExitInterrupted;
  if (!status.ok()) return report_failure(options, status, false);

  std::string text;
  if (options.json) {
    text = vajra::ctl::to_json(response) + "\n";
  } else {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    text = vajra::ctl::format_status_text(
        response, std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
  }
  return write_out(text).value_or(kExitOk);
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_args(argc, argv);
  // A closed stdout shows up as EPIPE from write_out rather than killing us mid-line.
  signal(SIGPIPE, SIG_IGN);
  take_interrupts();

  const std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel("unix:" + options.socket, grpc::InsecureChannelCredentials());
  const std::unique_ptr<vajra::v1::Sensor::Stub> stub = vajra::v1::Sensor::NewStub(channel);
  try {
    return options.command == "events" ? run_events(options, *stub) : run_status(options, *stub);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vajractl: %s: %s\n", options.command.c_str(), e.what());
    return kExitFailed;
  }
}
