// Issue 13, long-lived secrets in the OS keyring: the item's serialized form
// (refresher/keyring/secret_item.h), the macOS Keychain commands the keyring store runs, the
// `secret_store` setting, and the store's rules that need no keyring daemon (a file store
// that has nothing to move; a keyring that cannot be reached: the state goes to P.secret,
// never lost). tests/integration/keyring_store.sh runs a real gnome-keyring.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include <vector>

#include "refresher/config.h"
#include "refresher/keyring/keyring.h"
#include "refresher/keyring/secret_item.h"
#include "refresher/secret_store.h"
#include "refresher/sinks/keychain.h"
#include "refresher/temp_recovery.h"
#include "shared/secure_file.h"
#include "test_support.h"

using namespace ckh;
using ckh::test::lookup_fake_env;
using ckh::test::TempDir;

namespace {

ProfileConfig profile_storing_in(SecretStore store) {
  ProfileConfig profile;
  profile.name = "max";
  profile.secret_store = store;
  return profile;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Points libsecret at a bus that is not there, for this scope.
class NoSessionBus {
 public:
  NoSessionBus() {
    if (const char* old = std::getenv("DBUS_SESSION_BUS_ADDRESS")) saved_ = old;
    ::setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/ckh-no-bus", 1);
  }
  NoSessionBus(const NoSessionBus&) = delete;
  NoSessionBus& operator=(const NoSessionBus&) = delete;
  ~NoSessionBus() {
    if (saved_.empty()) {
      ::unsetenv("DBUS_SESSION_BUS_ADDRESS");
    } else {
      ::setenv("DBUS_SESSION_BUS_ADDRESS", saved_.c_str(), 1);
    }
  }

 private:
  std::string saved_;
};

}  // namespace

TEST_CASE("keyring item: the state round-trips byte for byte behind a checked header") {
  const std::string state =
      std::string("claude-key-helper-oauth v1\nrefresh_token: sk-ant-ort01-x\n") +
      std::string(1, '\0') + "\nend\nend\n";
  const std::string item = serialize_secret_item("max", state);
  CHECK(item.starts_with("claude-key-helper-secret v1\nprofile: max\nbytes: " +
                         std::to_string(state.size()) + "\nsha256: "));
  auto back = parse_secret_item(item, "max");
  REQUIRE(back);
  CHECK(*back == state);
  CHECK(parse_secret_item(serialize_secret_item("max", ""), "max").value() == "");
}

TEST_CASE("keyring item: another profile's, a truncated, padded or altered item is refused") {
  const std::string item = serialize_secret_item("max", "refresh_token: abc\n");
  for (const std::string& bad :
       {serialize_secret_item("other", "refresh_token: abc\n"), item.substr(0, item.size() - 1),
        item + "x", item.substr(0, item.size() - 2) + "C\n", std::string("garbage"), std::string(),
        std::string("claude-key-helper-secret v2\nend\n")}) {
    auto parsed = parse_secret_item(bad, "max");
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().kind == ErrorClass::corrupt);
    CHECK(parsed.error().message.find("abc") == std::string::npos);
  }
}

TEST_CASE(
    "keyring on macOS: the exact security commands (service claude-key-helper, account = "
    "profile, the content hex-encoded)") {
  const std::string content = serialize_secret_item("max", "refresh_token: r1\n");
  const std::string password = keychain_keyring_password(content);
  CHECK(password.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(keychain_keyring_content(password).value() == content);
  CHECK_FALSE(keychain_keyring_content("abc"));  // odd length
  CHECK_FALSE(keychain_keyring_content("zz"));
  // What keyring_write sends to `security -i` on its stdin: the password travels as the hex
  // of its bytes (-X), never in argv.
  CHECK(keychain_add_command("max", kKeyringApplication, password) ==
        "add-generic-password -U -a \"max\" -s \"claude-key-helper\" -X " +
            keychain_keyring_password(password) + "\n");
  CHECK(keychain_delete_argv("max", kKeyringApplication) ==
        std::vector<std::string>{"security", "delete-generic-password", "-a", "max", "-s",
                                 "claude-key-helper"});
  CHECK(keyring_item_label(KeyringItemId{"max", "/home/u/.local/state/claude-key-helper"}) ==
        "claude-key-helper: long-lived secrets of profile 'max' (refresh token, Vault token, "
        "client secret) - /home/u/.local/state/claude-key-helper");
}

TEST_CASE("config: secret_store is file (the default) or keyring, anything else is a problem") {
  const std::string base = "[profile.p]\nbackend = \"static\"\n";
  const std::string static_section = "[profile.p.static]\nenv = \"CKH_TEST_KEY\"\n";
  auto plain = parse_config(base + static_section, "cfg.toml", lookup_fake_env);
  REQUIRE(plain);
  CHECK(plain->profiles.at("p").secret_store == SecretStore::file);
  auto keyring = parse_config(base + "secret_store = \"keyring\"\n" + static_section, "cfg.toml",
                              lookup_fake_env);
  REQUIRE(keyring);
  CHECK(keyring->profiles.at("p").secret_store == SecretStore::keyring);
  auto wrong = parse_config(base + "secret_store = \"vault\"\n" + static_section, "cfg.toml",
                            lookup_fake_env);
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().front().to_string().find(
            "unknown secret_store \"vault\"; expected \"file\" (P.secret, 0600) or \"keyring\"") !=
        std::string::npos);
}

