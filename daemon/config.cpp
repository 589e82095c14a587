// Reads vajrad's YAML config. Every key, type and range is checked, and every error says where it is:
// "<source>:<line>: <dotted.key>: <what is wrong>".
#include "config.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string_view>
#include <system_error>
#include <vector>

#include <spdlog/common.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "config_reader.h"
#include "vajra_wire.h"

namespace vajra {
namespace {

using namespace config_reader;

// 4294967295 is (uid_t)-1, "no id" to the kernel, so it cannot name anyone.
constexpr uint64_t kMaxId = 4294967294u;

std::vector<uint32_t> read_id_list(const Value& v) { return read_list<uint32_t>(v, u32_between(0, kMaxId)); }

// Read as octal digits whatever the quoting, like chmod: 0660, "0660", 660 and 0o660 are all rw-rw----.
uint32_t read_mode(const Value& v) {
  std::string_view digits = v.node.IsScalar() ? std::string_view(v.node.Scalar()) : std::string_view();
  if (digits.substr(0, 2) == "0o") digits.remove_prefix(2);
  if (digits.empty() ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '7'; })) {
    v.fail("expected an octal permission mode like \"0660\", got " + describe(v.node));
  }
  uint32_t mode = 0;
  for (char c : digits) {
    mode = mode * 8 + static_cast<uint32_t>(c - '0');
    if (mode > 0777)
      v.fail("must be between 0 and 0777 (no setuid, setgid or sticky bits), got " + describe(v.node));
  }
  return mode;
}

std::string read_socket_path(const Value& v) {
  const std::string path = read_string(v);
  constexpr size_t kSunPathSize = sizeof(sockaddr_un::sun_path);
  if (path.empty() || path[0] != '/') v.fail("must be an absolute path, got " + describe(v.node));
  if (path.find('\0') != std::string::npos) v.fail("must not contain a NUL byte");
  if (path.size() >= kSunPathSize) {
    v.fail("is " + std::to_string(path.size()) + " bytes; a socket path must be shorter than " +
           std::to_string(kSunPathSize));
  }
  return path;
}

