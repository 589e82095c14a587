#include "harness.h"

#include "proc_reader.h"

#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <linux/bpf.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>
#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

extern char** environ;

namespace vt {
namespace {

std::atomic<int> g_failures{0};

std::string errno_text(int err) { return std::string(std::strerror(err)); }

uint64_t clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// The kernel-test preconditions; "" when all hold.
std::string kernel_unavailable_reason() {
  if (geteuid() != 0) return "not running as root (vajrad must load BPF programs)";
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) return "no kernel BTF at /sys/kernel/btf/vmlinux";
  bpf_attr attr{};
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = 4;
  attr.max_entries = 1;
  const long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
  if (fd < 0) return "bpf(BPF_MAP_CREATE) failed: " + errno_text(errno);
  close(static_cast<int>(fd));
  // Tracepoints are attached through tracefs; mount it where the host has not (like kernel-setup.sh).
  if (access("/sys/kernel/tracing/events", F_OK) != 0) {
    mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr);
  }
  return "";
}

// Merges `over` into `base`, mapping by mapping; anything else in `over` replaces.
YAML::Node merge(YAML::Node base, const YAML::Node& over) {
  if (!over.IsMap() || !base.IsMap()) return over;
  for (const auto& pair : over) {
    const std::string key = pair.first.Scalar();
    if (base[key] && base[key].IsMap() && pair.second.IsMap()) {
      base[key] = merge(base[key], pair.second);
    } else {
      base[key] = pair.second;
    }
  }
  return base;
}

void make_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) FAIL("pipe2: " << errno_text(errno));
}

std::string kind_name(vajra::v1::EventKind kind) {
  std::string name = vajra::v1::EventKind_Name(kind);
  const std::string prefix = "EVENT_KIND_";
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

int current_test_failures() { return g_failures.load(); }
void note_assertion_failed() { g_failures.fetch_add(1); }
void reset_test_failures() { g_failures.store(0); }

bool require_kernel() {
  static const std::string reason = kernel_unavailable_reason();
  if (reason.empty()) return true;
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") {
    FAIL("real-kernel test cannot run and CI=true forbids skipping: " << reason);
  }
  WARN("skipping real-kernel test: " << reason);
  return false;
}

std::string helper_path() { return realpath_of(TEST_HELPER_PATH); }
std::string vajrad_path() { return realpath_of(VAJRAD_PATH); }
std::string vajractl_path() { return realpath_of(VAJRACTL_PATH); }
std::string self_exe() { return realpath_of("/proc/self/exe"); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string realpath_of(const std::string& path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) return path;
  return resolved;
}

std::vector<std::string> proc_cmdline(pid_t pid) {
  const std::string block = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> args;
  size_t start = 0;
  while (start < block.size()) {
    size_t end = block.find('\0', start);
    if (end == std::string::npos) end = block.size();
    args.push_back(block.substr(start, end - start));
    start = end + 1;
  }
  return args;
}

