#include "enrich.h"

#include <sys/stat.h>
#include <unistd.h>

#include "container.h"
#include "proc_reader.h"

namespace vajra {
namespace {

// Cgroups come and go with containers; the map is dropped whole when it grows past this, and
// refilled from exec records and /proc on demand.
constexpr size_t kMaxCgroups = 65536;

void copy_image(const v1::Process& from, v1::Process& to) {
  to.set_exe(from.exe());
  to.mutable_argv()->CopyFrom(from.argv());
  to.set_argv_truncated(from.argv_truncated());
  to.set_cwd(from.cwd());
  to.mutable_env()->insert(from.env().begin(), from.env().end());
  to.set_env_truncated(from.env_truncated());
  to.set_tty(from.tty());
  for (const auto& note : from.notes()) to.add_notes(note);
}

}  // namespace

Enricher::Enricher(const ProcessConfig& config, ProcessCache& cache, Hasher& hasher, const BootClock& clock)
    : config_(config),
      cache_(cache),
      hasher_(hasher),
      clock_(clock),
      cgroup2_mount_(find_cgroup2_mount()),
      own_mnt_ns_(own_mnt_namespace()) {}

std::optional<Hasher::Pending> Enricher::enrich(DecodedEvent& decoded) {
  v1::Event& event = decoded.event;
  v1::Process& process = *event.mutable_process();
  std::optional<Hasher::Pending> pending;

  if (event.kind() == v1::EVENT_KIND_EXEC) {
    *process.mutable_container() = parse_container(process.cgroup_path());
    remember_cgroup(process.cgroup_id(), process.cgroup_path(), process.container());
    cache_.on_exec(decoded);
    if (decoded.has_exe_identity) pending = hasher_.request(decoded.exe_identity, open_path(process));
  } else if (const CachedProcess* entry = fill_from_cache(decoded)) {
    if (entry->has_exe_identity) {
      pending = hasher_.request(entry->exe_identity, open_path(process));
    } else {
      process.set_exe_hash_status(v1::HASH_STATUS_UNREADABLE);
      process.set_exe_hash_error("exe identity unknown (kernel thread, or exe deleted before vajrad saw it)");
    }
  }

  const bool complete = cache_.fill_ancestry(process.ppid(), decoded.start_boottime_ns, config_.ancestry_depth, process);
  process.set_ancestry_truncated(!complete);

  if (event.kind() == v1::EVENT_KIND_FORK) cache_.on_fork(decoded);
  if (event.kind() == v1::EVENT_KIND_EXIT && !event.exit().thread())
    cache_.on_exit(process.pid(), decoded.start_boottime_ns);
  return pending;
}

const CachedProcess* Enricher::fill_from_cache(DecodedEvent& decoded) {
  v1::Process& process = *decoded.event.mutable_process();
  const CachedProcess* entry = cache_.find(process.pid(), decoded.start_boottime_ns);
  if (!entry) {
    // Never seen (cache evicted it, or its exec was lost): procfs still knows it while it lives.
    if (auto from_proc = read_proc_process("/proc", process.pid(), cgroup2_mount_, clock_)) {
      cache_.insert(std::move(*from_proc));
      entry = cache_.find(process.pid(), decoded.start_boottime_ns);
    }
  }
  if (entry) {
    copy_image(entry->process, process);
    if (entry->process.cgroup_id() == process.cgroup_id()) {
      process.set_cgroup_path(entry->process.cgroup_path());
      *process.mutable_container() = entry->process.container();
    }
  } else {
    process.add_notes("process not in cache and gone from /proc: exe, argv and cwd unknown");
  }
  if (process.cgroup_path().empty()) fill_cgroup(process);
  return entry;
}

void Enricher::fill_cgroup(v1::Process& process) {
  auto known = cgroups_.find(process.cgroup_id());
  if (known != cgroups_.end()) {
    process.set_cgroup_path(known->second.path);
    *process.mutable_container() = known->second.container;
    return;
  }
  if (auto from_proc = read_proc_process("/proc", process.pid(), cgroup2_mount_, clock_)) {
    if (from_proc->process.cgroup_id() == process.cgroup_id()) {
      process.set_cgroup_path(from_proc->process.cgroup_path());
      *process.mutable_container() = from_proc->process.container();
      remember_cgroup(process.cgroup_id(), process.cgroup_path(), process.container());
      return;
    }
  }
  process.add_notes("cgroup path unknown for cgroup id " + std::to_string(process.cgroup_id()));
}

std::string Enricher::open_path(const v1::Process& process) const {
  // A path in another mount namespace is only reachable through the process's root.
  if (process.namespaces().mnt() == own_mnt_ns_) return process.exe();
  return "/proc/" + std::to_string(process.pid()) + "/root" + process.exe();
}

void Enricher::remember_cgroup(uint64_t id, const std::string& path, const v1::Container& container) {
  if (cgroups_.size() >= kMaxCgroups) cgroups_.clear();
  cgroups_[id] = CgroupInfo{path, container};
}

}  // namespace vajra
