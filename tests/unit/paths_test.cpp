// Where files live: the environment's precedence, profile names, per-profile paths; and
// the refresher's removal of dead callers' memory files.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "refresher/callers_gc.h"
#include "shared/paths.h"
#include "shared/proc_stat.h"
#include "shared/text.h"
#include "test_support.h"

using namespace ckh;

namespace {
// Sets variables for one test and restores them afterwards (a variable may be set twice).
class ScopedEnv {
 public:
  void set(const char* name, const char* value) {
    saved_.emplace_back(std::make_unique<test::ScopedSetenv>(name, value));
  }
  ~ScopedEnv() {
    while (!saved_.empty()) saved_.pop_back();  // newest first: the oldest value comes back last
  }

 private:
  std::vector<std::unique_ptr<test::ScopedSetenv>> saved_;
};
}  // namespace

TEST_CASE("paths: state dir precedence: override, XDG_STATE_HOME, HOME") {
  ScopedEnv env;
  env.set("CLAUDE_KEY_HELPER_STATE_DIR", "/override/state");
  env.set("XDG_STATE_HOME", "/xdg/state");
  env.set("HOME", "/home/u");
  CHECK(*state_dir() == "/override/state");
  env.set("CLAUDE_KEY_HELPER_STATE_DIR", nullptr);
  CHECK(*state_dir() == "/xdg/state/claude-key-helper");
  env.set("XDG_STATE_HOME", "relative/is/ignored");
  CHECK(*state_dir() == "/home/u/.local/state/claude-key-helper");
  env.set("XDG_STATE_HOME", nullptr);
  CHECK(*state_dir() == "/home/u/.local/state/claude-key-helper");
  env.set("HOME", nullptr);
  auto none = state_dir();
  REQUIRE_FALSE(none);
  CHECK(none.error().kind == ErrorClass::config);
}

TEST_CASE("paths: config path precedence: override, XDG_CONFIG_HOME, HOME") {
  ScopedEnv env;
  env.set("CLAUDE_KEY_HELPER_CONFIG", "/etc/ckh.toml");
  env.set("XDG_CONFIG_HOME", "/xdg/config");
  env.set("HOME", "/home/u");
  CHECK(*config_path() == "/etc/ckh.toml");
  env.set("CLAUDE_KEY_HELPER_CONFIG", nullptr);
  CHECK(*config_path() == "/xdg/config/claude-key-helper/config.toml");
  env.set("XDG_CONFIG_HOME", nullptr);
  CHECK(*config_path() == "/home/u/.config/claude-key-helper/config.toml");
}

TEST_CASE("paths: profile names are safe file-name parts") {
  CHECK(valid_profile_name("default"));
  CHECK(valid_profile_name("work-gateway_2"));
  CHECK(valid_profile_name(std::string(64, 'a')));
  CHECK_FALSE(valid_profile_name(""));
  CHECK_FALSE(valid_profile_name(std::string(65, 'a')));
  for (const char* bad : {"../x", "a/b", "a b", ".", "..", "a.b", "é"})
    CHECK_FALSE(valid_profile_name(bad));
  const auto p = profile_paths("/s", "work");
  CHECK(p.cred == "/s/work.cred");
  CHECK(p.secret == "/s/work.secret");
  CHECK(p.lock == "/s/work.lock");
  CHECK(p.status == "/s/work.status");
  CHECK(p.sock == "/s/work.sock");
  CHECK(p.callers_dir == "/s/callers");
}

TEST_CASE("callers gc: removes files of dead or replaced processes, keeps live ones") {
  test::TempDir dir;
  const auto self = read_proc_stat(static_cast<long>(::getpid()));
  REQUIRE(self);
  const std::string live =
      "p." + to_decimal(::getpid()) + "." + to_decimal(static_cast<std::int64_t>(self->start_time));
  const std::string reused = "p." + to_decimal(::getpid()) + "." +
                             to_decimal(static_cast<std::int64_t>(self->start_time + 1));
  const std::string dead = "p.999999999.5";
  for (const auto& name : {live, reused, dead, std::string("garbage")})
    test::write_file(dir / name, "1 2\n");
  CHECK(remove_dead_caller_files(dir.path()) == 3);
  CHECK(std::filesystem::exists(dir / live));
  CHECK_FALSE(std::filesystem::exists(dir / reused));
  CHECK_FALSE(std::filesystem::exists(dir / dead));
}