uint32_t ns_inode(pid_t pid, const std::string& ns) {
  struct stat st {};
  const std::string path = "/proc/" + std::to_string(pid) + "/ns/" + ns;
  if (stat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint32_t>(st.st_ino);
}

std::string cgroup2_mount() { return vajra::find_cgroup2_mount(); }

std::string cgroup2_path(pid_t pid) {
  std::istringstream lines(read_file("/proc/" + std::to_string(pid) + "/cgroup"));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "";
}

uint64_t inode_of(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_ino;
}

std::string sha256_file(const std::string& path) {
  const std::string data = read_file(path);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

uint64_t wall_ns() { return clock_ns(CLOCK_REALTIME); }
uint64_t boot_ns() { return clock_ns(CLOCK_BOOTTIME); }

uint64_t proc_start_wall_ns(pid_t pid) {
  const std::string stat_text = read_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat_text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat_text.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) fields.push_back(field);
  if (fields.size() < 20) return 0;
  const uint64_t ticks = std::stoull(fields[19]);
  const uint64_t hz = static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  return ticks * (1000000000ull / hz) + (wall_ns() - boot_ns());
}

uint32_t proc_ppid(pid_t pid) {
  const std::string stat_text = read_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat_text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat_text.substr(close + 2));
  std::string state;
  uint32_t ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

uint32_t read_u32_file(const std::string& path) {
  return static_cast<uint32_t>(std::strtoul(read_file(path).c_str(), nullptr, 10));
}

uint32_t kernel_dev(uint64_t st_dev) {
  return (static_cast<uint32_t>(major(st_dev)) << 20) | (static_cast<uint32_t>(minor(st_dev)) & 0xfffff);
}

std::string random_hex(size_t digits) {
  static std::mt19937_64 generator{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < digits; ++i) out += hex[generator() & 15];
  return out;
}

std::string harmless_preload_library() {
  struct Found {
    std::string libm, libc;
  } found;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        auto* f = static_cast<Found*>(data);
        const std::string name = info->dlpi_name ? info->dlpi_name : "";
        if (name.find("/libm.so") != std::string::npos && f->libm.empty()) f->libm = name;
        if (name.find("/libc.so") != std::string::npos && f->libc.empty()) f->libc = name;
        return 0;
      },
      &found);
  return !found.libm.empty() ? found.libm : found.libc;
}

std::string expected_tty() {
  const std::string stat_text = read_file("/proc/self/stat");
  const size_t close = stat_text.rfind(')');
  std::istringstream rest(stat_text.substr(close + 2));
  std::string state, ppid, pgrp, session;
  uint64_t tty_nr = 0;
  rest >> state >> ppid >> pgrp >> session >> tty_nr;
  if (tty_nr == 0) return "";
  // tty_nr encodes major in bits 8-15 and minor in bits 0-7 and 20-31.
  const uint64_t major_nr = (tty_nr >> 8) & 0xfff;
  const uint64_t minor_nr = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
  if (major_nr >= 136 && major_nr <= 143) return "pts/" + std::to_string((major_nr - 136) * 256 + minor_nr);
  return "*";
}

// ---------------------------------------------------------------------------------------------

void check_namespaces(const vajra::v1::Namespaces& ns, pid_t reference) {
  INFO("namespaces of pid " << reference);
  CHECK(ns.pid() == ns_inode(reference, "pid"));
  CHECK(ns.mnt() == ns_inode(reference, "mnt"));
  CHECK(ns.net() == ns_inode(reference, "net"));
  CHECK(ns.user() == ns_inode(reference, "user"));
  CHECK(ns.uts() == ns_inode(reference, "uts"));
  CHECK(ns.ipc() == ns_inode(reference, "ipc"));
  CHECK(ns.cgroup() == ns_inode(reference, "cgroup"));
}

void check_host_cgroup(const vajra::v1::Process& p, pid_t reference) {
  const std::string path = cgroup2_path(reference);
  const std::string mount = cgroup2_mount();
  REQUIRE(!mount.empty());
  CHECK(p.cgroup_path() == path);
  CHECK(p.cgroup_id() == inode_of(mount + path));
  CHECK(p.container().runtime() == vajra::v1::CONTAINER_RUNTIME_UNSPECIFIED);
  CHECK(p.container().id() == "");
  CHECK(p.container().pod_uid() == "");
}

void check_ancestor_argv(const vajra::v1::Ancestor& got, const std::vector<std::string>& argv, size_t max_bytes) {
  auto block_of = [](const auto& args) {
    std::string block;
    for (const std::string& arg : args) block.append(arg).push_back('\0');
    return block;
  };
  const std::string want = block_of(argv), kept = block_of(got.argv());
  INFO("argv of " << want.size() << " bytes against a limit of " << max_bytes << "; kept " << kept.size());
  if (want.size() <= max_bytes) {
    CHECK_FALSE(got.argv_truncated());
    CHECK(kept == want);
    return;
  }
  CHECK(got.argv_truncated());
  CHECK(kept.size() <= max_bytes);
  CHECK(kept.size() + 4 >= max_bytes);
  // The last argument kept may be cut: all but its NUL is a prefix of the full block.
  const size_t stem = kept.empty() ? 0 : kept.size() - 1;
  CHECK(want.compare(0, stem, kept, 0, stem) == 0);
}

