// The YAML config: defaults, every key, and errors that say file, line and key.
#include <catch2/catch.hpp>

#include <grp.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "config.h"
#include "vajra_wire.h"

using namespace vajra;

namespace {

// The ConfigError message parsing `yaml` gives, or "no error".
std::string error_of(const std::string& yaml) {
  try {
    parse_config(yaml, "t.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

// Every setting of `actual` equals `expected`'s (source is not a setting).
void check_same_settings(const Config& actual, const Config& expected) {
  CHECK(actual.socket.path == expected.socket.path);
  CHECK(actual.socket.mode == expected.socket.mode);
  CHECK(actual.socket.group == expected.socket.group);
  CHECK(actual.socket.group_gid == expected.socket.group_gid);
  CHECK(actual.socket.allow_uids == expected.socket.allow_uids);
  CHECK(actual.socket.allow_gids == expected.socket.allow_gids);
  CHECK(actual.events.exec == expected.events.exec);
  CHECK(actual.events.exec_failed == expected.events.exec_failed);
  CHECK(actual.events.fork == expected.events.fork);
  CHECK(actual.events.exit == expected.events.exit);
  CHECK(actual.events.threads == expected.events.threads);
  CHECK(actual.process.argv_max_bytes == expected.process.argv_max_bytes);
  CHECK(actual.process.argv_max_args == expected.process.argv_max_args);
  CHECK(actual.process.env_max_bytes == expected.process.env_max_bytes);
  CHECK(actual.process.env_allow == expected.process.env_allow);
  CHECK(actual.process.cache_size == expected.process.cache_size);
  CHECK(actual.process.ancestry_depth == expected.process.ancestry_depth);
  CHECK(actual.process.ancestry_argv_max_bytes == expected.process.ancestry_argv_max_bytes);
  CHECK(actual.process.ancestry_argv_depth == expected.process.ancestry_argv_depth);
  CHECK(actual.hash.enabled == expected.hash.enabled);
  CHECK(actual.hash.max_file_size == expected.hash.max_file_size);
  CHECK(actual.hash.max_wait_ms == expected.hash.max_wait_ms);
  CHECK(actual.hash.cache_size == expected.hash.cache_size);
  CHECK(actual.buffers.ring_buffer_bytes == expected.buffers.ring_buffer_bytes);
  CHECK(actual.buffers.pipeline_queue == expected.buffers.pipeline_queue);
  CHECK(actual.buffers.subscriber_queue == expected.buffers.subscriber_queue);
  CHECK(actual.buffers.replay_events == expected.buffers.replay_events);
  CHECK(actual.buffers.replay_bytes == expected.buffers.replay_bytes);
  CHECK(actual.buffers.batch_delay_ms == expected.buffers.batch_delay_ms);
  CHECK(actual.network.bind == expected.network.bind);
  CHECK(actual.network.listen == expected.network.listen);
  CHECK(actual.network.accept == expected.network.accept);
  CHECK(actual.network.connect == expected.network.connect);
  CHECK(actual.network.close == expected.network.close);
  CHECK(actual.network.udp == expected.network.udp);
  CHECK(actual.network.dns == expected.network.dns);
  CHECK(actual.network.include_ports == expected.network.include_ports);
  CHECK(actual.network.exclude_ports == expected.network.exclude_ports);
  CHECK(actual.network.include_cidrs == expected.network.include_cidrs);
  CHECK(actual.network.exclude_cidrs == expected.network.exclude_cidrs);
  CHECK(actual.network.udp_dedup_window_ms == expected.network.udp_dedup_window_ms);
  CHECK(actual.files.enabled == expected.files.enabled);
  REQUIRE(actual.files.categories.size() == expected.files.categories.size());
  for (size_t i = 0; i < actual.files.categories.size(); ++i) {
    const WatchCategory& a = actual.files.categories[i];
    const WatchCategory& e = expected.files.categories[i];
    INFO("files.categories[" << i << "]");
    CHECK(a.name == e.name);
    CHECK(a.include == e.include);
    CHECK(a.exclude == e.exclude);
    CHECK(a.operations == e.operations);
    CHECK(a.hashes == e.hashes);
    CHECK(a.hash_max_bytes == e.hash_max_bytes);
  }
  CHECK(actual.bridge.daemon_socket == expected.bridge.daemon_socket);
  CHECK(actual.bridge.user == expected.bridge.user);
  CHECK(actual.bridge.table_names == expected.bridge.table_names);
  CHECK(actual.bridge.retention_seconds == expected.bridge.retention_seconds);
  CHECK(actual.bridge.max_rows == expected.bridge.max_rows);
  CHECK(actual.bridge.max_batch_delay_ms == expected.bridge.max_batch_delay_ms);
  CHECK(actual.bridge.state_dir == expected.bridge.state_dir);
  CHECK(actual.scheduler.policy == expected.scheduler.policy);
  CHECK(actual.log_level == expected.log_level);
}

// What a config without settings reads as: Config{} plus the built-in watch categories, which
// parse_config fills in when the file names none.
Config defaults() {
  Config config;
  config.files.categories = default_watch_categories();
  return config;
}

struct TempDir {
  std::string path;
  TempDir() {
    char name[] = "/tmp/vajra-config-test-XXXXXX";
    REQUIRE(mkdtemp(name) != nullptr);
    path = name;
  }
  ~TempDir() {
    std::remove((path + "/vajra.yaml").c_str());
    rmdir(path.c_str());
  }
  std::string write(const std::string& text) const {
    const std::string file = path + "/vajra.yaml";
    std::ofstream(file) << text;
    return file;
  }
};

}  // namespace

TEST_CASE("config: text without settings gives the defaults", "[config]") {
  for (const char* text : {"", "# only a comment\n\n", "---\n", "\n\n   \n"}) {
    INFO("text: " << text);
    const Config config = parse_config(text, "t.yaml");
    check_same_settings(config, defaults());
    CHECK(config.source == "t.yaml");
  }
  CHECK(Config{}.source.empty());
}

TEST_CASE("config: the shipped example is exactly the defaults", "[config]") {
  const std::string path = std::string(VAJRA_SOURCE_DIR) + "/config/vajra.yaml";
  const Config config = load_config_file(path);
  check_same_settings(config, defaults());
  CHECK(config.source == path);
}

TEST_CASE("config: every key is read", "[config]") {
  const Config config = parse_config(R"(
socket:
  path: /run/other/api.sock
  mode: "0600"
  group: root
  allow_uids: [0, 1000]
  allow_gids:
    - 27
    - 4294967294
events:
  exec: false
  exec_failed: False
  fork: FALSE
  exit: false
  threads: true
process:
  argv_max_bytes: 131072
  argv_max_args: 1
  env_max_bytes: 0
  env_allow: [PATH, _underscore, http_proxy2]
  cache_size: 4194304
  ancestry_depth: 0
  ancestry_argv_max_bytes: 0
  ancestry_argv_depth: 64
hash:
  enabled: false
  max_file_size: 1099511627776
  max_wait_ms: 10000
  cache_size: 1024
buffers:
  ring_buffer_bytes: 1048576
  pipeline_queue: 16
  subscriber_queue: 16777216
  batch_delay_ms: 250
log:
  level: debug
)",
                                     "t.yaml");
  CHECK(config.socket.path == "/run/other/api.sock");
  CHECK(config.socket.mode == 0600);
  CHECK(config.socket.group == "root");
  CHECK(config.socket.group_gid == std::optional<uint32_t>(0));
  CHECK(config.socket.allow_uids == std::vector<uint32_t>{0, 1000});
  CHECK(config.socket.allow_gids == std::vector<uint32_t>{27, 4294967294u});
  CHECK_FALSE(config.events.exec);
  CHECK_FALSE(config.events.exec_failed);
  CHECK_FALSE(config.events.fork);
  CHECK_FALSE(config.events.exit);
  CHECK(config.events.threads);
  CHECK(config.process.argv_max_bytes == VJ_ARGV_MAX);
  CHECK(config.process.argv_max_args == 1);
  CHECK(config.process.env_max_bytes == 0);
  CHECK(config.process.env_allow == std::vector<std::string>{"PATH", "_underscore", "http_proxy2"});
  CHECK(config.process.cache_size == 4194304);
  CHECK(config.process.ancestry_depth == 0);
  CHECK(config.process.ancestry_argv_max_bytes == 0);
  CHECK(config.process.ancestry_argv_depth == 64);
  CHECK_FALSE(config.hash.enabled);
  CHECK(config.hash.max_file_size == (1ull << 40));
  CHECK(config.hash.max_wait_ms == 10000);
  CHECK(config.hash.cache_size == 1024);
  CHECK(config.buffers.ring_buffer_bytes == 1048576);
  CHECK(config.buffers.pipeline_queue == 16);
  CHECK(config.buffers.subscriber_queue == 16777216);
  CHECK(config.buffers.batch_delay_ms == 250);
  CHECK(config.log_level == "debug");
}

TEST_CASE("config: keys left out keep their defaults", "[config]") {
  const Config config = parse_config("process:\n  ancestry_depth: 3\nsocket:\n", "t.yaml");
  CHECK(config.process.ancestry_depth == 3);
  Config expected = defaults();
  expected.process.ancestry_depth = 3;
  check_same_settings(config, expected);
}

TEST_CASE("config: empty lists are allowed", "[config]") {
  const Config config = parse_config("socket:\n  allow_uids: []\nprocess:\n  env_allow: []\n", "t.yaml");
  CHECK(config.socket.allow_uids.empty());
  CHECK(config.process.env_allow.empty());
}

TEST_CASE("config: unknown keys are errors, with the nearest known key suggested", "[config]") {
  CHECK(error_of("sockets:\n  path: /x\n") == "t.yaml:1: sockets: unknown key; did you mean 'socket'?");
  CHECK(error_of("process:\n  cache_size: 2048\n  argv_max_byte: 4096\n") ==
        "t.yaml:3: process.argv_max_byte: unknown key; did you mean 'argv_max_bytes'?");
  CHECK(error_of("events:\n  Exec: true\n") == "t.yaml:2: events.Exec: unknown key; did you mean 'exec'?");
  CHECK(
      error_of("\n\nhash:\n  colour: blue\n") ==
      "t.yaml:4: hash.colour: unknown key; known keys here: enabled, max_file_size, max_wait_ms, cache_size");
  CHECK(error_of("level: info\n") ==
        "t.yaml:1: level: unknown key; known keys here: socket, events, process, hash, buffers, network, files, bridge, scheduler, "
        "log");
}

TEST_CASE("config: a key given twice is an error at its second place", "[config]") {
  CHECK(error_of("events:\n  exec: true\n  fork: true\n  exec: false\n") ==
        "t.yaml:4: events.exec: given twice (first at line 2)");
  CHECK(error_of("log:\n  level: info\nevents:\n  fork: true\nlog:\n  level: debug\n") ==
        "t.yaml:5: log: given twice (first at line 1)");
}

TEST_CASE("config: keys must be plain names", "[config]") {
  CHECK(error_of("events:\n  ? [exec, fork]\n  : true\n") ==
        "t.yaml:2: events: keys must be plain names, got a list");
}

TEST_CASE("config: wrong types name what was expected and what was found", "[config]") {
  CHECK(error_of("process:\n  argv_max_bytes: abc\n") ==
        "t.yaml:2: process.argv_max_bytes: expected an integer, got 'abc'");
  CHECK(error_of("process:\n  argv_max_bytes: 4096.5\n") ==
        "t.yaml:2: process.argv_max_bytes: expected an integer, got '4096.5'");
  CHECK(error_of("hash:\n  cache_size: 0x1000\n") ==
        "t.yaml:2: hash.cache_size: expected an integer, got '0x1000'");
  CHECK(error_of("events:\n  exec: yes\n") == "t.yaml:2: events.exec: expected true or false, got 'yes'");
  CHECK(error_of("events:\n  exec: 1\n") == "t.yaml:2: events.exec: expected true or false, got '1'");
  CHECK(error_of("socket:\n  path:\n    - /a\n") == "t.yaml:3: socket.path: expected a string, got a list");
  CHECK(error_of("socket:\n  allow_uids: 0\n") ==
        "t.yaml:2: socket.allow_uids: expected a list (write [] for none), got '0'");
  CHECK(error_of("socket:\n  allow_uids: [0, root]\n") ==
        "t.yaml:2: socket.allow_uids[1]: expected an integer, got 'root'");
  CHECK(error_of("events: true\n") == "t.yaml:1: events: expected a mapping of settings, got 'true'");
  CHECK(error_of("log:\n  - level\n") == "t.yaml:2: log: expected a mapping of settings, got a list");
  CHECK(error_of("just words\n") == "t.yaml:1: expected a mapping of settings, got 'just words'");
  CHECK(error_of("- socket\n") == "t.yaml:1: expected a mapping of settings, got a list");
}

TEST_CASE("config: an empty value is reported on its own line, not the next one", "[config]") {
  CHECK(error_of("socket:\n  path:\n\n  # a comment\n  mode: \"0600\"\n") ==
        "t.yaml:2: socket.path: expected a string, got nothing");
  CHECK(error_of("socket:\n  allow_uids:\nevents:\n  exec: true\n") ==
        "t.yaml:2: socket.allow_uids: expected a list (write [] for none), got nothing");
  CHECK(error_of("process:\n  env_allow:\n    - LD_PRELOAD\n    -\n    # x\n    - LD_AUDIT\n") ==
        "t.yaml:4: process.env_allow[1]: expected a string, got nothing");
  CHECK(error_of("hash:\n  max_wait_ms: ~\n") ==
        "t.yaml:2: hash.max_wait_ms: expected an integer, got nothing");
  CHECK(error_of("events:\n  fork:") == "t.yaml:2: events.fork: expected true or false, got nothing");
  // Multi-byte characters above must not shift the place found (yaml-cpp counts bytes).
  std::string snowmen;
  for (int i = 0; i < 40; ++i) snowmen += "\u2603";
  CHECK(error_of("# " + snowmen + "\nsocket:\n  path:\n  mode: '0600'\n") ==
        "t.yaml:3: socket.path: expected a string, got nothing");
}

TEST_CASE("config: values out of range say the allowed range", "[config]") {
  CHECK(error_of("process:\n  argv_max_bytes: 4095\n") ==
        "t.yaml:2: process.argv_max_bytes: must be between 4096 and 131072, got 4095");
  CHECK(error_of("process:\n  argv_max_bytes: 131073\n") ==
        "t.yaml:2: process.argv_max_bytes: must be between 4096 and 131072, got 131073");
  CHECK(error_of("process:\n  argv_max_args: 0\n") ==
        "t.yaml:2: process.argv_max_args: must be between 1 and 65536, got 0");
  CHECK(error_of("process:\n  argv_max_args: 65537\n") ==
        "t.yaml:2: process.argv_max_args: must be between 1 and 65536, got 65537");
  CHECK(error_of("process:\n  env_max_bytes: 32769\n") ==
        "t.yaml:2: process.env_max_bytes: must be between 0 and 32768, got 32769");
  CHECK(error_of("process:\n  cache_size: 1023\n") ==
        "t.yaml:2: process.cache_size: must be between 1024 and 4194304, got 1023");
  CHECK(error_of("process:\n  ancestry_depth: 65\n") ==
        "t.yaml:2: process.ancestry_depth: must be between 0 and 64, got 65");
  CHECK(error_of("process:\n  ancestry_depth: -1\n") ==
        "t.yaml:2: process.ancestry_depth: must be between 0 and 64, got -1");
  CHECK(error_of("process:\n  ancestry_argv_max_bytes: 131073\n") ==
        "t.yaml:2: process.ancestry_argv_max_bytes: must be between 0 and 131072, got 131073");
  CHECK(error_of("process:\n  ancestry_argv_depth: 65\n") ==
        "t.yaml:2: process.ancestry_argv_depth: must be between 0 and 64, got 65");
  CHECK(error_of("hash:\n  max_file_size: 1099511627777\n") ==
        "t.yaml:2: hash.max_file_size: must be between 0 and 1099511627776, got 1099511627777");
  CHECK(error_of("hash:\n  max_file_size: 99999999999999999999999\n") ==
        "t.yaml:2: hash.max_file_size: must be between 0 and 1099511627776, got 99999999999999999999999");
  CHECK(error_of("hash:\n  max_wait_ms: 10001\n") ==
        "t.yaml:2: hash.max_wait_ms: must be between 0 and 10000, got 10001");
  CHECK(error_of("hash:\n  cache_size: 4194305\n") ==
        "t.yaml:2: hash.cache_size: must be between 1024 and 4194304, got 4194305");
  CHECK(error_of("buffers:\n  pipeline_queue: 15\n") ==
        "t.yaml:2: buffers.pipeline_queue: must be between 16 and 16777216, got 15");
  CHECK(error_of("buffers:\n  subscriber_queue: 16777217\n") ==
        "t.yaml:2: buffers.subscriber_queue: must be between 16 and 16777216, got 16777217");
  CHECK(error_of("buffers:\n  batch_delay_ms: 0\n") ==
        "t.yaml:2: buffers.batch_delay_ms: must be between 1 and 250, got 0");
  CHECK(error_of("\nbuffers:\n  batch_delay_ms: 251\n") ==
        "t.yaml:3: buffers.batch_delay_ms: must be between 1 and 250, got 251");
  CHECK(error_of("socket:\n  allow_gids: [4294967295]\n") ==
        "t.yaml:2: socket.allow_gids[0]: must be between 0 and 4294967294, got 4294967295");
}

TEST_CASE("config: integers are decimal even with a leading zero", "[config]") {
  CHECK(parse_config("process:\n  ancestry_depth: 010\n", "t.yaml").process.ancestry_depth == 10);
}

TEST_CASE("config: the ring buffer is a power of two between 64 KiB and 1 GiB", "[config]") {
  CHECK(parse_config("buffers:\n  ring_buffer_bytes: 1073741824\n", "t.yaml").buffers.ring_buffer_bytes ==
        (1u << 30));
  const std::string rule =
      "t.yaml:2: buffers.ring_buffer_bytes: must be a power of two between 65536 (64 KiB) and "
      "1073741824 (1 GiB), got ";
  CHECK(error_of("buffers:\n  ring_buffer_bytes: 100000\n") == rule + "100000");
  CHECK(error_of("buffers:\n  ring_buffer_bytes: 32768\n") == rule + "32768");
  CHECK(error_of("buffers:\n  ring_buffer_bytes: 2147483648\n") == rule + "2147483648");
  CHECK(error_of("buffers:\n  ring_buffer_bytes: 0\n") == rule + "0");
  CHECK(error_of("buffers:\n  ring_buffer_bytes: -65536\n") == rule + "-65536");
  CHECK(error_of("buffers:\n  ring_buffer_bytes: 8M\n") ==
        "t.yaml:2: buffers.ring_buffer_bytes: expected an integer, got '8M'");
}

TEST_CASE("config: socket.mode is octal however it is written", "[config]") {
  auto mode_of = [](const std::string& text) {
    return parse_config("socket:\n  mode: " + text + "\n", "t.yaml").socket.mode;
  };
  CHECK(mode_of("\"0660\"") == 0660);
  CHECK(mode_of("0660") == 0660);
  CHECK(mode_of("'600'") == 0600);
  CHECK(mode_of("0o640") == 0640);
  CHECK(mode_of("0777") == 0777);
  CHECK(mode_of("0") == 0);
  CHECK(error_of("socket:\n  mode: \"0990\"\n") ==
        "t.yaml:2: socket.mode: expected an octal permission mode like \"0660\", got '0990'");
  CHECK(error_of("socket:\n  mode: rw-rw----\n") ==
        "t.yaml:2: socket.mode: expected an octal permission mode like \"0660\", got 'rw-rw----'");
  CHECK(error_of("socket:\n  mode: \"04755\"\n") ==
        "t.yaml:2: socket.mode: must be between 0 and 0777 (no setuid, setgid or sticky bits), got '04755'");
  CHECK(error_of("socket:\n  mode: 7777777777777777777777\n") ==
        "t.yaml:2: socket.mode: must be between 0 and 0777 (no setuid, setgid or sticky bits), got "
        "'7777777777777777777777'");
}

TEST_CASE("config: socket.path is absolute and fits a Unix socket address", "[config]") {
  const std::string longest = "/" + std::string(106, 'p');  // 107 bytes plus the NUL fill sun_path
  CHECK(parse_config("socket:\n  path: " + longest + "\n", "t.yaml").socket.path == longest);
  CHECK(error_of("socket:\n  path: " + longest + "p\n") ==
        "t.yaml:2: socket.path: is 108 bytes; a socket path must be shorter than 108");
  CHECK(error_of("socket:\n  path: run/vajra.sock\n") ==
        "t.yaml:2: socket.path: must be an absolute path, got 'run/vajra.sock'");
  CHECK(error_of("socket:\n  path: \"\"\n") == "t.yaml:2: socket.path: must be an absolute path, got ''");
  CHECK(error_of("socket:\n  path: \"/run/a\\0b\"\n") ==
        "t.yaml:2: socket.path: must not contain a NUL byte");
}

TEST_CASE("config: socket.group is an existing group or a gid", "[config]") {
  const group* root_group = getgrgid(0);
  REQUIRE(root_group != nullptr);
  const std::string root_name = root_group->gr_name;

  const Config by_name = parse_config("socket:\n  group: " + root_name + "\n", "t.yaml");
  CHECK(by_name.socket.group == root_name);
  CHECK(by_name.socket.group_gid == std::optional<uint32_t>(0));

  const Config by_gid = parse_config("socket:\n  group: 54321\n", "t.yaml");
  CHECK(by_gid.socket.group == "54321");
  CHECK(by_gid.socket.group_gid == std::optional<uint32_t>(54321));

  const Config empty = parse_config("socket:\n  group: ''\n", "t.yaml");
  CHECK(empty.socket.group.empty());
  CHECK_FALSE(empty.socket.group_gid.has_value());

  CHECK(error_of("socket:\n  group: vajra-no-such-group\n") ==
        "t.yaml:2: socket.group: no group named 'vajra-no-such-group' on this system");
  CHECK(error_of("socket:\n  group: 4294967295\n") ==
        "t.yaml:2: socket.group: must be between 0 and 4294967294, got 4294967295");
}

TEST_CASE("config: env_allow holds variable names", "[config]") {
  const std::string rule = " is not a variable name: use letters, digits and '_', not starting with a digit";
  CHECK(error_of("process:\n  env_allow:\n    - PATH\n    - FOO=bar\n") ==
        "t.yaml:4: process.env_allow[1]: 'FOO=bar'" + rule);
  CHECK(error_of("process:\n  env_allow: [1ABC]\n") == "t.yaml:2: process.env_allow[0]: '1ABC'" + rule);
  CHECK(error_of("process:\n  env_allow: ['']\n") == "t.yaml:2: process.env_allow[0]: ''" + rule);
  CHECK(error_of("process:\n  env_allow: [\"A B\"]\n") == "t.yaml:2: process.env_allow[0]: 'A B'" + rule);
}

TEST_CASE("config: scheduler.policy is batch or inherit", "[config]") {
  CHECK(parse_config("", "t.yaml").scheduler.policy == CpuPolicy::kBatch);
  CHECK(parse_config("scheduler:\n  policy: inherit\n", "t.yaml").scheduler.policy == CpuPolicy::kInherit);
  CHECK(parse_config("scheduler:\n  policy: batch\n", "t.yaml").scheduler.policy == CpuPolicy::kBatch);
  CHECK(error_of("log:\n  level: info\nscheduler:\n  policy: bacth\n") ==
        "t.yaml:4: scheduler.policy: expected one of batch, inherit, got 'bacth' (did you mean 'batch'?)");
  CHECK(error_of("scheduler:\n  policy: [batch]\n") ==
        "t.yaml:2: scheduler.policy: expected a string, got a list");
  CHECK(error_of("scheduler:\n  nice: 5\n") == "t.yaml:2: scheduler.nice: unknown key; known keys here: policy");
}

TEST_CASE("config: log.level is one of spdlog's names", "[config]") {
  for (const char* level : {"trace", "debug", "info", "warn", "warning", "err", "error", "critical", "off"}) {
    CHECK(parse_config(std::string("log:\n  level: ") + level + "\n", "t.yaml").log_level == level);
  }
  CHECK(error_of("log:\n  level: inof\n") ==
        "t.yaml:2: log.level: expected one of trace, debug, info, warn, error, critical, off, got 'inof' "
        "(did you mean 'info'?)");
  CHECK(error_of("log:\n  level: verbose\n") ==
        "t.yaml:2: log.level: expected one of trace, debug, info, warn, error, critical, off, got 'verbose'");
  CHECK(error_of("log:\n  level: INFO\n") ==
        "t.yaml:2: log.level: expected one of trace, debug, info, warn, error, critical, off, got 'INFO' "
        "(did you mean 'info'?)");
}

TEST_CASE("config: YAML syntax errors give their line", "[config]") {
  CHECK(error_of("socket:\n  path: /a\n   mode: 0660\n") == "t.yaml:3: invalid YAML: illegal map value");
  CHECK(error_of("events:\n  exec: true\nprocess:\n  env_allow: [A,\n\nlog:\n") ==
        "t.yaml:7: invalid YAML: end of sequence flow not found");
  CHECK(error_of("events:\n  exec: true\n  - fork\n") == "t.yaml:3: invalid YAML: end of map not found");
  CHECK(error_of("log: {level: info\n") == "t.yaml:2: invalid YAML: end of map flow not found");
}

TEST_CASE("config: one YAML document per file", "[config]") {
  CHECK(error_of("log:\n  level: info\n---\nlog:\n  level: debug\n") ==
        "t.yaml:3: a config file holds one YAML document, but a second starts here");
  CHECK(parse_config("---\nlog:\n  level: warn\n...\n", "t.yaml").log_level == "warn");
}

TEST_CASE("config: a stray comma is an error, not an empty config or a hang", "[config]") {
  // yaml-cpp 0.7 alone would return an empty document for these, or loop in LoadAll.
  CHECK(error_of(",\n") == "t.yaml:1: invalid YAML: unexpected ','");
  CHECK(error_of("\n# comment\n  ,# x\n") == "t.yaml:3: invalid YAML: unexpected ','");
  CHECK(error_of("log:\n  level: info\n---\n,\n") ==
        "t.yaml:3: a config file holds one YAML document, but a second starts here");
}

TEST_CASE("config: deeply nested junk is an error, not a crash", "[config]") {
  const std::string deep = "log: " + std::string(20000, '[') + "\n";
  CHECK_THROWS_AS(parse_config(deep, "t.yaml"), ConfigError);
}

TEST_CASE("config: an unnamed source still gives a place", "[config]") {
  try {
    parse_config("bogus: 1\n", "");
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) ==
          "<config text>:1: bogus: unknown key; known keys here: socket, events, process, "
          "hash, buffers, network, files, bridge, scheduler, log");
  }
}

