// The claude-code sink's store access: Claude Code's .credentials.json (parse, render,
// atomic write through symlinks, logout), its mkdir lock, and the macOS Keychain command.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "refresher/sinks/claude_code_lock.h"
#include "refresher/sinks/claude_code_store.h"
#include "refresher/sinks/keychain.h"
#include "test_support.h"

namespace {

using namespace std::chrono_literals;
using ckh::ClaudeAiOauth;
using ckh::ClaudeCodeLock;
using ckh::ErrorClass;
using ckh::test::FakeEnv;
using ckh::test::lookup_fake_env;
using ckh::test::TempDir;

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

bool is_symlink(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

std::size_t entries_in(const std::string& dir) {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++count;
  return count;
}

ClaudeAiOauth sample_oauth(std::string suffix = "1") {
  ClaudeAiOauth oauth;
  oauth.access_token = "sk-ant-oat01-access-" + suffix;
  oauth.refresh_token = "sk-ant-ort01-refresh-" + suffix;
  oauth.expires_at_ms = 1'760'000'000'123;
  oauth.scopes = {"user:inference", "user:profile"};
  oauth.subscription_type = "max";
  oauth.rate_limit_tier = "default_claude_max_20x";
  return oauth;
}

// A store as Claude Code might leave it, with everything the writer must not touch.
constexpr std::string_view kRichStore =
    R"({ "mcpOAuth" : {"srv|1": {"accessToken": "m", "expiresAt": 5}} ,
 "claudeAiOauth": {"accessToken":"old-a","refreshToken":"old-r","expiresAt":1000,
   "scopes":["user:inference"],"subscriptionType":"max","rateLimitTier":"tier\u0031",
   "x-extra":{"k":[1, 2, {"z":null}]},"weird\u0041":"\u00e9\ud83d\ude00"},
 "numbers": [1e3, -0.5, 12345678901234567890, 0],
 "text": "日本語 \u2603 \"q\"",
 "nothing": null, "yes": true
}
)";

// ---- paths ---------------------------------------------------------------------------

TEST_CASE("claude-code store: paths from CLAUDE_CONFIG_DIR, lock dir through realpath",
          "[claude-code-sink]") {
  TempDir dir;
  REQUIRE(::mkdir((dir / "real").c_str(), 0700) == 0);
  REQUIRE(::symlink((dir / "real").c_str(), (dir / "link").c_str()) == 0);
  FakeEnv env{{"CLAUDE_CONFIG_DIR", dir / "link/"}, {"HOME", "/nonexistent-home"}};
  auto paths = ckh::claude_code_store_paths(lookup_fake_env);
  REQUIRE(paths);
  CHECK(paths->config_dir == dir / "link");
  CHECK(paths->credentials_file == dir / "link/.credentials.json");
  char resolved[PATH_MAX];
  REQUIRE(::realpath((dir / "real").c_str(), resolved) != nullptr);
  CHECK(paths->lock_dir == std::string(resolved) + ".lock");
}

TEST_CASE("claude-code store: paths default to HOME/.claude; a missing dir locks its own path",
          "[claude-code-sink]") {
  {
    FakeEnv env{{"HOME", "/nonexistent-home"}};
    auto paths = ckh::claude_code_store_paths(lookup_fake_env);
    REQUIRE(paths);
    CHECK(paths->config_dir == "/nonexistent-home/.claude");
    CHECK(paths->credentials_file == "/nonexistent-home/.claude/.credentials.json");
    CHECK(paths->lock_dir == "/nonexistent-home/.claude.lock");
  }
  {
    FakeEnv env{{"CLAUDE_CONFIG_DIR", ""}, {"HOME", "/h"}};  // empty counts as unset
    auto paths = ckh::claude_code_store_paths(lookup_fake_env);
    REQUIRE(paths);
    CHECK(paths->config_dir == "/h/.claude");
  }
  {
    FakeEnv env{};
    auto paths = ckh::claude_code_store_paths(lookup_fake_env);
    REQUIRE_FALSE(paths);
    CHECK(paths.error().kind == ErrorClass::config);
  }
}

