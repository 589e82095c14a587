// Loads the BPF probe families from their embedded skeletons, isolates what the verifier or the kernel
// rejects so that only the culprit is disabled, and drains every family's ring buffer.
#include "probes.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <thread>

#include "file.skel.h"
#include "net.skel.h"
#include "process.skel.h"
#include "vajra_wire.h"

namespace vajra {
namespace {

// ---- families ------------------------------------------------------------------------------------

// An opened (not yet loaded) BPF object. Skeleton types differ per family; past opening, everything is
// done through the generic bpf_object API.
class OpenedSkeleton {
 public:
  OpenedSkeleton(bpf_object* object, std::function<void()> destroy)
      : object_(object), destroy_(std::move(destroy)) {}
  ~OpenedSkeleton() { destroy_(); }
  OpenedSkeleton(const OpenedSkeleton&) = delete;
  OpenedSkeleton& operator=(const OpenedSkeleton&) = delete;
  bpf_object* object() const { return object_; }

 private:
  bpf_object* object_;
  std::function<void()> destroy_;
};

// One event kind a family can turn on or off, and the BPF programs (by function name) it consists of.
struct ProbeSpec {
  const char* name;
  bool (*enabled)(const Config&);
  std::vector<const char*> programs;
};

// Opens a fresh copy of a family's embedded object with its .rodata set from the config. On failure
// returns nullptr and stores the errno in *error.
using OpenFamilyFn = std::unique_ptr<OpenedSkeleton> (*)(const Config&, int* error);

// Fills a loaded family's own maps from the config, before its programs are attached. Returns why it
// could not, or "".
using ConfigureFamilyFn = std::string (*)(bpf_object*, const Config&);

// Adding a family is a skeleton (bpf/CMakeLists.txt), an open function and one entry in kFamilies.
// Every family object has the maps emit.bpf.h defines: events, drops, scratch.
struct FamilySpec {
  const char* name;
  std::vector<ProbeSpec> probes;
  OpenFamilyFn open;
  ConfigureFamilyFn configure = nullptr;
};

// The kernel copy cannot exceed the scratch slot's section, sized by the wire header's maximum.
uint32_t capped(uint32_t configured, uint32_t maximum, const char* key) {
  if (configured <= maximum) return configured;
  spdlog::warn("probes: {} = {} exceeds the kernel maximum {}; using {}", key, configured, maximum, maximum);
  return maximum;
}

std::unique_ptr<OpenedSkeleton> open_process_family(const Config& config, int* error) {
  process_bpf* skel = process_bpf__open();
  if (!skel) {
    *error = errno;
    return nullptr;
  }
  skel->rodata->argv_max_bytes = capped(config.process.argv_max_bytes, VJ_ARGV_MAX, "process.argv_max_bytes");
  skel->rodata->env_max_bytes = capped(config.process.env_max_bytes, VJ_ENV_MAX, "process.env_max_bytes");
  skel->rodata->trace_threads = config.events.threads;
  return std::make_unique<OpenedSkeleton>(skel->obj, [skel] { process_bpf__destroy(skel); });
}

std::unique_ptr<OpenedSkeleton> open_net_family(const Config& config, int* error) {
  net_bpf* skel = net_bpf__open();
  if (!skel) {
    *error = errno;
    return nullptr;
  }
  const NetworkConfig& net = config.network;
  skel->rodata->report_udp_flows = net.udp;
  skel->rodata->capture_dns = net.dns;
  skel->rodata->udp_dedup_window_ns = static_cast<uint64_t>(net.udp_dedup_window_ms) * 1000000ull;
  skel->rodata->include_ports_set = !net.include_ports.empty();
  skel->rodata->exclude_ports_set = !net.exclude_ports.empty();
  skel->rodata->include_cidrs_set = !net.include_cidrs.empty();
  skel->rodata->exclude_cidrs_set = !net.exclude_cidrs.empty();
  return std::make_unique<OpenedSkeleton>(skel->obj, [skel] { net_bpf__destroy(skel); });
}

std::string configure_net_family(bpf_object* object, const Config& config) {
  const NetworkConfig& net = config.network;
  bpf_map* ports = bpf_object__find_map_by_name(object, "port_filter");
  bpf_map* include = bpf_object__find_map_by_name(object, "include_cidrs");
  bpf_map* exclude = bpf_object__find_map_by_name(object, "exclude_cidrs");
  if (!ports || !include || !exclude) return "object lacks its port_filter or CIDR maps";

  std::map<uint16_t, uint8_t> port_bits;
  for (uint16_t port : net.include_ports) port_bits[port] |= VJ_PORT_INCLUDE;
  for (uint16_t port : net.exclude_ports) port_bits[port] |= VJ_PORT_EXCLUDE;
  for (const auto& [port, bits] : port_bits) {
    if (const int err = bpf_map__update_elem(ports, &port, sizeof(port), &bits, sizeof(bits), BPF_ANY))
      return "filling map port_filter: " + std::string(std::strerror(-err));
  }
  const std::pair<bpf_map*, const std::vector<Cidr>*> lists[] = {{include, &net.include_cidrs},
                                                                  {exclude, &net.exclude_cidrs}};
  for (const auto& [map, cidrs] : lists) {
    for (const Cidr& cidr : *cidrs) {
      vj_cidr_key key{};
      key.prefixlen = cidr.prefix_len;
      std::memcpy(key.addr, cidr.address.data(), sizeof(key.addr));
      const uint8_t present = 1;
      if (const int err = bpf_map__update_elem(map, &key, sizeof(key), &present, sizeof(present), BPF_ANY))
        return std::string("filling map ") + bpf_map__name(map) + ": " + std::strerror(-err);
    }
  }
  return {};
}

std::unique_ptr<OpenedSkeleton> open_file_family(const Config&, int* error) {
  file_bpf* skel = file_bpf__open();
  if (!skel) {
    *error = errno;
    return nullptr;
  }
  return std::make_unique<OpenedSkeleton>(skel->obj, [skel] { file_bpf__destroy(skel); });
}

bool files_on(const Config& c) { return c.files.enabled; }

const std::vector<FamilySpec>& families() {
  static const std::vector<FamilySpec> kFamilies = {
      {"process",
       {
           {"exec", [](const Config& c) { return c.events.exec; }, {"handle_exec"}},
           {"exec_failed",
            [](const Config& c) { return c.events.exec_failed; },
            {"handle_execve_exit", "handle_execveat_exit"}},
           {"fork", [](const Config& c) { return c.events.fork; }, {"handle_fork"}},
           {"exit", [](const Config& c) { return c.events.exit; }, {"handle_exit"}},
       },
       open_process_family},
      // One probe per operation, so that each can be turned off or fail alone. Sends serve both UDP
      // flows and DNS queries; receives only DNS answers.
      {"net",
       {
           {"bind", [](const Config& c) { return c.network.bind; }, {"handle_bind_enter", "handle_bind_exit"}},
           {"listen",
            [](const Config& c) { return c.network.listen; },
            {"handle_listen_enter", "handle_listen_exit"}},
           {"accept",
            [](const Config& c) { return c.network.accept; },
            {"handle_accept_enter", "handle_accept_exit", "handle_accept4_enter", "handle_accept4_exit"}},
           {"connect",
            [](const Config& c) { return c.network.connect; },
            {"handle_connect_enter", "handle_connect_exit", "handle_sock_state"}},
           {"close", [](const Config& c) { return c.network.close; }, {"handle_close_enter"}},
           // Sockets closed without close(2).
           {"close_at_exit", [](const Config& c) { return c.network.close; }, {"handle_exit_close"}},
           {"close_at_exec",
            [](const Config& c) { return c.network.close; },
            {"handle_execve_close_enter", "handle_execve_close_exit", "handle_execveat_close_enter",
             "handle_execveat_close_exit"}},
           {"close_at_dup",
            [](const Config& c) { return c.network.close; },
            {"handle_dup2_enter", "handle_dup2_exit", "handle_dup3_enter", "handle_dup3_exit"}},
           {"send",
            [](const Config& c) { return c.network.udp || c.network.dns; },
            {"handle_sendto_enter", "handle_sendto_exit", "handle_sendmsg_enter", "handle_sendmsg_exit",
             "handle_sendmmsg_enter", "handle_sendmmsg_exit"}},
           {"recv",
            [](const Config& c) { return c.network.dns; },
            {"handle_recvfrom_enter", "handle_recvfrom_exit", "handle_recvmsg_enter", "handle_recvmsg_exit",
             "handle_recvmmsg_enter", "handle_recvmmsg_exit"}},
           // On every file write and read: exits attach first, so that no entry waits on an unwatched exit.
           {"write",
            [](const Config& c) { return c.network.udp || c.network.dns; },
            {"handle_write_exit", "handle_write_enter", "handle_writev_exit", "handle_writev_enter"}},
           {"read",
            [](const Config& c) { return c.network.dns; },
            {"handle_read_exit", "handle_read_enter", "handle_readv_exit", "handle_readv_enter"}},
       },
       open_net_family,
       configure_net_family},
      // What each category watches lives in the family's filter maps (daemon/fim_maps.h), which are
      // rewritten on reload; so every probe is attached whenever files are on, and an operation no
      // category wants returns at its first instruction.
      {"file",
       {
           {"open", files_on, {"handle_open_exit", "handle_openat_exit", "handle_openat2_exit", "handle_creat_exit"}},
           {"modify",
            files_on,
            {"handle_write_exit", "handle_pwrite64_exit", "handle_writev_exit", "handle_pwritev_exit",
             "handle_pwritev2_exit", "handle_file_close", "handle_file_dup2", "handle_file_dup3",
             "handle_file_close_range", "handle_file_exit"}},
           {"truncate", files_on, {"handle_truncate_exit", "handle_ftruncate_exit"}},
           {"delete", files_on, {"handle_unlink_exit", "handle_unlinkat_exit", "handle_rmdir_exit"}},
           {"rename", files_on, {"handle_rename_exit", "handle_renameat_exit", "handle_renameat2_exit"}},
           {"link", files_on, {"handle_link_exit", "handle_linkat_exit"}},
           {"symlink", files_on, {"handle_symlink_exit", "handle_symlinkat_exit"}},
           {"mkdir", files_on, {"handle_mkdir_exit", "handle_mkdirat_exit"}},
           {"chmod",
            files_on,
            {"handle_chmod_exit", "handle_fchmod_exit", "handle_fchmodat_exit", "handle_fchmodat2_exit"}},
           {"chown",
            files_on,
            {"handle_chown_exit", "handle_lchown_exit", "handle_fchown_exit", "handle_fchownat_exit"}},
           {"setxattr",
            files_on,
            {"handle_setxattr_exit", "handle_lsetxattr_exit", "handle_fsetxattr_exit", "handle_setxattrat_exit"}},
           {"removexattr",
            files_on,
            {"handle_removexattr_exit", "handle_lremovexattr_exit", "handle_fremovexattr_exit",
             "handle_removexattrat_exit"}},
       },
       open_file_family},
  };
  return kFamilies;
}

// ---- libbpf output ---------------------------------------------------------------------------------

std::string libbpf_error_text(int err) {
  char text[128];
  libbpf_strerror(err < 0 ? -err : err, text, sizeof(text));
  return text;
}

// libbpf prints through one process-wide callback. While a load attempt runs, its output (including
// the verifier log) goes to that attempt's buffer, so a failure can be reported with its own reason.
thread_local std::string* g_libbpf_capture = nullptr;

// A failed load can print a verifier log of megabytes; its reason is at the end.
constexpr size_t kCaptureTailBytes = 64 * 1024;

int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
  va_list measure;
  va_copy(measure, args);
  const int needed = std::vsnprintf(nullptr, 0, format, measure);
  va_end(measure);
  if (needed <= 0) return 0;
  std::string message(static_cast<size_t>(needed) + 1, '\0');
  std::vsnprintf(message.data(), message.size(), format, args);
  message.resize(static_cast<size_t>(needed));

