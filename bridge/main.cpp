// vajra.ext: the osquery extension of the Vajra sensor. Started by osqueryd as root with
// `--socket PATH --timeout S --interval S`, it registers its tables, binds its own socket, drops
// to bridge.user, and then serves vajrad's events to osquery until osquery shuts it down or goes.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <thrift/TOutput.h>

#include "config.h"
#include "cursor_file.h"
#include "manager_client.h"
#include "options.h"
#include "privileges.h"
#include "registration.h"
#include "lock_checks.h"
#include "scheduling.h"
#include "table_set.h"
#include "thrift_server.h"

namespace {

using namespace vajra::bridge;
namespace osquery = vajra::osquery;

constexpr const char* kDefaultConfig = "/etc/vajra/vajra.yaml";

vajra::Config load_config(const Options& options) {
  if (!options.config_path.empty()) return vajra::load_config_file(options.config_path);
  struct stat st {};
  if (stat(kDefaultConfig, &st) == 0) return vajra::load_config_file(kDefaultConfig);
  return vajra::Config{};
}

void setup_logging(const vajra::Config& config, bool verbose) {
  // osquery keeps an extension's stderr with its own output.
  auto logger = spdlog::stderr_color_mt("vajra.ext");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e vajra.ext[%P] %l: %v");
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::from_str(config.log_level));
  spdlog::set_default_logger(logger);
  // Thrift's own messages (a client that hung up mid-call, ...) are diagnostics, not errors.
  apache::thrift::GlobalOutput.setOutputFunction([](const char* message) { spdlog::debug("thrift: {}", message); });
}

std::string extension_socket(const Options& options, int64_t uuid) {
  return options.manager_socket + "." + std::to_string(uuid);
}

// What keeps the bridge known to osquery: the manager connection, the registration and the
// extension socket serving it.
struct Session {
  std::unique_ptr<ManagerClient> manager;
  Registration registration;
  std::shared_ptr<ExtensionHandler> handler;
  std::unique_ptr<ExtensionServer> server;
  std::function<void()> on_shutdown;
  bool failed = false;  // set when the bridge must exit with an error
};

// One liveness check: false when the bridge should exit. `dropped` is the account the bridge
// switched to, which cannot create a new socket in osquery's directory (null: it still can).
bool still_registered(Session& session, const Options& options, const Account* dropped) {
  osquery::InternalExtensionList extensions;
  try {
    extensions = session.manager->extensions();
  } catch (const ManagerError& first) {
    try {
      session.manager = ManagerClient::connect(options.manager_socket, std::chrono::seconds(options.timeout_seconds));
      extensions = session.manager->extensions();
    } catch (const ManagerError& again) {
      spdlog::info("osquery's extension manager is gone ({}; reconnecting: {}); exiting", first.what(), again.what());
      return false;
    }
    spdlog::info("osquery's extension manager connection broke ({}); reconnected", first.what());
  }
  const int64_t uuid = session.registration.uuid;
  if (extensions.count(uuid) != 0) return true;

  if (dropped != nullptr) {
    spdlog::warn("osquery no longer lists this extension (uuid {}). Registering again would need a new socket in "
                 "the directory of {}, which {} cannot create; exiting so that osquery relaunches vajra.ext",
                 uuid, options.manager_socket, dropped->name);
    return false;
  }
  const osquery::ExtensionStatus status =
      session.manager->register_extension(extension_info(), make_registry(session.registration.tables->tables()));
  if (status.code != 0) {
    spdlog::error("osquery forgot this extension and rejected its registration again: {}; exiting", status.message);
    session.failed = true;
    return false;
  }
  spdlog::info("osquery had forgotten this extension (uuid {}); registered again as uuid {}", uuid, status.uuid);
  session.server->stop();
  session.registration.uuid = status.uuid;
  session.handler->set_uuid(status.uuid);
  session.server =
      std::make_unique<ExtensionServer>(extension_socket(options, status.uuid), session.handler, session.on_shutdown);
  session.server->start();
  return true;
}

