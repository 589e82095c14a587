// Container path -> host path through the two mount tables.
#include <catch2/catch.hpp>

#include "mount_map.h"

using namespace vajra;

namespace {

// A host with / on vda (8:1), /var/lib/docker on vdb (8:16), a docker overlay (0:50) mounted at its
// merged directory, and a bind of /srv/data.
const char* kHost =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "30 22 8:16 / /var/lib/docker rw shared:2 - ext4 /dev/vdb rw\n"
    "40 30 0:50 / /var/lib/docker/overlay2/abc/merged rw - overlay overlay rw\n"
    "41 22 8:1 /srv/data /mnt/data\\040dir rw - ext4 /dev/vda rw\n";

// The container: the overlay as its root, /data bound from the host's /srv/data, a private tmpfs.
const char* kContainer =
    "100 99 0:50 / / rw - overlay overlay rw\n"
    "101 100 8:1 /srv/data /data rw - ext4 /dev/vda rw\n"
    "102 100 0:60 / /tmp rw - tmpfs tmpfs rw\n";

}  // namespace

TEST_CASE("parse_mountinfo reads devices, roots and mount points, escapes decoded") {
  const auto table = parse_mountinfo(kHost);
  REQUIRE(table.size() == 4);
  CHECK(table[0].major == 8);
  CHECK(table[0].minor == 1);
  CHECK(table[3].root == "/srv/data");
  CHECK(table[3].mount_point == "/mnt/data dir");
  CHECK(parse_mountinfo("garbage\n1 2 x:y / /\n").empty());
}

TEST_CASE("translate_path finds the host directory of a container path") {
  const auto host = parse_mountinfo(kHost);
  const auto inner = parse_mountinfo(kContainer);
  CHECK(translate_path(inner, host, "/etc/passwd") == "/var/lib/docker/overlay2/abc/merged/etc/passwd");
  CHECK(translate_path(inner, host, "/") == "/var/lib/docker/overlay2/abc/merged");
  // Bound from the host: the deepest host mount showing that directory wins; here / of vda.
  const std::string data = translate_path(inner, host, "/data/f");
  CHECK((data == "/srv/data/f" || data == "/mnt/data dir/f"));
  // A tmpfs only the container has: no host path.
  CHECK(translate_path(inner, host, "/tmp/x").empty());
}
