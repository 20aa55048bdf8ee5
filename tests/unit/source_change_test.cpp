// Issue 11 items 2-4: fixing the cause of a failure helps at once.
// - A changed key file, secret variable or configuration ends a permanent stop and the
//   backoff (permanent_stop.h), in refresh_profile and in the daemon's schedule; a person's
//   `once` retries a permanent error at once; a backoff message names `once --force` and
//   says until when in RFC 3339; nothing secret (nor an unkeyed hash of it) lands in P.status.
// - A record fetched under other source settings is due at once (schedule.h, record v2);
//   a version 1 record (no fingerprint) still parses and counts as other settings.
// - aws-secretsmanager without `key` refuses a JSON-object SecretString, naming its keys.
#include <catch2/catch.hpp>

#include "fake_transport.h"
#include "refresh_fixture.h"
#include "refresher/backends/aws_secretsmanager_backend.h"
#include "refresher/backends/static_backend.h"
#include "refresher/config.h"
#include "refresher/fingerprint.h"
#include "refresher/permanent_stop.h"
#include "refresher/refresh.h"
#include "refresher/schedule.h"
#include "shared/refresh_protocol.h"
#include "shared/secure_file.h"
#include "shared/time_text.h"
#include "test_support.h"

using namespace ckh;
using namespace std::chrono_literals;
using ckh::test::FakeEnv;
using ckh::test::TempDir;

using ckh::test::RefreshFixture;

TEST_CASE("source change: creating the missing key file is tried at once, not after 5 minutes") {
  RefreshFixture f;
  const std::string key_path = f.dir / "key";
  f.use(StaticBackend::from_file(key_path), "static");
  auto first = f.run();
  REQUIRE(first.action == RefreshAction::failed);
  CHECK(first.reply.error_class == ErrorClass::permanent);
  // Nothing changed: cron's `once` and the daemon keep waiting.
  f.clock.advance(2s);
  auto again = f.run();
  CHECK(again.action == RefreshAction::backing_off);
  CHECK_THAT(again.reply.message, Catch::Contains("once --force --profile p"));
  {
    const ClockReading now = read_clock(f.clock);
    const auto status = rebase_status(read_status_or_default(f.paths.status), now);
    CHECK_FALSE(next_automatic_attempt(std::nullopt, status, f.profile, f.paths, now.unix_s));
  }
  // The user creates the file: the daemon's schedule and the next `once` try at once.
  test::write_file(key_path, "sk-ant-created-later\n");
  const ClockReading now = read_clock(f.clock);
  const auto status = rebase_status(read_status_or_default(f.paths.status), now);
  CHECK(next_automatic_attempt(std::nullopt, status, f.profile, f.paths, now.unix_s) == now.unix_s);
  auto fixed = f.run();
  CHECK(fixed.action == RefreshAction::refreshed);
  REQUIRE(fixed.record);
  CHECK(fixed.record->credential == "sk-ant-created-later");
}

TEST_CASE("source change: a fixed key file ends the backoff while an old key is served") {
  RefreshFixture f;
  const std::string key_path = f.dir / "key";
  test::write_file(key_path, "sk-ant-one\n");
  f.use(StaticBackend::from_file(key_path), "static");
  REQUIRE(f.run().action == RefreshAction::refreshed);
  // The file goes bad (group-readable): a forced refresh fails; the old key stays valid.
  ::chmod(key_path.c_str(), 0640);
  REQUIRE(f.run(RefreshReason::forced).action == RefreshAction::failed);
  f.clock.advance(300s);  // the record is due again; the stop holds it back
  CHECK(f.run().action == RefreshAction::backing_off);
  // chmod 600 (the fix the message named) and rotate the key: tried at once.
  test::write_file(key_path, "sk-ant-two\n");
  auto fixed = f.run();
  CHECK(fixed.action == RefreshAction::refreshed);
  REQUIRE(fixed.record);
  CHECK(fixed.record->credential == "sk-ant-two");
}

