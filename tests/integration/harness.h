// Harness for the real-kernel tests: starts vajrad on a private socket, subscribes to its event
// stream, spawns the processes the tests observe, and reads the facts the events must agree with.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "vajra/v1/vajra.grpc.pb.h"
#include "vajra/v1/vajra.pb.h"

namespace vt {

using vajra::v1::Event;
using Predicate = std::function<bool(const Event&)>;

constexpr std::chrono::seconds kWait{30};  // generous: waiting only, never a performance bound

// ---------------------------------------------------------------------------------------------
// Preconditions

// True when this process can run vajrad (root, BTF, bpf()). Otherwise: with CI=true the test FAILs
// with the reason; without, it WARNs and the test should return at once (Catch2 v2 has no SKIP).
bool require_kernel();
#define REQUIRE_KERNEL()                 \
  do {                                   \
    if (!::vt::require_kernel()) return; \
  } while (0)

// Failed assertions in the running test case (kept by the listener in main.cpp).
int current_test_failures();
void note_assertion_failed();
void reset_test_failures();

// ---------------------------------------------------------------------------------------------
// Small system helpers

std::string helper_path();    // realpath of vajra_test_helper
std::string vajrad_path();
std::string vajractl_path();
std::string self_exe();       // realpath of this test binary
std::string read_file(const std::string& path);
std::string realpath_of(const std::string& path);
std::vector<std::string> proc_cmdline(pid_t pid);
uint32_t ns_inode(pid_t pid, const std::string& ns);  // /proc/<pid>/ns/<ns>
std::string cgroup2_mount();                            // where cgroup v2 is mounted
std::string cgroup2_path(pid_t pid);                    // the "0::" line of /proc/<pid>/cgroup
uint64_t inode_of(const std::string& path);
std::string sha256_file(const std::string& path);
uint64_t wall_ns();
uint64_t boot_ns();
// /proc/<pid>/stat start time converted to wall-clock ns (clock-tick resolution).
uint64_t proc_start_wall_ns(pid_t pid);
uint32_t proc_ppid(pid_t pid);
uint32_t read_u32_file(const std::string& path);
// The kernel's dev_t encoding of a st_dev (major << 20 | minor), as BPF sees s_dev.
uint32_t kernel_dev(uint64_t st_dev);
std::string random_hex(size_t digits);
// A loaded shared object that is harmless to LD_PRELOAD (libm, else libc).
std::string harmless_preload_library();

// What the exec probe should report as the tty of a process started by this one: "" without a
// controlling terminal, "pts/N" for a pseudo-terminal, "*" for another terminal (any non-empty name).
std::string expected_tty();

// A private directory removed (recursively) when it goes out of scope.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "vajra-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& text) const;

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------------------------
// Processes

struct SpawnOptions {
  std::string cwd;                        // chdir here before exec, when set
  std::vector<std::string> env;           // the whole environment, when `replace_env`
  bool replace_env = false;
  int stdin_fd = -1;                      // dup2'd onto 0/1/2 when >= 0; else /dev/null for stdin
  int stdout_fd = -1;
  int stderr_fd = -1;
};

// fork + execve; the child does only async-signal-safe work. Fails the test if fork fails.
pid_t spawn(const std::vector<std::string>& argv, const SpawnOptions& options = {});
// Blocking waitpid; returns the raw wait status.
int wait_status(pid_t pid);

struct RunResult {
  pid_t pid = -1;
  int status = -1;   // raw wait status
  std::string out;
  std::string err;
  bool exited() const;
  int exit_code() const;  // -1 unless exited normally
};
// Runs to completion, capturing stdout and stderr (stdin is /dev/null, or `input` via a pipe).
RunResult run(const std::vector<std::string>& argv, const SpawnOptions& options = {},
              const std::string& input = "");

// A process started with pipes on stdin and stdout, e.g. a helper in wait-stdin mode.
class Child {
 public:
  Child(const std::vector<std::string>& argv, SpawnOptions options = {});
  ~Child();  // kills it (SIGKILL) if it still runs, and reaps it
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  void release();               // write one byte to its stdin
  void close_stdin();
  std::string read_line();      // one line of its stdout (blocking; "" at EOF)
  int wait();                   // raw wait status
 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string buffer_;
};

// ---------------------------------------------------------------------------------------------
// Containers

// The path of an installed program (the sbin and bin directories), or "" when it is not installed.
std::string find_program(const std::string& name);

// True when runc and busybox-static are installed. Otherwise: with CI=true the test FAILs, without it
// WARNs and the test should return.
bool require_runc();

// A runc container whose rootfs is busybox-static (/bin/busybox, with /bin/sh pointing at it), running
// `args` in its own pid, mount, net, uts and ipc namespaces under the docker-style cgroup
// /system.slice/docker-<id>.scope. Run it with run_argv(); it is deleted when this goes out of scope.
class RuncContainer {
 public:
  explicit RuncContainer(const std::vector<std::string>& args);
  ~RuncContainer();
  RuncContainer(const RuncContainer&) = delete;
  RuncContainer& operator=(const RuncContainer&) = delete;
  const std::string& id() const { return id_; }          // 64 hex digits
  const std::string& cgroup() const { return cgroup_; }  // its cgroup v2 path
  const std::string& runc() const { return runc_; }
  std::string bundle_file(const std::string& name) const { return bundle_.file(name); }
  std::vector<std::string> run_argv() const;  // runc run --bundle DIR NAME

