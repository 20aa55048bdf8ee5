// config_watch.h: an edited config is noticed once, after it has settled, whether written in
// place or renamed over; an unchanged or reverted file is no change; a file that appears
// where none was counts; a file that goes is reported once and never loaded in its absence;
// a config whose workers did not start is retried after the delay. Time is passed in: no
// sleeping, no clock.
#include <sys/stat.h>
#include <sys/time.h>

#include <catch2/catch.hpp>
#include <cerrno>
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

constexpr std::int64_t kSettle = kConfigSettle.count();
constexpr std::int64_t kPoll = kConfigPollInterval.count();

// A watch as the daemon makes one: the stamp taken before the file was loaded.
ConfigWatch watch_of(const std::string& path) {
  return ConfigWatch(path, config_file_stamp(path));
}

}  // namespace

TEST_CASE("config watch: nothing changes, nothing to reload") {
  TempDir dir;
  const std::string path = dir / "config.toml";
  test::write_file(path, "[profile.a]\n");
  ConfigWatch watch = watch_of(path);
  for (std::int64_t t = 0; t < 5 * kPoll; t += kPoll)
    CHECK(watch.poll(t) == ConfigWatchEvent::none);
  ConfigWatch nothing("", {});
  CHECK(nothing.poll(0) == ConfigWatchEvent::none);
  CHECK(nothing.poll(kPoll) == ConfigWatchEvent::none);
}

