// Helpers for unit tests: a private temp directory removed at scope exit, file writers, and
// a scripted fake backend (the backend seam's fake).
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <string>

#include "refresher/backend.h"

namespace ckh::test {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ckh-unit-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
    ::chmod(path_.c_str(), 0700);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
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

inline FetchResult credential(std::string value, std::optional<std::int64_t> expires_at = std::nullopt) {
  return FetchResult{std::move(value), expires_at, "scripted test", std::nullopt};
}

}  // namespace ckh::test