  if (g_libbpf_capture && level != LIBBPF_DEBUG) {
    g_libbpf_capture->append(message);
    if (g_libbpf_capture->size() > kCaptureTailBytes)
      g_libbpf_capture->erase(0, g_libbpf_capture->size() - kCaptureTailBytes);
    return 0;
  }
  while (!message.empty() && message.back() == '\n') message.pop_back();
  if (level == LIBBPF_WARN)
    spdlog::warn("libbpf: {}", message);
  else
    spdlog::debug("libbpf: {}", message);
  return 0;
}

class LibbpfCapture {
 public:
  LibbpfCapture() : previous_(g_libbpf_capture) { g_libbpf_capture = &text_; }
  ~LibbpfCapture() { g_libbpf_capture = previous_; }
  LibbpfCapture(const LibbpfCapture&) = delete;
  LibbpfCapture& operator=(const LibbpfCapture&) = delete;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::string* previous_;
};

std::vector<std::string> non_empty_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("libbpf: ", 0) == 0) line.erase(0, 8);
    if (line.find_first_not_of(" \t") != std::string::npos) lines.push_back(line);
  }
  return lines;
}

std::string clip(std::string text, size_t max) {
  if (text.size() > max) text = text.substr(0, max - 3) + "...";
  return text;
}

