// Helpers for unit tests: a private temp directory removed at scope exit, file writers, and
// a scripted fake backend (the backend seam's fake).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "refresher/backend.h"

namespace ckh::test {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ckh-unit-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
    ::chmod(path_.c_str(), 0700);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return file(name); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes a file with exactly this mode; returns its path.
  std::string write(const std::string& name, std::string_view content, mode_t mode = 0600) const {
    const std::string path = file(name);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
    ::close(fd);
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    return path;
  }

 private:
  std::string path_;
};

// The environment a parsed configuration sees (EnvLookup is a plain function pointer).
inline std::map<std::string, std::string>& fake_env() {
  static std::map<std::string, std::string> env;
  return env;
}
inline std::optional<std::string> lookup_fake_env(const char* name) {
  const auto it = fake_env().find(name);
  if (it == fake_env().end()) return std::nullopt;
  return it->second;
}
struct FakeEnv {
  explicit FakeEnv(std::initializer_list<std::pair<const std::string, std::string>> values) {
    fake_env() = values;
  }
  FakeEnv(const FakeEnv&) = delete;
  FakeEnv& operator=(const FakeEnv&) = delete;
  ~FakeEnv() { fake_env().clear(); }
};

// Sets (or, with nullptr, unsets) a variable of this process for one test, restoring it
// afterwards: child processes and paths.h read the real environment.
class ScopedSetenv {
 public:
  ScopedSetenv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ScopedSetenv(const ScopedSetenv&) = delete;
  ScopedSetenv& operator=(const ScopedSetenv&) = delete;
  ~ScopedSetenv() {
    if (old_)
      ::setenv(name_.c_str(), old_->c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

inline void write_file(const std::string& path, const std::string& content, mode_t mode = 0600) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  ::chmod(path.c_str(), mode);
}

// Returns scripted results in order; records how often it was called.
class ScriptedBackend final : public Backend {
 public:
  const char* name() const override { return "scripted"; }
  std::optional<std::chrono::seconds> expected_lifetime() const override { return std::nullopt; }
  Result<FetchResult> fetch(const FetchContext& context) override {
    ++calls;
    last_secret_state = context.secret_state;
    if (script.empty()) return fail(ErrorClass::transient, "script exhausted");
    auto next = script.front();
    script.pop_front();
    return next;
  }
  std::deque<Result<FetchResult>> script;
  int calls = 0;
  std::string last_secret_state;
};

inline FetchResult credential(std::string value,
                              std::optional<std::int64_t> expires_at = std::nullopt) {
  return FetchResult{std::move(value), expires_at, "scripted test", std::nullopt};
}

// Checks on text that may hold a secret when the code under test is wrong: a failing CHECK
// shows only true/false, never the text. Test secrets start with "CANARY".
inline bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}
inline bool same(const std::string& a, const std::string& b) {
  return a == b;
}
inline bool no_canary(const std::string& text) {
  return !contains(text, "CANARY");
}

}  // namespace ckh::test