// The gid a socket.group names: digits are a gid, anything else a group that must exist now.
std::optional<uint32_t> resolve_group(const Value& v, const std::string& group) {
  if (group.empty()) return std::nullopt;
  if (std::all_of(group.begin(), group.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return static_cast<uint32_t>(read_integer(v, 0, kMaxId));
  }
  std::vector<char> buffer(1024);
  while (true) {
    struct group entry {};
    struct group* found = nullptr;
    const int error = getgrnam_r(group.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (error == ERANGE && buffer.size() < (1u << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (found != nullptr) return static_cast<uint32_t>(found->gr_gid);
    // glibc reports "no such group" as 0 with no result; other libcs use one of these errnos.
    if (error == 0 || error == ENOENT || error == ESRCH || error == EBADF || error == EPERM) {
      v.fail("no group named '" + group + "' on this system");
    }
    v.fail("cannot look up group '" + group + "': " + std::generic_category().message(error));
  }
}

std::string read_env_name(const Value& v) {
  const std::string name = read_string(v);
  auto is_name_char = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  };
  const bool valid = !name.empty() && !(name[0] >= '0' && name[0] <= '9') &&
                     std::all_of(name.begin(), name.end(), is_name_char);
  if (!valid) {
    v.fail(describe(v.node) +
           " is not a variable name: use letters, digits and '_', not starting with a digit");
  }
  return name;
}

std::string read_log_level(const Value& v) {
  const std::string level = read_string(v);
  // spdlog maps every name it does not know to "off", so "off" itself must be told apart.
  if (level == "off" || spdlog::level::from_str(level) != spdlog::level::off) return level;
  const std::vector<std::string_view> names{"trace", "debug", "info", "warn", "error", "critical", "off"};
  const std::string_view suggestion = closest(level, names);
  v.fail("expected one of " + join(names) + ", got " + describe(v.node) +
         (suggestion.empty() ? "" : " (did you mean '" + std::string(suggestion) + "'?)"));
}

uint32_t read_ring_buffer_bytes(const Value& v) {
  // The kernel wants a power-of-two multiple of the page size; 64 KiB covers pages up to 64 KiB.
  constexpr uint64_t kMin = 64u << 10, kMax = 1u << 30;
  const std::optional<uint64_t> bytes = read_decimal(v);
  if (!bytes || *bytes < kMin || *bytes > kMax || (*bytes & (*bytes - 1)) != 0) {
    v.fail("must be a power of two between " + std::to_string(kMin) + " (64 KiB) and " +
           std::to_string(kMax) + " (1 GiB), got " + v.node.Scalar());
  }
  return static_cast<uint32_t>(*bytes);
}

void read_socket(const Value& v, SocketConfig& socket) {
  const Section s(v, {"path", "mode", "group", "allow_uids", "allow_gids"});
  s.read("path", socket.path, read_socket_path);
  s.read("mode", socket.mode, read_mode);
  s.read("group", socket.group, [&socket](const Value& group) {
    const std::string name = read_string(group);
    socket.group_gid = resolve_group(group, name);
    return name;
  });
  s.read("allow_uids", socket.allow_uids, read_id_list);
  s.read("allow_gids", socket.allow_gids, read_id_list);
}

void read_events(const Value& v, EventsConfig& events) {
  const Section s(v, {"exec", "exec_failed", "fork", "exit", "threads"});
  s.read("exec", events.exec, read_bool);
  s.read("exec_failed", events.exec_failed, read_bool);
  s.read("fork", events.fork, read_bool);
  s.read("exit", events.exit, read_bool);
  s.read("threads", events.threads, read_bool);
}

constexpr uint64_t kMinCache = 1024, kMaxCache = 4194304;

void read_process(const Value& v, ProcessConfig& process) {
  const Section s(
      v, {"argv_max_bytes", "argv_max_args", "env_max_bytes", "env_allow", "cache_size", "ancestry_depth",
          "ancestry_argv_max_bytes", "ancestry_argv_depth"});
  s.read("argv_max_bytes", process.argv_max_bytes, u32_between(4096, VJ_ARGV_MAX));
  s.read("argv_max_args", process.argv_max_args, u32_between(1, 65536));
  s.read("env_max_bytes", process.env_max_bytes, u32_between(0, VJ_ENV_MAX));
  s.read("env_allow", process.env_allow,
         [](const Value& list) { return read_list<std::string>(list, read_env_name); });
  s.read("cache_size", process.cache_size, u32_between(kMinCache, kMaxCache));
  s.read("ancestry_depth", process.ancestry_depth, u32_between(0, 64));
  s.read("ancestry_argv_max_bytes", process.ancestry_argv_max_bytes, u32_between(0, VJ_ARGV_MAX));
  s.read("ancestry_argv_depth", process.ancestry_argv_depth, u32_between(0, 64));
}

void read_hash(const Value& v, HashConfig& hash) {
  const Section s(v, {"enabled", "max_file_size", "max_wait_ms", "cache_size"});
  s.read("enabled", hash.enabled, read_bool);
  s.read("max_file_size", hash.max_file_size,
         [](const Value& size) { return read_integer(size, 0, 1ull << 40); });
  s.read("max_wait_ms", hash.max_wait_ms, u32_between(0, 10000));
  s.read("cache_size", hash.cache_size, u32_between(kMinCache, kMaxCache));
}

void read_buffers(const Value& v, BufferConfig& buffers) {
  const Section s(v, {"ring_buffer_bytes", "pipeline_queue", "pipeline_queue_bytes", "subscriber_queue",
                      "subscriber_queue_bytes", "replay_events", "replay_bytes", "batch_delay_ms"});
  s.read("ring_buffer_bytes", buffers.ring_buffer_bytes, read_ring_buffer_bytes);
  s.read("pipeline_queue", buffers.pipeline_queue, u32_between(16, 16777216));
  s.read("pipeline_queue_bytes", buffers.pipeline_queue_bytes, u32_between(1u << 20, 1u << 31));
  s.read("subscriber_queue", buffers.subscriber_queue, u32_between(16, 16777216));
  s.read("subscriber_queue_bytes", buffers.subscriber_queue_bytes, u32_between(1u << 20, 1u << 31));
  s.read("replay_events", buffers.replay_events, u32_between(0, 1000000));
  s.read("replay_bytes", buffers.replay_bytes, u32_between(1u << 20, 1u << 31));
  // At most the kernel-drop check period, so that drops are still announced as often.
  s.read("batch_delay_ms", buffers.batch_delay_ms, u32_between(1, 250));
}

uint16_t read_port(const Value& v) { return static_cast<uint16_t>(read_integer(v, 1, 65535)); }

Cidr read_cidr(const Value& v) {
  const std::string text = read_string(v);
  std::string error;
  const std::optional<Cidr> cidr = parse_cidr(text, error);
  if (!cidr) v.fail(describe(v.node) + " is not a CIDR: " + error);
  return *cidr;
}

// The kernel filter maps hold VJ_NET_FILTER_MAX entries per list.
template <typename Element, typename ReadElement>
std::vector<Element> read_filter_list(const Value& v, ReadElement&& read_element) {
  std::vector<Element> list = read_list<Element>(v, read_element);
  if (list.size() > VJ_NET_FILTER_MAX) {
    v.fail(std::to_string(list.size()) + " entries; at most " + std::to_string(VJ_NET_FILTER_MAX));
  }
  return list;
}

void read_network(const Value& v, NetworkConfig& network) {
  const Section s(v, {"bind", "listen", "accept", "connect", "close", "udp", "dns", "include_ports",
                      "exclude_ports", "include_cidrs", "exclude_cidrs", "udp_dedup_window_ms"});
  s.read("bind", network.bind, read_bool);
  s.read("listen", network.listen, read_bool);
  s.read("accept", network.accept, read_bool);
  s.read("connect", network.connect, read_bool);
  s.read("close", network.close, read_bool);
  s.read("udp", network.udp, read_bool);
  s.read("dns", network.dns, read_bool);
  auto ports = [](const Value& list) { return read_filter_list<uint16_t>(list, read_port); };
  auto cidrs = [](const Value& list) { return read_filter_list<Cidr>(list, read_cidr); };
  s.read("include_ports", network.include_ports, ports);
  s.read("exclude_ports", network.exclude_ports, ports);
  s.read("include_cidrs", network.include_cidrs, cidrs);
  s.read("exclude_cidrs", network.exclude_cidrs, cidrs);
  s.read("udp_dedup_window_ms", network.udp_dedup_window_ms, u32_between(0, 86400000));
}

std::string read_table_names(const Value& v) {
  const std::string mode = read_string(v);
  if (mode != "auto" && mode != "bpf" && mode != "vajra")
    v.fail("expected auto, bpf or vajra, got " + describe(v.node));
  return mode;
}

void read_bridge(const Value& v, BridgeConfig& bridge) {
  const Section s(v, {"daemon_socket", "user", "table_names", "retention_seconds", "max_rows", "max_batch_delay_ms",
                      "state_dir"});
  s.read("daemon_socket", bridge.daemon_socket,
         [](const Value& path) { return read_string(path).empty() ? std::string() : read_socket_path(path); });
  s.read("user", bridge.user, read_string);
  s.read("table_names", bridge.table_names, read_table_names);
  s.read("retention_seconds", bridge.retention_seconds, u32_between(60, 604800));
  s.read("max_rows", bridge.max_rows, u32_between(1000, 10000000));
  s.read("max_batch_delay_ms", bridge.max_batch_delay_ms, u32_between(0, 1000));
  s.read("state_dir", bridge.state_dir, [](const Value& dir) {
    const std::string path = read_string(dir);
    if (path.empty() || path[0] != '/') dir.fail("must be an absolute path, got " + describe(dir.node));
    return path;
  });
}

CpuPolicy read_cpu_policy(const Value& v) {
  const std::string name = read_string(v);
  if (name == "batch") return CpuPolicy::kBatch;
  if (name == "inherit") return CpuPolicy::kInherit;
  const std::vector<std::string_view> names{"batch", "inherit"};
  const std::string_view suggestion = closest(name, names);
  v.fail("expected one of " + join(names) + ", got " + describe(v.node) +
         (suggestion.empty() ? "" : " (did you mean '" + std::string(suggestion) + "'?)"));
}

void read_scheduler(const Value& v, SchedulerConfig& scheduler) {
  const Section s(v, {"policy"});
  s.read("policy", scheduler.policy, read_cpu_policy);
}

void read_log(const Value& v, std::string& log_level) {
  const Section s(v, {"level"});
  s.read("level", log_level, read_log_level);
}

// Where each YAML document starts; the parse events themselves are not needed.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> marks;

  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
  }
  void OnMapEnd() override {}
};

// A config is one YAML document. Counted with a bounded parse rather than YAML::LoadAll, because
// yaml-cpp 0.7 reads a stray ',' outside brackets as an endless run of empty documents that never get
// past it (LoadAll then allocates until it dies, and Load quietly returns an empty document).
void check_one_document(const Document& doc, const std::string& text) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentStarts starts;
  for (int i = 0; i < 2 && parser.HandleNextDocument(starts); ++i) {
  }
  if (starts.marks.size() < 2) return;
  const YAML::Mark second = starts.marks[1];
  if (second.pos == starts.marks[0].pos) {
    const auto at = static_cast<size_t>(second.pos);
    const std::string what = at < text.size() ? "'" + text.substr(at, 1) + "'" : "end of text";
    doc.fail(second.line + 1, "", "invalid YAML: unexpected " + what);
  }
  doc.fail(second.line + 1, "", "a config file holds one YAML document, but a second starts here");
}