// Turns an attempt's libbpf output into one short reason: the error, then the last lines of the
// verifier log (where the verifier states why it gave up), or else libbpf's last messages.
std::string summarize_failure(const std::string& what, int err, const std::string& captured) {
  constexpr size_t kTailLines = 3;
  const std::vector<std::string> lines = non_empty_lines(captured);
  std::vector<std::string> tail;
  auto end = std::find_if(lines.rbegin(), lines.rend(), [](const std::string& line) {
    return line.find("-- END PROG LOAD LOG --") != std::string::npos;
  });
  if (end != lines.rend()) {
    for (auto it = end + 1; it != lines.rend() && tail.size() < kTailLines; ++it) {
      if (it->find("-- BEGIN PROG LOAD LOG --") != std::string::npos) break;
      // Statistics lines say how much was verified, not why it failed.
      if (it->rfind("processed ", 0) == 0 || it->rfind("verification time", 0) == 0) continue;
      tail.insert(tail.begin(), clip(*it, 160));
    }
  } else {
    for (auto it = lines.rbegin(); it != lines.rend() && tail.size() < 2; ++it)
      tail.insert(tail.begin(), clip(*it, 200));
  }
  std::string summary = what + ": " + libbpf_error_text(err);
  if (!tail.empty()) {
    summary += end != lines.rend() ? "; verifier: " : "; libbpf: ";
    for (size_t i = 0; i < tail.size(); ++i) summary += (i ? " | " : "") + tail[i];
  }
  return summary;
}

