// File records (bpf/file.bpf.c) -> FileEvent. Paths the kernel walked from the target's dentry are
// taken as they are; names are joined to their walked base directory and normalised here.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <utility>

#include "cmdline.h"
#include "decode.h"
#include "devno.h"
#include "pathnorm.h"

namespace vajra {
namespace {

constexpr uint32_t kIdUnchanged = 0xffffffffu;
constexpr uint32_t kRenameExchange = 2;  // RENAME_EXCHANGE, include/uapi/linux/fs.h

v1::FileOperation operation_of(uint16_t op) {
  if (op >= VJ_FILE_CREATE && op < VJ_FILE_OP_MAX) return static_cast<v1::FileOperation>(op);
  return v1::FILE_OPERATION_UNSPECIFIED;
}

const char* syscall_name(uint16_t syscall) {
  static const char* const kNames[VJ_FSYS_MAX] = {
      "",          "open",         "openat",        "openat2",      "creat",          "truncate",
      "ftruncate", "unlink",       "unlinkat",      "rmdir",        "rename",         "renameat",
      "renameat2", "link",         "linkat",        "symlink",      "symlinkat",      "mkdir",
      "mkdirat",   "chmod",        "fchmod",        "fchmodat",     "fchmodat2",      "chown",
      "fchown",    "lchown",       "fchownat",      "setxattr",     "lsetxattr",      "fsetxattr",
      "setxattrat", "removexattr", "lremovexattr",  "fremovexattr", "removexattrat",  "close",
      "exit",      "dup2",         "dup3",          "close_range"};
  return syscall < VJ_FSYS_MAX ? kNames[syscall] : "";
}

// One name section: the bytes before its NUL, or nothing when the section is empty (no name).
std::optional<std::string> name_of(std::string_view section) {
  if (section.empty()) return std::nullopt;
  return sanitize_utf8(section.substr(0, section.find('\0')));
}

struct PathFlags {
  uint32_t truncated, deleted, name_unreadable, target;
};
constexpr PathFlags kFirst = {VJ_FP_PATH_TRUNCATED, VJ_FP_PATH_DELETED, VJ_FP_NAME_TRUNCATED, VJ_FP_TARGET};
constexpr PathFlags kSecond = {VJ_FP_PATH2_TRUNCATED, VJ_FP_PATH2_DELETED, VJ_FP_NAME2_TRUNCATED, VJ_FP_TARGET2};

// A target from its walked path section and, when it was named by a string, that name.
void fill_path(std::string_view walked, std::string_view name_section, uint32_t flags, const PathFlags& which,
               v1::FilePath& out) {
  // A truncated walk has the last names only: marked so that it cannot pass for a whole path.
  const std::string base = (flags & which.truncated) ? "..." + join_path_components(walked) : join_path_components(walked);
  out.set_truncated(flags & which.truncated);
  out.set_deleted(flags & which.deleted);
  const std::optional<std::string> name = name_of(name_section);
  if ((flags & which.target) || (name && name->empty())) {
    out.set_path(base);
    out.set_source(v1::PATH_SOURCE_DENTRY);
    return;
  }
  out.set_source(v1::PATH_SOURCE_NAME);
  if (!name) {
    out.set_path(base);
    out.set_unresolved(flags & which.name_unreadable ? "name unreadable; path is the directory it was relative to"
                                                     : "no name; path is the directory it was relative to");
    return;
  }
  out.set_path(resolve_name(base, *name));
}

std::string open_flags_text(uint32_t flags) {
  // O_LARGEFILE is the kernel's value: glibc defines it as 0 on 64-bit.
  static const std::pair<uint32_t, const char*> kFlags[] = {
      {O_CREAT, "O_CREAT"},         {O_EXCL, "O_EXCL"},         {O_NOCTTY, "O_NOCTTY"},
      {O_TRUNC, "O_TRUNC"},         {O_APPEND, "O_APPEND"},     {O_NONBLOCK, "O_NONBLOCK"},
      {O_DSYNC, "O_DSYNC"},         {O_DIRECT, "O_DIRECT"},     {0100000, "O_LARGEFILE"},
      {O_DIRECTORY, "O_DIRECTORY"}, {O_NOFOLLOW, "O_NOFOLLOW"}, {O_NOATIME, "O_NOATIME"},
      {O_CLOEXEC, "O_CLOEXEC"},     {04000000, "O_SYNC"},       {O_PATH, "O_PATH"},
      {020000000, "O_TMPFILE"}};
  std::string text;
  switch (flags & O_ACCMODE) {
    case O_RDONLY: text = "O_RDONLY"; break;
    case O_WRONLY: text = "O_WRONLY"; break;
    default: text = "O_RDWR"; break;
  }
  for (const auto& [bit, name] : kFlags) {
    if ((flags & bit) == bit) {
      text += '|';
      text += name;
    }
  }
  return text;
}

}  // namespace

const char* file_type_name(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "regular";
    case S_IFDIR: return "directory";
    case S_IFLNK: return "symlink";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
    case S_IFBLK: return "block";
    case S_IFCHR: return "character";
    default: return "";
  }
}