void check_ancestry_from_proc(const vajra::v1::Process& p, size_t offset, pid_t first, uint32_t depth,
                              size_t argv_max_bytes, size_t argv_depth) {
  struct Expected {
    uint32_t pid;
    std::string exe;
    std::vector<std::string> argv;
    uint64_t start_ns;
  };
  std::vector<Expected> chain;
  uint32_t pid = static_cast<uint32_t>(first);
  while (pid != 0 && offset + chain.size() < depth) {
    const std::string dir = "/proc/" + std::to_string(pid);
    char link[PATH_MAX];
    const ssize_t n = readlink((dir + "/exe").c_str(), link, sizeof(link));
    std::string exe = n > 0 ? std::string(link, static_cast<size_t>(n)) : "";
    const std::string deleted = " (deleted)";
    if (exe.size() > deleted.size() && exe.compare(exe.size() - deleted.size(), deleted.size(), deleted) == 0)
      exe.resize(exe.size() - deleted.size());
    chain.push_back({pid, exe, proc_cmdline(static_cast<pid_t>(pid)), proc_start_wall_ns(static_cast<pid_t>(pid))});
    pid = proc_ppid(static_cast<pid_t>(pid));
  }
  const bool truncated = pid != 0;

  INFO("ancestry of pid " << p.pid() << " from index " << offset << ": " << to_json(p));
  REQUIRE(static_cast<size_t>(p.ancestry_size()) == offset + chain.size());
  CHECK(p.ancestry_truncated() == truncated);
  for (size_t i = 0; i < chain.size(); ++i) {
    const auto& got = p.ancestry(static_cast<int>(offset + i));
    const auto& want = chain[i];
    INFO("ancestor " << offset + i << " (pid " << want.pid << ")");
    CHECK(got.pid() == want.pid);
    CHECK(got.exe() == want.exe);
    if (offset + i < argv_depth) {
      check_ancestor_argv(got, want.argv, argv_max_bytes);
    } else {
      CHECK(got.argv_size() == 0);
      CHECK(got.argv_truncated() == !want.argv.empty());
    }
    // /proc gives the start in clock ticks (10 ms): the daemon seeded it the same way.
    const uint64_t diff = got.start_time_ns() > want.start_ns ? got.start_time_ns() - want.start_ns
                                                              : want.start_ns - got.start_time_ns();
    CHECK(diff <= 1000000000ull);
  }
}

// ---------------------------------------------------------------------------------------------

TempDir::TempDir(const std::string& tag) {
  std::string pattern = "/tmp/" + tag + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) FAIL("mkdtemp: " << errno_text(errno));
  path_ = realpath_of(pattern);
}

TempDir::~TempDir() {
  if (std::getenv("VAJRA_TEST_KEEP") != nullptr) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void TempDir::write(const std::string& name, const std::string& text) const {
  std::ofstream out(file(name), std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) FAIL("cannot write " << file(name));
}

// ---------------------------------------------------------------------------------------------

pid_t spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  REQUIRE(!argv.empty());
  // Everything the child needs is built before fork: it may only make async-signal-safe calls.
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  char** envp = environ;
  if (options.replace_env) {
    for (const auto& var : options.env) env.push_back(const_cast<char*>(var.c_str()));
    env.push_back(nullptr);
    envp = env.data();
  }
  const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();

  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(devnull);
    FAIL("fork: " << errno_text(err));
  }
  if (pid == 0) {
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    const int in = options.stdin_fd >= 0 ? options.stdin_fd : devnull;
    if (dup2(in, 0) < 0) _exit(126);
    if (options.stdout_fd >= 0 && dup2(options.stdout_fd, 1) < 0) _exit(126);
    if (options.stderr_fd >= 0 && dup2(options.stderr_fd, 2) < 0) _exit(126);
    if (cwd != nullptr && chdir(cwd) != 0) _exit(126);
    execve(args[0], args.data(), envp);
    _exit(127);
  }
  close(devnull);
  return pid;
}