// ---- kernel features -------------------------------------------------------------------------------

v1::KernelFeature feature(const char* name, bool available, std::string detail) {
  v1::KernelFeature out;
  out.set_name(name);
  out.set_available(available);
  out.set_detail(std::move(detail));
  return out;
}

// libbpf_probe_* return 1 (supported), 0 (not) or a negative error (could not tell).
v1::KernelFeature probe_result(const char* name, int result, const char* what) {
  if (result < 0) return feature(name, false, std::string("probe failed: ") + libbpf_error_text(result));
  return feature(name, result == 1, std::string(what) + (result == 1 ? " supported" : " not supported"));
}

// tp_btf programs need vmlinux BTF and BPF_PROG_TYPE_TRACING; libbpf has no probe for a type that must
// name its attach target, so load a two-instruction program aimed at the fork tracepoint.
v1::KernelFeature probe_tp_btf() {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) return feature("tp_btf", false, "no vmlinux BTF: " + libbpf_error_text(errno));
  const int target = btf__find_by_name_kind(vmlinux, "btf_trace_sched_process_fork", BTF_KIND_TYPEDEF);
  btf__free(vmlinux);
  if (target < 0) return feature("tp_btf", false, "vmlinux BTF has no btf_trace_sched_process_fork");

  bpf_insn program[2] = {};
  program[0].code = BPF_ALU64 | BPF_MOV | BPF_K;  // r0 = 0
  program[0].dst_reg = BPF_REG_0;
  program[1].code = BPF_JMP | BPF_EXIT;
  bpf_prog_load_opts opts = {};
  opts.sz = sizeof(opts);
  opts.expected_attach_type = BPF_TRACE_RAW_TP;
  opts.attach_btf_id = static_cast<__u32>(target);
  const int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "vj_tp_btf", "GPL", program, 2, &opts);
  if (fd < 0) return feature("tp_btf", false, "loading a tracing program failed: " + libbpf_error_text(errno));
  close(fd);
  return feature("tp_btf", true, "tracing program loads against btf_trace_sched_process_fork");
}

std::vector<v1::KernelFeature> detect_features() {
  std::vector<v1::KernelFeature> out;
  const bool btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
  out.push_back(feature("btf_vmlinux", btf,
                        btf ? "/sys/kernel/btf/vmlinux readable"
                            : "/sys/kernel/btf/vmlinux: " + std::string(std::strerror(errno))));
  out.push_back(probe_result("ringbuf", libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr),
                             "BPF_MAP_TYPE_RINGBUF"));
  out.push_back(probe_tp_btf());
  out.push_back(probe_result(
      "helper_ktime_get_boot_ns",
      libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_ktime_get_boot_ns, nullptr),
      "bpf_ktime_get_boot_ns from tracepoints"));
  out.push_back(probe_result("helper_loop",
                             libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_loop, nullptr),
                             "bpf_loop from tracepoints"));
  return out;
}

// ---- loading -------------------------------------------------------------------------------------

// A family whose object is loaded and attached (at least in part). Links go before the object.
struct LoadedFamily {
  std::string name;
  std::unique_ptr<OpenedSkeleton> skeleton;
  std::vector<bpf_link*> links;
  int drops_fd = -1;
  int events_fd = -1;
  // wake_ctl[0] (emit.bpf.h), mapped: nonzero asks the kernel to signal the next record.
  uint32_t* idle_flag = nullptr;
  size_t idle_flag_bytes = 0;

  ~LoadedFamily() {
    for (bpf_link* link : links) bpf_link__destroy(link);
    if (idle_flag) munmap(idle_flag, idle_flag_bytes);
  }
};

