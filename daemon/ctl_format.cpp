#include "ctl_format.h"

#include <signal.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include <google/protobuf/util/json_util.h>

#include "cmdline.h"

namespace vajra::ctl {
namespace {

// Names for several kinds at once. Single kinds need no entry: they are named from the proto.
struct KindGroup {
  const char* name;
  std::vector<v1::EventKind> kinds;
};
const KindGroup kKindGroups[] = {
    {"process",
     {v1::EVENT_KIND_EXEC, v1::EVENT_KIND_EXEC_FAILED, v1::EVENT_KIND_FORK, v1::EVENT_KIND_EXIT}},
    {"net", {v1::EVENT_KIND_SOCKET, v1::EVENT_KIND_DNS}},
};

constexpr uint64_t kNsPerSecond = 1000000000ull;
constexpr size_t kShortContainerId = 12;  // as `docker ps` shows ids

// "EVENT_KIND_EXEC_FAILED" less "EVENT_KIND_", lower-cased. Values the proto does not name (a newer
// daemon) print as their number.
std::string short_enum_name(const std::string& full_name, std::string_view prefix, int value) {
  if (full_name.size() <= prefix.size() || full_name.compare(0, prefix.size(), prefix) != 0) {
    return std::to_string(value);
  }
  std::string name = full_name.substr(prefix.size());
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::string place_name(v1::LossPlace place) {
  return short_enum_name(v1::LossPlace_Name(place), "LOSS_PLACE_", place);
}

std::string runtime_name(v1::ContainerRuntime runtime) {
  return short_enum_name(v1::ContainerRuntime_Name(runtime), "CONTAINER_RUNTIME_", runtime);
}

std::string probe_state_name(v1::ProbeState state) {
  return short_enum_name(v1::ProbeState_Name(state), "PROBE_STATE_", state);
}

template <typename Number>
void append_number(std::string& out, Number value) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, result.ptr);
}

// Bytes a terminal or a line-based reader could act on: C0 controls, DEL, and the C1 controls
// (U+0080..U+009F, UTF-8 C2 80..C2 9F), which some terminals take as escape sequences.
bool is_control(std::string_view text, size_t i) {
  const auto byte = static_cast<unsigned char>(text[i]);
  if (byte < 0x20 || byte == 0x7f) return true;
  return byte == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
         static_cast<unsigned char>(text[i + 1]) <= 0x9f;
}

bool needs_quotes(std::string_view text) {
  if (text.empty()) return true;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ' ' || text[i] == '"' || text[i] == '\\' || is_control(text, i)) return true;
  }
  return false;
}

// The value as is when it is one plain word, otherwise in double quotes with \" \\ \n \t \r \xNN
// and \u00NN (C1 controls) escapes.
void append_value(std::string& out, std::string_view text) {
  if (!needs_quotes(text)) {
    out += text;
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (byte == 0xc2 && is_control(text, i)) {
      const auto code = static_cast<unsigned char>(text[++i]);
      out += "\\u00";
      out += kHex[code >> 4];
      out += kHex[code & 0xf];
    } else if (is_control(text, i)) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
}

void append_key(std::string& out, std::string_view key) {
  out += ' ';
  out += key;
  out += '=';
}

template <typename Number>
void append_number_field(std::string& out, std::string_view key, Number value) {
  append_key(out, key);
  append_number(out, value);
}

void append_text_field(std::string& out, std::string_view key, std::string_view value) {
  append_key(out, key);
  append_value(out, value);
}

void append_flag(std::string& out, std::string_view flag) {
  out += ' ';
  out += flag;
}

void append_time(std::string& out, uint64_t unix_ns) {
  const time_t seconds = static_cast<time_t>(unix_ns / kNsPerSecond);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const size_t length = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + length, sizeof(text) - length, ".%03uZ",
                static_cast<unsigned>(unix_ns / 1000000 % 1000));
  out += text;
}

