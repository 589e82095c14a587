#include "process_cache.h"

#include <dirent.h>

#include <cstdlib>
#include <iterator>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include "proc_reader.h"

namespace vajra {
namespace {

// /proc reports start times in clock ticks (10 ms at USER_HZ 100); allow one tick either way.
constexpr uint64_t kProcStartSlackNs = 10'000'000;

bool same_start(const CachedProcess& entry, uint64_t start_boottime_ns) {
  if (entry.start_precise) return entry.start_boottime_ns == start_boottime_ns;
  uint64_t a = entry.start_boottime_ns, b = start_boottime_ns;
  return (a > b ? a - b : b - a) <= kProcStartSlackNs;
}

void build_ancestor(const CachedProcess& entry, size_t argv_max_bytes, v1::Ancestor& ancestor) {
  ancestor.set_pid(entry.process.pid());
  ancestor.set_exe(entry.process.exe());
  ancestor.set_argv_truncated(!copy_ancestor_argv(entry.process.argv(), argv_max_bytes, *ancestor.mutable_argv()));
  ancestor.set_start_time_ns(entry.process.start_time_ns());
}

// A length-delimited field: tag, length, then `body`.
void append_length_delimited(int number, const std::string& body, std::string& out) {
  using google::protobuf::internal::WireFormatLite;
  uint8_t head[10];  // two varints of at most 5 bytes
  uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      WireFormatLite::MakeTag(number, WireFormatLite::WIRETYPE_LENGTH_DELIMITED), head);
  end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(body.size()), end);
  out.append(reinterpret_cast<const char*>(head), static_cast<size_t>(end - head));
  out.append(body);
}

}  // namespace