int wait_status(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

bool RunResult::exited() const { return status >= 0 && WIFEXITED(status); }
int RunResult::exit_code() const { return exited() ? WEXITSTATUS(status) : -1; }

RunResult run(const std::vector<std::string>& argv, const SpawnOptions& base, const std::string& input) {
  int out[2], err[2], in[2] = {-1, -1};
  make_pipe(out);
  make_pipe(err);
  if (!input.empty()) make_pipe(in);
  SpawnOptions options = base;
  options.stdout_fd = out[1];
  options.stderr_fd = err[1];
  if (in[0] >= 0) options.stdin_fd = in[0];
  const pid_t pid = spawn(argv, options);
  close(out[1]);
  close(err[1]);
  if (in[0] >= 0) {
    close(in[0]);
    signal(SIGPIPE, SIG_IGN);
    if (write(in[1], input.data(), input.size()) < 0) {
    }
    close(in[1]);
  }
  RunResult result;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buffer[65536];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  result.pid = pid;
  result.status = wait_status(pid);
  return result;
}

Child::Child(const std::vector<std::string>& argv, SpawnOptions options) {
  int in[2], out[2];
  make_pipe(in);
  make_pipe(out);
  options.stdin_fd = in[0];
  options.stdout_fd = out[1];
  pid_ = spawn(argv, options);
  close(in[0]);
  close(out[1]);
  in_ = in[1];
  out_ = out[0];
}

Child::~Child() {
  if (in_ >= 0) close(in_);
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    wait_status(pid_);
  }
  if (out_ >= 0) close(out_);
}

void Child::release() {
  signal(SIGPIPE, SIG_IGN);
  const char byte = '\n';
  if (write(in_, &byte, 1) != 1) FAIL("writing to child " << pid_ << "'s stdin: " << errno_text(errno));
}

void Child::close_stdin() {
  if (in_ >= 0) close(in_);
  in_ = -1;
}

