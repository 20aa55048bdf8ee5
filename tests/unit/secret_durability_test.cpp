// Durability of a rotated secret (issue 10, items 1-3): the reserved temp file
// (shared/secure_file.h ReservedFile), the refresh loop's writer that retries and never drops
// a rotated state (refresher/state_writer.h), the adoption of a complete temp copy of
// P.secret by the next refresh (refresher/temp_recovery.h, is_saved_rotation), and the
// deferral of stop signals (refresher/signal_deferral.h). Real files in a private temp dir;
// a failing disk is played by RLIMIT_FSIZE (writes past it fail with EFBIG), set from inside
// the fake token server's answer, i.e. after the server rotated.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>

#include "fake_transport.h"
#include "refresher/backends/anthropic_oauth_backend.h"
#include "refresher/oauth/oauth_secret.h"
#include "refresher/refresh.h"
#include "refresher/signal_deferral.h"
#include "refresher/state_writer.h"
#include "shared/secure_file.h"
#include "test_support.h"

using namespace ckh;
using namespace ckh::test;

namespace {

constexpr std::int64_t kNow = 1795300000;
// Long tokens: P.secret is then larger than P.status, so a file-size limit between the two
// fails the secret's save and still lets the status say why.
const std::string kOldRefresh = "sk-ant-ort01-OLD-" + std::string(900, 'r');
const std::string kOldAccess = "sk-ant-oat01-OLD-" + std::string(900, 'a');
const std::string kNewRefresh = "sk-ant-ort01-NEW-" + std::string(900, 'R');
const std::string kNewAccess = "sk-ant-oat01-NEW-" + std::string(900, 'A');

OAuthSecret logged_in(std::int64_t expires_at) {
  OAuthSecret secret;
  secret.refresh_token = kOldRefresh;
  secret.access_token = kOldAccess;
  secret.expires_at = expires_at;
  secret.scopes = {"user:inference", "user:profile"};
  return secret;
}

std::string grant_body(const std::string& access, const std::string& refresh) {
  return "{\"token_type\":\"Bearer\",\"access_token\":\"" + access + "\",\"refresh_token\":\"" +
         refresh + "\",\"expires_in\":28800,\"scope\":\"user:inference user:profile\"}";
}

std::string presented_refresh_token(const HttpRequest& request) {
  const auto at = request.body.find("\"refresh_token\":\"");
  if (at == std::string::npos) return {};
  const auto start = at + 17;
  return request.body.substr(start, request.body.find('"', start) - start);
}

// A file-size limit for this process while it lives; SIGXFSZ ignored meanwhile.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &old_);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = old_;
    limit.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    std::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  void (*old_handler_)(int) = SIG_DFL;
};

struct OAuthProfile {
  TempDir dir;
  ProfilePaths paths = profile_paths(dir / "state", "p");
  std::shared_ptr<FakeTransport> transport = std::make_shared<FakeTransport>();
  ProfileConfig profile;
  FakeClock clock{kNow};
  static double half() { return 0.5; }
  OAuthProfile() {
    profile.name = "p";
    profile.backend_name = "anthropic-oauth";
    profile.refresh_before_expiry = kAnthropicRefreshBeforeExpiry;
    profile.backend = std::make_shared<AnthropicOAuthBackend>(AnthropicOAuthSettings{}, transport,
                                                              "p", lookup_fake_env);
    REQUIRE(ensure_private_dir(paths.dir));
  }
  RefreshOutcome run(RefreshReason reason = RefreshReason::forced) {
    return refresh_profile(profile, paths, RefreshRequest{reason, 0, 0},
                           RefreshEnvironment{clock, half});
  }
  OAuthSecret secret() const {
    auto text = read_private_file(paths.secret, 1 << 20);
    REQUIRE(text);
    auto parsed = parse_oauth_secret(*text);
    REQUIRE(parsed);
    return *parsed;
  }
  std::vector<std::string> temp_files() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(paths.dir)) {
      const std::string name = entry.path().filename().string();
      if (name.find(".tmp.") != std::string::npos) names.push_back(name);
    }
    return names;
  }
};

// A pid that is not running: a child that has exited and been reaped.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  REQUIRE(child > 0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

