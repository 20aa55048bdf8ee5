// config_watch.h: an edited config is noticed once, after it settles, whether written in
// place or renamed over; an unchanged or reverted file is no change; a file that appears
// where none was counts. Polls are called directly: no sleeping, no clock.
#include <sys/stat.h>
#include <sys/time.h>

#include <catch2/catch.hpp>
#include <cstdio>

#include "refresher/config_watch.h"
#include "test_support.h"

using namespace ckh;
using ckh::test::TempDir;

namespace {

// A distinct mtime per write, whatever the file system's timestamp granularity.
void set_mtime(const std::string& path, long seconds) {
  const timeval times[2] = {{seconds, 0}, {seconds, 0}};
  REQUIRE(::utimes(path.c_str(), times) == 0);
}

}  // namespace

TEST_CASE("config watch: nothing changes, nothing to reload") {
  TempDir dir;
  const std::string path = dir / "config.toml";
  test::write_file(path, "[profile.a]\n");
  ConfigWatch watch(path);
  for (int i = 0; i < 3; ++i) CHECK_FALSE(watch.changed_and_settled());
  ConfigWatch nothing("");
  CHECK_FALSE(nothing.changed_and_settled());
}

TEST_CASE("config watch: an edit is reported once, after two polls agree") {
  TempDir dir;
  const std::string path = dir / "config.toml";
  test::write_file(path, "[profile.a]\n");
  set_mtime(path, 1'000);
  ConfigWatch watch(path);
  CHECK_FALSE(watch.changed_and_settled());
  test::write_file(path, "[profile.a]\nbackend = \"static\"\n");
  set_mtime(path, 2'000);
  CHECK_FALSE(watch.changed_and_settled());  // first seen: may still be being written
  CHECK(watch.changed_and_settled());        // the same on the next poll: settled
  watch.mark_applied();
  CHECK_FALSE(watch.changed_and_settled());
  CHECK_FALSE(watch.changed_and_settled());
}

TEST_CASE("config watch: a file still changing between polls waits until it stops") {
  TempDir dir;
  const std::string path = dir / "config.toml";
  test::write_file(path, "a");
  set_mtime(path, 1'000);
  ConfigWatch watch(path);
  for (long t = 2'000; t < 2'005; ++t) {
    test::write_file(path, "a" + std::to_string(t));
    set_mtime(path, t);
    CHECK_FALSE(watch.changed_and_settled());
  }
  CHECK(watch.changed_and_settled());
}

TEST_CASE("config watch: a rename over the file counts; so does a file that appears") {
  TempDir dir;
  const std::string path = dir / "config.toml";
  ConfigWatch watch(path);  // no file yet: the daemon runs on the environment
  CHECK_FALSE(watch.changed_and_settled());
  test::write_file(path, "[profile.a]\n");
  CHECK_FALSE(watch.changed_and_settled());
  CHECK(watch.changed_and_settled());
  watch.mark_applied();
  // The installer and editors write a temp file and rename it over: same size, same mtime.
  const std::string temp = dir / "config.toml.new";
  test::write_file(temp, "[profile.b]\n");
  struct stat before {};
  REQUIRE(::stat(path.c_str(), &before) == 0);
  set_mtime(temp, before.st_mtim.tv_sec);
  REQUIRE(std::rename(temp.c_str(), path.c_str()) == 0);
  CHECK_FALSE(watch.changed_and_settled());
  CHECK(watch.changed_and_settled());
  watch.mark_applied();
  // Removed: also a change (the daemon then reports the missing file, keeping its config).
  REQUIRE(std::remove(path.c_str()) == 0);
  CHECK_FALSE(watch.changed_and_settled());
  CHECK(watch.changed_and_settled());
}

TEST_CASE("config watch: a refused config is not retried until the file changes again") {
  TempDir dir;
  const std::string path = dir / "config.toml";
  test::write_file(path, "good");
  set_mtime(path, 1'000);
  ConfigWatch watch(path);
  test::write_file(path, "bad [");
  set_mtime(path, 2'000);
  CHECK_FALSE(watch.changed_and_settled());
  REQUIRE(watch.changed_and_settled());
  watch.mark_applied();  // the reload was refused: the daemon runs the old config
  for (int i = 0; i < 3; ++i) CHECK_FALSE(watch.changed_and_settled());
  test::write_file(path, "fixed");
  set_mtime(path, 3'000);
  CHECK_FALSE(watch.changed_and_settled());
  CHECK(watch.changed_and_settled());
}
