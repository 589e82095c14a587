// vajrad: loads the probes, enriches their events and serves them over gRPC on a Unix socket.
#include <signal.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <cstring>
#include <string>

#include <spdlog/spdlog.h>

#include "boot_clock.h"
#include "config.h"
#include "hasher.h"
#include "hub.h"
#include "file_watch.h"
#include "lock_checks.h"
#include "pipeline.h"
#include "proc_reader.h"
#include "probes.h"
#include "process_cache.h"
#include "scheduling.h"
#include "server.h"
#include "version.h"

namespace {

constexpr const char* kDefaultConfigPath = "/etc/vajra/vajra.yaml";

constexpr const char* kUsage = R"(Usage: vajrad [--config FILE] [--socket PATH] [--check-config]

The Vajra eBPF sensor daemon. Loads its probes, enriches events with process, ancestry, hash and
container context, and streams them over gRPC on a Unix socket (see vajractl).

Options:
  --config FILE    YAML settings (default: /etc/vajra/vajra.yaml if it exists, else built-in defaults)
  --socket PATH    serve on PATH instead of the config's socket.path
  --check-config   validate the configuration, print the result and exit
  --help           show this help
  --version        show the version

Signals: SIGHUP re-reads the config (a bad file is reported and the running settings stay);
SIGINT/SIGTERM stop the daemon.
)";

struct Options {
  std::string config_path;
  std::string socket_path;
  bool check_only = false;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "vajrad: %s\nTry 'vajrad --help'.\n", message.c_str());
  std::exit(2);
}

Options parse_args(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* flag) -> std::string {
      if (i + 1 >= argc || argv[i + 1][0] == '\0') usage_error(std::string("flag ") + flag + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--version") {
      std::printf("vajrad %s\n", VAJRA_VERSION);
      std::exit(0);
    } else if (arg == "--config") {
      options.config_path = value("--config");
    } else if (arg == "--socket") {
      options.socket_path = value("--socket");
    } else if (arg == "--check-config") {
      options.check_only = true;
    } else {
      usage_error("unknown argument '" + arg + "'");
    }
  }
  return options;
}

vajra::Config load_config(const Options& options) {
  vajra::Config config;
  if (!options.config_path.empty()) {
    config = vajra::load_config_file(options.config_path);
  } else if (access(kDefaultConfigPath, F_OK) == 0) {
    config = vajra::load_config_file(kDefaultConfigPath);
  }
  if (!options.socket_path.empty()) {
    if (options.socket_path[0] != '/') throw vajra::ConfigError("--socket: must be an absolute path, got '" + options.socket_path + "'");
    config.socket.path = options.socket_path;
  }
  return config;
}

// Names this run in stream cursors, so a consumer can tell a restarted daemon's seq 1 from ours.
std::string new_instance_id() {
  unsigned char bytes[16];
  if (getrandom(bytes, sizeof(bytes), 0) != static_cast<ssize_t>(sizeof(bytes)))
    throw std::runtime_error(std::string("getrandom: ") + strerror(errno));
  static const char digits[] = "0123456789abcdef";
  std::string id;
  for (unsigned char byte : bytes) {
    id += digits[byte >> 4];
    id += digits[byte & 0xf];
  }
  return id;
}