// ---- parse / render ------------------------------------------------------------------

TEST_CASE("claude-code store: round trip through the file", "[claude-code-sink]") {
  TempDir dir;
  const std::string config = dir / "claude-config";
  const std::string file = config + "/.credentials.json";
  ClaudeAiOauth oauth = sample_oauth();
  oauth.refresh_token_expires_at_ms = 1'790'000'000'000;
  oauth.client_id = "9d1c250a-e61b-44d9-88ed-5944d1962f5e";
  REQUIRE(ckh::write_claude_code_store(file, oauth));
  CHECK(mode_of(config) == 0700);  // created for us
  CHECK(mode_of(file) == 0600);
  auto read = ckh::read_claude_code_store(file);
  REQUIRE(read);
  REQUIRE(*read);
  CHECK(**read == oauth);
  CHECK(
      slurp(file) ==
      R"({"claudeAiOauth":{"accessToken":"sk-ant-oat01-access-1","refreshToken":)"
      R"("sk-ant-ort01-refresh-1","expiresAt":1760000000123,"scopes":["user:inference",)"
      R"("user:profile"],"subscriptionType":"max","rateLimitTier":"default_claude_max_20x",)"
      R"("refreshTokenExpiresAt":1790000000000,"clientId":"9d1c250a-e61b-44d9-88ed-5944d1962f5e"}})");
  CHECK(entries_in(config) == 1);  // no temp file left behind
}

TEST_CASE("claude-code store: a writer's leftover temp copies are removed, nobody else's",
          "[claude-code-sink]") {
  TempDir dir;
  const std::string config = dir / "claude-config";
  const std::string file = config + "/.credentials.json";
  REQUIRE(ckh::write_claude_code_store(file, sample_oauth()));
  // A pid that is surely gone: a child that has exited and been reaped.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  REQUIRE(child > 0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  const std::string dead = std::to_string(child);
  const std::string ours = ".credentials.json.tmp." + dead + ".0";
  const std::string live = ".credentials.json.tmp." + std::to_string(::getpid()) + ".7";
  const std::string theirs = "settings.json.tmp." + dead + ".0";
  for (const auto& name : {ours, live, theirs}) {
    std::ofstream(config + "/" + name) << "{\"claudeAiOauth\":{\"refreshToken\":\"spent\"}}";
  }
  REQUIRE(ckh::write_claude_code_store(file, sample_oauth()));
  CHECK_FALSE(std::filesystem::exists(config + "/" + ours));  // a dead writer's copy
  CHECK(std::filesystem::exists(config + "/" + live));        // a live writer's
  CHECK(std::filesystem::exists(config + "/" + theirs));      // another file's
}

TEST_CASE("claude-code store: other keys and unknown entry keys are kept byte for byte",
          "[claude-code-sink]") {
  auto parsed = ckh::parse_claude_code_store(kRichStore);
  REQUIRE(parsed);
  REQUIRE(*parsed);
  CHECK((*parsed)->access_token == "old-a");
  CHECK((*parsed)->rate_limit_tier == "tier1");
  ClaudeAiOauth next = **parsed;
  next.access_token = "new-a";
  next.refresh_token = "new-r";
  next.expires_at_ms = 2000;
  auto rendered = ckh::render_claude_code_store(kRichStore, next);
  REQUIRE(rendered);
  // Known fields updated in place (unchanged ones keep their bytes, even the \u0031), the
  // rest verbatim in the original order, white space around members dropped.
  CHECK(*rendered ==
        R"({"mcpOAuth":{"srv|1": {"accessToken": "m", "expiresAt": 5}},)"
        R"("claudeAiOauth":{"accessToken":"new-a","refreshToken":"new-r","expiresAt":2000,)"
        R"("scopes":["user:inference"],"subscriptionType":"max","rateLimitTier":"tier\u0031",)"
        R"("x-extra":{"k":[1, 2, {"z":null}]},"weird\u0041":"\u00e9\ud83d\ude00"},)"
        R"("numbers":[1e3, -0.5, 12345678901234567890, 0],"text":"日本語 \u2603 \"q\"",)"
        R"("nothing":null,"yes":true})");
  auto again = ckh::parse_claude_code_store(*rendered);
  REQUIRE(again);
  REQUIRE(*again);
  CHECK(**again == next);
  // Rendering what was rendered, unchanged, is a fixed point.
  auto twice = ckh::render_claude_code_store(*rendered, next);
  REQUIRE(twice);
  CHECK(*twice == *rendered);
}

