// vbench-consumer: the benchmark's subscriber. Holds one SubscribeBatches stream on vajrad (every kind;
// `--api subscribe` for the one-event-per-message Subscribe stream, e.g. to compare the two),
// counts delivered events per kind, measures kernel-to-subscriber latency (CLOCK_BOOTTIME now minus
// the event's ktime_ns) and reads Status, so the harness needs no gRPC of its own.
//
// Kinds are named from the proto's EventKind descriptor, so kinds added to the API later are counted
// without a change here (a kind this binary was not built with is counted as KIND_<number>).
//
// The harness drives it through stdin, one command per line; each answer is one JSON line on stdout:
//   begin            start a measurement window: zero the counters, take a Status snapshot
//   end [SECONDS]    wait until every event vajrad has published is here (and the kernel rings are
//                    drained), then report the window: counts, losses, latency, Status deltas
//   status           the full Status as JSON
//   quit
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "batch_arena.h"
#include "vajra/v1/vajra.grpc.pb.h"

namespace v1 = vajra::v1;

namespace {

uint64_t boot_ns() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::string kind_name(int kind) {
  const auto* descriptor = v1::EventKind_descriptor()->FindValueByNumber(kind);
  std::string name = descriptor ? descriptor->name() : "KIND_" + std::to_string(kind);
  const std::string prefix = "EVENT_KIND_";
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  return name;
}

std::string place_name(int place) {
  const auto* descriptor = v1::LossPlace_descriptor()->FindValueByNumber(place);
  std::string name = descriptor ? descriptor->name() : "PLACE_" + std::to_string(place);
  const std::string prefix = "LOSS_PLACE_";
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  return name;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

template <typename Map>
std::string json_map(const Map& m) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : m) {
    out += (first ? "" : ",") + json_string(k) + ":" + std::to_string(v);
    first = false;
  }
  return out + "}";
}

// Per-kind counts, by kind number: named only when reported, not once per event.
std::map<std::string, uint64_t> by_kind_name(const std::map<int, uint64_t>& counts) {
  std::map<std::string, uint64_t> named;
  for (const auto& [kind, count] : counts) named[kind_name(kind)] += count;
  return named;
}

struct Window {
  std::map<int, uint64_t> delivered;   // per kind, loss and stream-start excluded
  std::map<int, uint64_t> attributed;  // per kind, events of the workload's process tree
  std::map<std::string, uint64_t> lost;        // per place, from Loss events in the stream
  std::vector<uint32_t> latency_us;
  uint64_t messages = 0;       // events of every kind
  uint64_t grpc_messages = 0;  // stream messages they came in (one per event on Subscribe)
};

class Consumer {
 public:
  Consumer(std::shared_ptr<grpc::Channel> channel, std::string attribute_exe, bool batches)
      : stub_(v1::Sensor::NewStub(channel)), attribute_exe_(std::move(attribute_exe)), batches_(batches) {}

