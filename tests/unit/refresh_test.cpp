// One refresh of one profile against the scripted backend: skip logic, generations,
// stale-while-error, backoff, the 401 rate limit, secret-before-publish, redaction.
#include <catch2/catch.hpp>

#include "refresh_fixture.h"
#include "refresher/fingerprint.h"
#include "refresher/permanent_stop.h"
#include "refresher/refresh.h"
#include "refresher/schedule.h"
#include "refresher/status_report.h"
#include "shared/secure_file.h"
#include "test_support.h"

using namespace ckh;
using namespace std::chrono_literals;
using ckh::test::credential;
using ckh::test::ScriptedBackend;
using ckh::test::TempDir;

using Fixture = ckh::test::RefreshFixture;

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
  // Half its life later it no longer covers a caller needing 600 s more (a record that could
  // never cover a request is another matter: item 15 below).
  f.clock.advance(500s);
  auto outcome = f.run(RefreshReason::expiring, 1, now + 1100);
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
  r.source_fingerprint = source_settings_fingerprint(p);  // fetched under these settings
  CHECK(next_due(r, p) == 1240);                          // no expiry
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

// ---- issue 10, item 13: intervals on the boot clock, expiry on the wall clock ----------------

namespace {

std::optional<std::int64_t> next_attempt_now(Fixture& f) {
  const ClockReading now = read_clock(f.clock);
  const auto status = rebase_status(read_status_or_default(f.paths.status), now);
  return next_attempt(read_record_if_any(f.paths), status, f.profile, now.unix_s);
}

}  // namespace

TEST_CASE("clock step: a wall clock set back a day does not delay the refresh by a day") {
  Fixture f;
  f.backend->script.push_back(credential("k1"));
  f.backend->script.push_back(credential("k2"));
  REQUIRE(f.run(RefreshReason::due).action == RefreshAction::refreshed);
  f.clock.advance(100s);
  f.clock.step_wall(-24h);
  // Before: "next refresh in 1d2m20s". The interval counts elapsed time, not wall time.
  const auto at = next_attempt_now(f);
  REQUIRE(at);
  CHECK(*at - f.clock.unix_seconds() == 140);
  auto report = gather_report(f.profile, f.dir / "state", read_clock(f.clock));
  const std::string text = format_report_text({report}, f.clock.unix_seconds());
  INFO(text);
  CHECK(text.find("next refresh:  ") != std::string::npos);
  CHECK(text.find("(in 2m20s)") != std::string::npos);
  CHECK(f.run(RefreshReason::due).action == RefreshAction::skipped);
  f.clock.advance(140s);
  CHECK(f.run(RefreshReason::due).action == RefreshAction::refreshed);
  CHECK(f.backend->calls == 2);
}

TEST_CASE("clock step: set forward, expiry follows the wall clock and intervals do not") {
  Fixture f;
  const auto now = f.clock.unix_seconds();
  f.backend->script.push_back(credential("no-expiry"));
  REQUIRE(f.run(RefreshReason::due).action == RefreshAction::refreshed);
  f.clock.advance(60s);
  f.clock.step_wall(24h);
  // 60 s of the 240 s interval have passed, whatever the wall clock says.
  CHECK(f.run(RefreshReason::due).action == RefreshAction::skipped);
  CHECK(*next_attempt_now(f) - f.clock.unix_seconds() == 180);

  Fixture g;
  g.backend->script.push_back(credential("expiring", now + 3600));
  g.backend->script.push_back(credential("next", now + 24 * 3600 + 7200));
  REQUIRE(g.run(RefreshReason::due).action == RefreshAction::refreshed);
  g.clock.advance(60s);
  g.clock.step_wall(24h);
  // By the wall clock, the credential has expired: that is replaced at once.
  CHECK(*next_attempt_now(g) <= g.clock.unix_seconds());
  CHECK(g.run(RefreshReason::due).action == RefreshAction::refreshed);
}

TEST_CASE("clock step: backoff and the 401 rate limit are elapsed time too") {
  Fixture f;
  f.backend->script.push_back(credential("k1"));
  f.backend->script.push_back(std::unexpected(Error{ErrorClass::transient, "down"}));
  f.run(RefreshReason::due);
  f.clock.advance(240s);
  REQUIRE(f.run(RefreshReason::due).action == RefreshAction::failed);  // backoff 1 s
  f.clock.step_wall(-24h);
  f.clock.advance(2s);
  CHECK(*next_attempt_now(f) <= f.clock.unix_seconds());
  f.backend->script.push_back(credential("k2"));
  CHECK(f.run(RefreshReason::due).action == RefreshAction::refreshed);
  // A suspected 401 rate-limited 30 s stays so for 30 s of elapsed time, not 30 s + a day.
  f.backend->script.push_back(credential("k3"));
  f.backend->script.push_back(credential("k4"));
  REQUIRE(f.run(RefreshReason::suspected_401, 2).action == RefreshAction::refreshed);
  f.clock.advance(10s);
  f.clock.step_wall(-24h);
  CHECK(f.run(RefreshReason::suspected_401, 3).action == RefreshAction::rate_limited);
  f.clock.advance(21s);
  CHECK(f.run(RefreshReason::suspected_401, 3).action == RefreshAction::refreshed);
}

