#include "tables/file_table.h"

#include <fcntl.h>

#include <cctype>
#include <cstdio>
#include <set>

namespace vajra::bridge {
namespace {

using T = ColumnType;
using v1::Event;
using v1::FileEvent;

Value text_or_null(const std::string& value) {
  if (value.empty()) return std::nullopt;
  return value;
}

// FILE_OPERATION_OPEN_WRITE -> "open_write", named from the proto so that a value added there needs
// no code here; a value this build's proto lacks (a newer daemon) reads as its number.
Value enum_text(const std::string& full_name, const std::string& prefix, int value) {
  if (value == 0) return std::nullopt;
  if (full_name.rfind(prefix, 0) != 0) return std::to_string(value);
  std::string name = full_name.substr(prefix.size());
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

// Permission bits as osquery's file tables show them, e.g. "0644", "4755".
std::string octal(uint32_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", mode & 07777);
  return text;
}

bool is_open(const FileEvent& f) {
  static const std::set<std::string> kOpens{"open", "openat", "openat2", "creat"};
  return kOpens.count(f.syscall()) > 0;
}

// Calls by name carry no fd of the target: only opens that succeeded and calls on an fd have one.
bool has_fd(const FileEvent& f) {
  static const std::set<std::string> kOnFd{"ftruncate", "fchmod", "fchown", "fsetxattr", "fremovexattr",
                                           "close",     "exit",   "dup2",   "dup3",      "close_range"};
  return is_open(f) ? f.result() >= 0 : kOnFd.count(f.syscall()) > 0;
}

// The mode argument exists for chmod, mkdir and an open that may create.
bool has_requested_mode(const FileEvent& f) {
  return f.operation() == v1::FILE_OPERATION_CHMOD || f.operation() == v1::FILE_OPERATION_MKDIR ||
         (is_open(f) && (f.open_flags() & O_CREAT) != 0);
}

std::string categories_text(const FileEvent& f) {
  std::string joined;
  for (const std::string& category : f.categories()) joined += (joined.empty() ? "" : ",") + category;
  return joined;
}

Value hash_of(const FileEvent& f, const std::string& algorithm) {
  for (const v1::FileHash& hash : f.hashes()) {
    if (hash.algorithm() == algorithm) return hash.hex();
  }
  return std::nullopt;
}

// osquery's file_events `hashed`: 1 hashed, -1 hashing failed, 0 not asked for.
Value hashed(const FileEvent& f) {
  if (!f.hash_error().empty()) return std::string("-1");
  return flag(!f.hashes().empty());
}

template <typename Get>
EventColumn file_column(const char* name, ColumnType type, Get get) {
  return event_column(name, type, [get](const Event& e) -> Value { return get(e.file()); });
}

// The target's attributes after the change; NULL when none could be read (e.g. it was deleted).
template <typename Get>
EventColumn attribute_column(const char* name, ColumnType type, Get get) {
  return file_column(name, type, [get](const FileEvent& f) -> Value {
    if (f.attributes_source().empty()) return std::nullopt;
    return get(f);
  });
}

template <typename Get>
EventColumn modify_column(const char* name, Get get) {
  return file_column(name, T::kBigInt, [get](const FileEvent& f) -> Value {
    if (f.operation() != v1::FILE_OPERATION_MODIFY) return std::nullopt;
    return number(get(f));
  });
}

using PathOf = const v1::FilePath* (*)(const FileEvent&);
using PathValue = Value (*)(const v1::FilePath&);

// <prefix>_path, _host_path, _path_source, _path_truncated, _path_deleted, _path_unresolved of one
// of the event's paths; NULL when the event has no such path.
void append_path_columns(std::vector<EventColumn>& columns, const std::string& prefix, PathOf path_of) {
  auto add = [&](const char* suffix, ColumnType type, PathValue get) {
    columns.push_back(EventColumn{Column{prefix + suffix, type, kDefault}, [path_of, get](const EventSource& s) {
                                    const v1::FilePath* path = path_of(s.event.file());
                                    return path ? get(*path) : std::nullopt;
                                  }});
  };
  add("_path", T::kText, [](const v1::FilePath& p) { return text_or_null(p.path()); });
  add("_host_path", T::kText, [](const v1::FilePath& p) { return text_or_null(p.host_path()); });
  add("_path_source", T::kText,
      [](const v1::FilePath& p) { return enum_text(v1::PathSource_Name(p.source()), "PATH_SOURCE_", p.source()); });
  add("_path_truncated", T::kInteger, [](const v1::FilePath& p) { return flag(p.truncated()); });
  add("_path_deleted", T::kInteger, [](const v1::FilePath& p) { return flag(p.deleted()); });
  add("_path_unresolved", T::kText, [](const v1::FilePath& p) { return text_or_null(p.unresolved()); });
}

}  // namespace

EventFamily file_family() {
  EventFamily family;
  family.name = "file";
  family.kinds = {v1::EVENT_KIND_FILE};
  family.columns = {
      file_column("action", T::kText, [](const FileEvent& f) {
        return enum_text(v1::FileOperation_Name(f.operation()), "FILE_OPERATION_", f.operation());
      }),
      file_column("syscall", T::kText, [](const FileEvent& f) { return text_or_null(f.syscall()); }),
      event_column("path", T::kText, [](const Event& e) { return Value(e.process().exe()); }),
      file_column("exit_code", T::kText, [](const FileEvent& f) { return signed_number(f.result()); }),
      file_column("errno", T::kInteger, [](const FileEvent& f) -> Value {
        if (f.errno_value() == 0) return std::nullopt;
        return signed_number(f.errno_value());
      }),
      file_column("error", T::kText, [](const FileEvent& f) { return text_or_null(f.error()); }),
  };
  append_path_columns(family.columns, "target",
                      [](const FileEvent& f) { return f.has_path() ? &f.path() : nullptr; });
  append_path_columns(family.columns, "dest",
                      [](const FileEvent& f) { return f.has_new_path() ? &f.new_path() : nullptr; });
  const std::vector<EventColumn> rest = {
      file_column("symlink_target", T::kText, [](const FileEvent& f) { return text_or_null(f.symlink_target()); }),
      file_column("watched_as", T::kText, [](const FileEvent& f) { return text_or_null(f.watched_as()); }),
      file_column("categories", T::kText, [](const FileEvent& f) { return text_or_null(categories_text(f)); }),
      attribute_column("inode", T::kBigInt, [](const FileEvent& f) { return number(f.inode()); }),
      attribute_column("device", T::kBigInt, [](const FileEvent& f) { return number(f.dev()); }),
      attribute_column("type", T::kText, [](const FileEvent& f) { return text_or_null(f.file_type()); }),
      attribute_column("mode", T::kText, [](const FileEvent& f) { return Value(octal(f.mode())); }),
      attribute_column("owner_uid", T::kBigInt, [](const FileEvent& f) { return number(f.uid()); }),
      attribute_column("owner_gid", T::kBigInt, [](const FileEvent& f) { return number(f.gid()); }),
      attribute_column("size", T::kBigInt, [](const FileEvent& f) { return number(f.size()); }),
      file_column("attributes_source", T::kText, [](const FileEvent& f) { return text_or_null(f.attributes_source()); }),
      file_column("open_flags", T::kText, [](const FileEvent& f) { return text_or_null(f.open_flags_text()); }),
      file_column("requested_mode", T::kText, [](const FileEvent& f) -> Value {
        if (!has_requested_mode(f)) return std::nullopt;
        return octal(f.requested_mode());
      }),
      file_column("requested_uid", T::kBigInt, [](const FileEvent& f) -> Value {
        if (!f.has_requested_uid()) return std::nullopt;
        return number(f.requested_uid());
      }),
      file_column("requested_gid", T::kBigInt, [](const FileEvent& f) -> Value {
        if (!f.has_requested_gid()) return std::nullopt;
        return number(f.requested_gid());
      }),
      file_column("at_flags", T::kBigInt, [](const FileEvent& f) { return number(f.at_flags()); }),
      file_column("exchange", T::kInteger, [](const FileEvent& f) -> Value {
        if (f.operation() != v1::FILE_OPERATION_RENAME) return std::nullopt;
        return flag(f.exchange());
      }),
      file_column("xattr_name", T::kText, [](const FileEvent& f) { return text_or_null(f.xattr_name()); }),
      file_column("fd", T::kText, [](const FileEvent& f) -> Value {
        if (!has_fd(f)) return std::nullopt;
        return signed_number(f.fd());
      }),
      modify_column("bytes_written", [](const FileEvent& f) { return f.bytes_written(); }),
      modify_column("writes", [](const FileEvent& f) { return f.writes(); }),
      modify_column("duration", [](const FileEvent& f) { return f.open_duration_ns(); }),
      file_column("hashed", T::kInteger, hashed),
      // target_: the unprefixed sha256 and hash_error are the executable's, as in every event table.
      file_column("target_md5", T::kText, [](const FileEvent& f) { return hash_of(f, "md5"); }),
      file_column("target_sha1", T::kText, [](const FileEvent& f) { return hash_of(f, "sha1"); }),
      file_column("target_sha256", T::kText, [](const FileEvent& f) { return hash_of(f, "sha256"); }),
      file_column("target_hash_error", T::kText, [](const FileEvent& f) { return text_or_null(f.hash_error()); }),
  };
  family.columns.insert(family.columns.end(), rest.begin(), rest.end());
  append_shared_columns(family);
  return family;
}

}  // namespace vajra::bridge