 private:
  TempDir bundle_;
  std::string runc_, id_, name_, cgroup_;
};

// ---------------------------------------------------------------------------------------------
// The daemon

class Daemon {
 public:
  // `overrides` is YAML merged over the test defaults (hash.max_wait_ms 10000, log.level info).
  explicit Daemon(const std::string& overrides = "");
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  const std::string& socket_path() const { return socket_; }
  const std::string& dir() const { return dir_; }
  const std::string& config_path() const { return config_; }
  pid_t pid() const { return pid_; }
  std::string log() const;  // the daemon's stdout+stderr so far (the tail, when it is very long)

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  // A new channel (its own connection) with extra arguments.
  std::shared_ptr<grpc::Channel> new_channel(const grpc::ChannelArguments& args) const;
  vajra::v1::Sensor::Stub& stub() { return *stub_; }
  vajra::v1::StatusResponse status();  // FAILs when the call fails

 private:
  void stop();
  std::string dir_, config_, socket_, log_path_;
  pid_t pid_ = -1;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<vajra::v1::Sensor::Stub> stub_;
};

// ---------------------------------------------------------------------------------------------
// Event streams

std::string describe(const Event& event);  // one line: seq kind pid exe argv...
std::string to_json(const google::protobuf::Message& message);

class EventStream {
 public:
  // Subscribes with `request`; returns once the daemon lists the subscription in Status, so every
  // event published afterwards reaches it. With `paused`, nothing is read from the stream until
  // resume(): the client stops taking data, and the daemon's queue for it fills.
  EventStream(Daemon& daemon, vajra::v1::SubscribeRequest request = {}, bool paused = false,
              std::shared_ptr<grpc::Channel> channel = nullptr);
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  uint64_t subscriber_id() const { return subscriber_id_; }
  const vajra::v1::SubscribeRequest& request() const { return request_; }
  void resume();

  // The first event (in stream order) matching `predicate`; FAILs with a summary of what was seen
  // when none arrives within `timeout`.
  Event wait_for(const Predicate& predicate, const std::string& what,
                 std::chrono::milliseconds timeout = kWait);
  // Waits until at least `n` events match; returns all matches so far.
  std::vector<Event> wait_count(const Predicate& predicate, size_t n, const std::string& what,
                                std::chrono::milliseconds timeout = kWait);
  std::vector<Event> matching(const Predicate& predicate) const;
  size_t count(const Predicate& predicate) const;
  std::vector<Event> events() const;
  bool ended() const;
  std::string summary() const;  // counts per kind and the last events seen

 private:
  void reader();
  Daemon& daemon_;
  vajra::v1::SubscribeRequest request_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<vajra::v1::Sensor::Stub> stub_;
  grpc::ClientContext context_;
  uint64_t subscriber_id_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
  bool paused_;
  bool ended_ = false;
  std::string end_status_;
  std::thread thread_;
};

// Predicates
Predicate kind_is(vajra::v1::EventKind kind);
Predicate pid_is(uint32_t pid);
Predicate all_of(std::vector<Predicate> predicates);

// ---------------------------------------------------------------------------------------------
// Shared checks (Catch assertions)

// Every namespace inode equals the one of process `reference` (this process by default).
void check_namespaces(const vajra::v1::Namespaces& ns, pid_t reference);
// cgroup_id and cgroup_path equal those of `reference`; no container attribution.
void check_host_cgroup(const vajra::v1::Process& p, pid_t reference);
// p.ancestry[offset...] is the /proc chain starting at `first` (its parent chain, nearest first), up
// to `depth` entries in total, and ancestry_truncated says whether the chain went on past them.
void check_ancestry_from_proc(const vajra::v1::Process& p, size_t offset, pid_t first, uint32_t depth = 8);

// A helper run whose exit event proves that everything published before it has been delivered
// (events of one family arrive in order). Returns once `stream` has seen it.
void barrier(EventStream& stream);

}  // namespace vt