std::string ring_size_problem(uint32_t bytes) {
  const long page = sysconf(_SC_PAGESIZE);
  if (bytes == 0 || (bytes & (bytes - 1)) != 0 || page <= 0 || bytes % static_cast<uint32_t>(page) != 0)
    return "buffers.ring_buffer_bytes = " + std::to_string(bytes) +
           ": a BPF ring buffer must be a power of two and a multiple of the page size (" +
           std::to_string(page) + ")";
  return {};
}

std::string size_maps(bpf_object* object, const Config& config) {
  bpf_map* events = bpf_object__find_map_by_name(object, "events");
  bpf_map* scratch = bpf_object__find_map_by_name(object, "scratch");
  if (!events || !scratch) return "object lacks the 'events' or 'scratch' map (see bpf/emit.bpf.h)";
  int err = bpf_map__set_max_entries(events, config.buffers.ring_buffer_bytes);
  if (err) return "sizing ring buffer 'events': " + libbpf_error_text(err);
  // Scratch slots are indexed by bpf_get_smp_processor_id(), which ranges over possible CPUs.
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return "counting possible CPUs: " + libbpf_error_text(cpus);
  err = bpf_map__set_max_entries(scratch, static_cast<uint32_t>(cpus));
  if (err) return "sizing map 'scratch': " + libbpf_error_text(err);
  return {};
}

struct Attempt {
  std::unique_ptr<OpenedSkeleton> loaded;  // set when the load succeeded
  std::string error;                       // why it did not
};

// Opens (unless given an opened object), enables exactly the probes in `wanted`, and loads.
Attempt try_load(const FamilySpec& family, const Config& config, const std::vector<size_t>& wanted,
                 std::unique_ptr<OpenedSkeleton> opened) {
  LibbpfCapture capture;
  if (!opened) {
    int err = 0;
    opened = family.open(config, &err);
    if (!opened) return {nullptr, summarize_failure("opening the embedded BPF object", err, capture.text())};
  }
  bpf_object* object = opened->object();
  for (size_t i = 0; i < family.probes.size(); ++i) {
    const bool on = std::find(wanted.begin(), wanted.end(), i) != wanted.end();
    for (const char* name : family.probes[i].programs) {
      bpf_program* program = bpf_object__find_program_by_name(object, name);
      if (!program) return {nullptr, std::string("program ") + name + " is missing from the object"};
      bpf_program__set_autoload(program, on);
    }
  }
  if (std::string problem = size_maps(object, config); !problem.empty()) return {nullptr, problem};
  const int err = bpf_object__load(object);
  if (err) return {nullptr, summarize_failure("load", err, capture.text())};
  return {std::move(opened), {}};
}

std::string attach_points(bpf_object* object, const ProbeSpec& probe) {
  std::string out;
  for (const char* name : probe.programs) {
    const bpf_program* program = bpf_object__find_program_by_name(object, name);
    if (!program) continue;
    out += (out.empty() ? "" : ", ") + std::string(bpf_program__section_name(program));
  }
  return out;
}

}  // namespace

// ---- ProbeSet ------------------------------------------------------------------------------------

struct ProbeSet::Impl {
  explicit Impl(const Config& config_in) : config(config_in) {}
  ~Impl() {
    if (waiter >= 0) close(waiter);
    if (wake_fd >= 0) close(wake_fd);
    ring_buffer__free(process_rings);  // before the maps they read go away with the families
    ring_buffer__free(rings);
    detach_all();
    loaded.clear();
  }

  // Detaching a tracepoint program waits for an RCU grace period (~0.1 s here): one after another,
  // the ~70 attachments made stopping vajrad take 7 s. Links are independent, so they go in parallel.
  void detach_all() {
    std::vector<bpf_link*> links;
    for (auto& family : loaded) {
      links.insert(links.end(), family->links.begin(), family->links.end());
      family->links.clear();
    }
    constexpr size_t kDetachThreads = 16;
    std::vector<std::thread> threads;
    for (size_t t = 0; t < std::min(kDetachThreads, links.size()); ++t) {
      threads.emplace_back([&links, t] {
        for (size_t i = t; i < links.size(); i += kDetachThreads) bpf_link__destroy(links[i]);
      });
    }
    for (std::thread& thread : threads) thread.join();
  }

  void load_family(const FamilySpec& family);
  void attach_family(const FamilySpec& family, std::unique_ptr<OpenedSkeleton> skeleton,
                     const std::vector<size_t>& probes, std::vector<v1::ProbeStatus*>& probe_status);
  bool add_ring(LoadedFamily& family);
  bool make_waiter();

  static int on_record(void* context, void* data, size_t size);

