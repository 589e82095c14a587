#include "enrich.h"

#include <sys/stat.h>
#include <unistd.h>

#include <google/protobuf/unknown_field_set.h>

#include "container.h"
#include "proc_reader.h"

namespace vajra {
namespace {

// Cgroups come and go with containers; the map is dropped whole when it grows past this, and
// refilled from exec records and /proc on demand.
constexpr size_t kMaxCgroups = 65536;

google::protobuf::UnknownFieldSet& mutable_unknown_fields(v1::Event& event) {
  return *event.GetReflection()->MutableUnknownFields(&event);
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
  const std::string* image_wire = nullptr;

  if (event.kind() == v1::EVENT_KIND_EXEC) {
    *process.mutable_container() = parse_container(process.cgroup_path());
    remember_cgroup(process.cgroup_id(), process.cgroup_path(), process.container());
    process.set_start_time_ns(cache_.on_exec(decoded).process.start_time_ns());
    if (decoded.has_exe_identity) pending = hasher_.request(decoded.exe_identity, open_path(process));
  } else if (const CachedProcess* entry = fill_from_cache(decoded)) {
    image_wire = &ProcessCache::image_wire(*entry);
    if (entry->has_exe_identity) {
      pending = hasher_.request(entry->exe_identity, open_path(process));
    } else {
      process.set_exe_hash_status(v1::HASH_STATUS_UNREADABLE);
      process.set_exe_hash_error("exe identity unknown (kernel thread, or exe deleted before vajrad saw it)");
    }
  }

  ancestry_wire_.clear();
  const bool complete =
      cache_.collect_ancestry_wire(process.ppid(), decoded.start_boottime_ns, config_.ancestry_depth, ancestry_wire_);
  process.set_ancestry_truncated(!complete);
  // The cached fields in wire form (see enrich.h): one unknown field, written once at its final size.
  size_t wire_size = image_wire ? image_wire->size() : 0;
  for (const std::string* ancestor : ancestry_wire_) wire_size += ancestor->size();
  if (wire_size > 0) {
    std::string& wire = *mutable_unknown_fields(event).AddLengthDelimited(v1::Event::kProcessFieldNumber);
    wire.reserve(wire_size);
    if (image_wire) wire.append(*image_wire);
    for (const std::string* ancestor : ancestry_wire_) wire.append(*ancestor);
  }

  if (event.kind() == v1::EVENT_KIND_FORK) {
    // A child vajrad already knew (an event of it read before its fork) keeps its start time.
    if (const CachedProcess* child = cache_.on_fork(decoded))
      event.mutable_fork()->set_child_start_time_ns(child->process.start_time_ns());
  }
  if (event.kind() == v1::EVENT_KIND_EXIT && !event.exit().thread())
    cache_.on_exit(process.pid(), decoded.start_boottime_ns);
  return pending;
}

const CachedProcess* Enricher::fill_from_cache(DecodedEvent& decoded) {
  v1::Process& process = *decoded.event.mutable_process();
  const CachedProcess* entry = cache_.find(process.pid(), decoded.start_boottime_ns);
  if (!entry && catch_up_) {
    catch_up_();
    entry = cache_.find(process.pid(), decoded.start_boottime_ns);
  }
  bool proc_gone = false;
  if (!entry) {
    // Never seen (cache evicted it, or its exec was lost): procfs still knows it while it lives.
    if (auto from_proc = read_proc_process("/proc", process.pid(), cgroup2_mount_, clock_)) {
      cache_.insert(std::move(*from_proc));
      entry = cache_.find(process.pid(), decoded.start_boottime_ns);
    } else {
      proc_gone = true;
    }
  }
  if (entry) {
    // Its image: exe and notes as fields (filters read the exe), the rest in wire form (enrich()).
    // And the start time it is known by in every event and ancestry (ProcessCache::insert_entry).
    process.set_start_time_ns(entry->process.start_time_ns());
    process.set_exe(entry->process.exe());
    for (const auto& note : entry->process.notes()) process.add_notes(note);
    if (entry->process.cgroup_id() == process.cgroup_id()) {
      process.set_cgroup_path(entry->process.cgroup_path());
      *process.mutable_container() = entry->process.container();
    }
  } else {
    process.add_notes("process not in cache and gone from /proc: exe, argv and cwd unknown");
  }
  if (process.cgroup_path().empty()) fill_cgroup(process, proc_gone);
  return entry;
}

void Enricher::fill_cgroup(v1::Process& process, bool proc_gone) {
  auto known = cgroups_.find(process.cgroup_id());
  if (known != cgroups_.end()) {
    process.set_cgroup_path(known->second.path);
    *process.mutable_container() = known->second.container;
    return;
  }
  std::optional<CachedProcess> from_proc;
  if (!proc_gone) from_proc = read_proc_process("/proc", process.pid(), cgroup2_mount_, clock_);
  if (from_proc) {
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

void materialize_process(v1::Event& event) {
  const google::protobuf::UnknownFieldSet& unknown = event.GetReflection()->GetUnknownFields(event);
  bool found = false;
  for (int i = 0; i < unknown.field_count(); ++i) {
    const google::protobuf::UnknownField& field = unknown.field(i);
    if (field.number() != v1::Event::kProcessFieldNumber ||
        field.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED)
      continue;
    event.mutable_process()->MergeFromString(field.length_delimited());
    found = true;
  }
  if (found) mutable_unknown_fields(event).DeleteByNumber(v1::Event::kProcessFieldNumber);
}

}  // namespace vajra
