#include "cursor_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <spdlog/spdlog.h>

namespace vajra::bridge {

CursorFile::CursorFile(std::string path) : path_(std::move(path)) {}

std::optional<Cursor> CursorFile::load() const {
  if (access(path_.c_str(), F_OK) != 0 && errno == ENOENT) return std::nullopt;
  std::ifstream in(path_);
  if (!in) {
    spdlog::warn("cursor file {}: cannot read: {}; starting without it", path_, std::strerror(errno));
    return std::nullopt;
  }
  // One line: "<daemon instance> <seq>".
  Cursor cursor;
  std::string extra;
  if (!(in >> cursor.instance >> cursor.seq) || (in >> extra)) {
    spdlog::warn("cursor file {}: expected '<daemon instance> <seq>'; starting without it", path_);
    return std::nullopt;
  }
  return cursor;
}

void CursorFile::save(const Cursor& cursor) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cursor.instance.empty() || (saved_ && *saved_ == cursor)) return;
  const std::string temp = path_ + ".tmp";
  const std::string line = cursor.instance + " " + std::to_string(cursor.seq) + "\n";
  std::string failure;
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    failure = "open " + temp + ": " + std::strerror(errno);
  } else {
    if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
      failure = "write " + temp + ": " + std::strerror(errno);
    close(fd);
  }
  if (failure.empty() && rename(temp.c_str(), path_.c_str()) != 0)
    failure = "rename to " + path_ + ": " + std::strerror(errno);
  if (!failure.empty()) {
    if (!failing_)
      spdlog::error("cursor file: {}; a relaunched bridge will not know what this run received", failure);
    failing_ = true;
    return;
  }
  if (failing_) spdlog::info("cursor file {}: writable again", path_);
  failing_ = false;
  saved_ = cursor;
}

std::string prepare_state_dir(const std::string& dir, const std::optional<std::pair<uid_t, gid_t>>& owner) {
  for (size_t slash = dir.find('/', 1); slash != std::string::npos; slash = dir.find('/', slash + 1)) {
    const std::string parent = dir.substr(0, slash);
    if (mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST)
      throw std::runtime_error("state directory " + dir + ": creating " + parent + ": " + std::strerror(errno));
  }
  if (mkdir(dir.c_str(), 0700) == 0) {
    if (owner && chown(dir.c_str(), owner->first, owner->second) != 0)
      throw std::runtime_error("state directory " + dir + ": chown: " + std::strerror(errno));
  } else if (errno != EEXIST) {
    throw std::runtime_error("state directory " + dir + ": mkdir: " + std::strerror(errno));
  }
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw std::runtime_error("state directory " + dir + ": not a directory");
  if (owner && st.st_uid != owner->first && (st.st_mode & S_IWOTH) == 0)
    spdlog::warn("state directory {} belongs to uid {}, not the bridge user's uid {}: the cursor may not be saved",
                 dir, st.st_uid, owner->first);
  return dir + "/cursor";
}

}  // namespace vajra::bridge