  const Config config;
  RecordHandler handler;
  std::vector<v1::KernelFeature> features;
  std::vector<v1::ProbeStatus> status;
  std::vector<std::unique_ptr<LoadedFamily>> loaded;
  // The process family's ring on its own, so that it can be read alone (consume_process_ring()), and
  // every other family's.
  ring_buffer* process_rings = nullptr;
  ring_buffer* rings = nullptr;
  bool reading_process_ring = false;
  // wait() sleeps on this epoll set: every family's ring, and wake_fd for interrupt().
  int waiter = -1;
  int wake_fd = -1;
};

int ProbeSet::Impl::on_record(void* context, void* data, size_t size) {
  auto* impl = static_cast<Impl*>(context);
  // libbpf is C: an exception must not unwind through it.
  try {
    impl->handler(data, size);
  } catch (const std::exception& error) {
    spdlog::error("probes: record handler failed on a {}-byte record: {}", size, error.what());
  }
  return 0;
}

void ProbeSet::Impl::load_family(const FamilySpec& family) {
  const size_t first = status.size();
  std::vector<size_t> enabled;
  for (size_t i = 0; i < family.probes.size(); ++i) {
    v1::ProbeStatus probe;
    probe.set_family(family.name);
    probe.set_name(family.probes[i].name);
    const bool on = family.probes[i].enabled(config);
    probe.set_state(on ? v1::PROBE_STATE_UNSPECIFIED : v1::PROBE_STATE_DISABLED);
    status.push_back(probe);
    if (on)
      enabled.push_back(i);
    else
      spdlog::info("probe {}/{}: disabled by config", family.name, family.probes[i].name);
  }
  // Pointers into `status` stay valid: nothing is appended until this family is done.
  std::vector<v1::ProbeStatus*> probe_status;
  for (size_t i = 0; i < family.probes.size(); ++i) probe_status.push_back(&status[first + i]);
  auto fail = [&](size_t i, const std::string& error) {
    probe_status[i]->set_state(v1::PROBE_STATE_FAILED);
    probe_status[i]->set_error(error);
    spdlog::error("probe {}/{} failed: {}", family.name, family.probes[i].name, error);
  };

  int open_error = 0;
  std::unique_ptr<OpenedSkeleton> opened;
  {
    LibbpfCapture quiet;  // a failure here is reported through the attempt below
    opened = family.open(config, &open_error);
  }
  if (opened)
    for (size_t i = 0; i < family.probes.size(); ++i)
      probe_status[i]->set_attach(attach_points(opened->object(), family.probes[i]));
  if (enabled.empty()) return;

  if (std::string problem = ring_size_problem(config.buffers.ring_buffer_bytes); !problem.empty()) {
    for (size_t i : enabled) fail(i, problem);
    return;
  }

  Attempt all = try_load(family, config, enabled, std::move(opened));
  if (all.loaded) {
    attach_family(family, std::move(all.loaded), enabled, probe_status);
    return;
  }
  if (enabled.size() == 1) {
    fail(enabled.front(), all.error);
    return;
  }

  // One object holds every program, so one rejection fails the whole load. Load each probe alone to
  // find the culprits, then load the rest without them.
  spdlog::warn("probes: family {} failed to load; loading each probe alone to find the culprits", family.name);
  std::vector<size_t> healthy;
  for (size_t i : enabled) {
    Attempt alone = try_load(family, config, {i}, nullptr);
    if (alone.loaded)
      healthy.push_back(i);
    else
      fail(i, alone.error);
  }
  if (healthy.empty()) return;
  if (healthy.size() == enabled.size()) {
    // Each loads alone but not together: nothing to single out, so report the combined failure.
    for (size_t i : enabled) fail(i, all.error);
    return;
  }
  Attempt rest = try_load(family, config, healthy, nullptr);
  if (!rest.loaded) {
    for (size_t i : healthy) fail(i, rest.error);
    return;
  }
  attach_family(family, std::move(rest.loaded), healthy, probe_status);
}