std::string Child::read_line() {
  while (true) {
    const size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    char chunk[4096];
    const ssize_t n = read(out_, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string rest;
      rest.swap(buffer_);
      return rest;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

int Child::wait() {
  if (!reaped_) {
    status_ = wait_status(pid_);
    reaped_ = true;
  }
  return status_;
}

// ---------------------------------------------------------------------------------------------

std::string find_program(const std::string& name) {
  for (const char* dir : {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
    const std::string path = std::string(dir) + "/" + name;
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

bool require_runc() {
  if (!find_program("runc").empty() && !find_program("busybox").empty()) return true;
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") FAIL("runc and busybox-static are needed (scripts/install-deps.sh)");
  WARN("skipping: runc or busybox not installed");
  return false;
}

RuncContainer::RuncContainer(const std::vector<std::string>& args)
    : bundle_("vajra-bundle"),
      runc_(find_program("runc")),
      id_(random_hex(64)),
      name_("vajra-test-" + random_hex(12)),
      cgroup_("/system.slice/docker-" + id_ + ".scope") {
  namespace fs = std::filesystem;
  fs::create_directories(bundle_.file("rootfs/bin"));
  fs::copy_file(find_program("busybox"), bundle_.file("rootfs/bin/busybox"));
  fs::permissions(bundle_.file("rootfs/bin/busybox"), fs::perms(0755));
  fs::create_symlink("busybox", bundle_.file("rootfs/bin/sh"));
  SpawnOptions in_bundle;
  in_bundle.cwd = bundle_.path();
  const RunResult spec = run({runc_, "spec"}, in_bundle);
  REQUIRE(spec.exit_code() == 0);
  nlohmann::json config = nlohmann::json::parse(read_file(bundle_.file("config.json")));
  config["process"]["terminal"] = false;
  config["process"]["args"] = args;
  config["linux"]["cgroupsPath"] = cgroup_;
  std::ofstream(bundle_.file("config.json")) << config.dump(2);
}

RuncContainer::~RuncContainer() { run({runc_, "delete", "-f", name_}); }

std::vector<std::string> RuncContainer::run_argv() const { return {runc_, "run", "--bundle", bundle_.path(), name_}; }

// ---------------------------------------------------------------------------------------------

Daemon::Daemon(const std::string& overrides) {
  char pattern[] = "/tmp/vajrad-test-XXXXXX";
  if (mkdtemp(pattern) == nullptr) FAIL("mkdtemp: " << errno_text(errno));
  dir_ = realpath_of(pattern);
  chmod(dir_.c_str(), 0755);  // lets a test reach the socket as another user when its mode allows
  config_ = dir_ + "/vajra.yaml";
  socket_ = dir_ + "/vajra.sock";
  log_path_ = dir_ + "/vajrad.log";

  YAML::Node config = YAML::Load("hash:\n  max_wait_ms: 10000\nlog:\n  level: info\n");
  if (!overrides.empty()) config = merge(config, YAML::Load(overrides));
  YAML::Emitter emitter;
  emitter << config;
  {
    std::ofstream out(config_);
    out << emitter.c_str() << "\n";
  }

  const int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) FAIL("cannot create " << log_path_ << ": " << errno_text(errno));
  SpawnOptions options;
  options.stdout_fd = log_fd;
  options.stderr_fd = log_fd;
  pid_ = spawn({vajrad_path(), "--config", config_, "--socket", socket_}, options);
  close(log_fd);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::string last_error = "socket not created";
  while (true) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      const std::string text = log();
      std::error_code ignored;
      if (std::getenv("VAJRA_TEST_KEEP") == nullptr) std::filesystem::remove_all(dir_, ignored);
      FAIL("vajrad exited during start-up ("
           << (WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                 : "signal " + std::to_string(WTERMSIG(status)))
           << ")\nconfig:\n"
           << emitter.c_str() << "\nlog:\n"
           << text);
    }
    struct stat st {};
    if (stat(socket_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      if (!channel_) {
        grpc::ChannelArguments args;
        args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
        args.SetMaxReceiveMessageSize(-1);
        channel_ = grpc::CreateCustomChannel("unix:" + socket_, grpc::InsecureChannelCredentials(), args);
        stub_ = vajra::v1::Sensor::NewStub(channel_);
      }
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      vajra::v1::StatusRequest request;
      vajra::v1::StatusResponse response;
      const grpc::Status s = stub_->Status(&context, request, &response);
      if (s.ok()) break;
      last_error = "Status: " + s.error_message();
    }
    if (std::chrono::steady_clock::now() > deadline) {
      const std::string text = log();
      stop();
      std::error_code ignored;
      if (std::getenv("VAJRA_TEST_KEEP") == nullptr) std::filesystem::remove_all(dir_, ignored);
      FAIL("vajrad did not serve on " << socket_ << " within 20 s (" << last_error << ")\nlog:\n" << text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void Daemon::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  const auto sent = std::chrono::steady_clock::now();
  // VAJRA_TEST_STOP_TIMEOUT_S lengthens the wait, to measure a slow shutdown instead of cutting it.
  const char* stop_timeout = std::getenv("VAJRA_TEST_STOP_TIMEOUT_S");
  const auto deadline = sent + std::chrono::seconds(stop_timeout ? std::atoi(stop_timeout) : 10);
  int status = 0;
  bool killed = false;
  while (waitpid(pid_, &status, WNOHANG) != pid_) {
    if (!killed && std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent);
  if (std::uncaught_exceptions() == 0) {
    INFO("vajrad took " << took.count() << " ms to exit after SIGTERM"
                        << (killed ? " (it did not exit in time and was sent SIGKILL)" : ""));
    CHECK_FALSE(killed);  // SIGTERM must stop it: a generous 10 s for what takes well under 1 s
    CHECK(WIFEXITED(status));
    if (WIFEXITED(status)) CHECK(WEXITSTATUS(status) == 0);
  }
}

Daemon::~Daemon() {
  stub_.reset();
  channel_.reset();
  stop();
  if (current_test_failures() > 0) WARN("vajrad log (" << log_path_ << "):\n" << log());
  if (std::getenv("VAJRA_TEST_KEEP") == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string Daemon::log() const {
  std::string text = read_file(log_path_);
  constexpr size_t kMax = 60000;
  if (text.size() > kMax) text = "[... " + std::to_string(text.size() - kMax) + " bytes cut ...]\n" + text.substr(text.size() - kMax);
  return text;
}

std::shared_ptr<grpc::Channel> Daemon::new_channel(const grpc::ChannelArguments& base) const {
  grpc::ChannelArguments args = base;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(-1);
  return grpc::CreateCustomChannel("unix:" + socket_, grpc::InsecureChannelCredentials(), args);
}

vajra::v1::StatusResponse Daemon::status() {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kWait);
  vajra::v1::StatusRequest request;
  vajra::v1::StatusResponse response;
  const grpc::Status s = stub_->Status(&context, request, &response);
  if (!s.ok()) FAIL("Status failed: " << s.error_code() << " " << s.error_message());
  return response;
}

// ---------------------------------------------------------------------------------------------

std::string to_json(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

std::string describe(const Event& e) {
  std::ostringstream out;
  out << "#" << e.seq() << " " << kind_name(e.kind());
  if (e.kind() == vajra::v1::EVENT_KIND_LOSS) {
    out << " place=" << vajra::v1::LossPlace_Name(e.loss().place()) << " count=" << e.loss().count()
        << " kind=" << kind_name(e.loss().kind());
    return out.str();
  }
  const auto& p = e.process();
  out << " pid=" << p.pid() << " tid=" << p.tid() << " ppid=" << p.ppid() << " exe=" << p.exe() << " argv=[";
  for (int i = 0; i < p.argv_size() && i < 4; ++i) out << (i ? " " : "") << p.argv(i).substr(0, 40);
  if (p.argv_size() > 4) out << " ...(" << p.argv_size() << ")";
  out << "]";
  if (e.has_fork()) out << " child=" << e.fork().child_pid() << (e.fork().thread() ? " thread" : "");
  if (e.has_exit())
    out << " code=" << e.exit().exit_code() << " sig=" << e.exit().signal() << (e.exit().thread() ? " thread" : "");
  if (e.has_exec_failed()) out << " path=" << e.exec_failed().path() << " " << e.exec_failed().error();
  return out.str();
}

EventStream::EventStream(Daemon& daemon, vajra::v1::SubscribeRequest request, bool paused,
                         std::shared_ptr<grpc::Channel> channel)
    : daemon_(daemon), request_(std::move(request)), paused_(paused) {
  if (!channel && paused) {
    // A stream that is not read must not stall anyone else's: own connection, small windows, so the
    // daemon's writes block (and its queue for this subscriber fills) soon.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16384);
    channel = daemon.new_channel(args);
  }
  channel_ = channel ? channel : daemon.channel();
  stub_ = vajra::v1::Sensor::NewStub(channel_);

  std::set<uint64_t> before;
  const vajra::v1::StatusResponse initial = daemon.status();
  for (const auto& s : initial.subscribers()) before.insert(s.id());
  thread_ = std::thread(&EventStream::reader, this);

  // No assertion may throw while the reader thread runs unjoined: find the problem, clean up, then FAIL.
  std::string problem;
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (subscriber_id_ == 0 && problem.empty()) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kWait);
    vajra::v1::StatusResponse status;
    const grpc::Status s = daemon.stub().Status(&context, vajra::v1::StatusRequest(), &status);
    if (!s.ok()) {
      problem = "Status failed while waiting for the subscription: " + s.error_message();
      break;
    }
    for (const auto& subscriber : status.subscribers()) {
      if (before.count(subscriber.id()) == 0 && subscriber.peer_pid() == static_cast<uint32_t>(getpid())) {
        subscriber_id_ = subscriber.id();
        break;
      }
    }
    if (subscriber_id_ != 0) break;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ended_) problem = "subscription ended before it was live: " + end_status_;
    }
    if (std::chrono::steady_clock::now() > deadline) problem = "subscription not listed in Status within the wait";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!problem.empty()) {
    context_.TryCancel();
    {
      std::lock_guard<std::mutex> lock(mu_);
      paused_ = false;
    }
    cv_.notify_all();
    thread_.join();
    FAIL(problem);
  }
}

EventStream::~EventStream() {
  context_.TryCancel();
  {
    std::lock_guard<std::mutex> lock(mu_);
    paused_ = false;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EventStream::resume() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    paused_ = false;
  }
  cv_.notify_all();
}

void EventStream::reader() {
  std::unique_ptr<grpc::ClientReader<Event>> reader = stub_->Subscribe(&context_, request_);
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return !paused_; });
  }
  Event event;
  while (reader->Read(&event)) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(event);
    cv_.notify_all();
  }
  const grpc::Status status = reader->Finish();
  std::lock_guard<std::mutex> lock(mu_);
  ended_ = true;
  end_status_ = "code " + std::to_string(status.error_code()) + ": " + status.error_message();
  cv_.notify_all();
}

std::vector<Event> EventStream::wait_count(const Predicate& predicate, size_t n, const std::string& what,
                                           std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(mu_);
  size_t scanned = 0;
  std::vector<Event> found;
  while (true) {
    for (; scanned < events_.size(); ++scanned) {
      if (predicate(events_[scanned])) found.push_back(events_[scanned]);
    }
    if (found.size() >= n) return found;
    if (ended_) break;
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      for (; scanned < events_.size(); ++scanned) {
        if (predicate(events_[scanned])) found.push_back(events_[scanned]);
      }
      if (found.size() >= n) return found;
      break;
    }
  }
  lock.unlock();
  FAIL("waited for " << n << " x " << what << ", saw " << found.size() << "\n" << summary());
  return found;
}

Event EventStream::wait_for(const Predicate& predicate, const std::string& what, std::chrono::milliseconds timeout) {
  return wait_count(predicate, 1, what, timeout).front();
}

std::vector<Event> EventStream::matching(const Predicate& predicate) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Event> found;
  for (const auto& e : events_) {
    if (predicate(e)) found.push_back(e);
  }
  return found;
}