bool Decoder::decode_file(std::string_view rec, DecodedEvent& out, std::string& error) const {
  vj_file_record r{};
  if (!read_fixed(rec, r)) {
    error = "file record shorter than its fixed part";
    return false;
  }
  RecordSections sections(rec.substr(sizeof(r)));
  std::string_view name, name2, extra, path, path2;
  if (!sections.take(r.name_len, name) || !sections.take(r.name2_len, name2) || !sections.take(r.extra_len, extra) ||
      !sections.take(r.path_len, path) || !sections.take(r.path2_len, path2)) {
    error = "file record sections run past its end";
    return false;
  }
  v1::Event& event = out.event;
  event.set_kind(v1::EVENT_KIND_FILE);
  fill_task(r.task, clock_, event);
  out.start_boottime_ns = r.task.start_boottime_ns;

  v1::FileEvent& f = *event.mutable_file();
  f.set_operation(operation_of(r.op));
  f.set_syscall(syscall_name(r.syscall));
  f.set_result(r.result);
  if (r.result < 0) {
    f.set_errno_value(static_cast<int32_t>(-r.result));
    f.set_error(errno_name(static_cast<int>(-r.result)));
  }
  fill_path(path, name, r.path_flags, kFirst, *f.mutable_path());
  const bool two_paths = r.op == VJ_FILE_RENAME || r.op == VJ_FILE_LINK;
  if (two_paths) fill_path(path2, name2, r.path_flags, kSecond, *f.mutable_new_path());
  if (const std::optional<std::string> text = name_of(extra)) {
    if (r.op == VJ_FILE_SYMLINK)
      f.set_symlink_target(*text);
    else
      f.set_xattr_name(*text);
  }
  if (r.path_flags & VJ_FP_ATTRS) {
    f.set_inode(r.ino);
    f.set_dev(static_cast<uint32_t>(user_dev(r.dev)));
    f.set_file_type(file_type_name(r.mode));
    f.set_mode(r.mode & 07777);
    f.set_uid(r.uid);
    f.set_gid(r.gid);
    f.set_size(r.size);
    f.set_attributes_source("kernel");
  }
  const bool opens = r.syscall == VJ_FSYS_OPEN || r.syscall == VJ_FSYS_OPENAT || r.syscall == VJ_FSYS_OPENAT2 ||
                     r.syscall == VJ_FSYS_CREAT || r.op == VJ_FILE_MODIFY;
  if (opens) {
    f.set_open_flags(r.open_flags);
    f.set_open_flags_text(open_flags_text(r.open_flags));
  }
  if (r.op == VJ_FILE_CHMOD || r.op == VJ_FILE_MKDIR || (opens && (r.open_flags & O_CREAT)))
    f.set_requested_mode(r.arg_mode & 07777);
  if (r.op == VJ_FILE_CHOWN) {
    if (r.arg_uid != kIdUnchanged) f.set_requested_uid(r.arg_uid);
    if (r.arg_gid != kIdUnchanged) f.set_requested_gid(r.arg_gid);
  }
  f.set_at_flags(r.at_flags);
  f.set_exchange(r.op == VJ_FILE_RENAME && (r.at_flags & kRenameExchange));
  f.set_fd(r.fd);
  if (r.op == VJ_FILE_MODIFY) {
    f.set_bytes_written(r.bytes_written);
    f.set_writes(r.writes);
    if (r.open_ns && r.task.ktime_ns >= r.open_ns) f.set_open_duration_ns(r.task.ktime_ns - r.open_ns);
  }
  return true;
}

}  // namespace vajra