TEST_CASE("claude-code store: a null subscriptionType stays null, absent fields stay absent",
          "[claude-code-sink]") {
  constexpr std::string_view original =
      R"({"claudeAiOauth":{"accessToken":"a","refreshToken":"r","expiresAt":5,"scopes":[],)"
      R"("subscriptionType":null}})";
  auto parsed = ckh::parse_claude_code_store(original);
  REQUIRE(parsed);
  REQUIRE(*parsed);
  CHECK_FALSE((*parsed)->subscription_type);
  CHECK_FALSE((*parsed)->rate_limit_tier);
  ClaudeAiOauth next = **parsed;
  next.access_token = "a2";
  auto rendered = ckh::render_claude_code_store(original, next);
  REQUIRE(rendered);
  CHECK(*rendered ==
        R"({"claudeAiOauth":{"accessToken":"a2","refreshToken":"r","expiresAt":5,"scopes":[],)"
        R"("subscriptionType":null}})");
}

TEST_CASE("claude-code store: scopes always an array, expiresAt always ms as a number",
          "[claude-code-sink]") {
  // What Claude Code bug #85262 left behind: no expiresAt, scopes null.
  constexpr std::string_view broken =
      R"({"claudeAiOauth":{"accessToken":"a","refreshToken":"r","scopes":null}})";
  auto parsed = ckh::parse_claude_code_store(broken);
  REQUIRE(parsed);
  REQUIRE(*parsed);
  CHECK((*parsed)->expires_at_ms == 0);
  CHECK((*parsed)->scopes.empty());
  ClaudeAiOauth next = **parsed;
  next.expires_at_ms = 1'760'000'000'999;
  auto rendered = ckh::render_claude_code_store(broken, next);
  REQUIRE(rendered);
  CHECK(*rendered == R"({"claudeAiOauth":{"accessToken":"a","refreshToken":"r","scopes":[],)"
                     R"("expiresAt":1760000000999}})");
  next.scopes = {"user:inference", "user:sessions:claude_code"};
  rendered = ckh::render_claude_code_store(broken, next);
  REQUIRE(rendered);
  CHECK(contains(*rendered, R"("scopes":["user:inference","user:sessions:claude_code"])"));
  // An integral double (another writer's 1.76e12) reads as ms too.
  auto real = ckh::parse_claude_code_store(
      R"({"claudeAiOauth":{"accessToken":"a","refreshToken":"r","expiresAt":1.76e12}})");
  REQUIRE(real);
  REQUIRE(*real);
  CHECK((*real)->expires_at_ms == 1'760'000'000'000);
  // ... and is written back as an integer even when unchanged.
  rendered = ckh::render_claude_code_store(
      R"({"claudeAiOauth":{"accessToken":"a","refreshToken":"r","expiresAt":1.76e12}})", **real);
  REQUIRE(rendered);
  CHECK(contains(*rendered, R"("expiresAt":1760000000000)"));
}

