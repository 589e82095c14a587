// vajra.ext's command line: osquery's extension flags plus the bridge's own overrides.
#pragma once

#include <stdexcept>
#include <string>

namespace vajra::bridge {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Options {
  // What osqueryd passes: `--socket PATH --timeout S --interval S` and `--verbose` when it runs verbose.
  std::string manager_socket;
  int timeout_seconds = 3;   // how long to wait for the manager socket
  int interval_seconds = 3;  // how often to check that osquery still lists the extension
  bool verbose = false;
  // The bridge's own: override the config file and its bridge.daemon_socket.
  std::string config_path;     // empty: /etc/vajra/vajra.yaml if it exists, else built-in defaults
  std::string daemon_socket;   // empty: bridge.daemon_socket, else socket.path
  std::string state_dir;  // overrides bridge.state_dir: where the stream cursor survives a relaunch
  bool help = false;
  bool version = false;
};

// Accepts `--flag VALUE` and `--flag=VALUE`. Throws UsageError naming the offending argument.
Options parse_options(int argc, const char* const* argv);

extern const char* const kUsage;

}  // namespace vajra::bridge