TEST_CASE("config: files", "[config]") {
  TempDir dir;

  SECTION("a file is read, and named in its errors") {
    const std::string path = dir.write("events:\n  threads: true\n");
    const Config config = load_config_file(path);
    CHECK(config.events.threads);
    CHECK(config.source == path);

    dir.write("events:\n  threads: maybe\n");
    REQUIRE_THROWS_WITH(load_config_file(path),
                        path + ":2: events.threads: expected true or false, got 'maybe'");
  }

  SECTION("a missing file names the path and the errno text") {
    const std::string path = dir.path + "/absent.yaml";
    REQUIRE_THROWS_WITH(load_config_file(path),
                        "cannot open config file " + path + ": No such file or directory");
  }

  SECTION("a directory is not a config file") {
    REQUIRE_THROWS_WITH(load_config_file(dir.path),
                        "cannot read config file " + dir.path + ": Is a directory");
  }

  SECTION("an endless file is refused, not read to the end") {
    REQUIRE_THROWS_WITH(load_config_file("/dev/zero"),
                        "config file /dev/zero is larger than 1 MiB; is it the right file?");
  }
}

TEST_CASE("config: the ring buffer must hold several of the largest exec records") {
  CHECK_NOTHROW(parse_config("process:\n  env_max_bytes: 0\n  argv_max_bytes: 4096\nbuffers:\n  ring_buffer_bytes: 65536\n",
                             "t.yaml"));
  try {
    parse_config("buffers:\n  pipeline_queue: 64\n  ring_buffer_bytes: 262144\n", "t.yaml");
    FAIL("a ring too small for the default argv cap was accepted");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Catch::StartsWith("t.yaml:3: buffers.ring_buffer_bytes: 262144 bytes cannot hold 4 exec records"));
  }
  // The default ring holds the largest argv and environment caps.
  CHECK_NOTHROW(parse_config("process:\n  argv_max_bytes: 131072\n  env_max_bytes: 32768\n", "t.yaml"));
}