TEST_CASE("claude-code store: empty text, no entry, null entry and escaped keys",
          "[claude-code-sink]") {
  for (std::string_view text : {"", " \n", "{}", R"({"other":1})", R"({"claudeAiOauth":null})"}) {
    INFO(text);
    auto parsed = ckh::parse_claude_code_store(text);
    REQUIRE(parsed);
    CHECK_FALSE(*parsed);
  }
  auto escaped = ckh::parse_claude_code_store(
      R"({"claude\u0041iOauth":{"access\u0054oken":"a","refreshToken":"r","expiresAt":1}})");
  REQUIRE(escaped);
  REQUIRE(*escaped);
  CHECK((*escaped)->access_token == "a");
  auto rendered = ckh::render_claude_code_store(R"({"claudeAiOauth":null,"k":1})", sample_oauth());
  REQUIRE(rendered);
  CHECK(rendered->rfind(R"({"claudeAiOauth":{"accessToken":"sk-ant-oat01-access-1",)", 0) == 0);
  CHECK(contains(*rendered, R"(},"k":1})"));
}

TEST_CASE("claude-code store: corrupt files are refused without quoting them",
          "[claude-code-sink]") {
  TempDir dir;
  const std::string secret = "SECRET-MARKER-0123456789";
  const std::string bad[] = {
      "{\"claudeAiOauth\": {\"accessToken\": \"" + secret + "\"",  // truncated
      "[\"" + secret + "\"]",                                      // not an object
      "{\"claudeAiOauth\": \"" + secret + "\"}",                   // entry not an object
      "{\"claudeAiOauth\": {\"accessToken\": 5, \"refreshToken\": \"" + secret + "\"}}",
      "{\"claudeAiOauth\": {\"refreshToken\": \"" + secret + "\", \"scopes\": \"a b\"}}",
      "{\"claudeAiOauth\": {\"refreshToken\": \"" + secret + "\", \"expiresAt\": \"soon\"}}",
      "{\"claudeAiOauth\": {\"refreshToken\": \"" + secret + "\", \"expiresAt\": 1.5}}",
      "{\"claudeAiOauth\": {\"refreshToken\": \"" + secret + "\", \"scopes\": [1]}}",
      "{\"claudeAiOauth\": {}, \"claudeAiOauth\": {\"refreshToken\": \"" + secret + "\"}}",
      "{\"claudeAiOauth\": {\"refreshToken\": \"a\", \"refreshToken\": \"" + secret + "\"}}",
      "{\"x\": \"\xff" + secret + "\"}",  // not UTF-8
  };
  for (const std::string& content : bad) {
    INFO(content);
    const std::string file = dir.write("store.json", content, 0600);
    auto read = ckh::read_claude_code_store(file);
    REQUIRE_FALSE(read);
    CHECK(read.error().kind == ErrorClass::corrupt);
    CHECK(contains(read.error().message, file));
    CHECK_FALSE(contains(read.error().message, secret));
    CHECK_FALSE(contains(read.error().message, "\n"));
    // A write would lose what it cannot parse: refused, file untouched.
    auto written = ckh::write_claude_code_store(file, sample_oauth());
    REQUIRE_FALSE(written);
    CHECK(written.error().kind == ErrorClass::corrupt);
    CHECK(slurp(file) == content);
    auto removed = ckh::remove_claude_code_entry(file);
    REQUIRE_FALSE(removed);
    CHECK(slurp(file) == content);
  }
}