// The error's name as the daemon gave it, else from its errno ("ENOENT").
std::string errno_name(const v1::ExecFailedEvent& failure) {
  if (!failure.error().empty()) return failure.error();
  const int value = std::abs(failure.errno_value());
  const char* name = strerrorname_np(value);
  return name ? name : std::to_string(value);
}

std::string file_error(const v1::FileEvent& file) {
  if (!file.error().empty()) return file.error();
  const int value = file.errno_value() != 0 ? std::abs(file.errno_value()) : static_cast<int>(-file.result());
  const char* name = strerrorname_np(value);
  return name ? name : std::to_string(value);
}

std::string signal_name(uint32_t signal) {
  const char* abbreviation = sigabbrev_np(static_cast<int>(signal));
  return abbreviation ? std::string("SIG") + abbreviation : std::to_string(signal);
}

// "10.1.2.3:80", "[fd00::1]:53", a unix path, or "@name" for an abstract unix socket.
std::string end_text(const v1::SocketAddress& end) {
  if (end.abstract()) return "@" + end.address();
  if (end.port() == 0) return end.address();
  const bool v6 = end.address().find(':') != std::string::npos;
  return (v6 ? "[" + end.address() + "]" : end.address()) + ":" + std::to_string(end.port());
}

void append_socket(std::string& line, const v1::SocketEvent& socket) {
  append_text_field(line, "op", short_enum_name(v1::SocketOperation_Name(socket.operation()), "SOCKET_OPERATION_",
                                                socket.operation()));
  append_text_field(line, "status",
                    short_enum_name(v1::SocketStatus_Name(socket.status()), "SOCKET_STATUS_", socket.status()));
  if (socket.status() == v1::SOCKET_STATUS_FAILED) append_text_field(line, "error", socket.error());
  if (socket.follow_up()) append_flag(line, "follow_up");
  append_text_field(line, "proto",
                    socket.family() == v1::SOCKET_FAMILY_UNIX
                        ? "unix"
                        : short_enum_name(v1::SocketFamily_Name(socket.family()), "SOCKET_FAMILY_", socket.family()) +
                              "/" + socket.protocol_name());
  if (socket.has_local()) append_text_field(line, "local", end_text(socket.local()));
  if (socket.has_remote()) append_text_field(line, "remote", end_text(socket.remote()));
  append_number_field(line, "fd", socket.fd());
  if (socket.operation() == v1::SOCKET_OPERATION_LISTEN) append_number_field(line, "backlog", socket.backlog());
  if (socket.has_bytes_sent()) append_number_field(line, "sent", socket.bytes_sent());
  if (socket.has_bytes_received()) append_number_field(line, "received", socket.bytes_received());
}

void append_dns(std::string& line, const v1::DnsEvent& dns) {
  if (!dns.malformed().empty()) {
    append_text_field(line, "malformed", dns.malformed());
  } else {
    append_flag(line, dns.response() ? "response" : "query");
    append_text_field(line, "name", dns.name());
    append_text_field(line, "type", dns.query_type_name());
    if (dns.response()) {
      append_text_field(line, "rcode", dns.rcode_name());
      std::string answers;
      for (const v1::DnsAnswer& answer : dns.answers()) answers += (answers.empty() ? "" : ",") + answer.data();
      if (!answers.empty()) append_text_field(line, "answers", answers);
    }
  }
  append_text_field(line, "server", end_text(dns.server()) + "/" + dns.transport());
}

// A path, and what makes it less than whole: why it is missing or partial, truncated, deleted.
void append_file_path(std::string& line, const std::string& key, const char* host_key, const v1::FilePath& path) {
  append_text_field(line, key, path.path());
  if (!path.host_path().empty()) append_text_field(line, host_key, path.host_path());
  if (!path.unresolved().empty()) append_text_field(line, key + "_unresolved", path.unresolved());
  if (path.truncated()) append_flag(line, key + "_truncated");
  if (path.deleted()) append_flag(line, key + "_deleted");
}

