// One refresh of one profile against the scripted backend: skip logic, generations,
// stale-while-error, backoff, the 401 rate limit, secret-before-publish, redaction.
#include <catch2/catch.hpp>

#include "refresher/refresh.h"
#include "refresher/schedule.h"
#include "shared/secure_file.h"
#include "test_support.h"

using namespace ckh;
using namespace std::chrono_literals;
using ckh::test::credential;
using ckh::test::ScriptedBackend;
using ckh::test::TempDir;

namespace {

struct Fixture {
  TempDir dir;
  ProfilePaths paths = profile_paths(dir / "state", "p");
  std::shared_ptr<ScriptedBackend> backend = std::make_shared<ScriptedBackend>();
  ProfileConfig profile;
  FakeClock clock{1'800'000'000};
  static double half() { return 0.5; }
  Fixture() {
    profile.name = "p";
    profile.backend_name = "scripted";
    profile.backend = backend;
  }
  RefreshOutcome run(RefreshReason reason, std::uint64_t seen = 0, std::int64_t need_until = 0) {
    return refresh_profile(profile, paths, RefreshRequest{reason, seen, need_until},
                           RefreshEnvironment{clock, half});
  }
};

}  // namespace

TEST_CASE("refresh: first refresh publishes generation 1 with its expiry") {
  Fixture f;
  f.backend->script.push_back(credential("key-one", f.clock.unix_seconds() + 3600));
  auto outcome = f.run(RefreshReason::due);
  CHECK(outcome.action == RefreshAction::refreshed);
  CHECK(outcome.reply.ok);
  CHECK(outcome.reply.generation == 1);
  auto record = read_record_if_any(f.paths);
  REQUIRE(record);
  CHECK(record->credential == "key-one");
  CHECK(record->backend == "scripted");
  CHECK(record->expires_at == f.clock.unix_seconds() + 3600);
  CHECK(read_status_or_default(f.paths.status).last_success_at == f.clock.unix_seconds());
}

TEST_CASE("refresh: not due means no backend call; due after refresh_interval") {
  Fixture f;
  f.backend->script.push_back(credential("key-one"));
  f.backend->script.push_back(credential("key-two"));
  f.run(RefreshReason::due);
  f.clock.advance(100s);
  CHECK(f.run(RefreshReason::due).action == RefreshAction::skipped);
  CHECK(f.backend->calls == 1);
  f.clock.advance(140s);  // 240 s = refresh_interval
  auto outcome = f.run(RefreshReason::due);
  CHECK(outcome.action == RefreshAction::refreshed);
  CHECK(outcome.reply.generation == 2);
}

TEST_CASE("refresh: expiring request is skipped when the record already covers need_until") {
  Fixture f;
  const auto now = f.clock.unix_seconds();
  f.backend->script.push_back(credential("key-one", now + 1000));
  f.backend->script.push_back(credential("key-two", now + 5000));
  f.run(RefreshReason::due);
  CHECK(f.run(RefreshReason::expiring, 1, now + 900).action == RefreshAction::skipped);
  auto outcome = f.run(RefreshReason::expiring, 1, now + 1200);
  CHECK(outcome.action == RefreshAction::refreshed);
  CHECK(read_record_if_any(f.paths)->credential == "key-two");
}

TEST_CASE("refresh: failure keeps the last good credential and backs off") {
  Fixture f;
  const auto now = f.clock.unix_seconds();
  f.backend->script.push_back(credential("key-one", now + 100));
  f.backend->script.push_back(std::unexpected(Error{ErrorClass::transient, "gateway timeout"}));
  f.run(RefreshReason::due);
  f.clock.advance(60s);  // short credential: due at half-life
  auto outcome = f.run(RefreshReason::due);
  CHECK(outcome.action == RefreshAction::failed);
  CHECK_FALSE(outcome.reply.ok);
  CHECK(outcome.reply.error_class == ErrorClass::transient);
  CHECK(read_record_if_any(f.paths)->credential == "key-one");
  const auto status = read_status_or_default(f.paths.status);
  CHECK(status.consecutive_failures == 1);
  CHECK(status.last_error == "gateway timeout");
  REQUIRE(status.backoff_until);
  CHECK(*status.backoff_until ==
        f.clock.unix_seconds() + 1);  // min 1 s, cap 1 s on the first failure
  // In backoff the backend is not called, and the helper is told why at once.
  auto again = f.run(RefreshReason::expiring, 1, f.clock.unix_seconds() + 1000);
  CHECK(again.action == RefreshAction::backing_off);
  CHECK(again.reply.message.find("gateway timeout") != std::string::npos);
  CHECK(f.backend->calls == 2);
  // Once nothing valid is left, one attempt per backoff_min goes through despite the backoff.
  f.backend->script.push_back(std::unexpected(Error{ErrorClass::transient, "still down"}));
  f.clock.advance(100s);  // key-one expired; backoff_until is 1 s after the failure anyway
  auto status_before = read_status_or_default(f.paths.status);
  status_before.backoff_until = f.clock.unix_seconds() + 60;
  REQUIRE(write_private_file_atomic(f.paths.status, serialize_status(status_before)));
  CHECK(f.run(RefreshReason::expiring, 1, f.clock.unix_seconds() + 300).action ==
        RefreshAction::failed);
  CHECK(f.backend->calls == 3);
  CHECK(f.run(RefreshReason::expiring, 1, f.clock.unix_seconds() + 300).action ==
        RefreshAction::backing_off);
  CHECK(f.backend->calls == 3);
  // A forced refresh ignores the backoff.
  f.backend->script.push_back(credential("key-two"));
  CHECK(f.run(RefreshReason::forced).action == RefreshAction::refreshed);
  CHECK(read_status_or_default(f.paths.status).consecutive_failures == 0);
}

TEST_CASE("refresh: suspected 401 is skipped when someone already rotated, and rate-limited") {
  Fixture f;
  for (auto key : {"k1", "k2", "k3", "k4"}) f.backend->script.push_back(credential(key));
  f.run(RefreshReason::due);  // generation 1
  auto first = f.run(RefreshReason::suspected_401, 1, 0);
  CHECK(first.action == RefreshAction::refreshed);  // generation 2
  // A second caller that also saw generation 1 gets generation 2 without a backend call.
  auto second = f.run(RefreshReason::suspected_401, 1, 0);
  CHECK(second.action == RefreshAction::skipped);
  CHECK(second.reply.generation == 2);
  // Generation 2 rejected too, within 30 s: rate-limited.
  f.clock.advance(10s);
  auto limited = f.run(RefreshReason::suspected_401, 2, 0);
  CHECK(limited.action == RefreshAction::rate_limited);
  CHECK(f.backend->calls == 2);
  f.clock.advance(21s);
  CHECK(f.run(RefreshReason::suspected_401, 2, 0).action == RefreshAction::refreshed);
}

TEST_CASE("refresh: generations never repeat even if P.cred is deleted or corrupted") {
  Fixture f;
  for (auto key : {"k1", "k2", "k3"}) f.backend->script.push_back(credential(key));
  f.run(RefreshReason::forced);
  f.run(RefreshReason::forced);
  std::filesystem::remove(f.paths.cred);
  CHECK(f.run(RefreshReason::forced).reply.generation == 3);
  ckh::test::write_file(f.paths.cred, "garbage");
  f.backend->script.push_back(credential("k4"));
  CHECK(f.run(RefreshReason::forced).reply.generation == 4);
}

TEST_CASE("refresh: rotated secret state is written before the credential is published") {
  Fixture f;
  auto fetched = credential("access-1");
  fetched.new_secret_state = "refresh-token-2";
  f.backend->script.push_back(fetched);
  REQUIRE(ensure_private_dir(f.paths.dir));
  REQUIRE(write_private_file_atomic(f.paths.secret, "refresh-token-1"));
  f.run(RefreshReason::forced);
  CHECK(f.backend->last_secret_state == "refresh-token-1");
  CHECK(*read_private_file(f.paths.secret, 1000) == "refresh-token-2");
  // When the secret cannot be written, nothing is published.
  auto next = credential("access-2");
  next.new_secret_state = "refresh-token-3";
  f.backend->script.push_back(next);
  std::filesystem::remove(f.paths.secret);
  std::filesystem::create_directory(
      f.paths.secret);  // a directory where the file belongs: rename fails
  auto outcome = f.run(RefreshReason::forced);
  CHECK(outcome.action == RefreshAction::failed);
  CHECK(read_record_if_any(f.paths)->credential == "access-1");
}

TEST_CASE("refresh: invalid credentials are refused and error text is redacted") {
  Fixture f;
  f.backend->script.push_back(credential("has space"));
  auto outcome = f.run(RefreshReason::forced);
  CHECK(outcome.action == RefreshAction::failed);
  CHECK(outcome.reply.error_class == ErrorClass::permanent);
  CHECK_FALSE(read_record_if_any(f.paths));
  f.backend->script.push_back(credential("sk-live-CANARY-0123456789"));
  f.run(RefreshReason::forced);
  f.backend->script.push_back(std::unexpected(
      Error{ErrorClass::transient, "server said sk-live-CANARY-0123456789 is bad"}));
  auto failed = f.run(RefreshReason::forced);
  CHECK(failed.reply.message.find("CANARY") == std::string::npos);
  CHECK(read_status_or_default(f.paths.status).last_error.find("CANARY") == std::string::npos);
}

TEST_CASE("schedule: due at the interval, before expiry, or at half-life for short credentials") {
  ProfileConfig p;
  p.refresh_interval = 240s;
  p.refresh_before_expiry = 600s;
  CredentialRecord r;
  r.fetched_at = 1000;
  CHECK(next_due(r, p) == 1240);  // no expiry
  r.expires_at = 1000 + 3600;
  CHECK(next_due(r, p) == 1240);
  r.expires_at = 1000 + 700;  // lives 700 s: 600 s before expiry is past half-life, so 350 s
  CHECK(next_due(r, p) == 1240);
  p.refresh_interval = 3600s;
  CHECK(next_due(r, p) == 1350);
  r.expires_at = 1000 + 1300;  // 600 s before expiry
  CHECK(next_due(r, p) == 1700);
  r.expires_at = 1000 + 60;  // lives 60 s: half-life
  CHECK(next_due(r, p) == 1030);
  StatusRecord s;
  s.backoff_until = 5000;
  CHECK(next_attempt(r, s, p, 1000) == 5000);
  CHECK(next_attempt(std::nullopt, StatusRecord{}, p, 1234) == 1234);
  r.backend = "static";  // the profile now names another backend: due at once
  p.backend_name = "command";
  CHECK(next_due(r, p) == 1000);
}

TEST_CASE("schedule: full-jitter backoff stays within [min, min*2^(n-1)] capped at max") {
  ProfileConfig p;
  p.backoff_min = 1s;
  p.backoff_max = 300s;
  CHECK(backoff_delay(1, p, 0.0) == 1s);
  CHECK(backoff_delay(1, p, 1.0) == 1s);
  CHECK(backoff_delay(4, p, 1.0) == 8s);
  CHECK(backoff_delay(4, p, 0.0) == 1s);
  CHECK(backoff_delay(20, p, 1.0) == 300s);
  CHECK(backoff_delay(1000, p, 1.0) == 300s);
  CHECK(backoff_delay(20, p, 0.5) == 151s);
}