TEST_CASE("claude-code store: never writes a stub", "[claude-code-sink]") {
  TempDir dir;
  const std::string file = dir.write(".credentials.json", kRichStore, 0600);
  ClaudeAiOauth no_access = sample_oauth();
  no_access.access_token.clear();
  ClaudeAiOauth no_refresh = sample_oauth();
  no_refresh.refresh_token.clear();
  ClaudeAiOauth no_expiry = sample_oauth();
  no_expiry.expires_at_ms = 0;
  ClaudeAiOauth not_utf8 = sample_oauth();
  not_utf8.scopes.push_back("\xc3");
  for (const ClaudeAiOauth* stub : {&no_access, &no_refresh, &no_expiry, &not_utf8}) {
    auto written = ckh::write_claude_code_store(file, *stub);
    REQUIRE_FALSE(written);
    CHECK(written.error().kind == ErrorClass::permanent);
    CHECK(slurp(file) == kRichStore);
    CHECK_FALSE(ckh::render_claude_code_store("{}", *stub));
  }
  // Not even a new file.
  REQUIRE_FALSE(ckh::write_claude_code_store(dir / "new/.credentials.json", no_refresh));
  CHECK_FALSE(std::filesystem::exists(dir / "new"));
}

// ---- files ---------------------------------------------------------------------------

TEST_CASE("claude-code store: a symlink stays a symlink, the target gets the content",
          "[claude-code-sink]") {
  TempDir dir;
  REQUIRE(::mkdir((dir / "dotfiles").c_str(), 0755) == 0);
  REQUIRE(::mkdir((dir / "claude").c_str(), 0700) == 0);
  const std::string target = dir.write("dotfiles/creds.json", kRichStore, 0600);

  SECTION("absolute link") {
    REQUIRE(::symlink(target.c_str(), (dir / "claude/.credentials.json").c_str()) == 0);
  }
  SECTION("relative link") {
    REQUIRE(::symlink("../dotfiles/creds.json", (dir / "claude/.credentials.json").c_str()) == 0);
  }
  SECTION("chain of two links, the second relative") {
    REQUIRE(::symlink("dotfiles/creds.json", (dir / "middle.json").c_str()) == 0);
    REQUIRE(::symlink((dir / "middle.json").c_str(), (dir / "claude/.credentials.json").c_str()) ==
            0);
  }
  const std::string link = dir / "claude/.credentials.json";
  char before[PATH_MAX] = {};
  REQUIRE(::readlink(link.c_str(), before, sizeof before - 1) > 0);

  auto read = ckh::read_claude_code_store(link);
  REQUIRE(read);
  REQUIRE(*read);
  CHECK((*read)->access_token == "old-a");
  ClaudeAiOauth next = **read;
  next.access_token = "through-the-link";
  REQUIRE(ckh::write_claude_code_store(link, next));

  CHECK(is_symlink(link));
  char after[PATH_MAX] = {};
  REQUIRE(::readlink(link.c_str(), after, sizeof after - 1) > 0);
  CHECK(std::string(after) == std::string(before));
  CHECK_FALSE(is_symlink(target));
  CHECK(contains(slurp(target), R"("accessToken":"through-the-link")"));
  CHECK(contains(slurp(target), R"("mcpOAuth":{"srv|1")"));
  CHECK(mode_of(target) == 0600);
  CHECK(entries_in(dir / "dotfiles") == 1);  // the temp file was beside the target, and gone
  auto again = ckh::read_claude_code_store(link);
  REQUIRE(again);
  REQUIRE(*again);
  CHECK(**again == next);
}

TEST_CASE("claude-code store: a dangling symlink is written through, creating the target",
          "[claude-code-sink]") {
  TempDir dir;
  REQUIRE(::symlink("elsewhere/creds.json", (dir / ".credentials.json").c_str()) == 0);
  REQUIRE(ckh::write_claude_code_store(dir / ".credentials.json", sample_oauth()));
  CHECK(is_symlink(dir / ".credentials.json"));
  CHECK(mode_of(dir / "elsewhere/creds.json") == 0600);
  auto read = ckh::read_claude_code_store(dir / ".credentials.json");
  REQUIRE(read);
  REQUIRE(*read);
  CHECK(**read == sample_oauth());
}