void append_file(std::string& line, const v1::FileEvent& file) {
  append_text_field(line, "op", short_enum_name(v1::FileOperation_Name(file.operation()), "FILE_OPERATION_",
                                                file.operation()));
  append_file_path(line, "path", "host_path", file.path());
  if (file.has_new_path()) append_file_path(line, "new_path", "new_host_path", file.new_path());
  if (file.exchange()) append_flag(line, "exchange");
  if (!file.symlink_target().empty()) append_text_field(line, "target", file.symlink_target());
  if (!file.xattr_name().empty()) append_text_field(line, "xattr", file.xattr_name());
  if (file.operation() == v1::FILE_OPERATION_CHMOD) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", file.requested_mode() & 07777);
    append_text_field(line, "mode", mode);
  }
  if (file.operation() == v1::FILE_OPERATION_CHOWN) {
    // "-" for an id chown leaves unchanged.
    auto id = [](bool set, uint32_t value) { return set ? std::to_string(value) : std::string("-"); };
    append_text_field(line, "owner", id(file.has_requested_uid(), file.requested_uid()) + ":" +
                                         id(file.has_requested_gid(), file.requested_gid()));
  }
  if (file.operation() == v1::FILE_OPERATION_MODIFY) {
    append_number_field(line, "bytes", file.bytes_written());
    append_number_field(line, "writes", file.writes());
  }
  if (file.errno_value() != 0 || !file.error().empty() || file.result() < 0)
    append_text_field(line, "error", file_error(file));
  std::string categories;
  for (const std::string& category : file.categories()) categories += (categories.empty() ? "" : ",") + category;
  if (!categories.empty()) append_text_field(line, "categories", categories);
}

void append_body(std::string& line, const v1::Event& event) {
  switch (event.body_case()) {
    case v1::Event::kExecFailed: {
      const v1::ExecFailedEvent& failure = event.exec_failed();
      append_text_field(line, "error", errno_name(failure));
      append_text_field(line, "path", failure.path());
      if (failure.path_truncated()) append_flag(line, "path_truncated");
      break;
    }
    case v1::Event::kFork: {
      const v1::ForkEvent& fork = event.fork();
      append_number_field(line, "child_pid", fork.child_pid());
      if (fork.thread()) {
        append_number_field(line, "child_tid", fork.child_tid());
        append_flag(line, "thread");
      }
      break;
    }
    case v1::Event::kExit: {
      const v1::ExitEvent& exit = event.exit();
      if (exit.signal() == 0) {
        append_number_field(line, "exit_code", exit.exit_code());
      } else {
        append_text_field(line, "signal", signal_name(exit.signal()));
      }
      if (exit.core_dumped()) append_flag(line, "core_dumped");
      if (exit.thread()) append_flag(line, "thread");
      break;
    }
    case v1::Event::kSocket:
      append_socket(line, event.socket());
      break;
    case v1::Event::kDns:
      append_dns(line, event.dns());
      break;
    case v1::Event::kFile:
      append_file(line, event.file());
      break;
    case v1::Event::kExec:  // exe and cmdline are its essentials
    case v1::Event::kLoss:  // printed by the caller, without a process
    case v1::Event::kStreamStart:  // not an event of the host: vajractl reports it on stderr
    case v1::Event::BODY_NOT_SET:
      break;
  }
}

std::string format_duration(uint64_t ns) {
  uint64_t seconds = ns / kNsPerSecond;
  const uint64_t days = seconds / 86400, hours = seconds / 3600 % 24, minutes = seconds / 60 % 60;
  seconds %= 60;
  char text[48];
  if (days > 0) {
    std::snprintf(text, sizeof(text), "%llud%02lluh%02llum", static_cast<unsigned long long>(days),
                  static_cast<unsigned long long>(hours), static_cast<unsigned long long>(minutes));
  } else if (hours > 0) {
    std::snprintf(text, sizeof(text), "%lluh%02llum%02llus", static_cast<unsigned long long>(hours),
                  static_cast<unsigned long long>(minutes), static_cast<unsigned long long>(seconds));
  } else if (minutes > 0) {
    std::snprintf(text, sizeof(text), "%llum%02llus", static_cast<unsigned long long>(minutes),
                  static_cast<unsigned long long>(seconds));
  } else {
    std::snprintf(text, sizeof(text), "%llus", static_cast<unsigned long long>(seconds));
  }
  return text;
}

