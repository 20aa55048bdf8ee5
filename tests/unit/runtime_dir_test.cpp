// Issue 11 item 7: runtime files under $XDG_RUNTIME_DIR (shared/paths.h) and the reload file
// the daemon answers `claude-key-refresher reload` with (refresher/reload_progress.h).
#include <cstdlib>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "refresher/reload_progress.h"
#include "shared/paths.h"

namespace {

// Sets or unsets one variable for the scope of a test, restoring it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("runtime dir: $XDG_RUNTIME_DIR/claude-key-helper unless the state dir is explicit") {
  const ScopedEnv state("CLAUDE_KEY_HELPER_STATE_DIR", nullptr);
  {
    const ScopedEnv runtime("XDG_RUNTIME_DIR", "/run/user/1000/");
    CHECK(ckh::runtime_dir() == "/run/user/1000/claude-key-helper");
    const auto sockets = ckh::daemon_sockets("/home/u/.local/state/claude-key-helper/work.sock");
    CHECK(sockets.runtime == "/run/user/1000/claude-key-helper/work.sock");
    CHECK(sockets.state == "/home/u/.local/state/claude-key-helper/work.sock");
  }
  {
    const ScopedEnv runtime("XDG_RUNTIME_DIR", nullptr);
    CHECK(ckh::runtime_dir().empty());
    CHECK(ckh::daemon_sockets("/s/p.sock").runtime.empty());
  }
  {
    const ScopedEnv runtime("XDG_RUNTIME_DIR", "relative/dir");  // not a path: ignored
    CHECK(ckh::runtime_dir().empty());
  }
  {
    // Tests and containers run several state dirs side by side: one runtime dir for all of
    // them would let their daemons take each other's sockets.
    const ScopedEnv runtime("XDG_RUNTIME_DIR", "/run/user/1000");
    const ScopedEnv explicit_state("CLAUDE_KEY_HELPER_STATE_DIR", "/tmp/x");
    CHECK(ckh::runtime_dir().empty());
    CHECK(ckh::daemon_sockets("/tmp/x/default.sock").runtime.empty());
  }
}

TEST_CASE("reload file: round trip, one-line message, refuses what the daemon never writes") {
  ckh::ReloadProgress progress;
  progress.started = 3;
  progress.finished = 2;
  progress.ok = false;
  progress.message = "config.toml:2:11: unknown backend 'statik'\nsecond line";
  const auto parsed = ckh::parse_reload_progress(ckh::format_reload_progress(progress));
  REQUIRE(parsed);
  CHECK(parsed->started == 3);
  CHECK(parsed->finished == 2);
  CHECK_FALSE(parsed->ok);
  CHECK(parsed->message.find('\n') == std::string::npos);
  CHECK(parsed->message.find("statik") != std::string::npos);

  const auto fresh = ckh::parse_reload_progress(ckh::format_reload_progress({}));
  REQUIRE(fresh);
  CHECK(fresh->ok);
  CHECK(fresh->finished == 0);

  CHECK_FALSE(ckh::parse_reload_progress("garbage"));
  CHECK(ckh::reload_progress_path("/run/user/1/claude-key-helper", 42) ==
        "/run/user/1/claude-key-helper/daemon.42.reload");
}