int run(const Options& options) {
  vajra::Config config;
  try {
    config = load_config(options);
  } catch (const vajra::ConfigError& e) {
    std::fprintf(stderr, "vajra.ext: config error: %s\n", e.what());
    return 2;
  }
  setup_logging(config, options.verbose);
  vajra::disable_lock_order_checks();
  // Before the Thrift and stream threads start. Not fatal: the tables work either way.
  if (const std::string error = vajra::apply_cpu_policy(config.scheduler.policy); !error.empty())
    spdlog::warn("scheduler.policy: {}", error);
  spdlog::debug("scheduling policy {}", vajra::current_cpu_policy());
  const std::string daemon_socket = !options.daemon_socket.empty()        ? options.daemon_socket
                                    : !config.bridge.daemon_socket.empty() ? config.bridge.daemon_socket
                                                                           : config.socket.path;

  // Signals are taken synchronously by the main loop; every thread started later inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::optional<Account> account;
  if (!config.bridge.user.empty()) {
    if (geteuid() == 0) {
      account = lookup_account(config.bridge.user);
    } else {
      spdlog::info("not started as root: staying uid {} (bridge.user {} applies only to a root start)", geteuid(),
                   config.bridge.user);
    }
  }

  std::optional<std::pair<uid_t, gid_t>> owner;
  if (account) owner = std::make_pair(account->uid, account->gid);
  // Without its state directory the bridge still serves; a relaunch then cannot tell which of the
  // events vajrad no longer retains its previous run had received.
  std::optional<CursorFile> cursor_file;
  try {
    cursor_file.emplace(
        prepare_state_dir(options.state_dir.empty() ? config.bridge.state_dir : options.state_dir, owner));
  } catch (const std::runtime_error& e) {
    spdlog::error("{}; the stream cursor will not be kept across relaunches", e.what());
  }
  const std::optional<Cursor> saved = cursor_file ? cursor_file->load() : std::nullopt;
  if (saved) spdlog::info("previous run's cursor: daemon run {}, seq {}", saved->instance, saved->seq);
  const auto save_cursor = [&](Subscriber& subscriber) {
    if (cursor_file) cursor_file->save(subscriber.cursor_to_save());
  };

  Session session;
  session.manager = ManagerClient::connect(options.manager_socket, std::chrono::seconds(options.timeout_seconds));
  session.registration = register_tables(*session.manager, config, daemon_socket, saved);
  session.handler = std::make_shared<ExtensionHandler>(session.registration.tables->by_name());
  session.handler->set_uuid(session.registration.uuid);
  session.on_shutdown = [] { kill(getpid(), SIGTERM); };
  session.server = std::make_unique<ExtensionServer>(extension_socket(options, session.registration.uuid),
                                                     session.handler, session.on_shutdown);

  drop_privileges(account);
  spdlog::info("running as {}: {}", account ? account->name : "the launching user", capability_summary());

  session.server->start();
  Subscriber& subscriber = session.registration.tables->subscriber();
  subscriber.start();

  const timespec interval{options.interval_seconds, 0};
  int exit_code = 0;
  for (;;) {
    siginfo_t info{};
    const int sig = sigtimedwait(&signals, &info, &interval);
    if (sig > 0) {
      spdlog::info("{}: shutting down", sig == SIGTERM && info.si_pid == getpid() ? "osquery asked" : strsignal(sig));
      break;
    }
    save_cursor(subscriber);

    if (!still_registered(session, options, account ? &*account : nullptr)) {
      exit_code = session.failed ? 1 : 0;
      break;
    }
  }

  session.server->stop();
  subscriber.stop();
  save_cursor(subscriber);
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse_options(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "vajra.ext: %s\nTry 'vajra.ext --help'.\n", e.what());
    return 2;
  }
  if (options.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (options.version) {
    std::printf("vajra.ext %s\n", VAJRA_VERSION);
    return 0;
  }
  try {
    return run(options);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
