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
// to `depth` entries in total, and ancestry_truncated says whether the chain went on past them. Each
// ancestor's argv is its /proc cmdline, or where that is longer than `argv_max_bytes` (the daemon's
// process.ancestry_argv_max_bytes), flagged and cut there (check_ancestor_argv). Ancestors at index
// `argv_depth` and beyond (process.ancestry_argv_depth) have no argv, flagged when /proc shows one.
void check_ancestry_from_proc(const vajra::v1::Process& p, size_t offset, pid_t first, uint32_t depth = 8,
                              size_t argv_max_bytes = 1024, size_t argv_depth = 2);
// `got` is `argv` cut to `max_bytes` as vajrad cuts an ancestor's argv: the same when it fits (each
// argument counted with its NUL), else flagged and a prefix of its bytes that ends at most 4 bytes
// short of the limit (a cut never splits a UTF-8 character, and an argument needs its NUL).
void check_ancestor_argv(const vajra::v1::Ancestor& got, const std::vector<std::string>& argv, size_t max_bytes);

// A helper run whose exit event proves that everything published before it has been delivered
// (events of one family arrive in order). Returns once `stream` has seen it.
void barrier(EventStream& stream);

}  // namespace vt

// ---------------------------------------------------------------------------------------------
// File events (defined in test_file_support.cpp)

#include <sys/stat.h>

#include <optional>

namespace vt {

// One step of `vajra_test_helper file ...` as it printed it (getfl: F_GETFL of what an open returned).
struct FileStep {
  std::string op;
  long long ret = 0;
  int err = 0;
  long long getfl = -1;
};
std::vector<FileStep> file_steps(const std::string& out);

// `vajra_test_helper file STEPS...` started by this process. Its `wait` steps pause it: until_wait()
// returns once it is paused there, resume() lets it go on, finish() waits for its exit (code 0).
class FileHelper {
 public:
  explicit FileHelper(const std::vector<std::string>& steps);
  FileHelper(const FileHelper&) = delete;
  FileHelper& operator=(const FileHelper&) = delete;
  pid_t pid() const { return child_.pid(); }
  const std::vector<std::string>& argv() const { return argv_; }
  uint64_t boot_before() const { return boot_before_; }
  const std::vector<FileStep>& steps() const { return steps_; }
  const FileStep& step(size_t index) const;  // FAILs when the helper has not printed it
  void until_wait();
  void resume() { child_.release(); }
  void finish();

 private:
  std::vector<std::string> argv_;
  uint64_t boot_before_;
  Child child_;
  std::vector<FileStep> steps_;
};

// A watch category of the `files:` section.
struct WatchCategory {
  std::string name;
  std::vector<std::string> include, exclude, operations, hashes;  // operations empty: the default
  long long hash_max_bytes = -1;                                  // -1: the default
};
std::string files_config(const std::vector<WatchCategory>& categories);  // "files: {categories: ...}"
// Replaces the files: section of the daemon's config file with `files_yaml` and sends it SIGHUP.
void reload_files(Daemon& daemon, const std::string& files_yaml);

// stream.wait_for / wait_count that, when the wait fails, also show the daemon's file counters
// (kernel_filtered, unmatched): where a missing event was lost.
vajra::v1::Event wait_file_event(Daemon& daemon, EventStream& stream, const Predicate& predicate,
                                 const std::string& what);
std::vector<vajra::v1::Event> wait_file_events(Daemon& daemon, EventStream& stream, const Predicate& predicate,
                                               size_t n, const std::string& what);

// File events of process `pid` with operation `op`, and path `path` when it is not empty.
Predicate file_of(pid_t pid, vajra::v1::FileOperation op, const std::string& path = "");

struct FilePathExpect {
  std::string path, host_path;
  vajra::v1::PathSource source = vajra::v1::PATH_SOURCE_DENTRY;
  bool truncated = false, deleted = false;
  std::string unresolved{};  // initialized here so that a brace list may stop before it
};

// Every field of a FileEvent. Attributes: with attributes_source set, inode..size are those of
// `attributes` when given, else of lstat(attributes_of) now (the path, or new_path, by default);
// `size` overrides the size (attributes read before later writes).
struct FileExpect {
  vajra::v1::FileOperation operation = vajra::v1::FILE_OPERATION_UNSPECIFIED;
  std::string syscall;
  long long result = 0;
  int errno_value = 0;
  std::string error;
  FilePathExpect path;
  std::optional<FilePathExpect> new_path;
  std::string symlink_target;
  std::vector<std::string> categories;
  std::string attributes_source;
  std::string attributes_of;
  std::optional<struct ::stat> attributes;
  std::optional<uint64_t> size;
  uint32_t open_flags = 0;
  std::string open_flags_text;
  uint32_t requested_mode = 0;
  std::optional<uint32_t> requested_uid, requested_gid;
  uint32_t at_flags = 0;
  bool exchange = false;
  std::string xattr_name;
  int fd = -1;
  uint64_t bytes_written = 0, writes = 0;
  bool has_duration = false;  // modify: open_duration_ns > 0
  std::optional<std::string> sha256;
  std::string hash_error;
  std::string watched_as;  // a change through another hard link: the watched name
};
void check_file(const vajra::v1::Event& event, const FileExpect& expect);

// A FileExpect with its first fields set.
FileExpect file_expect(vajra::v1::FileOperation op, const std::string& syscall, const std::string& path,
                       vajra::v1::PathSource source, const std::string& attributes_source,
                       const std::vector<std::string>& categories);
// Events of vajra_test_helper processes only.
vajra::v1::SubscribeRequest helper_subscription();
// The process part of events of a helper started by this process (see check_helper_process).
void check_file_process(const std::vector<vajra::v1::Event>& events, const FileHelper& helper);
// status().files().kernel_filtered as operation -> count.
std::map<vajra::v1::FileOperation, uint64_t> kernel_filtered(Daemon& daemon);

}  // namespace vt