size_t EventStream::count(const Predicate& predicate) const { return matching(predicate).size(); }

std::vector<Event> EventStream::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

bool EventStream::ended() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ended_;
}

std::string EventStream::summary() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, size_t> per_kind;
  for (const auto& e : events_) ++per_kind[kind_name(e.kind())];
  std::ostringstream out;
  out << "stream (subscriber " << subscriber_id_ << ", filter " << to_json(request_) << ") saw " << events_.size()
      << " events:";
  for (const auto& [kind, n] : per_kind) out << " " << kind << "=" << n;
  if (ended_) out << "; stream ended (" << end_status_ << ")";
  out << "\nlast events:\n";
  const size_t first = events_.size() > 40 ? events_.size() - 40 : 0;
  for (size_t i = first; i < events_.size(); ++i) out << "  " << describe(events_[i]) << "\n";
  return out.str();
}

Predicate kind_is(vajra::v1::EventKind kind) {
  return [kind](const Event& e) { return e.kind() == kind; };
}

Predicate pid_is(uint32_t pid) {
  return [pid](const Event& e) { return e.has_process() && e.process().pid() == pid; };
}

Predicate all_of(std::vector<Predicate> predicates) {
  return [predicates = std::move(predicates)](const Event& e) {
    for (const auto& p : predicates) {
      if (!p(e)) return false;
    }
    return true;
  };
}

void barrier(EventStream& stream) {
  const pid_t pid = spawn({helper_path(), "exit", "0", "vajra-barrier"});
  wait_status(pid);
  // Its exit is the last event it causes; when the filter takes no exits, its exec has to do.
  const auto& kinds = stream.request().kinds();
  const bool exits = kinds.empty() || std::find(kinds.begin(), kinds.end(), vajra::v1::EVENT_KIND_EXIT) != kinds.end();
  const Predicate last = exits ? all_of({kind_is(vajra::v1::EVENT_KIND_EXIT), pid_is(static_cast<uint32_t>(pid))})
                               : pid_is(static_cast<uint32_t>(pid));
  stream.wait_for(last, "barrier helper (pid " + std::to_string(pid) + ")");
}

}  // namespace vt
