// refresher/file_trust: files that decide what runs or where secrets go (the config, a
// static key file, Vault's role_id_file/secret_id_file, an AWS config with credential_process)
// are refused when others can write them. Tests run as root in CI, so "another user" is a
// file chowned to nobody (uid 65534) and root's own files are "yours"; as a normal user the
// chown cases are skipped (only root can give a file away) and root's files are the system's.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "fake_transport.h"
#include "refresher/aws/aws_credentials.h"
#include "refresher/backends/static_backend.h"
#include "refresher/backends/vault_backend.h"
#include "refresher/file_trust.h"
#include "test_support.h"

using ckh::check_not_writable_by_others;
using ckh::ErrorClass;
using ckh::test::FakeEnv;
using ckh::test::TempDir;

namespace {

constexpr uid_t kNobody = 65534;

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// Gives path to nobody; false when this process may not (not root).
bool give_to_nobody(const std::string& path) {
  return ::geteuid() == 0 && ::lchown(path.c_str(), kNobody, kNobody) == 0;
}

std::string refusal(const std::string& path) {
  auto checked = check_not_writable_by_others(path, "config");
  if (checked) return "";
  CHECK(checked.error().kind == ErrorClass::unsafe);
  CHECK(checked.error().message.find('\n') == std::string::npos);
  return checked.error().message;
}

}  // namespace

TEST_CASE("file_trust: a file others can write is refused with the chmod to run", "[file_trust]") {
  TempDir dir;
  CHECK(refusal(dir.write("private.toml", "x", 0600)).empty());
  CHECK(refusal(dir.write("readable.toml", "x", 0644)).empty());  // readable is fine
  const std::string world = dir.write("world.toml", "x", 0666);
  CHECK(refusal(world) ==
        "config " + world + " is writable by others (mode 0666); run: chmod go-w " + world);
  const std::string group = dir.write("group.toml", "x", 0620);
  CHECK(contains(refusal(group), "is writable by others (mode 0620); run: chmod go-w " + group));
  CHECK(refusal(dir.file("missing.toml")).empty());  // its reader says it is missing
}

TEST_CASE("file_trust: a file of another user is refused, root's and your own are fine",
          "[file_trust]") {
  TempDir dir;
  const std::string mine = dir.write("mine.toml", "x", 0644);
  CHECK(refusal(mine).empty());
  // A root-owned system file: fine whoever runs (as root it is also one's own).
  CHECK(refusal("/etc/passwd").empty());
  const std::string theirs = dir.write("theirs.toml", "x", 0644);
  if (!give_to_nobody(theirs)) {
    WARN("not root: cannot make a file of another user; the owner case is not checked");
    return;
  }
  const std::string message = refusal(theirs);
  INFO(message);
  CHECK(contains(message, "config " + theirs + " is owned by uid 65534"));
  CHECK(contains(message, "not by you (root)"));
  CHECK(contains(message, "; run: chown root " + theirs));
}

TEST_CASE("file_trust: links are followed, the holding directories count", "[file_trust]") {
  TempDir dir;
  SECTION("a link to a root-owned 0644 file (a Kubernetes token) is fine") {
    const std::string link = dir.file("token");
    REQUIRE(::symlink("/etc/passwd", link.c_str()) == 0);
    CHECK(refusal(link).empty());
  }
  SECTION("a link to a file others can write is refused") {
    const std::string target = dir.write("target.toml", "x", 0666);
    const std::string link = dir.file("config.toml");
    REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
    CHECK(contains(refusal(link), "run: chmod go-w " + link));
  }
  SECTION("a directory others can write is refused, a sticky one is fine") {
    const std::string open_dir = dir.file("open");
    REQUIRE(::mkdir(open_dir.c_str(), 0700) == 0);
    REQUIRE(::chmod(open_dir.c_str(), 0777) == 0);
    const std::string file = open_dir + "/config.toml";
    ckh::test::write_file(file, "x", 0600);
    CHECK(refusal(file) == "config " + file + " is in " + open_dir +
                               ", which is writable by others (mode 0777); run: chmod go-w " +
                               open_dir);
    REQUIRE(::chmod(open_dir.c_str(), 01777) == 0);
    CHECK(refusal(file).empty());
  }
  SECTION("the target's directory counts too") {
    const std::string open_dir = dir.file("open");
    REQUIRE(::mkdir(open_dir.c_str(), 0700) == 0);
    REQUIRE(::chmod(open_dir.c_str(), 0770) == 0);
    const std::string target = open_dir + "/real.toml";
    ckh::test::write_file(target, "x", 0600);
    const std::string link = dir.file("config.toml");
    REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
    CHECK(contains(refusal(link), "is in " + open_dir + ", which is writable by others"));
  }
  SECTION("a directory of another user is refused") {
    const std::string their_dir = dir.file("theirs");
    REQUIRE(::mkdir(their_dir.c_str(), 0755) == 0);
    const std::string file = their_dir + "/config.toml";
    ckh::test::write_file(file, "x", 0600);
    if (!give_to_nobody(their_dir)) return;
    CHECK(contains(refusal(file), "is in " + their_dir + ", which is owned by uid 65534"));
  }
}

