#include "options.h"

#include <charconv>
#include <vector>

namespace vajra::bridge {

const char* const kUsage =
    R"(Usage: vajra.ext [--verbose] --socket PATH [--timeout S] [--interval S]
                 [--config FILE] [--daemon-socket PATH] [--state-dir DIR]

The osquery extension of the Vajra eBPF sensor: serves vajrad's events as osquery tables
(bpf_process_events, or vajra_process_events when osquery owns that name, and vajra_status).
osqueryd starts it with the first four options; list it in /etc/osquery/extensions.load.

Options:
  --socket PATH         osquery's extension manager socket (osqueryd: /var/osquery/osquery.em)
  --timeout S           seconds to wait for the manager socket to appear (default 3)
  --interval S          seconds between checks that osquery still knows the extension (default 3)
  --verbose             debug logging
  --config FILE         Vajra settings, `bridge:` section (default: /etc/vajra/vajra.yaml if it
                        exists, else built-in defaults)
  --daemon-socket PATH  vajrad's socket (default: bridge.daemon_socket, else socket.path)
  --state-dir DIR       where the stream cursor is kept across relaunches; created for the bridge
                        user (default: bridge.state_dir, /var/lib/vajra/bridge)
  --help                show this help
  --version             show the version
)";

namespace {

int parse_seconds(const std::string& flag, const std::string& text) {
  int value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < 1 || value > 86400) {
    throw UsageError(flag + ": expected whole seconds from 1 to 86400, got '" + text + "'");
  }
  return value;
}

}  // namespace

Options parse_options(int argc, const char* const* argv) {
  Options options;
  const std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::string inline_value;
    bool has_inline = false;
    if (const size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_inline = true;
    }
    auto value = [&]() -> std::string {
      if (has_inline) return inline_value;
      if (i + 1 >= args.size()) throw UsageError(flag + ": missing value");
      return args[++i];
    };
    auto no_value = [&]() {
      if (has_inline) throw UsageError(flag + ": takes no value");
    };
    if (flag == "--socket") {
      options.manager_socket = value();
    } else if (flag == "--timeout") {
      options.timeout_seconds = parse_seconds(flag, value());
    } else if (flag == "--interval") {
      options.interval_seconds = parse_seconds(flag, value());
    } else if (flag == "--verbose") {
      no_value();
      options.verbose = true;
    } else if (flag == "--config") {
      options.config_path = value();
    } else if (flag == "--daemon-socket") {
      options.daemon_socket = value();
    } else if (flag == "--state-dir") {
      options.state_dir = value();
    } else if (flag == "--help" || flag == "-h") {
      no_value();
      options.help = true;
    } else if (flag == "--version") {
      no_value();
      options.version = true;
    } else {
      throw UsageError("unknown argument '" + args[i] + "'");
    }
  }
  if (!options.help && !options.version && options.manager_socket.empty()) {
    throw UsageError("--socket PATH is required (osquery's extension manager socket)");
  }
  if (!options.state_dir.empty() && options.state_dir[0] != '/') {
    throw UsageError("--state-dir: expected an absolute path, got '" + options.state_dir + "'");
  }
  return options;
}

}  // namespace vajra::bridge