void set_mtime(const std::string& path, std::int64_t unix_s) {
  const timespec times[2] = {{unix_s, 0}, {unix_s, 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

}  // namespace

TEST_CASE("durability: a reserved temp file holds its room, fills, commits and cleans up",
          "[durability]") {
  TempDir dir;
  const std::string target = dir / "x.secret";
  {
    auto reserved = ReservedFile::reserve(target, 8192, /*durable=*/true);
    REQUIRE(reserved);
    struct stat st {};
    REQUIRE(::stat(reserved->temp_path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(st.st_size == 8192);
    CHECK(reserved->temp_path().starts_with(target + ".tmp." + std::to_string(::getpid()) + "."));
    REQUIRE(reserved->fill("first, longer content"));
    REQUIRE(reserved->fill("second"));  // a retry overwrites whole: no tail of the first
    REQUIRE(reserved->commit());
    CHECK(*read_private_file(target, 100) == "second");
  }
  std::string kept_path;
  {
    auto unused = ReservedFile::reserve(target, 4096, false);
    REQUIRE(unused);
    auto kept = ReservedFile::reserve(target, 4096, false);
    REQUIRE(kept);
    REQUIRE(kept->fill("only copy"));
    kept->keep();
    kept_path = kept->temp_path();
  }
  // The unused reservation is gone, the kept one stays with its content.
  std::size_t temps = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) ++temps;
  }
  CHECK(temps == 1);
  CHECK(*read_private_file(kept_path, 100) == "only copy");
  // A reservation the filesystem cannot give is an error that says why, and leaves nothing.
  FileSizeLimit limit(1000);
  auto too_big = ReservedFile::reserve(target, 4096, true);
  REQUIRE_FALSE(too_big);
  CHECK_THAT(too_big.error().message, Catch::StartsWith("could not save: File too large"));
  CHECK_THAT(too_big.error().message, Catch::Contains("reserving room"));
}

TEST_CASE("durability: a full disk before the request: nothing is sent, status says why",
          "[durability]") {
  OAuthProfile p;
  REQUIRE(write_private_file_atomic(p.paths.secret, serialize_oauth_secret(logged_in(kNow))));
  {
    // P.secret (about 2 KB) still fits, the room for the answer does not.
    FileSizeLimit limit(3000);
    const RefreshOutcome outcome = p.run();
    CHECK(outcome.action == RefreshAction::failed);
    CHECK(p.transport->calls() == 0);  // the refresh token was not spent
    CHECK_THAT(outcome.status.last_error, Catch::StartsWith("could not save: File too large"));
    CHECK_THAT(outcome.status.last_error, Catch::Contains("the refresh was not sent"));
    CHECK(read_status_or_default(p.paths.status).last_error == outcome.status.last_error);
  }
  CHECK(p.temp_files().empty());  // no reservation is left behind
  CHECK(p.secret().refresh_token == kOldRefresh);
}

TEST_CASE("durability: a save that fails after the server rotated keeps the new token",
          "[durability]") {
  OAuthProfile p;
  REQUIRE(write_private_file_atomic(p.paths.secret, serialize_oauth_secret(logged_in(kNow))));
  std::optional<FileSizeLimit> disk_full;
  std::vector<std::string> presented;
  p.transport->handler = [&](const HttpRequest& request) -> Result<HttpResponse> {
    presented.push_back(presented_refresh_token(request));
    // The server rotates; then nothing larger than P.status can be written any more.
    if (presented.size() == 1) disk_full.emplace(1500);
    return http_response(200, presented.size() == 1
                                  ? grant_body(kNewAccess, kNewRefresh)
                                  : grant_body(kOldAccess + "2", "sk-ant-ort01-3"));
  };
  const std::int64_t before = p.clock.unix_seconds();
  const RefreshOutcome failed = p.run();
  disk_full.reset();
  CHECK(failed.action == RefreshAction::failed);
  CHECK(failed.status.error_class == ErrorClass::transient);
  // Retried through the clock seam (0.5 + 1 + 2 s), then said what happened.
  CHECK(p.clock.unix_seconds() - before >= 3);
  CHECK_THAT(failed.status.last_error, Catch::StartsWith("could not save: File too large"));
  CHECK_THAT(failed.status.last_error, Catch::Contains("tried 4 times"));
  CHECK(failed.status.last_error.find("NEW-") == std::string::npos);
  CHECK(read_status_or_default(p.paths.status).last_error == failed.status.last_error);
  CHECK(p.secret().refresh_token == kOldRefresh);  // on disk: only the in-flight marker
  CHECK(p.secret().pending_refresh_since);

  // The next refresh of this process presents the rotated token, not the spent one.
  const RefreshOutcome next = p.run();
  CHECK(next.action == RefreshAction::refreshed);
  REQUIRE(presented.size() == 2);
  CHECK(presented[0] == kOldRefresh);
  CHECK(presented[1] == kNewRefresh);
  CHECK(p.secret().refresh_token == "sk-ant-ort01-3");
  CHECK_FALSE(p.secret().pending_refresh_since);
}

TEST_CASE("durability: a complete temp P.secret of a killed refresh is adopted, not deleted",
          "[durability]") {
  OAuthProfile p;
  // The killed run: P.secret records the request in flight; its answer reached the temp
  // file (killed during the fsync), never renamed.
  OAuthSecret in_flight = logged_in(kNow + 100);
  in_flight.pending_refresh_since = kNow - 10;
  REQUIRE(write_private_file_atomic(p.paths.secret, serialize_oauth_secret(in_flight)));
  set_mtime(p.paths.secret, kNow - 10);
  OAuthSecret rotated = logged_in(kNow + 28800);
  rotated.refresh_token = kNewRefresh;
  rotated.access_token = kNewAccess;
  const pid_t gone = dead_pid();
  const std::string prefix = p.paths.secret + ".tmp." + std::to_string(gone) + ".";
  write_file(prefix + "7", serialize_oauth_secret(rotated));
  set_mtime(prefix + "7", kNow - 9);
  // Other leftovers: a copy of the marker itself, a truncated copy, an older complete one,
  // temp files of P.cred and P.status: all removed. Another profile's temp secret stays.
  write_file(prefix + "5", serialize_oauth_secret(in_flight));
  std::string truncated = serialize_oauth_secret(rotated);
  truncated.resize(truncated.size() / 2);
  write_file(prefix + "8", truncated);
  OAuthSecret older = rotated;
  older.refresh_token = "sk-ant-ort01-OLDER";
  write_file(prefix + "3", serialize_oauth_secret(older));
  set_mtime(prefix + "3", kNow - 3600);
  write_file(p.paths.cred + ".tmp." + std::to_string(gone) + ".9", "partial");
  write_file(p.paths.status + ".tmp." + std::to_string(gone) + ".10", "partial");
  const std::string other = p.paths.dir + "/q.secret.tmp." + std::to_string(gone) + ".1";
  write_file(other, serialize_oauth_secret(rotated));

  std::vector<std::string> presented;
  p.transport->handler = [&](const HttpRequest& request) -> Result<HttpResponse> {
    presented.push_back(presented_refresh_token(request));
    return http_response(200, grant_body(kOldAccess + "3", "sk-ant-ort01-THIRD"));
  };
  // Not forced: the adopted access token is fresh, the server is not asked at all.
  const RefreshOutcome used = p.run(RefreshReason::due);
  CHECK(used.action == RefreshAction::refreshed);
  CHECK(presented.empty());
  CHECK(read_record_if_any(p.paths)->credential == kNewAccess);
  CHECK(p.secret().refresh_token == kNewRefresh);
  CHECK_FALSE(p.secret().pending_refresh_since);
  CHECK(p.temp_files() == std::vector<std::string>{"q.secret.tmp." + std::to_string(gone) + ".1"});
  // A forced refresh presents the adopted token.
  p.run(RefreshReason::forced);
  REQUIRE(presented.size() == 1);
  CHECK(presented[0] == kNewRefresh);
}

TEST_CASE("durability: only a rotation that followed a refresh in flight is adopted",
          "[durability]") {
  OAuthSecret current = logged_in(kNow);
  OAuthSecret rotated = logged_in(kNow + 28800);
  rotated.refresh_token = kNewRefresh;
  rotated.access_token = kNewAccess;
  // Nothing in flight in P.secret: a temp copy is an unfinished rewrite of the same family.
  CHECK_FALSE(is_saved_rotation(serialize_oauth_secret(current), serialize_oauth_secret(rotated)));
  current.pending_refresh_since = kNow - 5;
  CHECK(is_saved_rotation(serialize_oauth_secret(current), serialize_oauth_secret(rotated)));
  // The answer rotated nothing (429, 5xx clear the marker only): nothing to adopt.
  OAuthSecret cleared = current;
  cleared.pending_refresh_since.reset();
  CHECK_FALSE(is_saved_rotation(serialize_oauth_secret(current), serialize_oauth_secret(cleared)));
  // The copy still records a refresh in flight: it is the marker, not the answer.
  OAuthSecret marker = rotated;
  marker.pending_refresh_since = kNow;
  CHECK_FALSE(is_saved_rotation(serialize_oauth_secret(current), serialize_oauth_secret(marker)));
  // Anything that does not parse whole.
  std::string cut = serialize_oauth_secret(rotated);
  cut.resize(cut.size() - 4);
  CHECK_FALSE(is_saved_rotation(serialize_oauth_secret(current), cut));
  CHECK_FALSE(is_saved_rotation(serialize_oauth_secret(current), std::string(4096, '\0')));
  CHECK_FALSE(is_saved_rotation("garbage", serialize_oauth_secret(rotated)));
}

TEST_CASE("durability: stop signals are held back and then taken, not delivered", "[durability]") {
  // In a child: the block lasts for the rest of the process's life.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const DeferredStopSignals deferred;
    ::kill(::getpid(), SIGTERM);  // would end the process at once without the deferral
    ::kill(::getpid(), SIGINT);
    int taken = deferred.take();
    const int second = deferred.take();
    const bool ok =
        ((taken == SIGTERM && second == SIGINT) || (taken == SIGINT && second == SIGTERM)) &&
        deferred.take() == 0 && exit_code_for_signal(SIGTERM) == 143 &&
        exit_code_for_signal(SIGINT) == 130;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