void ProbeSet::Impl::attach_family(const FamilySpec& family, std::unique_ptr<OpenedSkeleton> skeleton,
                                   const std::vector<size_t>& probes,
                                   std::vector<v1::ProbeStatus*>& probe_status) {
  auto loaded_family = std::make_unique<LoadedFamily>();
  loaded_family->name = family.name;
  bpf_object* object = skeleton->object();
  loaded_family->skeleton = std::move(skeleton);
  if (family.configure) {
    if (const std::string problem = family.configure(object, config); !problem.empty()) {
      for (size_t i : probes) {
        probe_status[i]->set_state(v1::PROBE_STATE_FAILED);
        probe_status[i]->set_error(problem);
        spdlog::error("probe {}/{} failed: {}", family.name, family.probes[i].name, problem);
      }
      return;
    }
  }

  // Each program is attached on its own, so a hook missing on this kernel disables only its probe.
  std::vector<size_t> attached;
  for (size_t i : probes) {
    const ProbeSpec& probe = family.probes[i];
    std::vector<bpf_link*> links;
    std::string error;
    for (const char* name : probe.programs) {
      bpf_program* program = bpf_object__find_program_by_name(object, name);
      LibbpfCapture capture;
      bpf_link* link = bpf_program__attach(program);
      if (!link) {
        const int err = errno;
        error = summarize_failure(std::string("attaching ") + bpf_program__section_name(program), err,
                                  capture.text());
        break;
      }
      links.push_back(link);
    }
    if (!error.empty()) {
      for (bpf_link* link : links) bpf_link__destroy(link);
      probe_status[i]->set_state(v1::PROBE_STATE_FAILED);
      probe_status[i]->set_error(error);
      spdlog::error("probe {}/{} failed: {}", family.name, probe.name, error);
      continue;
    }
    loaded_family->links.insert(loaded_family->links.end(), links.begin(), links.end());
    attached.push_back(i);
  }
  if (attached.empty()) return;

  if (!add_ring(*loaded_family)) {
    for (size_t i : attached) {
      probe_status[i]->set_state(v1::PROBE_STATE_FAILED);
      probe_status[i]->set_error("ring buffer of family " + std::string(family.name) +
                                 " could not be polled (see log)");
    }
    return;
  }
  for (size_t i : attached) {
    probe_status[i]->set_state(v1::PROBE_STATE_LOADED);
    spdlog::info("probe {}/{}: loaded, attached to {}", family.name, family.probes[i].name,
                 probe_status[i]->attach());
  }
  loaded.push_back(std::move(loaded_family));
}

bool ProbeSet::Impl::add_ring(LoadedFamily& family) {
  bpf_object* object = family.skeleton->object();
  const int events_fd = bpf_map__fd(bpf_object__find_map_by_name(object, "events"));
  family.drops_fd = bpf_map__fd(bpf_object__find_map_by_name(object, "drops"));
  const int wake_ctl_fd = bpf_map__fd(bpf_object__find_map_by_name(object, "wake_ctl"));
  if (events_fd < 0 || family.drops_fd < 0 || wake_ctl_fd < 0) {
    spdlog::error("probes: family {} has no loaded 'events', 'drops' or 'wake_ctl' map", family.name);
    return false;
  }
  family.events_fd = events_fd;
  family.idle_flag_bytes = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* mapped = mmap(nullptr, family.idle_flag_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, wake_ctl_fd, 0);
  if (mapped == MAP_FAILED) {
    spdlog::error("probes: family {}: mapping 'wake_ctl': {}", family.name, std::strerror(errno));
    return false;
  }
  family.idle_flag = static_cast<uint32_t*>(mapped);
  LibbpfCapture capture;
  ring_buffer*& manager = family.name == "process" ? process_rings : rings;
  if (!manager) {
    manager = ring_buffer__new(events_fd, &Impl::on_record, this, nullptr);
    if (!manager) {
      const int err = errno;
      spdlog::error("probes: family {}: {}", family.name,
                    summarize_failure("creating the ring buffer poller", err, capture.text()));
      return false;
    }
    return true;
  }
  const int err = ring_buffer__add(manager, events_fd, &Impl::on_record, this);
  if (err) {
    spdlog::error("probes: family {}: {}", family.name,
                  summarize_failure("adding its ring buffer to the poller", err, capture.text()));
    return false;
  }
  return true;
}

bool ProbeSet::Impl::make_waiter() {
  waiter = epoll_create1(EPOLL_CLOEXEC);
  wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (waiter < 0 || wake_fd < 0) {
    spdlog::error("probes: creating the ring waiter: {}", std::strerror(errno));
    return false;
  }
  // Edge-triggered on the rings: wait() returns when the kernel signals (emit.bpf.h), not whenever
  // records are pending, so that a hold-off can sleep with records in the rings.
  std::vector<std::pair<int, uint32_t>> fds{{wake_fd, EPOLLIN}};
  for (const auto& family : loaded) fds.emplace_back(family->events_fd, EPOLLIN | EPOLLET);
  for (const auto& [fd, events] : fds) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    if (epoll_ctl(waiter, EPOLL_CTL_ADD, fd, &event) != 0) {
      spdlog::error("probes: adding fd {} to the ring waiter: {}", fd, std::strerror(errno));
      return false;
    }
  }
  return true;
}

ProbeSet::ProbeSet(const Config& config) : impl_(std::make_unique<Impl>(config)) {}

ProbeSet::~ProbeSet() = default;