TEST_CASE(
    "source change: a fix while the old key is still fresh is tried at once, not "
    "reported up to date") {
  RefreshFixture f;
  const std::string key_path = f.dir / "key";
  test::write_file(key_path, "sk-ant-one\n");
  f.use(StaticBackend::from_file(key_path), "static");
  REQUIRE(f.run().action == RefreshAction::refreshed);
  ::chmod(key_path.c_str(), 0640);
  REQUIRE(f.run(RefreshReason::forced).action == RefreshAction::failed);
  // The record is not due for minutes: without a change the failure stands and nothing runs.
  f.clock.advance(2s);
  CHECK(f.run().action == RefreshAction::skipped);
  {
    const ClockReading now = read_clock(f.clock);
    const auto status = rebase_status(read_status_or_default(f.paths.status), now);
    CHECK_FALSE(next_automatic_attempt(read_record_if_any(f.paths), status, f.profile, f.paths,
                                       now.unix_s) == now.unix_s);
  }
  // The fix: the daemon's schedule and cron's `once` try it now, and the failure clears.
  ::chmod(key_path.c_str(), 0600);
  const ClockReading now = read_clock(f.clock);
  const auto status = rebase_status(read_status_or_default(f.paths.status), now);
  CHECK(next_automatic_attempt(read_record_if_any(f.paths), status, f.profile, f.paths,
                               now.unix_s) == now.unix_s);
  auto fixed = f.run();
  CHECK(fixed.action == RefreshAction::refreshed);
  const StatusRecord after = read_status_or_default(f.paths.status);
  CHECK_FALSE(after.error_class);
  // And once the new state is recorded, the next due run is the usual schedule again.
  f.clock.advance(2s);
  CHECK(f.run().action == RefreshAction::skipped);
}

TEST_CASE(
    "source change: a new value of the secret variable ends the stop, no secret in P.status") {
  RefreshFixture f;
  FakeEnv env{{"CKH_TEST_KEY", "not a key"}};
  f.use(StaticBackend::from_env("CKH_TEST_KEY", test::lookup_fake_env), "static");
  REQUIRE(f.run().action == RefreshAction::failed);
  f.clock.advance(2s);
  CHECK(f.run().action == RefreshAction::backing_off);
  test::fake_env()["CKH_TEST_KEY"] = "sk-ant-low-entropy-1234";
  auto fixed = f.run();
  CHECK(fixed.action == RefreshAction::refreshed);
  // A failure with the good value: P.status names the inputs with a keyed fingerprint only.
  test::fake_env()["CKH_TEST_KEY"] = "";
  REQUIRE(f.run(RefreshReason::forced).action == RefreshAction::failed);
  const std::string text = f.status_text();
  const StatusRecord status = read_status_or_default(f.paths.status);
  CHECK(status.stopped_for.starts_with("k1-"));
  CHECK(text.find("sk-ant-low-entropy-1234") == std::string::npos);
  CHECK(text.find(token_fingerprint("")) == std::string::npos);
  // The key is private, and a different key gives a different fingerprint.
  const auto key = read_private_file(fingerprint_key_path(f.paths), 4096);
  REQUIRE(key);
  CHECK(key->size() == 32);
  CHECK(failure_inputs_fingerprint(f.profile, "", *key) == status.stopped_for);
  CHECK(failure_inputs_fingerprint(f.profile, "", std::string(32, 'x')) != status.stopped_for);
}

TEST_CASE("source change: a person's once retries a permanent error at once, cron's does not") {
  RefreshFixture f;
  const std::string key_path = f.dir / "key";
  f.use(StaticBackend::from_file(key_path), "static");
  REQUIRE(f.run().action == RefreshAction::failed);
  f.clock.advance(2s);
  CHECK(f.run(RefreshReason::due).action == RefreshAction::backing_off);
  auto person = f.run_as_person(RefreshReason::due);
  CHECK(person.action == RefreshAction::failed);  // tried (and failed again), not held back
  CHECK_THAT(person.reply.message, Catch::Contains("does not exist"));
}

TEST_CASE("source change: a backoff message says until when (RFC 3339) and names once --force") {
  RefreshFixture f;
  auto& backend = f.backend;
  backend->script.push_back(test::credential("k1"));
  backend->script.push_back(std::unexpected(Error{ErrorClass::transient, "vault sealed (503)"}));
  REQUIRE(f.run().action == RefreshAction::refreshed);
  f.clock.advance(241s);  // due
  REQUIRE(f.run().action == RefreshAction::failed);
  const auto status = read_status_or_default(f.paths.status);
  REQUIRE(status.backoff_until);
  auto held = f.run();
  REQUIRE(held.action == RefreshAction::backing_off);
  CHECK_THAT(held.reply.message, Catch::Contains("vault sealed (503)"));
  CHECK_THAT(held.reply.message, Catch::Contains("claude-key-refresher once --force --profile p"));
  CHECK_THAT(held.reply.message, Catch::Contains(rfc3339_utc(*status.backoff_until)));
  CHECK_THAT(held.reply.message, !Catch::Contains("(unix)"));
}