TEST_CASE("claude-code store: a 0644 file is read, and the write makes it 0600",
          "[claude-code-sink]") {
  TempDir dir;
  const std::string file = dir.write(".credentials.json", kRichStore, 0644);
  auto read = ckh::read_claude_code_store(file);
  REQUIRE(read);
  REQUIRE(*read);
  REQUIRE(ckh::write_claude_code_store(file, sample_oauth()));
  CHECK(mode_of(file) == 0600);
}

TEST_CASE("claude-code store: missing file reads as none; unsafe files are refused",
          "[claude-code-sink]") {
  TempDir dir;
  auto missing = ckh::read_claude_code_store(dir / "nothing.json");
  REQUIRE(missing);
  CHECK_FALSE(*missing);
  REQUIRE(::mkdir((dir / "a-dir").c_str(), 0700) == 0);
  auto directory = ckh::read_claude_code_store(dir / "a-dir");
  REQUIRE_FALSE(directory);
  CHECK(directory.error().kind == ErrorClass::unsafe);
  const std::string big =
      dir.write("big.json", std::string(ckh::kMaxClaudeCodeStoreBytes + 1, ' '));
  auto too_big = ckh::read_claude_code_store(big);
  REQUIRE_FALSE(too_big);
  CHECK(too_big.error().kind == ErrorClass::corrupt);
  if (::geteuid() == 0) {  // only root can give a file away
    const std::string foreign = dir.write("foreign.json", kRichStore, 0600);
    REQUIRE(::chown(foreign.c_str(), 65534, 65534) == 0);
    auto read = ckh::read_claude_code_store(foreign);
    REQUIRE_FALSE(read);
    CHECK(read.error().kind == ErrorClass::unsafe);
    REQUIRE_FALSE(ckh::write_claude_code_store(foreign, sample_oauth()));
    CHECK(slurp(foreign) == kRichStore);
  }
}

TEST_CASE("claude-code store: logout removes the entry and keeps the rest", "[claude-code-sink]") {
  TempDir dir;
  const std::string rich = dir.write("rich.json", kRichStore, 0600);
  auto removed = ckh::remove_claude_code_entry(rich);
  REQUIRE(removed);
  CHECK(*removed);
  CHECK(slurp(rich) ==
        R"({"mcpOAuth":{"srv|1": {"accessToken": "m", "expiresAt": 5}},)"
        R"("numbers":[1e3, -0.5, 12345678901234567890, 0],"text":"日本語 \u2603 \"q\"",)"
        R"("nothing":null,"yes":true})");
  auto read = ckh::read_claude_code_store(rich);
  REQUIRE(read);
  CHECK_FALSE(*read);

  const std::string only = dir / "only.json";
  REQUIRE(ckh::write_claude_code_store(only, sample_oauth()));
  removed = ckh::remove_claude_code_entry(only);
  REQUIRE(removed);
  CHECK(*removed);
  CHECK(slurp(only) == "{}");
  removed = ckh::remove_claude_code_entry(only);  // nothing left to remove: file untouched
  REQUIRE(removed);
  CHECK_FALSE(*removed);
  CHECK(slurp(only) == "{}");

  removed = ckh::remove_claude_code_entry(dir / "never.json");
  REQUIRE(removed);
  CHECK_FALSE(*removed);
  CHECK_FALSE(std::filesystem::exists(dir / "never.json"));
}

