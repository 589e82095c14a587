#include "decode.h"

#include <cstring>

#include "cmdline.h"
#include "vajra_wire.h"

namespace vajra {
namespace {

std::string fixed_string(const char* chars, size_t capacity) {
  return sanitize_utf8(std::string_view(chars, strnlen(chars, capacity)));
}

}  // namespace

void fill_task(const vj_task& task, const BootClock& clock, v1::Event& event) {
  event.set_ktime_ns(task.ktime_ns);
  event.set_time_ns(clock.to_wall_ns(task.ktime_ns));
  v1::Process& p = *event.mutable_process();
  p.set_pid(task.pid);
  p.set_tid(task.tid);
  p.set_ppid(task.ppid);
  p.set_ns_pid(task.ns_pid);
  p.set_uid(task.uid);
  p.set_euid(task.euid);
  p.set_gid(task.gid);
  p.set_egid(task.egid);
  p.set_auid(task.auid);
  p.set_session_id(task.session_id);
  p.set_comm(fixed_string(task.comm, sizeof(task.comm)));
  p.set_start_time_ns(clock.to_wall_ns(task.start_boottime_ns));
  p.set_cgroup_id(task.cgroup_id);
  v1::Namespaces& ns = *p.mutable_namespaces();
  ns.set_pid(task.ns.pid);
  ns.set_mnt(task.ns.mnt);
  ns.set_net(task.ns.net);
  ns.set_user(task.ns.user);
  ns.set_uts(task.ns.uts);
  ns.set_ipc(task.ns.ipc);
  ns.set_cgroup(task.ns.cgroup);
}

std::string join_path_components(std::string_view leaf_first) {
  // Components are written from the end of the path backwards, in the order the kernel sent them.
  auto for_each_part = [leaf_first](auto&& visit) {
    std::string_view rest = leaf_first;
    while (!rest.empty()) {
      const size_t end = rest.find('\0');
      const std::string_view part = rest.substr(0, end);
      if (!part.empty()) visit(part);
      if (end == std::string_view::npos) break;
      rest.remove_prefix(end + 1);
    }
  };
  size_t size = 0;
  bool ascii = true;
  for_each_part([&](std::string_view part) {
    size += part.size() + 1;
    for (char c : part) ascii &= static_cast<unsigned char>(c) < 0x80;
  });
  if (size == 0) return "/";
  std::string path(size, '/');
  size_t at = size;
  for_each_part([&](std::string_view part) {
    at -= part.size();
    path.replace(at, part.size(), part);
    --at;  // the '/' before it is already there
  });
  return ascii ? path : sanitize_utf8(path);
}

std::string errno_name(int error) {
  const char* name = strerrorname_np(error);
  return name ? name : std::to_string(error);
}

Decoder::Decoder(const ProcessConfig& config, const BootClock& clock) : config_(config), clock_(clock) {}

bool Decoder::decode(const void* data, size_t size, DecodedEvent& out, std::string& error) const {
  std::string_view rec(static_cast<const char*>(data), size);
  vj_record_header hdr{};
  if (!read_fixed(rec, hdr)) {
    error = "record of " + std::to_string(size) + " bytes is shorter than its header";
    return false;
  }
  if (hdr.size > size) {
    error = "record header claims " + std::to_string(hdr.size) + " bytes, ring gave " + std::to_string(size);
    return false;
  }
  rec = rec.substr(0, hdr.size);
  switch (hdr.kind) {
    case VJ_REC_EXEC:
      return decode_exec(rec, out, error);
    case VJ_REC_EXEC_FAILED:
      return decode_exec_failed(rec, out, error);
    case VJ_REC_FORK:
      return decode_fork(rec, out, error);
    case VJ_REC_EXIT:
      return decode_exit(rec, out, error);
    case VJ_REC_SOCKET: return decode_socket(rec, out, error);
    case VJ_REC_DNS: return decode_dns(rec, out, error);
    case VJ_REC_FILE: return decode_file(rec, out, error);
    default:
      error = "unknown record kind " + std::to_string(hdr.kind);
      return false;
  }
}

bool Decoder::decode_exec(std::string_view rec, DecodedEvent& out, std::string& error) const {
  vj_exec_record r{};
  if (!read_fixed(rec, r)) {
    error = "exec record shorter than its fixed part";
    return false;
  }
  RecordSections sections(rec.substr(sizeof(r)));
  std::string_view exe, cwd, cgroup, argv, env;
  if (!sections.take(r.exe_len, exe) || !sections.take(r.cwd_len, cwd) ||
      !sections.take(r.cgroup_len, cgroup) || !sections.take(r.argv_len, argv) ||
      !sections.take(r.env_len, env)) {
    error = "exec record sections run past its end";
    return false;
  }
  const uint16_t flags = r.hdr.flags;
  v1::Event& event = out.event;
  event.set_kind(v1::EVENT_KIND_EXEC);
  fill_task(r.task, clock_, event);
  out.start_boottime_ns = r.task.start_boottime_ns;

  v1::Process& p = *event.mutable_process();
  p.set_tty(fixed_string(r.tty, sizeof(r.tty)));
  p.set_exe(join_path_components(exe));
  p.set_cwd(join_path_components(cwd));
  p.set_cgroup_path(join_path_components(cgroup));

  bool args_capped = false;
  for (auto& arg : split_nul(argv, config_.argv_max_args, &args_capped)) p.add_argv(std::move(arg));
  p.set_argv_truncated(args_capped || (flags & (VJ_F_ARGV_TRUNCATED | VJ_F_ARGV_UNREADABLE)));
  for (auto& [name, value] : env_select(env, config_.env_allow)) (*p.mutable_env())[name] = value;
  p.set_env_truncated(flags & VJ_F_ENV_TRUNCATED);

  if (flags & VJ_F_EXE_TRUNCATED) p.add_notes("exe path truncated: deeper or longer than the kernel walk");
  if (flags & VJ_F_EXE_DELETED) p.add_notes("exe file was deleted");
  if (flags & VJ_F_CWD_TRUNCATED) p.add_notes("cwd truncated: deeper or longer than the kernel walk");
  if (flags & VJ_F_CWD_DELETED) p.add_notes("cwd was deleted");
  if (flags & VJ_F_CGROUP_TRUNCATED) p.add_notes("cgroup path truncated");
  if (flags & VJ_F_ARGV_UNREADABLE) p.add_notes("argv could not be read from the process");

  v1::ExecEvent& exec = *event.mutable_exec();
  exec.set_exe_inode(r.exe_ino);
  exec.set_exe_dev(r.exe_dev);
  exec.set_exe_mode(r.exe_mode);
  exec.set_exe_size(r.exe_size);
  exec.set_argv_bytes(r.argv_total);

  out.has_exe_identity = !(flags & VJ_F_EXE_DELETED);
  out.exe_identity = FileIdentity{r.exe_dev, r.exe_ino, r.exe_size, r.exe_mtime_ns};
  return true;
}

bool Decoder::decode_exec_failed(std::string_view rec, DecodedEvent& out, std::string& error) const {
  vj_exec_failed_record r{};
  if (!read_fixed(rec, r)) {
    error = "exec_failed record shorter than its fixed part";
    return false;
  }
  RecordSections sections(rec.substr(sizeof(r)));
  std::string_view path;
  if (!sections.take(r.path_len, path)) {
    error = "exec_failed path runs past the record's end";
    return false;
  }
  out.event.set_kind(v1::EVENT_KIND_EXEC_FAILED);
  fill_task(r.task, clock_, out.event);
  out.start_boottime_ns = r.task.start_boottime_ns;
  v1::ExecFailedEvent& failed = *out.event.mutable_exec_failed();
  failed.set_path(sanitize_utf8(path.substr(0, path.find('\0'))));
  failed.set_path_truncated(r.hdr.flags & VJ_F_PATH_TRUNCATED);
  failed.set_errno_value(r.error);
  failed.set_error(errno_name(r.error));
  failed.set_syscall(r.is_execveat ? "execveat" : "execve");
  failed.set_dirfd(r.dirfd);
  failed.set_at_flags(r.at_flags);
  return true;
}

bool Decoder::decode_fork(std::string_view rec, DecodedEvent& out, std::string& error) const {
  vj_fork_record r{};
  if (!read_fixed(rec, r)) {
    error = "fork record shorter than its fixed part";
    return false;
  }
  out.event.set_kind(v1::EVENT_KIND_FORK);
  fill_task(r.task, clock_, out.event);
  out.start_boottime_ns = r.task.start_boottime_ns;
  out.child_start_boottime_ns = r.child_start_boottime_ns;
  v1::ForkEvent& fork = *out.event.mutable_fork();
  fork.set_child_pid(r.child_pid);
  fork.set_child_tid(r.child_tid);
  fork.set_thread(r.hdr.flags & VJ_F_THREAD);
  fork.set_child_start_time_ns(clock_.to_wall_ns(r.child_start_boottime_ns));
  return true;
}

bool Decoder::decode_exit(std::string_view rec, DecodedEvent& out, std::string& error) const {
  vj_exit_record r{};
  if (!read_fixed(rec, r)) {
    error = "exit record shorter than its fixed part";
    return false;
  }
  out.event.set_kind(v1::EVENT_KIND_EXIT);
  fill_task(r.task, clock_, out.event);
  out.start_boottime_ns = r.task.start_boottime_ns;
  v1::ExitEvent& exit = *out.event.mutable_exit();
  exit.set_thread(r.hdr.flags & VJ_F_THREAD);
  // Wait-status encoding, as the kernel keeps it in task->exit_code.
  const uint32_t signal = r.exit_code & 0x7f;
  exit.set_signal(signal);
  exit.set_core_dumped(r.exit_code & 0x80);
  exit.set_exit_code(signal ? 0 : static_cast<int32_t>((r.exit_code >> 8) & 0xff));
  if (r.task.ktime_ns >= r.task.start_boottime_ns)
    exit.set_duration_ns(r.task.ktime_ns - r.task.start_boottime_ns);
  return true;
}

}  // namespace vajra
