// The `static` backend: a long-lived key from an environment variable or a private file.
//   [profile.P.static]
//   env = "ANTHROPIC_API_KEY"     # read at every fetch, from the refresher's environment
//   file = "~/.config/x/key"      # or: a 0600 file owned by the user, not a symlink
// Exactly one of env and file. Guarantees: the credential never expires (expires_at none);
// a missing, empty or invalid value is a permanent error whose message names the variable
// or file and never quotes the value; an unreadable file (unsafe mode, symlink, missing) is
// permanent, an I/O error transient; a file others can write or own is refused first with the
// chmod/chown to run (file_trust.h). secret_env_names() is the variable, so that no child
// process of any profile inherits it. Callers: registry.cpp, config.cpp (the default
// profile), tests.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "refresher/backend.h"
#include "refresher/backends/registry.h"
#include "refresher/config.h"

namespace ckh {

class StaticBackend final : public Backend {
 public:
  // env: how the variable is read at fetch time (process_env in production).
  static std::unique_ptr<StaticBackend> from_env(std::string variable, EnvLookup env);
  // path: absolute, already expanded.
  static std::unique_ptr<StaticBackend> from_file(std::string path);

  const char* name() const override { return "static"; }
  std::optional<std::chrono::seconds> expected_lifetime() const override { return std::nullopt; }
  Result<FetchResult> fetch(const FetchContext& context) override;
  std::vector<std::string> secret_env_names() const override;
  std::string source_settings() const override;
  SourceState source_state() const override;
  void probe(Prober& prober) const override;  // backend_probes.cpp

 private:
  StaticBackend(std::string variable, EnvLookup env, std::string path)
      : variable_(std::move(variable)), env_(env), path_(std::move(path)) {}
  Result<FetchResult> fetch_env() const;
  Result<FetchResult> fetch_file() const;

  std::string variable_;  // set for env = ..., else empty
  EnvLookup env_ = nullptr;
  std::string path_;  // set for file = ..., else empty
};

std::unique_ptr<Backend> make_static_backend(ConfigSection& section, const BackendContext& context);

// True for [A-Za-z_][A-Za-z0-9_]*: what a shell can export.
bool valid_env_name(std::string_view name);

}  // namespace ckh