uint64_t elapsed(uint64_t since_ns, uint64_t now_ns) { return now_ns > since_ns ? now_ns - since_ns : 0; }

// printf onto a std::string, for the status report's aligned columns.
template <typename... Args>
void appendf(std::string& out, const char* format, Args... args) {
  const int length = std::snprintf(nullptr, 0, format, args...);
  if (length <= 0) return;
  const size_t start = out.size();
  out.resize(start + static_cast<size_t>(length) + 1);  // room for snprintf's NUL
  std::snprintf(&out[start], static_cast<size_t>(length) + 1, format, args...);
  out.resize(start + static_cast<size_t>(length));
}

unsigned long long ull(uint64_t value) { return static_cast<unsigned long long>(value); }

template <typename Repeated, typename Describe>
void append_filter_list(std::string& out, const char* name, const Repeated& items, Describe describe) {
  if (items.empty()) return;
  out += ' ';
  out += name;
  out += '=';
  for (int i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    describe(items.Get(i));
  }
}

std::string describe_filter(const v1::SubscribeRequest& filter) {
  std::string out;
  append_filter_list(out, "kinds", filter.kinds(),
                     [&](int kind) { out += kind_name(static_cast<v1::EventKind>(kind)); });
  append_filter_list(out, "pids", filter.pids(), [&](uint32_t pid) { append_number(out, pid); });
  append_filter_list(out, "containers", filter.container_ids(),
                     [&](const std::string& id) { append_value(out, id); });
  append_filter_list(out, "exe_prefixes", filter.exe_prefixes(),
                     [&](const std::string& prefix) { append_value(out, prefix); });
  append_filter_list(out, "ports", filter.ports(), [&](uint32_t port) { append_number(out, port); });
  append_filter_list(out, "remote_addresses", filter.remote_addresses(),
                     [&](const std::string& address) { append_value(out, address); });
  append_filter_list(out, "categories", filter.categories(),
                     [&](const std::string& category) { append_value(out, category); });
  append_filter_list(out, "path_prefixes", filter.path_prefixes(),
                     [&](const std::string& prefix) { append_value(out, prefix); });
  if (out.empty()) out = " everything";
  if (filter.max_batch_delay_ms() > 0) appendf(out, ", batches held up to %u ms", filter.max_batch_delay_ms());
  return out;
}

void append_cache(std::string& out, const char* name, const v1::CacheStatus& cache) {
  appendf(out, "  %-12s %10llu %10llu %12llu %12llu %12llu\n", name, ull(cache.size()),
          ull(cache.capacity()), ull(cache.hits()), ull(cache.misses()), ull(cache.evictions()));
}

void append_file_status(std::string& out, const v1::FileStatus& files) {
  appendf(out, "\nfiles          watch generation %llu, last reload %s%s\n", ull(files.watch_generation()),
          files.last_reload_error().empty() ? "applied" : "failed: ", files.last_reload_error().c_str());
  appendf(out, "  %-12s %llu dirs, %llu names, %llu prefixes\n", "kernel maps", ull(files.kernel_dirs()),
          ull(files.kernel_names()), ull(files.kernel_prefixes()));
  for (const std::string& prefix : files.unresolved_prefixes())
    appendf(out, "  %-12s %s  (does not exist yet: its nearest existing parent is watched)\n", "unresolved",
            prefix.c_str());
  appendf(out, "  %-12s %12llu  passed the kernel's filter, matched no category's globs\n", "unmatched",
          ull(files.unmatched()));

  appendf(out, "\n%-14s %12s  dropped by the kernel's watch filter, never reaching vajrad\n", "kernel filtered",
          "events");
  for (const v1::FileOperationCount& count : files.kernel_filtered()) {
    appendf(out, "  %-12s %12llu\n",
            short_enum_name(v1::FileOperation_Name(count.operation()), "FILE_OPERATION_", count.operation()).c_str(),
            ull(count.count()));
  }

  appendf(out, "\n%-14s %12s %12s %13s\n", "categories", "matched", "hashed", "hash_failures");
  for (const v1::FileCategoryStatus& category : files.categories()) {
    appendf(out, "  %-12s %12llu %12llu %13llu\n", category.name().c_str(), ull(category.matched()),
            ull(category.hashed()), ull(category.hash_failures()));
  }
}