TEST_CASE("source change: however long the error, the reply on the wire keeps its hint whole") {
  const std::string long_error = "stderr: " + std::string(400, 'e') + " tail-of-error";
  for (const ErrorClass kind : {ErrorClass::transient, ErrorClass::permanent}) {
    RefreshFixture f;
    auto& backend = f.backend;
    backend->script.push_back(std::unexpected(Error{kind, long_error}));
    REQUIRE(f.run().action == RefreshAction::failed);
    auto held = f.run();
    REQUIRE(held.action == RefreshAction::backing_off);
    // What the helper reads from the socket: cut to the status message limit.
    const auto wire = parse_reply(format_reply(held.reply));
    REQUIRE(wire);
    CHECK(wire->message.size() <= kMaxStatusMessageBytes);
    CHECK_THAT(wire->message, Catch::Contains("stderr: eee"));
    CHECK_THAT(wire->message,
               Catch::EndsWith("run: claude-key-refresher once --force --profile p)"));
  }
}

TEST_CASE("source change: another key file, or env -> file, is due at once") {
  RefreshFixture f;
  FakeEnv env{{"CKH_TEST_KEY", "sk-ant-from-env"}};
  const std::string a = f.dir / "a";
  const std::string b = f.dir / "b";
  test::write_file(a, "sk-ant-file-a\n");
  test::write_file(b, "sk-ant-file-b\n");
  f.use(StaticBackend::from_env("CKH_TEST_KEY", test::lookup_fake_env), "static");
  REQUIRE(f.run().action == RefreshAction::refreshed);
  f.clock.advance(10s);
  CHECK(f.run().action == RefreshAction::skipped);  // not due: the same source
  f.use(StaticBackend::from_file(a), "static");     // env -> file
  auto to_a = f.run();
  CHECK(to_a.action == RefreshAction::refreshed);
  REQUIRE(to_a.record);
  CHECK(to_a.record->credential == "sk-ant-file-a");
  f.use(StaticBackend::from_file(b), "static");  // file -> another file
  const auto record = read_record_if_any(f.paths);
  REQUIRE(record);
  CHECK(next_due(*record, f.profile) <= f.clock.unix_seconds());
  auto to_b = f.run();
  CHECK(to_b.action == RefreshAction::refreshed);
  REQUIRE(to_b.record);
  CHECK(to_b.record->credential == "sk-ant-file-b");
  CHECK(f.run().action == RefreshAction::skipped);
}

TEST_CASE("source change: vault, aws and command source edits change the record's fingerprint") {
  FakeEnv env{{"HOME", "/home/u"}};
  auto fingerprint_of = [](const std::string& text) {
    auto config = parse_config(text, "cfg.toml", test::lookup_fake_env);
    REQUIRE(config);
    return source_settings_fingerprint(config->profiles.at("p"));
  };
  const std::string vault =
      "[profile.p]\nbackend = \"vault\"\n[profile.p.vault]\naddress = \"https://v:8200\"\n"
      "field = \"api_key\"\n";
  const std::string approle = "auth = \"approle\"\nrole_id_file = \"/r\"\n";
  CHECK(fingerprint_of(vault + "path = \"a\"\n") == fingerprint_of(vault + "path = \"a\"\n"));
  CHECK(fingerprint_of(vault + "path = \"a\"\n") != fingerprint_of(vault + "path = \"b\"\n"));
  CHECK(fingerprint_of(vault + "path = \"a\"\n" + approle + "secret_id_file = \"/s1\"\n") !=
        fingerprint_of(vault + "path = \"a\"\n" + approle + "secret_id_file = \"/s2\"\n"));
  const std::string aws =
      "[profile.p]\nbackend = \"aws-secretsmanager\"\n"
      "[profile.p.aws-secretsmanager]\n";
  CHECK(fingerprint_of(aws + "secret_id = \"x\"\n") != fingerprint_of(aws + "secret_id = \"y\"\n"));
  CHECK(fingerprint_of(aws + "secret_id = \"x\"\nregion = \"eu-west-1\"\n") !=
        fingerprint_of(aws + "secret_id = \"x\"\nregion = \"us-east-1\"\n"));
  CHECK(fingerprint_of(aws + "secret_id = \"x\"\nkey = \"a\"\n") !=
        fingerprint_of(aws + "secret_id = \"x\"\nkey = \"b\"\n"));
  const std::string command = "[profile.p]\nbackend = \"command\"\n[profile.p.command]\n";
  CHECK(fingerprint_of(command + "argv = [\"/bin/echo\", \"a\"]\n") !=
        fingerprint_of(command + "argv = [\"/bin/echo\", \"b\"]\n"));
  // Timing settings are not the source: editing them does not refetch.
  CHECK(fingerprint_of(vault + "path = \"a\"\nttl = \"2h\"\n") ==
        fingerprint_of(vault + "path = \"a\"\nttl = \"3h\"\n"));
}

