#include "net_support.h"

#include <unistd.h>

#include <sstream>

#include <catch2/catch.hpp>

namespace vt {

using namespace vajra::v1;

std::map<std::string, std::string> key_values(const std::string& line) {
  std::map<std::string, std::string> values;
  std::istringstream words(line);
  for (std::string word; words >> word;) {
    const size_t equals = word.find('=');
    if (equals == std::string::npos) FAIL("helper output '" << line << "': '" << word << "' is not key=value");
    values[word.substr(0, equals)] = word.substr(equals + 1);
  }
  return values;
}

long long number_of(const std::map<std::string, std::string>& values, const std::string& key) {
  const auto found = values.find(key);
  if (found == values.end()) FAIL("helper output lacks " << key);
  return std::stoll(found->second);
}

HelperRun run_helper(const std::vector<std::string>& args) {
  HelperRun run;
  run.argv = {helper_path()};
  run.argv.insert(run.argv.end(), args.begin(), args.end());
  run.boot_before = boot_ns();
  run.result = vt::run(run.argv);
  return run;
}

Predicate socket_of(pid_t pid, SocketOperation op, std::optional<SocketStatus> status, std::optional<int> fd) {
  return [=](const Event& e) {
    return e.kind() == EVENT_KIND_SOCKET && e.process().pid() == static_cast<uint32_t>(pid) &&
           e.socket().operation() == op && (!status || e.socket().status() == *status) &&
           (!fd || e.socket().fd() == *fd);
  };
}

Event wait_close(EventStream& stream, pid_t pid, int fd, const std::string& what) {
  return stream.wait_for(socket_of(pid, SOCKET_OPERATION_CLOSE, std::nullopt, fd), what);
}

namespace {

void check_end(const char* which, bool present, const SocketAddress& actual, const std::optional<End>& expected) {
  INFO(which << " end");
  REQUIRE(present == expected.has_value());
  if (!expected) return;
  CHECK(actual.address() == expected->address);
  CHECK(actual.port() == expected->port);
  CHECK(actual.abstract() == expected->abstract);
}

}  // namespace

SocketExpect socket_expect(SocketOperation op, const std::string& syscall, SocketFamily family, SocketType type,
                           int fd, uint64_t inode) {
  SocketExpect x;
  x.operation = op;
  x.syscall = syscall;
  x.family = family;
  x.type = type;
  x.fd = fd;
  x.net_ns = ns_inode(getpid(), "net");
  x.socket_inode = inode;
  return x;
}

void check_socket(const Event& event, const SocketExpect& x) {
  INFO("socket event: " << to_json(event));
  REQUIRE(event.kind() == EVENT_KIND_SOCKET);
  REQUIRE(event.body_case() == Event::kSocket);
  const SocketEvent& s = event.socket();
  CHECK(s.operation() == x.operation);
  CHECK(s.status() == x.status);
  CHECK(s.errno_value() == x.errno_value);
  CHECK(s.error() == x.error);
  CHECK(s.syscall() == x.syscall);
  CHECK(s.family() == x.family);
  CHECK(s.type() == x.type);
  CHECK(s.protocol() == x.protocol);
  CHECK(s.protocol_name() == x.protocol_name);
  check_end("local", s.has_local(), s.local(), x.local);
  check_end("remote", s.has_remote(), s.remote(), x.remote);
  CHECK(s.fd() == x.fd);
  CHECK(s.backlog() == x.backlog);
  CHECK(s.net_ns() == x.net_ns);
  CHECK(s.socket_inode() == x.socket_inode);
  if (x.has_duration) {
    CHECK(s.duration_ns() > 0);
  } else {
    CHECK(s.duration_ns() == 0);
  }
  CHECK(s.has_bytes_sent() == x.bytes_sent.has_value());
  if (x.bytes_sent) CHECK(s.bytes_sent() == *x.bytes_sent);
  CHECK(s.has_bytes_received() == x.bytes_received.has_value());
  if (x.bytes_received) CHECK(s.bytes_received() == *x.bytes_received);
  CHECK(s.follow_up() == x.follow_up);
}

void check_helper_process(const Event& e, pid_t pid, const std::vector<std::string>& argv, uint64_t boot_before) {
  INFO("event: " << to_json(e));
  const std::string helper = helper_path();
  const Process& p = e.process();
  CHECK(p.pid() == static_cast<uint32_t>(pid));
  CHECK(p.tid() == static_cast<uint32_t>(pid));
  CHECK(p.ppid() == static_cast<uint32_t>(getpid()));
  CHECK(p.ns_pid() == static_cast<uint32_t>(pid));
  CHECK(p.uid() == getuid());
  CHECK(p.euid() == geteuid());
  CHECK(p.gid() == getgid());
  CHECK(p.egid() == getegid());
  CHECK(p.auid() == read_u32_file("/proc/self/loginuid"));
  CHECK(p.session_id() == read_u32_file("/proc/self/sessionid"));
  CHECK(p.comm() == helper.substr(helper.rfind('/') + 1).substr(0, 15));
  CHECK(p.exe() == helper);
  CHECK(std::vector<std::string>(p.argv().begin(), p.argv().end()) == argv);
  CHECK(p.cwd() == realpath_of("."));
  check_namespaces(p.namespaces(), getpid());
  check_host_cgroup(p, getpid());
  CHECK(p.exe_hash_status() == HASH_STATUS_OK);
  CHECK(p.exe_sha256() == sha256_file(helper));
  CHECK(p.notes_size() == 0);
  CHECK(e.ktime_ns() >= boot_before);
  CHECK(e.ktime_ns() <= boot_ns());
  CHECK(p.start_time_ns() <= e.time_ns());
  REQUIRE(p.ancestry_size() >= 1);
  CHECK(p.ancestry(0).pid() == static_cast<uint32_t>(getpid()));
  CHECK(p.ancestry(0).exe() == self_exe());
}

void check_helper_process(const Event& event, const HelperRun& run) {
  check_helper_process(event, run.pid(), run.argv, run.boot_before);
}

}  // namespace vt