TEST_CASE(
    "secret store: with secret_store = file the state is P.secret, and nothing asks a "
    "keyring") {
  NoSessionBus no_bus;  // any keyring call would fail: none must be made
  TempDir dir;
  const ProfilePaths paths = profile_paths(dir.path(), "max");
  const ProfileConfig profile = profile_storing_in(SecretStore::file);
  auto empty = load_secret_state(profile, paths);
  REQUIRE(empty);
  CHECK(empty->location == SecretLocation::none);
  auto saved = save_secret_state(profile, paths, "state-1", [&](const std::string& content) {
    return write_private_file_atomic(paths.secret, content);
  });
  REQUIRE(saved);
  CHECK(saved->location == SecretLocation::file);
  CHECK(saved->store_problem.empty());
  auto loaded = load_secret_state(profile, paths);
  REQUIRE(loaded);
  CHECK(loaded->state == "state-1");
  CHECK(loaded->location == SecretLocation::file);
  CHECK(where_secret_lives(paths) == "in " + paths.secret);
  auto removed = remove_secret_state(profile, paths);
  REQUIRE(removed);
  CHECK(removed->size() == 1);
  CHECK_FALSE(exists(paths.secret));
  CHECK(where_secret_lives(paths).empty());
}

TEST_CASE(
    "secret store: a keyring that cannot be reached keeps the state in P.secret, says so, "
    "and a read that needs it fails with what to do") {
  NoSessionBus no_bus;
  TempDir dir;
  const ProfilePaths paths = profile_paths(dir.path(), "max");
  const ProfileConfig profile = profile_storing_in(SecretStore::keyring);
  int file_writes = 0;
  auto saved = save_secret_state(profile, paths, "rotated-state", [&](const std::string& content) {
    ++file_writes;
    return write_private_file_atomic(paths.secret, content);
  });
  REQUIRE(saved);
  CHECK(file_writes == 1);
  CHECK(saved->location == SecretLocation::file);
  CHECK(saved->store_problem.find("secret_store = \"file\"") != std::string::npos);
  CHECK(saved->store_problem.find("kept in max.secret (0600)") != std::string::npos);
  CHECK(saved->store_problem.find("rotated-state") == std::string::npos);
  CHECK(read_private_file(paths.secret, 4096).value() == "rotated-state");
  CHECK_FALSE(exists(keyring_marker_path(paths)));
  // P.secret wins while it exists: no keyring call is needed to read it.
  auto loaded = load_secret_state(profile, paths);
  REQUIRE(loaded);
  CHECK(loaded->state == "rotated-state");
  // With no P.secret, the keyring store must ask the keyring: an error that says what to do.
  REQUIRE(::unlink(paths.secret.c_str()) == 0);
  auto unreachable = load_secret_state(profile, paths);
  REQUIRE_FALSE(unreachable);
  CHECK(unreachable.error().kind == ErrorClass::transient);
  CHECK(unreachable.error().message.find("secret_store = \"file\"") != std::string::npos);
  CHECK(unreachable.error().message.find('\n') == std::string::npos);
  // logout with the keyring store asks the keyring even without the marker (a marker write
  // that failed must not leave a live item behind): unreachable here, so it says so.
  auto logout = remove_secret_state(profile, paths);
  REQUIRE_FALSE(logout);
  CHECK(logout.error().message.find("secret_store = \"file\"") != std::string::npos);
}

TEST_CASE("secure file: wipe_private_file zeroes and removes a file, refuses a symlink") {
  TempDir dir;
  const std::string path = dir.path() + "/x.secret";
  REQUIRE(write_private_file_atomic(path, "secret bytes"));
  REQUIRE(wipe_private_file(path));
  CHECK_FALSE(exists(path));
  CHECK(wipe_private_file(path));  // gone already: no error
  REQUIRE(::symlink("/etc/hostname", path.c_str()) == 0);
  CHECK_FALSE(wipe_private_file(path));
  CHECK(exists("/etc/hostname"));
}

TEST_CASE(
    "temp recovery: with the state in the keyring (no P.secret) and the keyring unreachable, a "
    "temp copy a killed save left is kept, not judged against nothing and deleted") {
  NoSessionBus no_bus;
  TempDir dir;
  const ProfilePaths paths = profile_paths(dir.path(), "max");
  const ProfileConfig profile = profile_storing_in(SecretStore::keyring);
  // What a rotation killed before its rename leaves: the only copy of the rotated token.
  const std::string leftover = paths.secret + ".tmp.999999.1";
  REQUIRE(write_private_file_atomic(leftover, "rotated-state"));
  const Recovery recovery = recover_leftovers(profile, paths);
  CHECK(recovery.removed == 0);
  CHECK_FALSE(recovery.adopted);
  CHECK(exists(leftover));
}

TEST_CASE(
    "temp recovery: looks only at the profile's own files: a killed writer's copy of P.cred "
    "or P.status goes, another profile's temp files and P.secret's stay for their refresh") {
  TempDir dir;
  const ProfilePaths paths = profile_paths(dir.path(), "max");
  const ProfilePaths other = profile_paths(dir.path(), "maxi");  // a name max is a prefix of
  const ProfileConfig profile = profile_storing_in(SecretStore::file);
  const std::vector<std::string> own{paths.cred + ".tmp.999999.1", paths.status + ".tmp.999999.2"};
  const std::vector<std::string> others{other.cred + ".tmp.999999.1",
                                        other.secret + ".tmp.999999.1",
                                        dir.path() + "/unrelated.json.tmp.999999.1"};
  for (const auto& path : own) REQUIRE(write_private_file_atomic(path, "x"));
  for (const auto& path : others) REQUIRE(write_private_file_atomic(path, "x"));
  const Recovery recovery = recover_leftovers(profile, paths);
  CHECK(recovery.removed == own.size());
  for (const auto& path : own) CHECK_FALSE(exists(path));
  for (const auto& path : others) CHECK(exists(path));
  // Nothing of P.secret's was left: nothing judged, P.secret not even needed.
  CHECK_FALSE(recovery.adopted);
  CHECK_FALSE(recovery.unsaved_secret);
}
