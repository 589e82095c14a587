#include "proc_reader.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "cmdline.h"
#include "container.h"

namespace vajra {
namespace {

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  out = buffer.str();
  return true;
}

std::string read_link(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// "net:[4026531840]" -> 4026531840
uint32_t ns_inode(const std::string& proc_dir, const char* name) {
  std::string link = read_link(proc_dir + "/ns/" + name);
  size_t open = link.find('[');
  return open == std::string::npos ? 0 : static_cast<uint32_t>(strtoul(link.c_str() + open + 1, nullptr, 10));
}

uint32_t read_u32_file(const std::string& path, uint32_t fallback) {
  std::string text;
  if (!read_file(path, text) || text.empty()) return fallback;
  return static_cast<uint32_t>(strtoul(text.c_str(), nullptr, 10));
}

// Values of a "Key:\tv1\tv2..." line of /proc/<pid>/status.
std::vector<uint32_t> status_values(const std::string& status, const std::string& key) {
  std::vector<uint32_t> values;
  size_t at = status.find("\n" + key + ":");
  if (at == std::string::npos) return values;
  std::istringstream line(status.substr(at + key.size() + 2, status.find('\n', at + 1) - at - key.size() - 2));
  uint32_t value;
  while (line >> value) values.push_back(value);
  return values;
}

}  // namespace

std::string find_cgroup2_mount(const std::string& mountinfo_path) {
  std::ifstream in(mountinfo_path);
  std::string line;
  while (std::getline(in, line)) {
    // "... <mount point> <options> - <fstype> <source> <super options>"
    size_t dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream fields(line.substr(0, dash));
    std::string id, parent, devno, root, mount_point;
    fields >> id >> parent >> devno >> root >> mount_point;
    return mount_point;
  }
  return "";
}

uint32_t own_mnt_namespace() {
  struct stat st {};
  return stat("/proc/self/ns/mnt", &st) == 0 ? static_cast<uint32_t>(st.st_ino) : 0;
}

std::optional<CachedProcess> read_proc_process(const std::string& proc_root, uint32_t pid,
                                               const std::string& cgroup2_mount, const BootClock& clock) {
  const std::string dir = proc_root + "/" + std::to_string(pid);
  std::string stat_text, status;
  if (!read_file(dir + "/stat", stat_text) || !read_file(dir + "/status", status)) return std::nullopt;

  // comm may hold spaces and parentheses: the fields resume after the last ')'.
  size_t open = stat_text.find('('), close = stat_text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  std::istringstream rest(stat_text.substr(close + 2));
  std::vector<std::string> fields{std::istream_iterator<std::string>(rest), {}};
  if (fields.size() < 20) return std::nullopt;
  if (!status_values(status, "Tgid").empty() && status_values(status, "Tgid")[0] != pid) return std::nullopt;

  CachedProcess entry;
  entry.start_precise = false;
  static const uint64_t ticks_per_second = static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  entry.start_boottime_ns = std::stoull(fields[19]) * (1000000000ull / ticks_per_second);

  v1::Process& p = entry.process;
  p.set_pid(pid);
  p.set_tid(pid);
  p.set_ppid(static_cast<uint32_t>(std::stoul(fields[1])));
  p.set_start_time_ns(clock.to_wall_ns(entry.start_boottime_ns));
  p.set_comm(sanitize_utf8(stat_text.substr(open + 1, close - open - 1)));
  if (auto uids = status_values(status, "Uid"); uids.size() >= 2) {
    p.set_uid(uids[0]);
    p.set_euid(uids[1]);
  }
  if (auto gids = status_values(status, "Gid"); gids.size() >= 2) {
    p.set_gid(gids[0]);
    p.set_egid(gids[1]);
  }
  if (auto nspids = status_values(status, "NSpid"); !nspids.empty()) p.set_ns_pid(nspids.back());
  p.set_auid(read_u32_file(dir + "/loginuid", 4294967295u));
  p.set_session_id(read_u32_file(dir + "/sessionid", 4294967295u));

  // Kernel threads have no exe; their entry still anchors ancestry.
  std::string exe = read_link(dir + "/exe");
  const std::string deleted_suffix = " (deleted)";
  struct stat exe_stat {};
  if (!exe.empty() && stat(std::string(dir + "/exe").c_str(), &exe_stat) == 0) {
    entry.has_exe_identity = true;
    entry.exe_identity = FileIdentity{kernel_dev(exe_stat.st_dev), exe_stat.st_ino,
                                      static_cast<uint64_t>(exe_stat.st_size),
                                      static_cast<uint64_t>(exe_stat.st_mtim.tv_sec) * 1000000000ull +
                                          static_cast<uint64_t>(exe_stat.st_mtim.tv_nsec)};
  }
  if (exe.size() > deleted_suffix.size() &&
      exe.compare(exe.size() - deleted_suffix.size(), deleted_suffix.size(), deleted_suffix) == 0) {
    exe.resize(exe.size() - deleted_suffix.size());
    p.add_notes("exe file was deleted");
  }
  p.set_exe(sanitize_utf8(exe));
  std::string cmdline;
  if (read_file(dir + "/cmdline", cmdline)) {
    bool truncated = false;
    for (auto& arg : split_nul(cmdline, SIZE_MAX, &truncated)) p.add_argv(std::move(arg));
  }
  p.set_cwd(sanitize_utf8(read_link(dir + "/cwd")));

  std::string cgroups;
  if (read_file(dir + "/cgroup", cgroups)) {
    size_t v2 = cgroups.find("0::");
    if (v2 != std::string::npos) {
      std::string path = cgroups.substr(v2 + 3, cgroups.find('\n', v2) - v2 - 3);
      p.set_cgroup_path(sanitize_utf8(path));
      struct stat cg {};
      if (!cgroup2_mount.empty() && stat((cgroup2_mount + path).c_str(), &cg) == 0) p.set_cgroup_id(cg.st_ino);
      *p.mutable_container() = parse_container(path);
    }
  }
  v1::Namespaces& ns = *p.mutable_namespaces();
  ns.set_pid(ns_inode(dir, "pid"));
  ns.set_mnt(ns_inode(dir, "mnt"));
  ns.set_net(ns_inode(dir, "net"));
  ns.set_user(ns_inode(dir, "user"));
  ns.set_uts(ns_inode(dir, "uts"));
  ns.set_ipc(ns_inode(dir, "ipc"));
  ns.set_cgroup(ns_inode(dir, "cgroup"));
  return entry;
}

}  // namespace vajra