// Every kind in the proto a subscriber can ask for, in the proto's order.
std::vector<v1::EventKind> selectable_kinds() {
  std::vector<v1::EventKind> kinds;
  const google::protobuf::EnumDescriptor* descriptor = v1::EventKind_descriptor();
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const auto kind = static_cast<v1::EventKind>(descriptor->value(i)->number());
    // Loss and StreamStart reach every subscriber whatever its filter.
    if (kind != v1::EVENT_KIND_UNSPECIFIED && kind != v1::EVENT_KIND_LOSS && kind != v1::EVENT_KIND_STREAM_START)
      kinds.push_back(kind);
  }
  return kinds;
}

}  // namespace

std::string kind_name(v1::EventKind kind) {
  return short_enum_name(v1::EventKind_Name(kind), "EVENT_KIND_", kind);
}

std::vector<v1::EventKind> kinds_named(std::string_view name) {
  for (const KindGroup& group : kKindGroups) {
    if (name == group.name) return group.kinds;
  }
  for (v1::EventKind kind : selectable_kinds()) {
    if (name == kind_name(kind)) return {kind};
  }
  return {};
}

std::vector<std::string> kind_names() {
  std::vector<std::string> names;
  for (v1::EventKind kind : selectable_kinds()) names.push_back(kind_name(kind));
  for (const KindGroup& group : kKindGroups) names.emplace_back(group.name);
  return names;
}

std::string format_time(uint64_t unix_ns) {
  std::string text;
  append_time(text, unix_ns);
  return text;
}

void append_event_text(const v1::Event& event, std::string& line) {
  append_time(line, event.time_ns());
  line += ' ';
  line += kind_name(event.kind());
  if (event.has_loss()) {
    const v1::LossEvent& loss = event.loss();
    append_number_field(line, "count", loss.count());
    append_text_field(line, "place", place_name(loss.place()));
    if (loss.kind() != v1::EVENT_KIND_UNSPECIFIED) {
      append_text_field(line, "kind", kind_name(loss.kind()));
    }
    return;
  }

  const v1::Process& process = event.process();
  append_number_field(line, "pid", process.pid());
  append_number_field(line, "ppid", process.ppid());
  append_number_field(line, "uid", process.uid());
  append_text_field(line, "exe", process.exe());
  append_body(line, event);
  const v1::Container& container = process.container();
  if (container.runtime() != v1::CONTAINER_RUNTIME_UNSPECIFIED) {
    append_text_field(line, "container",
                      runtime_name(container.runtime()) + ":" +
                          container.id().substr(0, kShortContainerId));
  }
  if (!process.argv().empty()) {
    append_text_field(line, "cmdline",
                      join_cmdline(std::vector<std::string>(process.argv().begin(),
                                                            process.argv().end())));
    if (process.argv_truncated()) append_flag(line, "argv_truncated");
  }
}

std::string to_json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) throw std::runtime_error("converting to JSON: " + status.ToString());
  return json;
}