TEST_CASE("config watch: an edit is reported once, after it has settled") {
  TempDir dir;
  const std::string path = dir / "config.toml";
  test::write_file(path, "[profile.a]\n");
  set_mtime(path, 1'000);
  ConfigWatch watch = watch_of(path);
  CHECK(watch.poll(0) == ConfigWatchEvent::none);
  test::write_file(path, "[profile.a]\nbackend = \"static\"\n");
  set_mtime(path, 2'000);
  CHECK(watch.poll(kPoll) == ConfigWatchEvent::none);  // first seen: may still be being written
  // Settling is time, not polls: a poll soon after (the watchdog shortens the wait) is early.
  CHECK(watch.poll(kPoll + kSettle - 1) == ConfigWatchEvent::none);
  CHECK(watch.poll(kPoll + kSettle) == ConfigWatchEvent::changed);
  watch.mark_applied();
  CHECK(watch.poll(3 * kPoll) == ConfigWatchEvent::none);
  CHECK(watch.poll(4 * kPoll) == ConfigWatchEvent::none);
}

TEST_CASE("config watch: an edit made before the first load counts") {
  // The daemon stamps the file before it loads it: a save that lands in between is a change.
  TempDir dir;
  const std::string path = dir / "config.toml";
  test::write_file(path, "old");
  set_mtime(path, 1'000);
  ConfigWatch watch = watch_of(path);
  test::write_file(path, "new, written while the daemon loaded the old");
  set_mtime(path, 2'000);
  CHECK(watch.poll(0) == ConfigWatchEvent::none);
  CHECK(watch.poll(kPoll) == ConfigWatchEvent::changed);
}

TEST_CASE("config watch: a file still changing between polls waits until it stops") {
  TempDir dir;
  const std::string path = dir / "config.toml";
  test::write_file(path, "a");
  set_mtime(path, 1'000);
  ConfigWatch watch = watch_of(path);
  std::int64_t now = 0;
  for (long t = 2'000; t < 2'005; ++t, now += kPoll) {
    test::write_file(path, "a" + std::to_string(t));
    set_mtime(path, t);
    CHECK(watch.poll(now) == ConfigWatchEvent::none);
  }
  CHECK(watch.poll(now) == ConfigWatchEvent::changed);
}

TEST_CASE("config watch: a rename over the file counts; so does a file that appears") {
  TempDir dir;
  const std::string path = dir / "config.toml";
  ConfigWatch watch = watch_of(path);  // no file yet: the daemon runs on the environment
  CHECK(watch.poll(0) == ConfigWatchEvent::none);
  test::write_file(path, "[profile.a]\n");
  CHECK(watch.poll(kPoll) == ConfigWatchEvent::none);
  CHECK(watch.poll(2 * kPoll) == ConfigWatchEvent::changed);
  watch.mark_applied();
  // The installer and editors write a temp file and rename it over: same size, same mtime.
  const std::string temp = dir / "config.toml.new";
  test::write_file(temp, "[profile.b]\n");
  struct stat before {};
  REQUIRE(::stat(path.c_str(), &before) == 0);
  set_mtime(temp, before.st_mtim.tv_sec);
  REQUIRE(std::rename(temp.c_str(), path.c_str()) == 0);
  CHECK(watch.poll(3 * kPoll) == ConfigWatchEvent::none);
  CHECK(watch.poll(4 * kPoll) == ConfigWatchEvent::changed);
}

TEST_CASE("config watch: a file that goes is reported once and not loaded; its return is") {
  TempDir dir;
  const std::string path = dir / "config.toml";
  test::write_file(path, "[profile.a]\n");
  set_mtime(path, 1'000);
  ConfigWatch watch = watch_of(path);
  REQUIRE(std::remove(path.c_str()) == 0);
  CHECK(watch.poll(0) == ConfigWatchEvent::vanished);
  CHECK(watch.last_seen().error == ENOENT);
  for (std::int64_t t = kPoll; t < 5 * kPoll; t += kPoll) {
    CHECK(watch.poll(t) == ConfigWatchEvent::none);  // said once; the running config stays
  }
  // Back (a new write, so a new stamp): loaded again once settled.
  test::write_file(path, "[profile.a]\n");
  set_mtime(path, 1'000);
  CHECK(watch.poll(5 * kPoll) == ConfigWatchEvent::none);
  CHECK(watch.poll(6 * kPoll) == ConfigWatchEvent::changed);
  watch.mark_applied();
  REQUIRE(std::remove(path.c_str()) == 0);
  CHECK(watch.poll(7 * kPoll) == ConfigWatchEvent::vanished);  // a second time: said again
}

TEST_CASE("config watch: a refused config is not retried until the file changes again") {
  TempDir dir;
  const std::string path = dir / "config.toml";
  test::write_file(path, "good");
  set_mtime(path, 1'000);
  ConfigWatch watch = watch_of(path);
  test::write_file(path, "bad [");
  set_mtime(path, 2'000);
  CHECK(watch.poll(0) == ConfigWatchEvent::none);
  REQUIRE(watch.poll(kPoll) == ConfigWatchEvent::changed);
  watch.mark_applied();  // the reload was refused: the daemon runs the old config
  for (std::int64_t t = 2 * kPoll; t < 5 * kPoll; t += kPoll) {
    CHECK(watch.poll(t) == ConfigWatchEvent::none);
  }
  test::write_file(path, "fixed");
  set_mtime(path, 3'000);
  CHECK(watch.poll(5 * kPoll) == ConfigWatchEvent::none);
  CHECK(watch.poll(6 * kPoll) == ConfigWatchEvent::changed);
}

TEST_CASE("config watch: a config whose workers did not start is tried again after the delay") {
  TempDir dir;
  const std::string path = dir / "config.toml";
  test::write_file(path, "old");
  set_mtime(path, 1'000);
  ConfigWatch watch = watch_of(path);
  test::write_file(path, "valid, but its workers cannot start yet");
  set_mtime(path, 2'000);
  CHECK(watch.poll(0) == ConfigWatchEvent::none);
  REQUIRE(watch.poll(kPoll) == ConfigWatchEvent::changed);
  watch.mark_applied();
  const std::int64_t failed_at = kPoll + 1;
  watch.apply_failed(failed_at);
  const std::int64_t retry_at = failed_at + kConfigRetryDelay.count();
  for (std::int64_t t = 2 * kPoll; t < retry_at; t += kPoll) {
    CHECK(watch.poll(t) == ConfigWatchEvent::none);  // not every poll: no churn
  }
  CHECK(watch.poll(retry_at) == ConfigWatchEvent::changed);
}