// The largest exec record must fit the ring several times over, or a burst of long command lines
// could never be written and every such exec would be lost.
void check_ring_holds_exec(const Document& doc, const YAML::Node& root, const Config& config) {
  constexpr uint64_t kRecordsPerRing = 4;
  const uint64_t largest_exec = sizeof(vj_exec_record) + 2 * VJ_PATH_SECTION_MAX + VJ_CGROUP_SECTION_MAX +
                                config.process.argv_max_bytes + config.process.env_max_bytes;
  if (config.buffers.ring_buffer_bytes >= kRecordsPerRing * largest_exec) return;
  const YAML::Node& top = root;
  const YAML::Node buffers = top.IsMap() ? top["buffers"] : YAML::Node();
  const YAML::Node ring = buffers.IsMap() ? buffers["ring_buffer_bytes"] : YAML::Node();
  doc.fail(ring ? doc.line_of(ring) : 1, "buffers.ring_buffer_bytes",
           std::to_string(config.buffers.ring_buffer_bytes) + " bytes cannot hold " +
               std::to_string(kRecordsPerRing) + " exec records of up to " + std::to_string(largest_exec) +
               " bytes (process.argv_max_bytes + process.env_max_bytes + paths); raise it or lower those");
}

}  // namespace

Config parse_config(const std::string& yaml_text, const std::string& source) {
  const Document doc(yaml_text, source);
  YAML::Node root;
  try {
    check_one_document(doc, yaml_text);
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    if (e.mark.line < 0) throw ConfigError(doc.source() + ": invalid YAML: " + e.msg);
    doc.fail(e.mark.line + 1, "", "invalid YAML: " + e.msg);
  }

  Config config;
  config.source = source;
  const Section top(Value{&doc, "", root},
                    {"socket", "events", "process", "hash", "buffers", "network", "files", "bridge", "scheduler",
                     "log"});
  top.read_into("socket", config.socket, read_socket);
  top.read_into("events", config.events, read_events);
  top.read_into("process", config.process, read_process);
  top.read_into("hash", config.hash, read_hash);
  top.read_into("buffers", config.buffers, read_buffers);
  top.read_into("network", config.network, read_network);
  top.read_into("files", config.files, read_files);
  top.read_into("bridge", config.bridge, read_bridge);
  top.read_into("scheduler", config.scheduler, read_scheduler);
  top.read_into("log", config.log_level, read_log);
  check_ring_holds_exec(doc, root, config);
  return config;
}

Config load_config_file(const std::string& path) {
  // A config is a few KiB; the cap keeps a wrong path such as /dev/zero from eating memory.
  constexpr size_t kMaxBytes = 1u << 20;
  auto failure = [&path](const char* action) {
    return ConfigError("cannot " + std::string(action) + " config file " + path + ": " +
                       std::generic_category().message(errno));
  };

  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw failure("open");
  std::string text;
  char chunk[8192];
  while (true) {
    const ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const ConfigError error = failure("read");
      close(fd);
      throw error;
    }
    if (n == 0) break;
    text.append(chunk, static_cast<size_t>(n));
    if (text.size() > kMaxBytes) {
      close(fd);
      throw ConfigError("config file " + path + " is larger than 1 MiB; is it the right file?");
    }
  }
  close(fd);
  return parse_config(text, path);
}

}  // namespace vajra