TEST_CASE("config: the bridge section", "[config]") {
  const Config config = parse_config(
      "bridge:\n  daemon_socket: /run/x.sock\n  user: daemon\n  table_names: vajra\n"
      "  retention_seconds: 600\n  max_rows: 5000\n  max_batch_delay_ms: 0\n",
      "t.yaml");
  CHECK(config.bridge.daemon_socket == "/run/x.sock");
  CHECK(config.bridge.user == "daemon");
  CHECK(config.bridge.table_names == "vajra");
  CHECK(config.bridge.retention_seconds == 600);
  CHECK(config.bridge.max_rows == 5000);
  CHECK(config.bridge.max_batch_delay_ms == 0);
  CHECK(error_of("bridge:\n  max_batch_delay_ms: 1001\n") ==
        "t.yaml:2: bridge.max_batch_delay_ms: must be between 0 and 1000, got 1001");
  CHECK(error_of("bridge:\n  table_names: osquery\n") ==
        "t.yaml:2: bridge.table_names: expected auto, bpf or vajra, got 'osquery'");
  CHECK_THAT(error_of("\nbridge:\n  retention_seconds: 5\n"), Catch::StartsWith("t.yaml:3: bridge.retention_seconds:"));
  CHECK_THAT(error_of("bridge:\n  daemon_socket: relative.sock\n"), Catch::StartsWith("t.yaml:2: bridge.daemon_socket:"));
}
