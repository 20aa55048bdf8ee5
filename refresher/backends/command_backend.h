// The `command` backend: runs a command and takes what it prints as the credential.
//   [profile.P.command]
//   argv = ["/usr/bin/op", "read", "op://Private/claude/credential"]
//   timeout = "10s"       # default 10s, at most 10m
//   ttl = "1h"            # lifetime of what it prints; absent: never expires
//   max_output = 65536    # bytes of stdout allowed, default 64 KiB, at most 1 MiB
// Guarantees: no shell; argv[0] is an absolute path or a name looked up in PATH at fetch
// time; stdin is /dev/null; the environment is child_env.h's child_environment (every
// credential variable and every profile's secret variable dropped, see registry.h); time and
// output are bounded (child_process.h). stdout, trimmed, is the credential and must pass
// validate_credential. Errors: non-zero exit, death by a signal, timeout -> transient, with
// the exit code and one line of stderr from which the output is redacted; not found / not
// executable, too much output, output that is not one printable token -> permanent. No
// message ever quotes stdout. Callers: registry.cpp, tests.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "refresher/backend.h"
#include "refresher/backends/registry.h"

namespace ckh {

struct CommandSettings {
  std::vector<std::string> argv;
  std::chrono::milliseconds timeout{10'000};
  std::optional<std::chrono::seconds> ttl;
  std::size_t max_output = 64 * 1024;
  std::chrono::milliseconds kill_grace{2'000};  // not configurable; tests shorten it
};

class CommandBackend final : public Backend {
 public:
  // secret_env_names may be null (only child_env.h's fixed lists are removed then).
  CommandBackend(CommandSettings settings, SecretEnvNames secret_env_names)
      : settings_(std::move(settings)), secret_env_names_(std::move(secret_env_names)) {}

  const char* name() const override { return "command"; }
  std::optional<std::chrono::seconds> expected_lifetime() const override { return settings_.ttl; }
  Result<FetchResult> fetch(const FetchContext& context) override;
  // argv (the source), and timeout and max_output (they decide what is accepted).
  std::string source_settings() const override;
  // The program argv[0] names (as PATH resolves it now) and PATH: installing or fixing the
  // program ends a permanent failure's wait.
  SourceState source_state() const override;
  void probe(Prober& prober) const override;  // backend_probes.cpp

  // What the child's environment loses besides child_env.h's fixed lists: every profile's
  // secret_env_names() (the shared list).
  std::vector<std::string> scrubbed_env_names() const;

 private:
  CommandSettings settings_;
  SecretEnvNames secret_env_names_;
};

std::unique_ptr<Backend> make_command_backend(ConfigSection& section,
                                              const BackendContext& context);

}  // namespace ckh