TEST_CASE("claude-code store: a concurrent reader never sees a partial file",
          "[claude-code-sink]") {
  TempDir dir;
  // A large unrelated key makes each file long enough that a torn read would show; every
  // write must carry it along.
  const std::string padding(4000, 'p');
  const std::string file = dir.write(".credentials.json", "{\"padding\":\"" + padding + "\"}");
  REQUIRE(ckh::write_claude_code_store(file, sample_oauth("0")));
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::atomic<int> failures{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto read = ckh::read_claude_code_store(file);
      // Every read is a complete, consistent value: both tokens from the same write.
      if (!read || !*read ||
          (*read)->access_token.substr(20) != (*read)->refresh_token.substr(21) ||
          (*read)->scopes.size() != 2) {
        failures.fetch_add(1);
      }
      reads.fetch_add(1);
    }
  });
  int write_failures = 0;
  for (int i = 1; i <= 300; ++i) {
    if (!ckh::write_claude_code_store(file, sample_oauth(std::to_string(i)))) ++write_failures;
  }
  done = true;
  reader.join();
  CHECK(write_failures == 0);
  CHECK(failures.load() == 0);
  CHECK(reads.load() > 0);
  auto last = ckh::read_claude_code_store(file);
  REQUIRE(last);
  REQUIRE(*last);
  CHECK(**last == sample_oauth("300"));
  CHECK(contains(slurp(file), padding));
}

// ---- the lock ------------------------------------------------------------------------

TEST_CASE("claude-code lock: two acquirers exclude each other; release removes the dir",
          "[claude-code-sink]") {
  TempDir dir;
  const std::string lock_dir = dir / ".claude.lock";
  auto first = ClaudeCodeLock::acquire(lock_dir, 0ms);
  REQUIRE(first);
  CHECK(first->held());
  struct stat st {};
  REQUIRE(::lstat(lock_dir.c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));

  const auto started = std::chrono::steady_clock::now();
  auto second = ClaudeCodeLock::acquire(lock_dir, 300ms);
  const auto waited = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(second);
  CHECK(second.error().kind == ErrorClass::transient);
  CHECK(contains(second.error().message, lock_dir));
  CHECK(contains(second.error().message, "try again"));
  CHECK(waited >= 300ms);
  CHECK(waited < 2s);

  // Moving keeps one owner: the moved-from lock releases nothing.
  ClaudeCodeLock moved = std::move(*first);
  first->release();
  CHECK(std::filesystem::exists(lock_dir));
  CHECK(moved.held());
  moved.release();
  CHECK_FALSE(std::filesystem::exists(lock_dir));
  CHECK_FALSE(moved.held());

  // Released: the next acquirer gets it, also when waiting for it.
  {
    auto third = ClaudeCodeLock::acquire(lock_dir, 0ms);
    REQUIRE(third);
    std::thread releaser([lock = std::move(*third)]() mutable {
      std::this_thread::sleep_for(150ms);
      lock.release();
    });
    auto fourth = ClaudeCodeLock::acquire(lock_dir, 2s);
    releaser.join();
    REQUIRE(fourth);
    CHECK(fourth->held());
  }
  CHECK_FALSE(std::filesystem::exists(lock_dir));  // the destructor released it
}

TEST_CASE("claude-code lock: a stale lock dir is taken over", "[claude-code-sink]") {
  TempDir dir;
  const std::string lock_dir = dir / ".claude.lock";
  REQUIRE(::mkdir(lock_dir.c_str(), 0700) == 0);
  struct timespec times[2];
  REQUIRE(::clock_gettime(CLOCK_REALTIME, &times[0]) == 0);
  times[0].tv_sec -= 11;
  times[1] = times[0];
  REQUIRE(::utimensat(AT_FDCWD, lock_dir.c_str(), times, 0) == 0);
  const auto started = std::chrono::steady_clock::now();
  auto lock = ClaudeCodeLock::acquire(lock_dir, 1s);
  REQUIRE(lock);
  CHECK(std::chrono::steady_clock::now() - started < 500ms);  // no waiting for a dead holder
  CHECK(lock->held());
  struct stat st {};
  REQUIRE(::lstat(lock_dir.c_str(), &st) == 0);
  CHECK(st.st_mtim.tv_sec >= times[0].tv_sec + 10);  // a fresh lock, not the stale one
}

