// vajrad's settings: built-in defaults, overridden by an optional YAML file.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "netaddr.h"

namespace vajra {

// A config problem, with where it is: "config.yaml:12: process.argv_max_bytes: must be ..."
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SocketConfig {
  std::string path = "/run/vajra/vajra.sock";
  uint32_t mode = 0660;
  std::string group;                  // name or numeric gid; empty keeps root's group
  std::optional<uint32_t> group_gid;  // `group` resolved when the config was read; unset when it is empty
  std::vector<uint32_t> allow_uids{0};  // peers whose uid is listed may connect...
  std::vector<uint32_t> allow_gids;     // ...and so may peers whose primary gid is listed
};

struct EventsConfig {
  bool exec = true;
  bool exec_failed = true;
  bool fork = true;
  bool exit = true;
  bool threads = false;  // also report thread creation and thread exits
};

struct ProcessConfig {
  uint32_t argv_max_bytes = 65536;  // kernel copy of argv, at most VJ_ARGV_MAX
  uint32_t argv_max_args = 4096;    // arguments kept after decoding
  uint32_t env_max_bytes = 16384;   // kernel copy of the environment, at most VJ_ENV_MAX
  std::vector<std::string> env_allow{"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT"};
  uint32_t cache_size = 32768;      // processes kept in the LRU cache
  uint32_t ancestry_depth = 8;      // ancestors attached to each event
  uint32_t ancestry_argv_max_bytes = 1024;  // of each ancestor's argv in an event's ancestry
  uint32_t ancestry_argv_depth = 2;         // nearest ancestors that carry their argv at all
};

struct HashConfig {
  bool enabled = true;
  uint64_t max_file_size = 64ull << 20;
  uint32_t max_wait_ms = 100;  // how long an exec event may wait for its exe hash
  uint32_t cache_size = 8192;
};

struct BufferConfig {
  uint32_t ring_buffer_bytes = 4u << 20;  // per probe family; power of two, multiple of the page size
  uint32_t pipeline_queue = 65536;        // events between decode and fan-out
  uint32_t pipeline_queue_bytes = 4u << 20;  // and at most this many bytes of them (serialized size)
  uint32_t subscriber_queue = 16384;      // events queued per subscriber
  uint32_t subscriber_queue_bytes = 4u << 20;  // and at most this many bytes of them (serialized size)
  uint32_t replay_events = 8192;          // recent events kept for subscribers that resume; 0 = none
  uint32_t replay_bytes = 8u << 20;      // and at most this many bytes of them (serialized size)
  uint32_t batch_delay_ms = 10;           // longest wait between drains of the kernel rings under load
};

// Which network operations to report and which sockets to filter out in the kernel.
struct NetworkConfig {
  bool bind = true;
  bool listen = true;
  bool accept = true;
  bool connect = true;   // also the outcome of a non-blocking connect
  bool close = true;     // of sockets reported by one of the operations
  bool udp = true;       // first datagram of each UDP flow
  bool dns = true;       // DNS messages to and from port 53
  // Empty: every port. Either end of an inet socket may match.
  std::vector<uint16_t> include_ports;
  std::vector<uint16_t> exclude_ports;
  // Empty: every address. Matched against the remote end, so bind and listen are not filtered by them.
  std::vector<Cidr> include_cidrs;
  std::vector<Cidr> exclude_cidrs;
  uint32_t udp_dedup_window_ms = 60000;  // a UDP flow is reported again after this long
};

// A named watch list, like osquery's file_paths categories. A path is in the category when it matches
// an include glob and no exclude glob; it is reported for the operations the category asks for.
struct WatchCategory {
  std::string name;
  std::vector<std::string> include;  // absolute globs: * ? [...] within a name, ** across directories
  std::vector<std::string> exclude;
  uint32_t operations = 0;           // 1 << vj_file_op for each operation; see default_file_operations()
  std::vector<std::string> hashes;   // of the content after create or modify: sha256, sha1, md5
  uint64_t hash_max_bytes = 64ull << 20;  // larger files are not hashed (the event says so)
};

// Every operation but open_read, which is asked for by name (it is frequent).
uint32_t default_file_operations();
std::vector<WatchCategory> default_watch_categories();

// File integrity monitoring: which paths, which operations.
struct FilesConfig {
  bool enabled = true;
  std::vector<WatchCategory> categories = default_watch_categories();  // a config's list replaces them
};

// Settings of the osquery bridge (vajra.ext), read from the same file's `bridge:` section.
struct BridgeConfig {
  std::string daemon_socket;      // empty: the daemon's socket.path
  std::string user = "nobody";    // drop to this user after start-up; empty keeps the launching user
  std::string table_names = "auto";  // auto: bpf_* unless osquery owns a name, then vajra_*; bpf; vajra
  uint32_t retention_seconds = 3600;  // like osquery's events_expiry
  uint32_t max_rows = 50000;          // per table; the oldest rows go first (about 2 KB each)
  uint32_t max_batch_delay_ms = 250;  // asks vajrad to hold batches this long (SubscribeRequest)
  std::string state_dir = "/var/lib/vajra/bridge";  // the stream cursor, kept across relaunches
};

// How the threads of vajrad and of the osquery bridge are scheduled (daemon/scheduling.h).
enum class CpuPolicy {
  kBatch,    // SCHED_BATCH: the same weight, but a woken thread does not preempt the running task
  kInherit,  // as the process was started, e.g. by systemd's CPUSchedulingPolicy= or by osqueryd
};

struct SchedulerConfig {
  CpuPolicy policy = CpuPolicy::kBatch;
};

struct Config {
  std::string source;  // file the config came from; empty for built-in defaults
  SocketConfig socket;
  EventsConfig events;
  ProcessConfig process;
  HashConfig hash;
  BufferConfig buffers;
  NetworkConfig network;
  FilesConfig files;
  BridgeConfig bridge;
  SchedulerConfig scheduler;
  std::string log_level = "info";  // trace, debug, info, warn, error, critical, off
};

// Parses YAML text; `source` names it in error messages. Throws ConfigError naming key and line.
Config parse_config(const std::string& yaml_text, const std::string& source);
// Reads and parses a file. Throws ConfigError when it cannot be read or is invalid.
Config load_config_file(const std::string& path);

}  // namespace vajra