TEST_CASE("clock step: a status from another boot falls back to wall time, bounded") {
  Fixture f;
  f.backend->script.push_back(credential("k1"));
  f.run(RefreshReason::due);
  f.clock.reboot();
  f.clock.step_wall(-24h);
  // No elapsed time to go by: at most one interval from now, never a day.
  CHECK(*next_attempt_now(f) - f.clock.unix_seconds() == 240);
  // Small differences between the clocks (seconds vs milliseconds) are not a step.
  const ClockReading now{1000, 50'000, "b"};
  StatusRecord s;
  s.updated_at = 990;
  s.boot_id = "b";
  s.boot_ms = 38'500;  // 11.5 s earlier by the boot clock, 10 s by the wall clock
  s.last_attempt_at = 990;
  CHECK(rebase_status(s, now).last_attempt_at == 990);
  s.boot_ms = 20'000;  // 30 s earlier: the wall clock was set back 20 s
  CHECK(rebase_status(s, now).last_attempt_at == 970);
  CHECK(rebase_status(rebase_status(s, now), now).last_attempt_at == 970);
}

TEST_CASE("schedule: the daemon's sleep is capped and keeps timer attempts a second apart") {
  const auto cap = std::chrono::milliseconds(30'000);
  CHECK(wake_delay(std::nullopt, 100, std::nullopt, cap) == cap);  // stopped: looks again later
  CHECK(wake_delay(100 + 86'400, 100, std::nullopt, cap) == cap);
  CHECK(wake_delay(105, 100, std::nullopt, cap) == std::chrono::milliseconds(5000));
  CHECK(wake_delay(100, 100, std::nullopt, cap).count() == 0);
  CHECK(wake_delay(50, 100, std::chrono::milliseconds(300), cap) == std::chrono::milliseconds(700));
  CHECK(wake_delay(50, 100, std::chrono::milliseconds(1500), cap).count() == 0);
}

// ---- issue 10, item 14: Retry-After binds forced refreshes; permanent failures wait ------------

TEST_CASE("refresh: a 429's Retry-After holds back forced refreshes too, and says so") {
  Fixture f;
  f.profile.refresh_interval = 30s;  // due again before the Retry-After ends
  f.backend->script.push_back(credential("k1"));
  Error limited{ErrorClass::transient, "the token server answered 429"};
  limited.retry_after_s = 90;
  f.backend->script.push_back(std::unexpected(limited));
  f.run(RefreshReason::forced);
  REQUIRE(f.run(RefreshReason::forced).action == RefreshAction::failed);
  const auto failed_at = f.clock.unix_seconds();
  CHECK(read_status_or_default(f.paths.status).retry_after_until == failed_at + 90);
  // Five forced runs (once --force, signal), a 401 and a timer run: no server hit.
  for (int i = 0; i < 5; ++i) {
    f.clock.advance(10s);
    auto refused = f.run(RefreshReason::forced);
    CHECK(refused.action == RefreshAction::backing_off);
    CHECK_FALSE(refused.reply.ok);
    CHECK(refused.reply.error_class == ErrorClass::transient);
    CHECK(refused.reply.message.find("Retry-After") != std::string::npos);
    CHECK(refused.reply.message.find("not retried") != std::string::npos);
  }
  CHECK(f.run(RefreshReason::suspected_401, 1).action == RefreshAction::backing_off);
  CHECK(f.run(RefreshReason::due).action == RefreshAction::backing_off);
  CHECK(f.backend->calls == 2);
  CHECK(*next_attempt_now(f) == failed_at + 90);
  f.clock.advance(40s);  // 90 s after the 429
  f.backend->script.push_back(credential("k2"));
  CHECK(f.run(RefreshReason::forced).action == RefreshAction::refreshed);
  CHECK_FALSE(read_status_or_default(f.paths.status).retry_after_until);
}

TEST_CASE("refresh: a permanent failure stops automatic retries until config or secret change") {
  Fixture f;
  REQUIRE(ensure_private_dir(f.paths.dir));
  REQUIRE(write_private_file_atomic(f.paths.secret, "refresh-token-1"));
  f.profile.config_fingerprint = "config-1";
  Error refused{ErrorClass::permanent, "invalid_grant: refresh token revoked"};
  f.backend->script.push_back(std::unexpected(refused));
  REQUIRE(f.run(RefreshReason::due).action == RefreshAction::failed);
  CHECK_FALSE(read_status_or_default(f.paths.status).stopped_for.empty());
  // A day later, every automatic path still leaves the dead token alone.
  f.clock.advance(24h);
  for (auto reason : {RefreshReason::due, RefreshReason::expiring, RefreshReason::suspected_401}) {
    auto outcome = f.run(reason, 0, f.clock.unix_seconds() + 300);
    CHECK(outcome.action == RefreshAction::backing_off);
    CHECK(outcome.reply.error_class == ErrorClass::permanent);
    CHECK(outcome.reply.message.find("invalid_grant") != std::string::npos);
    CHECK(outcome.reply.message.find("once --force --profile p") != std::string::npos);
  }
  CHECK(f.backend->calls == 1);
  const ClockReading now = read_clock(f.clock);
  const auto status = rebase_status(read_status_or_default(f.paths.status), now);
  CHECK(stopped_for_inputs(status, current_failure_inputs(f.profile, f.paths)));
  CHECK_FALSE(next_attempt(std::nullopt, status, f.profile, now.unix_s, true));
  // A new secret (login, import) resumes them.
  REQUIRE(write_private_file_atomic(f.paths.secret, "refresh-token-2"));
  f.backend->script.push_back(std::unexpected(refused));
  CHECK(f.run(RefreshReason::due).action == RefreshAction::failed);
  CHECK(f.backend->calls == 2);
  CHECK(f.run(RefreshReason::due).action == RefreshAction::backing_off);
  // So does an edited configuration.
  f.profile.config_fingerprint = "config-2";
  f.clock.advance(1s);  // nothing valid: one attempt per backoff_min despite the backoff
  f.backend->script.push_back(credential("k1"));
  CHECK(f.run(RefreshReason::due).action == RefreshAction::refreshed);
  CHECK(read_status_or_default(f.paths.status).stopped_for.empty());
  // And an explicit once --force / signal always tries.
  f.backend->script.push_back(std::unexpected(refused));
  f.backend->script.push_back(credential("k2"));
  CHECK(f.run(RefreshReason::forced).action == RefreshAction::failed);
  CHECK(stopped_for_inputs(read_status_or_default(f.paths.status),
                           current_failure_inputs(f.profile, f.paths)));
  CHECK(f.run(RefreshReason::forced).action == RefreshAction::refreshed);
  CHECK(f.backend->calls == 5);
}

TEST_CASE("refresh: a transient failure never stops automatic retries") {
  Fixture f;
  f.backend->script.push_back(std::unexpected(Error{ErrorClass::transient, "503"}));
  f.backend->script.push_back(credential("k1"));
  REQUIRE(f.run(RefreshReason::due).action == RefreshAction::failed);
  CHECK_FALSE(stopped_for_inputs(read_status_or_default(f.paths.status),
                                 current_failure_inputs(f.profile, f.paths)));
  f.clock.advance(5s);
  CHECK(f.run(RefreshReason::due).action == RefreshAction::refreshed);
}

// ---- issue 10, item 15: credentials shorter-lived than Claude Code's TTL ----------------------

TEST_CASE(
    "refresh: a credential living no longer than the caller's TTL is not refetched per call") {
  Fixture f;
  f.profile.force_min_interval = 30s;
  const auto ttl_plus_margin = 315;  // Claude Code's 5 min + the helper's 15 s
  // Each fetched credential lives 120 s (a command backend with ttl = "2m"); they are
  // fetched at t0, t0 + 30 s and t0 + 230 s below.
  const auto t0 = f.clock.unix_seconds();
  for (auto [key, expires] :
       {std::pair{"k0", t0 + 120}, std::pair{"k1", t0 + 150}, std::pair{"k2", t0 + 350}}) {
    f.backend->script.push_back(credential(key, expires));
  }
  REQUIRE(f.run(RefreshReason::due).action == RefreshAction::refreshed);
  // Helper calls every 5 s for 25 s: each needs 315 s, none can be satisfied; served as is.
  for (int i = 0; i < 6; ++i) {
    auto outcome = f.run(RefreshReason::expiring, 1, f.clock.unix_seconds() + ttl_plus_margin);
    CHECK(outcome.reply.ok);
    CHECK(outcome.reply.generation == 1);
    f.clock.advance(5s);
  }
  CHECK(f.backend->calls == 1);
  // After the gap (min(half the life, force_min_interval) = 30 s) one call goes through.
  f.clock.advance(5s);
  CHECK(f.run(RefreshReason::expiring, 1, f.clock.unix_seconds() + ttl_plus_margin).action ==
        RefreshAction::refreshed);
  CHECK(f.backend->calls == 2);
  // An expired credential is replaced at once (nothing valid to serve).
  f.clock.advance(200s);
  CHECK(f.run(RefreshReason::expiring, 2, f.clock.unix_seconds() + ttl_plus_margin).action ==
        RefreshAction::refreshed);
  // A long-lived credential near its end is not held back.
  Fixture g;
  g.backend->script.push_back(credential("long", g.clock.unix_seconds() + 3600));
  g.backend->script.push_back(credential("long2", g.clock.unix_seconds() + 7200));
  g.run(RefreshReason::due);
  g.clock.advance(3400s);
  CHECK(g.run(RefreshReason::expiring, 1, g.clock.unix_seconds() + ttl_plus_margin).action ==
        RefreshAction::refreshed);
}

TEST_CASE(
    "status record: version 4 carries Retry-After, the stop, the clock anchor, the last "
    "rejection, the caller's shortfall and the secret store's problem; v1, v2 and v3 read") {
  StatusRecord s;
  s.updated_at = 1000;
  s.last_generation = 7;
  s.error_class = ErrorClass::permanent;
  s.last_error = "invalid_grant";
  s.retry_after_until = 1090;
  s.stopped_for = "0a1b2c3d4e5f";
  s.boot_id = "4f1b0c9e-5d37-4a8e-9b51-2c4f3f7e9a10";
  s.boot_ms = 123456;
  s.last_rejected_at = 1010;
  s.caller_shortfall = "a caller needs 1h; credentials last 30m";
  s.secret_store_problem = "the keyring is locked: unlock it";
  const std::string text = serialize_status(s);
  CHECK(text.starts_with("claude-key-helper-status v4\n"));
  auto parsed = parse_status(text);
  REQUIRE(parsed);
  CHECK(parsed->secret_store_problem == s.secret_store_problem);
  CHECK(parsed->last_rejected_at == 1010);
  CHECK(parsed->caller_shortfall == s.caller_shortfall);
  CHECK(parsed->retry_after_until == 1090);
  CHECK(parsed->stopped_for == "0a1b2c3d4e5f");
  CHECK(parsed->boot_id == s.boot_id);
  CHECK(parsed->boot_ms == 123456);
  s.stopped_for = "has space";  // not a token: written as none
  CHECK(parse_status(serialize_status(s))->stopped_for.empty());
  // What an older refresher wrote keeps its counters.
  const std::string v1 =
      "claude-key-helper-status v1\nupdated_at: 5\nlast_attempt_at: none\nlast_success_at: 5\n"
      "consecutive_failures: 0\nerror_class: none\nlast_error: \nbackoff_until: none\n"
      "last_forced_at: none\nlast_generation: 42\nend\n";
  auto old = parse_status(v1);
  REQUIRE(old);
  CHECK(old->last_generation == 42);
  CHECK_FALSE(old->retry_after_until);
  CHECK(old->boot_id.empty());
  auto truncated_v1 = parse_status(v1.substr(0, v1.size() - 4));
  REQUIRE_FALSE(truncated_v1);
  CHECK(truncated_v1.error().kind == ErrorClass::corrupt);
  CHECK_FALSE(parse_status("claude-key-helper-status v3\nend\n"));
  CHECK_FALSE(parse_status("claude-key-helper-status v4\nend\n"));
  CHECK_FALSE(parse_status("claude-key-helper-status v5\nend\n"));
  // A version 3 file (before the last line) keeps everything it had.
  std::string v3 = text.substr(0, text.find("secret_store_problem:"));
  v3.replace(0, std::string("claude-key-helper-status v4").size(), "claude-key-helper-status v3");
  v3 += "end\n";
  auto from_v3 = parse_status(v3);
  REQUIRE(from_v3);
  CHECK(from_v3->caller_shortfall == s.caller_shortfall);
  CHECK(from_v3->secret_store_problem.empty());
  // A version 2 file (before the last three lines) keeps everything it had.
  std::string v2 = text.substr(0, text.find("last_rejected_at:"));
  v2.replace(0, std::string("claude-key-helper-status v4").size(), "claude-key-helper-status v2");
  v2 += "end\n";
  auto from_v2 = parse_status(v2);
  REQUIRE(from_v2);
  CHECK(from_v2->boot_ms == 123456);
  CHECK(from_v2->stopped_for == "0a1b2c3d4e5f");
  CHECK_FALSE(from_v2->last_rejected_at);
  CHECK(from_v2->caller_shortfall.empty());
}
