// One profile "p" in a temp state dir with a fake clock, refreshed by refresh_profile():
// the fixture of the refresh and source-change tests. The backend is a ScriptedBackend
// unless a test installs another with use().
#pragma once

#include <memory>
#include <string>

#include "refresher/clock.h"
#include "refresher/config.h"
#include "refresher/refresh.h"
#include "shared/paths.h"
#include "shared/secure_file.h"
#include "test_support.h"

namespace ckh::test {

struct RefreshFixture {
  TempDir dir;
  ProfilePaths paths = profile_paths(dir / "state", "p");
  std::shared_ptr<ScriptedBackend> backend = std::make_shared<ScriptedBackend>();
  ProfileConfig profile;
  FakeClock clock{1'800'000'000};
  static double half() { return 0.5; }

  RefreshFixture() {
    profile.name = "p";
    profile.backend_name = "scripted";
    profile.backend = backend;
  }
  // Another backend (a static key file, AWS...), under the name its config would give.
  void use(std::shared_ptr<Backend> other, std::string backend_name) {
    profile.backend_name = std::move(backend_name);
    profile.backend = std::move(other);
  }
  RefreshOutcome run(RefreshReason reason = RefreshReason::due, std::uint64_t seen = 0,
                     std::int64_t need_until = 0) {
    return refresh_profile(profile, paths, RefreshRequest{reason, seen, need_until},
                           RefreshEnvironment{clock, half});
  }
  // As `once` run by a person (not cron, not a timer) runs it.
  RefreshOutcome run_as_person(RefreshReason reason = RefreshReason::due) {
    return refresh_profile(profile, paths, RefreshRequest{reason, 0, 0},
                           RefreshEnvironment{clock, half, true});
  }
  std::string status_text() const { return read_private_file(paths.status, 1 << 16).value_or(""); }
};

}  // namespace ckh::test