TEST_CASE("source change: record v2 carries the source fingerprint, v1 reads and counts as other") {
  CredentialRecord record;
  record.generation = 3;
  record.backend = "static";
  record.source = "file /k";
  record.source_fingerprint = "0123456789abcdef";
  record.fetched_at = 1000;
  record.credential = "sk-ant-x";
  const std::string text = serialize_record(record);
  CHECK(text.starts_with("claude-key-helper-cred v2\n"));
  auto parsed = parse_record(text);
  REQUIRE(parsed);
  CHECK(parsed->source_fingerprint == "0123456789abcdef");
  const std::string v1 =
      "claude-key-helper-cred v1\ngeneration: 3\nbackend: static\nsource: file /k\n"
      "fetched_at: 1000\nexpires_at: none\ncredential: sk-ant-x\nend\n";
  auto old = parse_record(v1);
  REQUIRE(old);
  CHECK(old->source_fingerprint.empty());
  CHECK(old->credential == "sk-ant-x");
  ProfileConfig profile;
  profile.name = "p";
  profile.backend_name = "static";
  profile.backend = StaticBackend::from_file("/k");
  CHECK(next_due(*old, profile) == 1000);
  old->source_fingerprint = source_settings_fingerprint(profile);
  CHECK(next_due(*old, profile) == 1000 + 240);
  record.source_fingerprint = "has space";
  CHECK(parse_record(serialize_record(record))->source_fingerprint.empty());
  CHECK_FALSE(parse_record("claude-key-helper-cred v3\nend\n"));
}

TEST_CASE("aws: without key, a JSON object SecretString is refused with its keys", "[aws]") {
  FakeEnv env{{"AWS_ACCESS_KEY_ID", "AKID"},
              {"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
              {"AWS_DEFAULT_REGION", "eu-west-1"}};
  auto transport = std::make_shared<test::FakeTransport>();
  transport->respond(
      200,
      "{\"Name\":\"prod/claude\",\"SecretString\":"
      "\"{\\\"api_key\\\":\\\"sk-ant-CANARY-value\\\",\\\"owner\\\":\\\"platform\\\"}\"}");
  AwsSecretsManagerSettings settings;
  settings.secret_id = "prod/claude";
  AwsSecretsManagerBackend backend(settings, transport, "X", test::lookup_fake_env);
  FakeClock clock{1'800'000'000};
  FetchContext context{clock, ""};
  auto result = backend.fetch(context);
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorClass::permanent);
  CHECK_THAT(result.error().message,
             Catch::Contains("SecretString is a JSON object with keys api_key, owner; set key = "
                             "\"api_key\" in [profile.X.aws-secretsmanager]"));
  CHECK(result.error().message.find("CANARY") == std::string::npos);
  CHECK(result.error().message.find("platform") == std::string::npos);
  // A plain string is still the key.
  transport->respond(200, "{\"Name\":\"prod/claude\",\"SecretString\":\"sk-ant-plain\"}");
  auto plain = backend.fetch(context);
  REQUIRE(plain);
  CHECK(plain->credential == "sk-ant-plain");
}
