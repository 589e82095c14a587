#include "tables/event_columns.h"

#include <map>

#include "cmdline.h"
#include "json_text.h"
#include "tables/ancestry_json.h"

namespace vajra::bridge {
namespace {

constexpr uint64_t kNsPerSecond = 1000000000ull;

Value text(const std::string& value) { return value; }

std::string runtime_name(v1::ContainerRuntime runtime) {
  switch (runtime) {
    case v1::CONTAINER_RUNTIME_DOCKER: return "docker";
    case v1::CONTAINER_RUNTIME_CONTAINERD: return "containerd";
    case v1::CONTAINER_RUNTIME_CRIO: return "cri-o";
    case v1::CONTAINER_RUNTIME_PODMAN: return "podman";
    case v1::CONTAINER_RUNTIME_LXC: return "lxc";
    default: return "";
  }
}

std::string hash_status_name(v1::HashStatus status) {
  switch (status) {
    case v1::HASH_STATUS_OK: return "ok";
    case v1::HASH_STATUS_DISABLED: return "disabled";
    case v1::HASH_STATUS_TOO_LARGE: return "too_large";
    case v1::HASH_STATUS_UNREADABLE: return "unreadable";
    case v1::HASH_STATUS_CHANGED: return "changed";
    case v1::HASH_STATUS_TIMEOUT: return "timeout";
    case v1::HASH_STATUS_QUEUE_FULL: return "queue_full";
    default: return "";
  }
}

std::vector<std::string> argv_of(const v1::Process& process) {
  return {process.argv().begin(), process.argv().end()};
}

// Columns are computed on the stream thread as rows arrive; a cache per thread needs no lock.
std::string ancestry_json(const v1::Process& process) {
  thread_local AncestryJson ancestry;
  return ancestry.of(process);
}

// Keys in name order, as a JSON object is usually compared and as the daemon's map iterates in
// no particular order: the same environment always gives the same text.
std::string env_json(const v1::Process& process) {
  std::map<std::string, std::string> sorted(process.env().begin(), process.env().end());
  JsonText json;
  json.begin_object();
  for (const auto& [name, value] : sorted) json.key(name).value(value);
  return json.end_object().take();
}

// A compact JSON array of strings: osquery's `json_cmdline` for argv, and the notes. Built per row,
// so straight from the message's strings (valid UTF-8, as protobuf accepts no other) into the text.
std::string strings_json(const google::protobuf::RepeatedPtrField<std::string>& strings) {
  JsonText json;
  json.begin_array();
  for (const std::string& item : strings) json.value(item);
  return json.end_array().take();
}

template <typename Get>
EventColumn col(const char* name, ColumnType type, uint32_t options, Get get) {
  return EventColumn{Column{name, type, options}, std::function<Value(const EventSource&)>(get)};
}

template <typename Get>
EventColumn col(const char* name, ColumnType type, Get get) {
  return col(name, type, kDefault, get);
}

}  // namespace

std::vector<EventColumn> event_header_columns() {
  using T = ColumnType;
  return {
      // osquery's convention: hidden, and ADDITIONAL so that its constraints reach generate.
      col("time", T::kBigInt, kHidden | kAdditional, [](const EventSource& s) { return number(s.event.time_ns() / kNsPerSecond); }),
      col("time_ns", T::kBigInt, [](const EventSource& s) { return number(s.event.time_ns()); }),
      col("ntime", T::kText, [](const EventSource& s) { return number(s.event.ktime_ns()); }),
      col("ktime", T::kBigInt, [](const EventSource& s) { return number(s.event.ktime_ns()); }),
      col("uptime", T::kBigInt, [](const EventSource& s) { return number(s.event.ktime_ns() / kNsPerSecond); }),
      col("seq", T::kBigInt, kAdditional, [](const EventSource& s) { return number(s.event.seq()); }),
      col("daemon_instance", T::kText, [](const EventSource& s) { return text(s.instance); }),
      // osquery's event id: unique, since seq restarts with each daemon run.
      col("eid", T::kText, kHidden, [](const EventSource& s) { return Value(s.instance + ":" + std::to_string(s.event.seq())); }),
  };
}

std::vector<EventColumn> process_context_columns() {
  using T = ColumnType;
  auto p = [](const EventSource& s) -> const v1::Process& { return s.event.process(); };
  return {
      col("pid", T::kBigInt, [=](const EventSource& s) { return number(p(s).pid()); }),
      col("tid", T::kBigInt, [=](const EventSource& s) { return number(p(s).tid()); }),
      col("parent", T::kBigInt, [=](const EventSource& s) { return number(p(s).ppid()); }),
      col("ns_pid", T::kBigInt, [=](const EventSource& s) { return number(p(s).ns_pid()); }),
      col("uid", T::kBigInt, [=](const EventSource& s) { return number(p(s).uid()); }),
      col("euid", T::kBigInt, [=](const EventSource& s) { return number(p(s).euid()); }),
      col("gid", T::kBigInt, [=](const EventSource& s) { return number(p(s).gid()); }),
      col("egid", T::kBigInt, [=](const EventSource& s) { return number(p(s).egid()); }),
      col("auid", T::kBigInt, [=](const EventSource& s) { return number(p(s).auid()); }),
      col("session_id", T::kBigInt, [=](const EventSource& s) { return number(p(s).session_id()); }),
      col("comm", T::kText, [=](const EventSource& s) { return text(p(s).comm()); }),
      col("tty", T::kText, [=](const EventSource& s) { return text(p(s).tty()); }),
      col("exe", T::kText, [=](const EventSource& s) { return text(p(s).exe()); }),
      col("cwd", T::kText, [=](const EventSource& s) { return text(p(s).cwd()); }),
      col("cmdline", T::kText, [=](const EventSource& s) { return Value(join_cmdline(argv_of(p(s)))); }),
      col("json_cmdline", T::kText, kHidden, [=](const EventSource& s) { return Value(strings_json(p(s).argv())); }),
      col("argv_truncated", T::kInteger, [=](const EventSource& s) { return flag(p(s).argv_truncated()); }),
      col("env", T::kText, [=](const EventSource& s) { return Value(env_json(p(s))); }),
      col("env_truncated", T::kInteger, [=](const EventSource& s) { return flag(p(s).env_truncated()); }),
      col("start_time_ns", T::kBigInt, [=](const EventSource& s) -> Value {
        if (p(s).start_time_ns() == 0) return std::nullopt;
        return number(p(s).start_time_ns());
      }),
      col("cid", T::kBigInt, [=](const EventSource& s) { return number(p(s).cgroup_id()); }),
      col("cgroup_path", T::kText, [=](const EventSource& s) { return text(p(s).cgroup_path()); }),
      col("container_id", T::kText, [=](const EventSource& s) { return text(p(s).container().id()); }),
      col("container_runtime", T::kText, [=](const EventSource& s) { return Value(runtime_name(p(s).container().runtime())); }),
      col("pod_uid", T::kText, [=](const EventSource& s) { return text(p(s).container().pod_uid()); }),
      col("pid_ns", T::kBigInt, [=](const EventSource& s) { return number(p(s).namespaces().pid()); }),
      col("mnt_ns", T::kBigInt, [=](const EventSource& s) { return number(p(s).namespaces().mnt()); }),
      col("net_ns", T::kBigInt, [=](const EventSource& s) { return number(p(s).namespaces().net()); }),
      col("user_ns", T::kBigInt, [=](const EventSource& s) { return number(p(s).namespaces().user()); }),
      col("uts_ns", T::kBigInt, [=](const EventSource& s) { return number(p(s).namespaces().uts()); }),
      col("ipc_ns", T::kBigInt, [=](const EventSource& s) { return number(p(s).namespaces().ipc()); }),
      col("cgroup_ns", T::kBigInt, [=](const EventSource& s) { return number(p(s).namespaces().cgroup()); }),
      col("sha256", T::kText, [=](const EventSource& s) { return text(p(s).exe_sha256()); }),
      col("hash_status", T::kText, [=](const EventSource& s) { return Value(hash_status_name(p(s).exe_hash_status())); }),
      col("hash_error", T::kText, [=](const EventSource& s) { return text(p(s).exe_hash_error()); }),
      col("ancestry", T::kText, [=](const EventSource& s) { return Value(ancestry_json(p(s))); }),
      col("ancestry_truncated", T::kInteger, [=](const EventSource& s) { return flag(p(s).ancestry_truncated()); }),
      col("notes", T::kText, [=](const EventSource& s) { return Value(strings_json(p(s).notes())); }),
  };
}

}  // namespace vajra::bridge
