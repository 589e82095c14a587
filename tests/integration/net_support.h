// What the network tests share: reading the helper's key=value report, picking socket and DNS events,
// and checking every field of a SocketEvent and of the process of a helper's event.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness.h"

namespace vt {

// "a=1 b=two" -> {a: "1", b: "two"}; FAILs on a word without '='.
std::map<std::string, std::string> key_values(const std::string& line);
// The value of `key` as a number; FAILs when it is missing.
long long number_of(const std::map<std::string, std::string>& values, const std::string& key);

// A finished run of the helper, with what check_helper_process needs to know of it.
struct HelperRun {
  std::vector<std::string> argv;
  uint64_t boot_before = 0;
  RunResult result;

  pid_t pid() const { return result.pid; }
  // A number of the key=value report the helper printed; FAILs when it is missing.
  long long number(const std::string& key) const { return number_of(key_values(result.out), key); }
};
// Runs the helper with `args` (after its path) to its end.
HelperRun run_helper(const std::vector<std::string>& args);

// Socket events of process `pid` with this operation (and status, and fd, when given).
Predicate socket_of(pid_t pid, vajra::v1::SocketOperation op,
                    std::optional<vajra::v1::SocketStatus> status = std::nullopt, std::optional<int> fd = std::nullopt);

// The close event of socket `fd` of process `pid`, waited for.
vajra::v1::Event wait_close(EventStream& stream, pid_t pid, int fd, const std::string& what);

// One end of a socket as the event must show it; unset means the event has none.
struct End {
  std::string address;
  uint32_t port = 0;
  bool abstract = false;
};

// Every field of a SocketEvent.
struct SocketExpect {
  vajra::v1::SocketOperation operation = vajra::v1::SOCKET_OPERATION_UNSPECIFIED;
  vajra::v1::SocketStatus status = vajra::v1::SOCKET_STATUS_SUCCEEDED;
  int errno_value = 0;
  std::string error;
  std::string syscall;
  vajra::v1::SocketFamily family = vajra::v1::SOCKET_FAMILY_UNSPECIFIED;
  vajra::v1::SocketType type = vajra::v1::SOCKET_TYPE_STREAM;
  uint32_t protocol = 0;
  std::string protocol_name;
  std::optional<End> local;
  std::optional<End> remote;
  int fd = -1;
  uint32_t backlog = 0;
  uint32_t net_ns = 0;
  uint64_t socket_inode = 0;
  bool has_duration = false;  // close and follow-ups: > 0; otherwise 0
  std::optional<uint64_t> bytes_sent;
  std::optional<uint64_t> bytes_received;
  bool follow_up = false;
};
// The fields of an event of socket `fd` (`inode`), in this process's network namespace, set.
SocketExpect socket_expect(vajra::v1::SocketOperation op, const std::string& syscall, vajra::v1::SocketFamily family,
                           vajra::v1::SocketType type, int fd, uint64_t inode);
void check_socket(const vajra::v1::Event& event, const SocketExpect& expect);

// The process of an event caused by a helper this test process ran with `argv`: ids, image, cwd,
// host namespaces and cgroup, exe hash, ancestry; the kernel timestamp within [boot_before, now].
void check_helper_process(const vajra::v1::Event& event, pid_t pid, const std::vector<std::string>& argv,
                          uint64_t boot_before);
void check_helper_process(const vajra::v1::Event& event, const HelperRun& run);

}  // namespace vt
