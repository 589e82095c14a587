// The recorded-event file shared by vbench-record and vbench-replay: the magic line "VBREC1\n", then
// per record a little-endian u32 length and the record's bytes as the ring buffer held them.
//
// Beside it, FILE.proc/ holds the processes that were alive when recording started, in the shape of
// /proc (only what vajra::read_proc_process reads), so that the replay can seed its process cache as
// vajrad does at start-up: the processes the workload runs under, with their argv, are then the
// ancestors of its events, as they are in vajrad, whether or not they still run when it replays.
#pragma once

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace vbench {

inline constexpr char kRecordMagic[] = "VBREC1\n";

inline bool write_records(const std::string& path, const std::vector<std::string>& records, std::string& error) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    error = "cannot write " + path;
    return false;
  }
  out.write(kRecordMagic, sizeof(kRecordMagic) - 1);
  for (const std::string& r : records) {
    const uint32_t size = static_cast<uint32_t>(r.size());
    out.write(reinterpret_cast<const char*>(&size), sizeof size);
    out.write(r.data(), static_cast<std::streamsize>(r.size()));
  }
  out.close();
  if (!out) error = "writing " + path + " failed";
  return static_cast<bool>(out);
}

inline bool read_records(const std::string& path, std::vector<std::string>& records, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path;
    return false;
  }
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t magic = sizeof(kRecordMagic) - 1;
  if (data.compare(0, magic, kRecordMagic) != 0) {
    error = path + ": not a vbench record file";
    return false;
  }
  size_t at = magic;
  while (at + 4 <= data.size()) {
    uint32_t size;
    std::memcpy(&size, data.data() + at, 4);
    at += 4;
    if (at + size > data.size()) {
      error = path + ": truncated record";
      return false;
    }
    records.emplace_back(data.substr(at, size));
    at += size;
  }
  return true;
}

inline std::string proc_snapshot_dir(const std::string& record_path) { return record_path + ".proc"; }

namespace detail {

inline bool copy_file(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) return false;
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  return static_cast<bool>(out);
}

// Recreates a /proc symlink (exe, cwd, ns/*) with the same target text; readlink() of the copy gives
// what readlink() of the original gave, and stat() through it reaches the same file.
inline void copy_link(const std::string& from, const std::string& to) {
  char target[4096];
  const ssize_t n = readlink(from.c_str(), target, sizeof(target) - 1);
  if (n <= 0) return;
  target[n] = '\0';
  if (symlink(target, to.c_str()) != 0) return;
}

}  // namespace detail

// Copies what read_proc_process reads of every process under /proc, and /proc/self/mountinfo, into
// `dir` (which must not exist). Returns how many processes were copied, or -1.
inline int snapshot_proc(const std::string& dir, std::string& error) {
  // Only root reads it: the command lines of every process are in it.
  if (mkdir(dir.c_str(), 0700) != 0 || mkdir((dir + "/self").c_str(), 0755) != 0) {
    error = "cannot create " + dir;
    return -1;
  }
  detail::copy_file("/proc/self/mountinfo", dir + "/self/mountinfo");
  DIR* proc = opendir("/proc");
  if (!proc) {
    error = "cannot read /proc";
    return -1;
  }
  int copied = 0;
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    const unsigned long pid = std::strtoul(entry->d_name, &end, 10);
    if (*end != '\0' || pid == 0) continue;
    const std::string from = std::string("/proc/") + entry->d_name, to = dir + "/" + entry->d_name;
    if (mkdir(to.c_str(), 0755) != 0 || mkdir((to + "/ns").c_str(), 0755) != 0) continue;
    for (const char* file : {"stat", "status", "loginuid", "sessionid", "cmdline", "cgroup"})
      detail::copy_file(from + "/" + file, to + "/" + file);
    for (const char* link : {"exe", "cwd"}) detail::copy_link(from + "/" + link, to + "/" + link);
    for (const char* ns : {"pid", "mnt", "net", "user", "uts", "ipc", "cgroup"})
      detail::copy_link(from + "/ns/" + ns, to + "/ns/" + ns);
    ++copied;
  }
  closedir(proc);
  return copied;
}

}  // namespace vbench