TEST_CASE("claude-code lock: a lock taken over by someone else is not removed on release",
          "[claude-code-sink]") {
  TempDir dir;
  const std::string lock_dir = dir / ".claude.lock";
  auto lock = ClaudeCodeLock::acquire(lock_dir, 0ms);
  REQUIRE(lock);
  // Someone judged ours stale, removed it and took their own (the inode may even be reused;
  // the mtime tells them apart).
  REQUIRE(::rmdir(lock_dir.c_str()) == 0);
  std::this_thread::sleep_for(5ms);
  REQUIRE(::mkdir(lock_dir.c_str(), 0700) == 0);
  CHECK_FALSE(lock->held());
  lock->release();
  CHECK(std::filesystem::exists(lock_dir));

  const std::string file_lock = dir.write("not-a-dir.lock", "", 0600);
  auto refused = ClaudeCodeLock::acquire(file_lock, 100ms);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == ErrorClass::unsafe);
}

TEST_CASE("claude-code lock: the holder keeps the mtime fresh", "[claude-code-sink]") {
  TempDir dir;
  const std::string lock_dir = dir / ".claude.lock";
  auto lock = ClaudeCodeLock::acquire(lock_dir, 0ms);
  REQUIRE(lock);
  struct stat before {};
  REQUIRE(::lstat(lock_dir.c_str(), &before) == 0);
  // Longer than one touch interval (2 s), well under the 10 s staleness.
  std::this_thread::sleep_for(ckh::kClaudeCodeLockTouchInterval + 700ms);
  struct stat after {};
  REQUIRE(::lstat(lock_dir.c_str(), &after) == 0);
  const auto ns = [](const struct timespec& t) {
    return static_cast<long long>(t.tv_sec) * 1'000'000'000LL + t.tv_nsec;
  };
  CHECK(ns(after.st_mtim) - ns(before.st_mtim) >= 1'500'000'000LL);
  CHECK(lock->held());  // our own touches do not make it look foreign
  lock->release();
  CHECK_FALSE(std::filesystem::exists(lock_dir));
}

// ---- the Keychain --------------------------------------------------------------------

TEST_CASE("keychain: the exact security -i command, secret hex-encoded", "[claude-code-sink]") {
  CHECK(ckh::keychain_add_command("alice", "Claude Code-credentials", R"({"a":1})") ==
        "add-generic-password -U -a \"alice\" -s \"Claude Code-credentials\" -X "
        "7b2261223a317d\n");
  // Quotes and backslashes escaped the way security's split_line reads them back.
  CHECK(ckh::keychain_add_command("a \"b\\c", "s", "") ==
        "add-generic-password -U -a \"a \\\"b\\\\c\" -s \"s\" -X \n");
  const std::string json = ckh::render_claude_code_store("{}", sample_oauth()).value();
  const std::string line = ckh::keychain_add_command("alice", "svc", json);
  CHECK_FALSE(contains(line, "sk-ant"));
  CHECK(line.size() < ckh::kSecurityMaxLineBytes);
}

TEST_CASE("keychain: service name with and without CLAUDE_CONFIG_DIR", "[claude-code-sink]") {
  {
    FakeEnv env{{"HOME", "/Users/me"}};
    CHECK(ckh::keychain_service_name(lookup_fake_env) == "Claude Code-credentials");
  }
  {
    FakeEnv env{{"CLAUDE_CONFIG_DIR", ""}};
    CHECK(ckh::keychain_service_name(lookup_fake_env) == "Claude Code-credentials");
  }
  {
    // printf %s /Users/me/.claude-work | sha256sum -> 1e91dd84...
    FakeEnv env{{"CLAUDE_CONFIG_DIR", "/Users/me/.claude-work"}};
    CHECK(ckh::keychain_service_name(lookup_fake_env) == "Claude Code-credentials-1e91dd84");
  }
#ifndef __APPLE__
  auto written = ckh::keychain_write("alice", "Claude Code-credentials", "{}");
  REQUIRE_FALSE(written);
  CHECK(contains(written.error().message, "only on macOS"));
#endif
}

}  // namespace