TEST_CASE("file_trust: a static key file others can write or own is refused", "[file_trust]") {
  TempDir dir;
  ckh::FakeClock clock(1'700'000'000);
  const std::string world = dir.write("key", "sk-ant-CANARY-key\n", 0666);
  auto result = ckh::StaticBackend::from_file(world)->fetch(ckh::FetchContext{clock, ""});
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == ErrorClass::permanent);
  CHECK(contains(result.error().message, "static key file " + world + " is writable by others"));
  CHECK(contains(result.error().message, "run: chmod go-w " + world));
  CHECK_FALSE(contains(result.error().message, "CANARY"));
  const std::string theirs = dir.write("their-key", "sk-ant-CANARY-key\n", 0600);
  if (!give_to_nobody(theirs)) return;
  result = ckh::StaticBackend::from_file(theirs)->fetch(ckh::FetchContext{clock, ""});
  REQUIRE_FALSE(result.has_value());
  CHECK(contains(result.error().message, "static key file " + theirs + " is owned by uid 65534"));
  CHECK(contains(result.error().message, "run: chown root " + theirs));
}

TEST_CASE("file_trust: Vault's role_id_file and secret_id_file are checked before login",
          "[file_trust][vault]") {
  TempDir dir;
  ckh::VaultSettings settings;
  settings.address = "https://vault.test:8200";
  settings.path = "claude/api";
  settings.field = "api_key";
  settings.kv_version = 2;
  settings.auth = "approle";
  settings.role_id_file = dir.write("role_id", "role-123\n", 0644);
  settings.secret_id_file = dir.write("secret_id", "CANARY-secret-id\n", 0600);
  FakeEnv env{{"HOME", dir.path()}};
  const auto fetch = [&] {
    auto transport = std::make_shared<ckh::test::FakeTransport>();
    ckh::VaultBackend backend(settings, transport, "ent", ckh::test::lookup_fake_env);
    ckh::FakeClock clock(1'700'000'000);
    auto result = backend.fetch(ckh::FetchContext{clock, ""});
    CHECK(transport->calls() == 0);  // nothing was sent with what others could have written
    return result;
  };
  ::chmod(settings.role_id_file.c_str(), 0666);
  auto result = fetch();
  REQUIRE_FALSE(result.has_value());
  CHECK(contains(result.error().message,
                 "role_id_file " + settings.role_id_file + " is writable by others (mode 0666)"));
  ::chmod(settings.role_id_file.c_str(), 0644);
  if (!give_to_nobody(settings.role_id_file)) return;
  result = fetch();
  REQUIRE_FALSE(result.has_value());
  CHECK(contains(result.error().message,
                 "role_id_file " + settings.role_id_file + " is owned by uid 65534"));
  REQUIRE(::lchown(settings.role_id_file.c_str(), 0, 0) == 0);
  REQUIRE(give_to_nobody(settings.secret_id_file));
  result = fetch();
  REQUIRE_FALSE(result.has_value());
  CHECK(contains(result.error().message,
                 "secret_id_file " + settings.secret_id_file + " is owned by uid 65534"));
  CHECK_FALSE(contains(result.error().message, "CANARY"));
}

TEST_CASE("file_trust: an AWS config others can write never runs its credential_process",
          "[file_trust][aws]") {
  TempDir dir;
  const std::string ran = dir.file("ran");
  const std::string script =
      dir.write("process.sh", "#!/bin/sh\ntouch '" + ran + "'\nexit 1\n", 0700);
  const std::string config = dir.write(
      "config", "[default]\nregion = us-east-1\ncredential_process = " + script + "\n", 0666);
  FakeEnv env{{"HOME", dir.path()}, {"AWS_CONFIG_FILE", config}};
  ckh::test::FakeTransport transport;
  ckh::AwsChainInput input{ckh::test::lookup_fake_env, transport, "", std::chrono::seconds(10)};
  auto resolved = ckh::resolve_aws_credentials(input);
  REQUIRE_FALSE(resolved.has_value());
  CHECK(resolved.error().message == "AWS config file " + config +
                                        " is writable by others (mode 0666); run: chmod go-w " +
                                        config);
  CHECK(::access(ran.c_str(), F_OK) != 0);
  if (!give_to_nobody(config)) return;
  ::chmod(config.c_str(), 0644);
  resolved = ckh::resolve_aws_credentials(input);
  REQUIRE_FALSE(resolved.has_value());
  CHECK(contains(resolved.error().message, "AWS config file " + config + " is owned by uid 65534"));
  CHECK(::access(ran.c_str(), F_OK) != 0);
}
