// The stream cursor kept on disk, so that a relaunched bridge knows what its previous run had
// received and can tell a real gap from events it merely restores.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace vajra::bridge {

struct Cursor {
  std::string instance;  // daemon run
  uint64_t seq = 0;      // last event received from it
  bool operator==(const Cursor& other) const { return instance == other.instance && seq == other.seq; }
};

class CursorFile {
 public:
  explicit CursorFile(std::string path);

  // nullopt when there is no file yet; a file that cannot be read or parsed is logged and ignored.
  std::optional<Cursor> load() const;
  // Written to a temporary file and renamed, so a crash leaves the old or the new cursor. Does
  // nothing when the cursor has not changed since the last save; failures are logged once.
  void save(const Cursor& cursor);

  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  std::mutex mu_;
  std::optional<Cursor> saved_;
  bool failing_ = false;
};

// Creates `dir` (0700) if it is missing, owned by `owner` when given (the user the bridge is about
// to become), and returns the cursor file's path in it. An existing directory is left as it is,
// with a warning when `owner` could not write to it. Throws std::runtime_error naming the step.
std::string prepare_state_dir(const std::string& dir, const std::optional<std::pair<uid_t, gid_t>>& owner);

}  // namespace vajra::bridge