std::string kernel_release() {
  utsname name{};
  return uname(&name) == 0 ? name.release : "";
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_args(argc, argv);
  vajra::Config config;
  try {
    config = load_config(options);
  } catch (const vajra::ConfigError& e) {
    std::fprintf(stderr, "vajrad: config error: %s\n", e.what());
    return 2;
  }
  if (options.check_only) {
    std::printf("vajrad: configuration %s is valid\n", config.source.empty() ? "(built-in defaults)" : config.source.c_str());
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  spdlog::info("vajrad {} starting ({})", VAJRA_VERSION,
               config.source.empty() ? "built-in defaults" : "config " + config.source);
  vajra::disable_lock_order_checks();
  // Before any thread starts, so that all of them inherit it. Not fatal: the sensor works either way.
  if (const std::string error = vajra::apply_cpu_policy(config.scheduler.policy); !error.empty())
    spdlog::warn("scheduler.policy: {}; running with policy {}", error, vajra::current_cpu_policy());
  const std::string cpu_policy = vajra::current_cpu_policy();

  // Signals are taken synchronously by the main thread; every thread started below inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  vajra::BootClock clock;
  const uint64_t started_ns = clock.to_wall_ns(vajra::BootClock::now_boot_ns());
  vajra::Hasher hasher(config.hash);
  vajra::ProcessCache cache(config.process.cache_size);
  cache.limit_ancestor_argv(config.process.ancestry_argv_max_bytes, config.process.ancestry_argv_depth);
  spdlog::info("process cache seeded with {} processes from /proc", cache.seed_from_proc(clock));
  vajra::Hub hub(config.buffers.subscriber_queue, config.buffers.replay_events, config.buffers.replay_bytes,
                 new_instance_id(), config.buffers.subscriber_queue_bytes);
  spdlog::info("daemon instance {}", hub.instance());
  vajra::ProbeSet probes(config);
  vajra::FileWatch files(probes, vajra::own_mnt_namespace());
  vajra::Pipeline pipeline(config, probes, hub, hasher, cache, clock, files);
  if (!probes.start([&pipeline](const void* data, size_t size) { pipeline.on_record(data, size); })) {
    spdlog::critical("no probe could be loaded; see the errors above");
    return 1;
  }
  if (config.files.enabled) {
    if (const std::string error = files.apply(config.files); !error.empty())
      spdlog::error("files: {}", error);
    else
      spdlog::info("files: {} watch categories in force", config.files.categories.size());
  }

  const std::string release = kernel_release();
  auto status = [&]() {
    vajra::v1::StatusResponse s;
    s.set_version(VAJRA_VERSION);
    s.set_started_ns(started_ns);
    s.set_kernel_release(release);
    s.set_config_path(config.source);
    s.set_cpu_policy(cpu_policy);
    for (auto& feature : probes.features()) *s.add_features() = std::move(feature);
    for (auto& probe : probes.probe_status()) *s.add_probes() = std::move(probe);
    pipeline.fill_status(s);
    files.fill_status(*s.mutable_files());
    *s.mutable_process_cache() = cache.status();
    *s.mutable_hash_cache() = hasher.status();
    s.set_daemon_instance(hub.instance());
    s.set_replay_retained(hub.replay_retained());
    s.set_replay_bytes(hub.replay_bytes());
    s.set_replay_capacity(hub.replay_capacity());
    return s;
  };
  vajra::Server server(config.socket, hub, status);
  pipeline.start();
  try {
    server.start();
  } catch (const std::exception& e) {
    spdlog::critical("cannot serve: {}", e.what());
    pipeline.stop();
    return 1;
  }
  spdlog::info("vajrad ready: serving on {}", config.socket.path);

  for (;;) {
    int received = 0;
    if (sigwait(&signals, &received) != 0) continue;
    if (received != SIGHUP) {
      spdlog::info("{} received, stopping", strsignal(received));
      break;
    }
    try {
      vajra::Config fresh = load_config(options);
      spdlog::set_level(spdlog::level::from_str(fresh.log_level));
      if (config.files.enabled) {
        if (const std::string error = files.apply(fresh.files); !error.empty())
          spdlog::error("files: reload kept the previous watch lists: {}", error);
        else
          spdlog::info("files: {} watch categories in force", fresh.files.categories.size());
      }
      spdlog::info("config reloaded from {}: log level and file watch lists applied; socket, probe, "
                   "network, buffer and scheduler settings take effect at the next start",
                   fresh.source.empty() ? "built-in defaults" : fresh.source);
    } catch (const vajra::ConfigError& e) {
      files.reload_failed(std::string("config reload refused: ") + e.what());
      spdlog::error("config reload refused, keeping the running settings: {}", e.what());
    }
  }
  hub.close_all();
  server.stop();
  pipeline.stop();
  spdlog::info("vajrad stopped");
  return 0;
}
