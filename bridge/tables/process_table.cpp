#include "tables/process_table.h"

#include <cstdio>


namespace vajra::bridge {
namespace {

using v1::Event;

const char* event_name(const Event& e) {
  switch (e.kind()) {
    case v1::EVENT_KIND_EXEC: return "exec";
    case v1::EVENT_KIND_EXEC_FAILED: return "exec_failed";
    case v1::EVENT_KIND_FORK: return "fork";
    case v1::EVENT_KIND_EXIT: return "exit";
    default: return "";
  }
}

Value syscall_name(const Event& e) {
  if (e.kind() == v1::EVENT_KIND_EXEC_FAILED) return e.exec_failed().syscall();
  if (e.kind() == v1::EVENT_KIND_EXEC) return std::string("exec");
  return std::string(event_name(e));
}

Value path(const Event& e) {
  if (e.kind() == v1::EVENT_KIND_EXEC_FAILED) return e.exec_failed().path();
  return e.process().exe();
}

Value exit_code(const Event& e) {
  switch (e.kind()) {
    case v1::EVENT_KIND_EXEC: return std::string("0");
    case v1::EVENT_KIND_EXEC_FAILED: return signed_number(-static_cast<int64_t>(e.exec_failed().errno_value()));
    case v1::EVENT_KIND_EXIT:
      if (e.exit().signal() != 0) return std::nullopt;
      return signed_number(e.exit().exit_code());
    default: return std::nullopt;
  }
}

// osquery's probe_error: 1 when something could not be captured whole.
Value probe_error(const Event& e) {
  const bool path_cut = e.kind() == v1::EVENT_KIND_EXEC_FAILED && e.exec_failed().path_truncated();
  return flag(path_cut || e.process().argv_truncated() || e.process().env_truncated());
}

Value exe_mode(const Event& e) {
  if (e.kind() != v1::EVENT_KIND_EXEC) return std::nullopt;
  char octal[16];
  std::snprintf(octal, sizeof(octal), "%07o", e.exec().exe_mode());
  return std::string(octal);
}

}  // namespace

EventFamily process_family() {
  using T = ColumnType;
  EventFamily family;
  family.name = "process";
  family.kinds = {v1::EVENT_KIND_EXEC, v1::EVENT_KIND_EXEC_FAILED, v1::EVENT_KIND_FORK, v1::EVENT_KIND_EXIT};
  family.columns = {
      event_column("event", T::kText, [](const Event& e) { return Value(event_name(e)); }),
      event_column("syscall", T::kText, syscall_name),
      event_column("path", T::kText, path),
      event_column("exit_code", T::kText, exit_code),
      event_column("probe_error", T::kInteger, probe_error),
      kind_column(v1::EVENT_KIND_EXEC_FAILED, "errno", T::kInteger, [](const Event& e) {
        return signed_number(e.exec_failed().errno_value());
      }),
      kind_column(v1::EVENT_KIND_EXEC_FAILED, "error", T::kText, [](const Event& e) { return Value(e.exec_failed().error()); }),
      event_column("mode", T::kText, exe_mode),
      kind_column(v1::EVENT_KIND_EXEC, "inode", T::kBigInt, [](const Event& e) { return number(e.exec().exe_inode()); }),
      kind_column(v1::EVENT_KIND_EXEC, "cmdline_size", T::kBigInt, [](const Event& e) { return number(e.exec().argv_bytes()); }),
      kind_column(v1::EVENT_KIND_FORK, "child_pid", T::kBigInt, [](const Event& e) { return number(e.fork().child_pid()); }),
      kind_column(v1::EVENT_KIND_FORK, "child_tid", T::kBigInt, [](const Event& e) { return number(e.fork().child_tid()); }),
      event_column("thread", T::kInteger, [](const Event& e) -> Value {
        if (e.kind() == v1::EVENT_KIND_FORK) return flag(e.fork().thread());
        if (e.kind() == v1::EVENT_KIND_EXIT) return flag(e.exit().thread());
        return std::nullopt;
      }),
      kind_column(v1::EVENT_KIND_EXIT, "signal", T::kInteger, [](const Event& e) { return number(e.exit().signal()); }),
      kind_column(v1::EVENT_KIND_EXIT, "core_dumped", T::kInteger, [](const Event& e) { return flag(e.exit().core_dumped()); }),
      // osquery's duration is the time spent in the syscall; an exit row's is the process's lifetime.
      kind_column(v1::EVENT_KIND_EXIT, "duration", T::kBigInt, [](const Event& e) { return number(e.exit().duration_ns()); }),
  };
  append_shared_columns(family);
  return family;
}

}  // namespace vajra::bridge
