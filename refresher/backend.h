// The backend seam: where a credential comes from. One implementation per file pair in
// refresher/backends/; tests add fakes. Contract:
// - fetch() returns a credential and its expiry (none: does not expire), or an Error
//   classified where it happened: transient (retry with backoff) or permanent (stop, the
//   user must act). Its message is one line and never contains a secret.
// - secret_state is the content of P.secret (empty when none); a backend that rotates
//   secrets returns the new state in FetchResult::new_secret_state, which the caller makes
//   durable BEFORE publishing the credential; adopts_secret() judges a temp copy of
//   P.secret left by a refresh that did not finish its save (refresher/temp_recovery.h).
// - fetch() is called with the profile lock held: never two at once for one profile.
// Callers: refresher/refresh.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "refresher/clock.h"
#include "shared/error.h"

namespace ckh {

class Prober;  // config_probe.h

struct FetchContext {
  const Clock& clock;
  std::string secret_state;  // P.secret, empty when none
  // An explicit or suspected-401 refresh: what the backend holds was rejected or is not
  // wanted any more, so a cached token will not do.
  bool forced = false;
  // The profile's setting: a token with less than this left must be renewed.
  std::chrono::seconds refresh_before_expiry{600};
  // The profile's refresh_interval: the next scheduled run comes at the latest this long
  // after this one, so state the backend keeps alive between runs (a Vault token) must be
  // renewed now when it would not outlast that.
  std::chrono::seconds refresh_interval{240};
  // Whether the profile keeps Claude Code's own credential store current (sinks).
  bool sink_claude_code = false;
  // Writes P.secret durably (temp, fsync, rename, fsync dir). A backend that must order an
  // outside write after the secret is durable (a rotated refresh token before it reaches
  // Claude Code's store) calls it itself; null in tests, which read new_secret_state.
  std::function<Result<void>(const std::string&)> persist_secret{};
  // Makes room, durably, for everything written after the answer of the request the backend
  // is about to send (P.secret of about secret_bytes, P.cred, P.status): called right before
  // a request that rotates a secret, so that a full disk is found before the server spends
  // the old token, not after. An error: do not send. From then on persist_secret retries a
  // failed write (bounded) and never drops what it was given (refresher/state_writer.h).
  // Null in tests.
  std::function<Result<void>(std::size_t secret_bytes)> reserve_secret{};
  // Reads the stored secret state again (P.secret, else the keyring item): what another
  // writer saved since this fetch began, for a backend whose refresh token was refused
  // (invalid_grant) to adopt a newer one. Null in tests.
  std::function<Result<std::string>()> reload_secret{};
};

// What a backend reads its credential from right now, beyond its configuration: what a
// permanent failure was for (permanent_stop.h), so that fixing it is noticed at once.
struct SourceState {
  // Files the credential or the secrets that get it are read from (a key file, a token
  // file, ~/.aws/credentials, the program run): only their identity is used (device,
  // inode, size, times, mode, owner; permanent_stop.h), never their content.
  std::vector<std::string> files;
  // Environment variables read at fetch time, with their values (may be secrets): only ever
  // hashed with the profile's private key (permanent_stop.h), never written anywhere.
  std::vector<std::pair<std::string, std::string>> env;
};

// Appends "key=<length>:value\n" to a backend's source_settings() text: unambiguous
// whatever the value holds.
inline void append_setting(std::string& out, std::string_view key, std::string_view value) {
  out.append(key).append("=").append(std::to_string(value.size())).append(":");
  out.append(value).append("\n");
}

struct FetchResult {
  std::string credential;
  std::optional<std::int64_t> expires_at;       // unix seconds; none: never expires
  std::string source;                           // one line, no secret: "env ANTHROPIC_API_KEY"
  std::optional<std::string> new_secret_state;  // write to P.secret before publishing
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // How long what it fetches lives, when the configuration says so (command ttl); none
  // when unknown or unbounded. Used to fit Claude Code's TTL at registration.
  virtual std::optional<std::chrono::seconds> expected_lifetime() const = 0;
  // The refresh_before_expiry this backend's credentials want when the profile does not
  // set one (anthropic-oauth: 60 min); none: the profile default (10 min).
  virtual std::optional<std::chrono::seconds> default_refresh_before_expiry() const {
    return std::nullopt;
  }
  virtual Result<FetchResult> fetch(const FetchContext& context) = 0;
  // Whether `candidate`, a complete temp copy of P.secret that a refresh wrote but did not
  // get to rename (it was killed during the fsync, or could not finish the save), is the
  // state that follows `current` (P.secret) and must replace it: a rotated token that exists
  // nowhere else. false: the temp file is deleted (the default: nothing to adopt).
  virtual bool adopts_secret(std::string_view /*current*/, std::string_view /*candidate*/) const {
    return false;
  }
  // Environment variable names that hold secrets this backend reads; they are removed from
  // every child process's environment.
  virtual std::vector<std::string> secret_env_names() const { return {}; }
  // The settings that say where the credential comes from (paths, variable names,
  // addresses, secret ids, argv; append_setting), never a secret: a published record
  // carries their fingerprint, and a record fetched under other settings is due at once
  // (schedule.h). Pure: no file system, no environment. Default: nothing beyond the name.
  virtual std::string source_settings() const { return {}; }
  // What the source reads now (above), for telling whether a failure's cause may be gone.
  virtual SourceState source_state() const { return {}; }
  // `check-config --probe`: names what this backend's configuration relies on (files,
  // programs, variables, endpoints) to the prober, which checks each (config_probe.h).
  // Never fetches a credential and never sends a secret. Default: nothing to check.
  virtual void probe(Prober& /*prober*/) const {}
};

}  // namespace ckh