bool copy_ancestor_argv(const google::protobuf::RepeatedPtrField<std::string>& argv, size_t max_bytes,
                        google::protobuf::RepeatedPtrField<std::string>& out) {
  size_t used = 0;
  for (const std::string& arg : argv) {
    if (arg.size() < max_bytes - used) {  // the argument and its NUL fit
      out.Add()->assign(arg);
      used += arg.size() + 1;
      continue;
    }
    size_t cut = max_bytes - used > 0 ? max_bytes - used - 1 : 0;
    while (cut > 0 && (static_cast<unsigned char>(arg[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
    if (cut > 0) out.Add()->assign(arg, 0, cut);
    return false;
  }
  return true;
}

ProcessCache::ProcessCache(size_t capacity, size_t recent_exits) : capacity_(capacity), recent_exits_(recent_exits) {}

size_t ProcessCache::seed_from_proc(const BootClock& clock, const std::string& proc_root) {
  const std::string cgroup2 = find_cgroup2_mount(proc_root + "/self/mountinfo");
  DIR* dir = opendir(proc_root.c_str());
  if (!dir) return 0;
  size_t added = 0;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    unsigned long pid = strtoul(entry->d_name, &end, 10);
    if (*end != '\0' || pid == 0) continue;
    if (auto process = read_proc_process(proc_root, static_cast<uint32_t>(pid), cgroup2, clock)) {
      insert(std::move(*process));
      ++added;
    }
  }
  closedir(dir);
  // /proc lists children before parents whose pid was recycled; link once everything is in.
  for (CachedProcess& entry : lru_) entry.cached_children = 0;
  for (const CachedProcess& entry : lru_) link_to_parent(entry);
  return added;
}

void ProcessCache::insert(CachedProcess entry) {
  entry.image_wire.clear();
  entry.ancestor_wire.clear();
  entry.far_ancestor_wire.clear();
  insert_entry(std::move(entry));
}

CachedProcess& ProcessCache::insert_entry(CachedProcess&& entry) {
  const uint32_t pid = entry.process.pid();
  auto found = by_pid_.find(pid);
  if (found != by_pid_.end()) {
    CachedProcess& old = *found->second;
    if (same_start(old, entry.start_boottime_ns)) {
      // The same process after an exec: same parent, same children, same start time.
      entry.cached_children = old.cached_children;
      entry.process.set_start_time_ns(old.process.start_time_ns());
      old = std::move(entry);
      touch(found->second);
      return old;
    }
    remove(found->second);  // a new process reusing the pid
  }
  entry.cached_children = 0;
  entry.exit_expired = false;
  lru_.push_front(std::move(entry));
  CachedProcess& added = lru_.front();
  by_pid_[pid] = lru_.begin();
  link_to_parent(added);
  if (lru_.size() > capacity_) {  // the oldest goes: the newest is at the front
    remove(std::prev(lru_.end()));
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
  size_.store(lru_.size(), std::memory_order_relaxed);
  return added;
}

CachedProcess* ProcessCache::parent_of(const CachedProcess& child) {
  const uint32_t ppid = child.process.ppid();
  if (ppid == 0 || ppid == child.process.pid()) return nullptr;
  auto found = by_pid_.find(ppid);
  if (found == by_pid_.end()) return nullptr;
  CachedProcess& parent = *found->second;
  // A parent that started after its child is a later process reusing the pid.
  if (parent.start_boottime_ns > child.start_boottime_ns + (parent.start_precise ? 0 : kProcStartSlackNs))
    return nullptr;
  return &parent;
}

void ProcessCache::link_to_parent(const CachedProcess& child) {
  if (CachedProcess* parent = parent_of(child)) ++parent->cached_children;
}

void ProcessCache::remove(Lru::iterator it) {
  while (it != lru_.end()) {
    Lru::iterator next = lru_.end();
    if (CachedProcess* parent = parent_of(*it); parent && parent->cached_children > 0) {
      --parent->cached_children;
      if (parent->cached_children == 0 && parent->exit_expired) next = by_pid_[parent->process.pid()];
    }
    by_pid_.erase(it->process.pid());
    lru_.erase(it);
    it = next;
  }
  size_.store(lru_.size(), std::memory_order_relaxed);
}

void ProcessCache::expire_old_exits() {
  while (exits_.size() > recent_exits_) {
    const auto [pid, start] = exits_.front();
    exits_.pop_front();
    auto found = by_pid_.find(pid);
    if (found == by_pid_.end()) continue;
    CachedProcess& entry = *found->second;
    if (!entry.exited || !same_start(entry, start)) continue;  // the pid was reused meanwhile
    if (entry.cached_children > 0) {
      entry.exit_expired = true;  // ancestry of a live descendant still needs it
    } else {
      remove(found->second);
    }
  }
}

const CachedProcess& ProcessCache::on_exec(const DecodedEvent& exec) {
  CachedProcess entry;
  entry.process = exec.event.process();
  entry.process.clear_ancestry();
  entry.process.clear_notes();
  entry.process.set_tid(entry.process.pid());  // a thread that execs becomes the group leader
  entry.start_boottime_ns = exec.start_boottime_ns;
  entry.has_exe_identity = exec.has_exe_identity;
  entry.exe_identity = exec.exe_identity;
  return insert_entry(std::move(entry));
}

const CachedProcess* ProcessCache::on_fork(const DecodedEvent& fork) {
  const v1::ForkEvent& f = fork.event.fork();
  if (f.thread()) return nullptr;
  const v1::Process& parent_event = fork.event.process();
  CachedProcess child;
  if (const CachedProcess* parent = find(parent_event.pid(), fork.start_boottime_ns)) {
    child = *parent;  // a forked child runs its parent's image until it execs
    child.ancestor_wire.clear();  // the image stays the parent's; the pid and start time do not
    child.far_ancestor_wire.clear();
  } else {
    child.process = parent_event;
    child.process.clear_ancestry();
    child.process.clear_notes();
  }
  child.process.set_pid(f.child_pid());
  child.process.set_tid(f.child_pid());
  child.process.set_ppid(parent_event.pid());
  child.process.set_start_time_ns(f.child_start_time_ns());
  child.start_boottime_ns = fork.child_start_boottime_ns;
  child.start_precise = true;
  child.exited = false;
  child.exit_expired = false;
  return &insert_entry(std::move(child));
}

void ProcessCache::on_exit(uint32_t pid, uint64_t start_boottime_ns) {
  auto found = by_pid_.find(pid);
  if (found == by_pid_.end() || !same_start(*found->second, start_boottime_ns) || found->second->exited) return;
  found->second->exited = true;
  exits_.emplace_back(pid, start_boottime_ns);
  expire_old_exits();
}

CachedProcess* ProcessCache::find_any(uint32_t pid) {
  auto found = by_pid_.find(pid);
  if (found == by_pid_.end()) return nullptr;
  touch(found->second);
  return &*found->second;
}

const CachedProcess* ProcessCache::find(uint32_t pid, uint64_t start_boottime_ns) {
  CachedProcess* entry = find_any(pid);
  if (entry && same_start(*entry, start_boottime_ns)) {
    hits_.fetch_add(1, std::memory_order_relaxed);
    return entry;
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

template <typename Emit>
bool ProcessCache::walk_ancestry(uint32_t ppid, uint64_t start_boottime_ns, uint32_t depth, Emit&& emit) {
  uint32_t pid = ppid;
  uint64_t child_start = start_boottime_ns;
  for (uint32_t level = 0; level < depth; ++level) {
    if (pid == 0) return true;  // reached the top: pid 1's parent is 0
    const CachedProcess* entry = find_any(pid);
    // A parent that started after its child is a later process reusing the pid.
    if (!entry || entry->start_boottime_ns > child_start + (entry->start_precise ? 0 : kProcStartSlackNs))
      return false;
    emit(*entry, level < ancestor_argv_depth_ ? ancestor_argv_max_bytes_ : 0);
    child_start = entry->start_boottime_ns;
    pid = entry->process.ppid();
  }
  return pid == 0;
}

bool ProcessCache::fill_ancestry(uint32_t ppid, uint64_t start_boottime_ns, uint32_t depth, v1::Process& out) {
  return walk_ancestry(ppid, start_boottime_ns, depth, [&out](const CachedProcess& entry, size_t argv_max_bytes) {
    build_ancestor(entry, argv_max_bytes, *out.add_ancestry());
  });
}

bool ProcessCache::collect_ancestry_wire(uint32_t ppid, uint64_t start_boottime_ns, uint32_t depth,
                                         std::vector<const std::string*>& out) {
  return walk_ancestry(ppid, start_boottime_ns, depth, [&out](const CachedProcess& entry, size_t argv_max_bytes) {
    // A limit of 0 (beyond the argv depth, or ancestry_argv_max_bytes 0) gives the form without argv.
    std::string& wire = argv_max_bytes == 0 ? entry.far_ancestor_wire : entry.ancestor_wire;
    if (wire.empty()) {  // never empty once built: it holds at least the tag
      v1::Ancestor ancestor;
      build_ancestor(entry, argv_max_bytes, ancestor);
      append_length_delimited(v1::Process::kAncestryFieldNumber, ancestor.SerializeAsString(), wire);
    }
    out.push_back(&wire);
  });
}

const std::string& ProcessCache::image_wire(const CachedProcess& entry) {
  if (entry.image_wire.empty()) {
    const v1::Process& from = entry.process;
    v1::Process image;
    image.set_tty(from.tty());
    *image.mutable_argv() = from.argv();
    image.set_argv_truncated(from.argv_truncated());
    image.set_cwd(from.cwd());
    *image.mutable_env() = from.env();
    image.set_env_truncated(from.env_truncated());
    image.SerializeToString(&entry.image_wire);
    // An empty image is built again next time: cheap, and rare (a kernel thread has no argv or cwd).
  }
  return entry.image_wire;
}

void ProcessCache::touch(Lru::iterator it) {
  if (it != lru_.begin()) lru_.splice(lru_.begin(), lru_, it);
}

v1::CacheStatus ProcessCache::status() const {
  v1::CacheStatus s;
  s.set_size(size_.load(std::memory_order_relaxed));
  s.set_capacity(capacity_);
  s.set_hits(hits_.load(std::memory_order_relaxed));
  s.set_misses(misses_.load(std::memory_order_relaxed));
  s.set_evictions(evictions_.load(std::memory_order_relaxed));
  return s;
}

}  // namespace vajra