std::string format_status_text(const v1::StatusResponse& status, uint64_t now_ns) {
  std::string out;
  appendf(out, "vajrad %s\n", status.version().c_str());
  appendf(out, "  started      %s (up %s)\n", format_time(status.started_ns()).c_str(),
          format_duration(elapsed(status.started_ns(), now_ns)).c_str());
  appendf(out, "  kernel       %s\n", status.kernel_release().c_str());
  appendf(out, "  config       %s\n",
          status.config_path().empty() ? "built-in defaults" : status.config_path().c_str());
  appendf(out, "  instance     %s\n", status.daemon_instance().c_str());
  if (!status.cpu_policy().empty()) appendf(out, "  cpu policy   %s\n", status.cpu_policy().c_str());
  appendf(out, "  next seq     %llu\n", ull(status.next_seq()));
  appendf(out, "  replay       %llu of %llu events retained for resuming subscribers (%llu KiB)\n",
          ull(status.replay_retained()), ull(status.replay_capacity()), ull(status.replay_bytes() / 1024));
  appendf(out, "  pipeline     %u events waiting for fan-out (%llu KiB)\n", status.pipeline_queue_depth(),
          ull(status.pipeline_queue_bytes() / 1024));
  appendf(out, "  ring drains  %llu\n", ull(status.ring_drains()));

  out += "\nfeatures\n";
  for (const v1::KernelFeature& feature : status.features()) {
    appendf(out, "  %-28s %-4s %s\n", feature.name().c_str(), feature.available() ? "yes" : "no",
            feature.detail().c_str());
  }

  out += "\nprobes\n";
  for (const v1::ProbeStatus& probe : status.probes()) {
    const std::string name = probe.family() + "/" + probe.name();
    appendf(out, "  %-28s %-9s %s", name.c_str(), probe_state_name(probe.state()).c_str(),
            probe.attach().c_str());
    if (!probe.error().empty()) appendf(out, "  error: %s", probe.error().c_str());
    out += '\n';
  }

  uint64_t kernel_drops = 0;
  appendf(out, "\n%-14s %12s %12s %12s %13s\n", "events", "received", "published", "kernel_drops",
          "decode_errors");
  for (const v1::KindCounters& counters : status.kinds()) {
    kernel_drops += counters.kernel_drops();
    appendf(out, "  %-12s %12llu %12llu %12llu %13llu\n", kind_name(counters.kind()).c_str(),
            ull(counters.received()), ull(counters.published()), ull(counters.kernel_drops()),
            ull(counters.decode_errors()));
  }

  out += "\ndrops\n";
  appendf(out, "  %-12s %12llu\n", "kernel ring", ull(kernel_drops));
  appendf(out, "  %-12s %12llu\n", "pipeline", ull(status.pipeline_drops()));
  appendf(out, "  %-12s %12llu\n", "subscriber", ull(status.subscriber_drops()));

  out += "\ndns\n";
  appendf(out, "  %-12s %12llu  port-53 payloads that are not DNS messages (published with the reason)\n",
          "malformed", ull(status.dns_malformed()));

  if (status.has_files()) append_file_status(out, status.files());

  appendf(out, "\n%-14s %10s %10s %12s %12s %12s\n", "caches", "size", "capacity", "hits", "misses",
          "evictions");
  append_cache(out, "process", status.process_cache());
  append_cache(out, "hash", status.hash_cache());

  appendf(out, "\nsubscribers    %d connected, %llu connections refused\n", status.subscribers_size(),
          ull(status.refused_connections()));
  for (const v1::SubscriberStatus& subscriber : status.subscribers()) {
    appendf(out,
            "  #%llu uid %u pid %u, up %s, delivered %llu, dropped %llu, queue %u/%u events %llu/%llu KiB, "
            "filter:%s\n",
            ull(subscriber.id()), subscriber.peer_uid(), subscriber.peer_pid(),
            format_duration(elapsed(subscriber.connected_ns(), now_ns)).c_str(),
            ull(subscriber.delivered()), ull(subscriber.dropped()), subscriber.queue_depth(),
            subscriber.queue_capacity(), ull(subscriber.queue_bytes() / 1024),
            ull(subscriber.queue_bytes_capacity() / 1024), describe_filter(subscriber.filter()).c_str());
  }
  return out;
}

}  // namespace vajra::ctl