  void run_stream() {
    v1::SubscribeRequest request;  // every kind
    context_ = std::make_unique<grpc::ClientContext>();
    grpc::Status status;
    if (batches_) {
      auto reader = stub_->SubscribeBatches(context_.get(), request);
      // As the bridge reads: the harness would otherwise charge a reused message's churn to the
      // Vajra condition's wall time.
      vajra::BatchArena arena;
      while (true) {
        v1::EventBatch* batch = arena.fresh();
        if (!reader->Read(batch)) break;
        const uint64_t now = boot_ns();
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++window_.grpc_messages;
          for (const v1::Event& event : batch->events()) take(event, now);
        }
      }
      status = reader->Finish();
    } else {
      auto reader = stub_->Subscribe(context_.get(), request);
      v1::Event event;
      while (reader->Read(&event)) {
        const uint64_t now = boot_ns();
        std::lock_guard<std::mutex> lock(mu_);
        ++window_.grpc_messages;
        take(event, now);
      }
      status = reader->Finish();
    }
    std::lock_guard<std::mutex> lock(mu_);
    stream_ended_ = true;
    stream_error_ = status.ok() ? "stream ended" : status.error_message();
  }

  void cancel() {
    if (context_) context_->TryCancel();
  }

  bool status(v1::StatusResponse& out, std::string& error) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    const grpc::Status s = stub_->Status(&context, v1::StatusRequest{}, &out);
    if (!s.ok()) error = s.error_message();
    return s.ok();
  }

  // True once vajrad lists this stream among its subscribers (or the stream already carried a message).
  bool wait_started(double seconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (started_ || last_seq_ > 0) return true;
        if (stream_ended_) return false;
      }
      v1::StatusResponse s;
      std::string error;
      if (status(s, error) && s.subscribers_size() > 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::string begin() {
    std::string error;
    if (!status(begin_status_, error)) return "{\"ok\":false,\"error\":" + json_string(error) + "}";
    std::lock_guard<std::mutex> lock(mu_);
    window_ = Window{};
    window_start_boot_ = boot_ns();
    return "{\"ok\":true}";
  }

  std::string end(double timeout_s) {
    const auto start = std::chrono::steady_clock::now();
    const auto until = start + std::chrono::duration<double>(timeout_s);
    v1::StatusResponse now, previous;
    std::string error;
    bool drained = false;
    uint64_t previous_received = UINT64_MAX;
    // vajrad drains its rings at most buffers.batch_delay_ms after a record arrives (10 ms by default,
    // up to 100 in the harness's sweep), and an exec may wait up to hash.max_wait_ms for its hash, so
    // "drained" needs the kernel counters to stand still across a few 80 ms looks and every published
    // event to be here.
    int still = 0;
    while (std::chrono::steady_clock::now() < until) {
      if (!status(now, error)) break;
      uint64_t received = 0;
      for (const auto& k : now.kinds()) received += k.received() + k.kernel_drops() + k.decode_errors();
      uint64_t have;
      {
        std::lock_guard<std::mutex> lock(mu_);
        have = last_seq_;
      }
      const bool caught_up = now.next_seq() == 0 || have + 1 >= now.next_seq();
      still = (received == previous_received && caught_up) ? still + 1 : 0;
      previous_received = received;
      if (still >= 3) {
        drained = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(80));
    }
    const double drain_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

    Window w;
    bool ended;
    std::string stream_error;
    {
      std::lock_guard<std::mutex> lock(mu_);
      w = std::move(window_);
      window_ = Window{};
      ended = stream_ended_;
      stream_error = stream_error_;
    }
    std::sort(w.latency_us.begin(), w.latency_us.end());
    auto pct = [&](double p) -> double {
      if (w.latency_us.empty()) return -1;
      size_t i = static_cast<size_t>(p * static_cast<double>(w.latency_us.size() - 1) + 0.5);
      return w.latency_us[std::min(i, w.latency_us.size() - 1)] / 1000.0;
    };

    // Status deltas over the window, per kind by name.
    std::map<std::string, uint64_t> received, published, kernel_drops, decode_errors;
    auto index = [](const v1::StatusResponse& s) {
      std::map<int, const v1::KindCounters*> m;
      for (const auto& k : s.kinds()) m[k.kind()] = &k;
      return m;
    };
    const auto before = index(begin_status_), after = index(now);
    for (const auto& [kind, counters] : after) {
      const auto b = before.find(kind);
      const v1::KindCounters zero;
      const v1::KindCounters& old = b == before.end() ? zero : *b->second;
      const std::string name = kind_name(kind);
      received[name] = counters->received() - old.received();
      published[name] = counters->published() - old.published();
      kernel_drops[name] = counters->kernel_drops() - old.kernel_drops();
      decode_errors[name] = counters->decode_errors() - old.decode_errors();
    }
    // This process's subscriptions only (by peer pid and id): vajrad has others, such as the bridge's.
    std::map<uint64_t, uint64_t> dropped_at_begin;
    for (const auto& s : begin_status_.subscribers())
      if (s.peer_pid() == static_cast<uint32_t>(getpid())) dropped_at_begin[s.id()] = s.dropped();
    uint64_t own_dropped = 0;
    for (const auto& s : now.subscribers())
      if (s.peer_pid() == static_cast<uint32_t>(getpid())) own_dropped += s.dropped() - dropped_at_begin[s.id()];

    std::ostringstream out;
    out << "{\"ok\":true,\"drained\":" << (drained ? "true" : "false") << ",\"drain_ms\":" << drain_ms
        << ",\"stream_ended\":" << (ended ? "true" : "false") << ",\"stream_error\":" << json_string(stream_error)
        << ",\"status_error\":" << json_string(error) << ",\"messages\":" << w.messages
        << ",\"api\":" << (batches_ ? "\"SubscribeBatches\"" : "\"Subscribe\"")
        << ",\"grpc_messages\":" << w.grpc_messages
        << ",\"delivered\":" << json_map(by_kind_name(w.delivered))
        << ",\"attributed\":" << json_map(by_kind_name(w.attributed))
        << ",\"loss_events\":" << json_map(w.lost) << ",\"latency_ms\":{\"samples\":" << w.latency_us.size()
        << ",\"p50\":" << pct(0.50) << ",\"p90\":" << pct(0.90) << ",\"p99\":" << pct(0.99)
        << ",\"max\":" << pct(1.0) << "},\"status_delta\":{\"received\":" << json_map(received)
        << ",\"published\":" << json_map(published) << ",\"kernel_drops\":" << json_map(kernel_drops)
        << ",\"decode_errors\":" << json_map(decode_errors)
        << ",\"pipeline_drops\":" << now.pipeline_drops() - begin_status_.pipeline_drops()
        << ",\"subscriber_drops\":" << now.subscriber_drops() - begin_status_.subscriber_drops()
        << ",\"this_subscriber_drops\":" << own_dropped << "}}";
    return out.str();
  }

 private:
  // One event of the stream, received at `now` (CLOCK_BOOTTIME); mu_ is held.
  void take(const v1::Event& event, uint64_t now) {
    ++window_.messages;
    if (event.seq() > last_seq_) last_seq_ = event.seq();
    if (event.kind() == stream_start_kind_) {
      started_ = true;
      return;
    }
    if (event.has_loss()) {
      window_.lost[place_name(event.loss().place())] += event.loss().count();
      return;
    }
    ++window_.delivered[event.kind()];
    if (attributed(event)) ++window_.attributed[event.kind()];
    if (event.ktime_ns() > 0 && now >= event.ktime_ns()) {
      const uint64_t us = (now - event.ktime_ns()) / 1000;
      window_.latency_us.push_back(static_cast<uint32_t>(std::min<uint64_t>(us, UINT32_MAX)));
    }
  }

  bool attributed(const v1::Event& event) const {
    if (attribute_exe_.empty() || !event.has_process()) return false;
    const v1::Process& p = event.process();
    if (p.exe() == attribute_exe_) return true;
    for (const auto& a : p.ancestry())
      if (a.exe() == attribute_exe_) return true;
    return false;
  }

  std::unique_ptr<v1::Sensor::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> context_;
  const std::string attribute_exe_;
  const bool batches_;
  // Looked up by name, not numbered: the stream-start message is newer than some builds of the API.
  const int stream_start_kind_ = [] {
    const auto* value = v1::EventKind_descriptor()->FindValueByName("EVENT_KIND_STREAM_START");
    return value ? value->number() : -1;
  }();
  std::mutex mu_;
  Window window_;
  uint64_t last_seq_ = 0;
  uint64_t window_start_boot_ = 0;
  bool started_ = false;
  bool stream_ended_ = false;
  std::string stream_error_;
  v1::StatusResponse begin_status_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string socket = "/run/vajra/vajra.sock", attribute_exe;
  bool batches = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const std::string value = i + 1 < argc ? argv[i + 1] : "";
    if (arg == "--socket" && i + 1 < argc) {
      socket = argv[++i];
    } else if (arg == "--attribute-exe" && i + 1 < argc) {
      attribute_exe = argv[++i];
    } else if (arg == "--api" && (value == "batches" || value == "subscribe")) {
      batches = value == "batches";
      ++i;
    } else {
      std::fprintf(stderr,
                   "usage: vbench-consumer [--socket PATH] [--attribute-exe PATH] [--api batches|subscribe]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  auto channel = grpc::CreateChannel("unix://" + socket, grpc::InsecureChannelCredentials());
  Consumer consumer(channel, attribute_exe, batches);
  std::thread reader([&] { consumer.run_stream(); });
  const bool started = consumer.wait_started(10);
  std::cout << "{\"ok\":" << (started ? "true" : "false") << ",\"ready\":true}" << std::endl;

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string command;
    words >> command;
    if (command == "begin") {
      std::cout << consumer.begin() << std::endl;
    } else if (command == "end") {
      double timeout = 30;
      words >> timeout;
      std::cout << consumer.end(timeout) << std::endl;
    } else if (command == "status") {
      v1::StatusResponse s;
      std::string error, json;
      if (consumer.status(s, error)) {
        google::protobuf::util::JsonPrintOptions options;
        options.preserve_proto_field_names = true;
        (void)google::protobuf::util::MessageToJsonString(s, &json, options);
        std::cout << "{\"ok\":true,\"status\":" << json << "}" << std::endl;
      } else {
        std::cout << "{\"ok\":false,\"error\":" << json_string(error) << "}" << std::endl;
      }
    } else if (command == "quit") {
      break;
    } else if (!command.empty()) {
      std::cout << "{\"ok\":false,\"error\":\"unknown command\"}" << std::endl;
    }
  }
  consumer.cancel();
  reader.join();
  return 0;
}