bool ProbeSet::start(RecordHandler handler) {
  if (!impl_->status.empty()) {
    spdlog::error("probes: start() called twice; the probes are already loaded");
    return false;
  }
  impl_->handler = std::move(handler);
  libbpf_set_print(libbpf_print);

  // Kernels since 5.11 charge BPF memory to the cgroup and ignore this limit; older ones need it
  // raised, which takes CAP_SYS_RESOURCE. Either way a refusal is not an error by itself: a load that
  // truly needs it fails with its own message.
  const rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
  if (setrlimit(RLIMIT_MEMLOCK, &unlimited) != 0)
    spdlog::debug("probes: raising RLIMIT_MEMLOCK failed ({}); relying on cgroup accounting",
                  std::strerror(errno));

  impl_->features = detect_features();
  for (const v1::KernelFeature& f : impl_->features)
    spdlog::info("kernel feature {}: {} ({})", f.name(), f.available() ? "yes" : "no", f.detail());

  for (const FamilySpec& family : families()) impl_->load_family(family);
  if ((impl_->process_rings || impl_->rings) && !impl_->make_waiter()) return false;
  return !impl_->loaded.empty();
}

int ProbeSet::consume() {
  if (!impl_->process_rings && !impl_->rings) return -ENODEV;
  const int processes = consume_process_ring();
  if (processes < 0 || !impl_->rings) return processes;
  const int others = ring_buffer__consume(impl_->rings);
  return others < 0 ? others : processes + others;
}

int ProbeSet::consume_process_ring() {
  if (!impl_->process_rings || impl_->reading_process_ring) return 0;
  impl_->reading_process_ring = true;
  const int consumed = ring_buffer__consume(impl_->process_rings);
  impl_->reading_process_ring = false;
  return consumed;
}

void ProbeSet::signal_next_record(bool on) {
  // Sequentially consistent: the store must be seen before the caller's next look at the rings, or a
  // record submitted in between could go unsignalled (emit.bpf.h reads the flag before submitting).
  for (const auto& family : impl_->loaded) __atomic_store_n(family->idle_flag, on ? 1u : 0u, __ATOMIC_SEQ_CST);
}

int ProbeSet::wait(int timeout_ms) {
  if (impl_->waiter < 0) return -ENODEV;
  epoll_event events[8];
  const int ready = epoll_wait(impl_->waiter, events, 8, timeout_ms);
  if (ready < 0) return errno == EINTR ? 0 : -errno;
  return ready > 0 ? 1 : 0;
}

void ProbeSet::interrupt() {
  if (impl_->wake_fd < 0) return;
  const uint64_t one = 1;
  // Never read back: once interrupted, every wait returns at once, which is what stopping wants.
  if (write(impl_->wake_fd, &one, sizeof(one)) < 0) spdlog::debug("probes: waking the ring waiter: {}", std::strerror(errno));
}

std::vector<v1::ProbeStatus> ProbeSet::probe_status() const { return impl_->status; }

std::vector<v1::KernelFeature> ProbeSet::features() const { return impl_->features; }

std::vector<uint64_t> ProbeSet::kernel_drops() const {
  std::vector<uint64_t> drops(VJ_REC_KIND_MAX, 0);
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return drops;
  std::vector<uint32_t> kinds(VJ_REC_KIND_MAX);
  std::vector<uint64_t> per_cpu(static_cast<size_t>(VJ_REC_KIND_MAX) * static_cast<size_t>(cpus));
  for (const auto& family : impl_->loaded) {
    // The whole array in one system call: this runs 4 times a second, idle or not. An array read to
    // its end reports ENOENT, with `count` saying how many entries it read.
    uint32_t count = VJ_REC_KIND_MAX;
    uint32_t next = 0;
    const int err = bpf_map_lookup_batch(family->drops_fd, nullptr, &next, kinds.data(), per_cpu.data(), &count, nullptr);
    if (err != 0 && err != -ENOENT) {
      spdlog::warn("probes: reading the drop counters of family {}: {}", family->name, std::strerror(-err));
      continue;
    }
    for (uint32_t i = 0; i < count && i < VJ_REC_KIND_MAX; ++i) {
      if (kinds[i] >= VJ_REC_KIND_MAX) continue;
      for (int cpu = 0; cpu < cpus; ++cpu) drops[kinds[i]] += per_cpu[static_cast<size_t>(i) * cpus + cpu];
    }
  }
  return drops;
}

int ProbeSet::map_fd(const std::string& family, const std::string& map) const {
  for (const auto& loaded : impl_->loaded) {
    if (loaded->name != family) continue;
    const bpf_map* found = bpf_object__find_map_by_name(loaded->skeleton->object(), map.c_str());
    return found ? bpf_map__fd(found) : -1;
  }
  return -1;
}

}  // namespace vajra
