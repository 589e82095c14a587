#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cursor_file.h"
#include "subscriber.h"

using namespace vajra::bridge;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char name[] = "/tmp/vajra-bridge-unit-XXXXXX";
    path = mkdtemp(name);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("the cursor survives a save and a load", "[bridge][cursor]") {
  TempDir dir;
  const std::string path = prepare_state_dir((dir.path / "state" / "bridge").string(), std::nullopt);
  CursorFile file(path);
  CHECK_FALSE(file.load().has_value());
  file.save(Cursor{"0f3a", 1234});
  const auto loaded = CursorFile(path).load();
  REQUIRE(loaded.has_value());
  CHECK(loaded->instance == "0f3a");
  CHECK(loaded->seq == 1234);
  CHECK((std::filesystem::status(dir.path / "state" / "bridge").permissions() & std::filesystem::perms::all) ==
        std::filesystem::perms::owner_all);
}

TEST_CASE("an unreadable cursor file is ignored, not trusted", "[bridge][cursor]") {
  TempDir dir;
  const std::string path = (dir.path / "cursor").string();
  std::ofstream(path) << "only-an-instance\n";
  CHECK_FALSE(CursorFile(path).load().has_value());
  std::ofstream(path) << "run 12 extra\n";
  CHECK_FALSE(CursorFile(path).load().has_value());
}

TEST_CASE("replay-expired losses count only events no bridge run had received", "[bridge][cursor]") {
  // The daemon retains from seq 101: events 1..100 expired. A resume from seq 0 reports 100.
  CHECK(replay_expired_missed(100, 101, std::nullopt) == 100);
  // The previous run had received up to 100: nothing was missed.
  CHECK(replay_expired_missed(100, 101, 100) == 0);
  // ... up to 60: 61..100 were missed.
  CHECK(replay_expired_missed(100, 101, 60) == 40);
  // A resume from seq 80 after a break (count 20), the previous run had 60: all 20 were missed.
  CHECK(replay_expired_missed(20, 101, 60) == 20);
  // A previous run that got further than the daemon retains: nothing missed.
  CHECK(replay_expired_missed(100, 101, 500) == 0);
}
