// The status record, P.status: what the refresher last did for a profile. Never holds a
// secret (messages are redacted before they get here). Written by the refresher under the
// profile lock; read by `status` and by the helper to explain a failure. Line format (see
// kv_lines.h), in exactly this order:
//
//   claude-key-helper-status v4
//   updated_at: <unix s>
//   last_attempt_at: <unix s|none>
//   last_success_at: <unix s|none>
//   consecutive_failures: <n>
//   error_class: <none|transient|permanent|config|...>
//   last_error: <one line, may be empty>
//   backoff_until: <unix s|none>
//   last_forced_at: <unix s|none>
//   last_generation: <n>          (survives a corrupt or deleted P.cred: generations never repeat)
//   retry_after_until: <unix s|none>  (the peer's Retry-After: no request at all before it)
//   stopped_for: <fingerprint|none>   (the source state the last failure happened for,
//                                      refresher/permanent_stop.h: a permanent one is not
//                                      retried automatically, and a backoff holds, only
//                                      while it is unchanged)
//   boot_id: <id|none>                (the boot boot_ms counts in)
//   boot_ms: <ms|none>                (CLOCK_BOOTTIME when updated_at was taken: tells a
//                                      later reader how far the wall clock was stepped since)
//   last_rejected_at: <unix s|none>   (when a caller last said the credential was refused:
//                                      Claude Code's mid-session-refresh)
//   caller_shortfall: <one line, may be empty> (the last credential fetched for a caller
//                                      expires before that caller's TTL ends: the warning)
//   secret_store_problem: <one line, may be empty> (the configured secret_store could not
//                                      take the secret state at the last save, which went to
//                                      P.secret instead: refresher/secret_store.h)
//   end
// Version 1 files (without the last nine lines), version 2 files (without the last three)
// and version 3 files (without the last one) are still read, with those fields unset.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shared/error.h"

namespace ckh {

inline constexpr std::string_view kStatusMagic = "claude-key-helper-status";
inline constexpr unsigned kStatusVersion = 4;
inline constexpr std::size_t kMaxStatusBytes = 16 * 1024;
inline constexpr std::size_t kMaxStatusMessageBytes = 300;

struct StatusRecord {
  std::int64_t updated_at = 0;
  std::optional<std::int64_t> last_attempt_at;
  std::optional<std::int64_t> last_success_at;
  std::uint64_t consecutive_failures = 0;
  std::optional<ErrorClass> error_class;  // none after a success
  std::string last_error;
  std::optional<std::int64_t> backoff_until;
  std::optional<std::int64_t> last_forced_at;
  std::uint64_t last_generation = 0;
  std::optional<std::int64_t> retry_after_until;
  std::string stopped_for;  // empty: none; a token (printable, no space, <= 64 bytes)
  std::string boot_id;      // empty: none; same form
  std::optional<std::int64_t> boot_ms;
  std::optional<std::int64_t> last_rejected_at;
  std::string caller_shortfall;
  std::string secret_store_problem;
};

Result<StatusRecord> parse_status(std::string_view text);

// P.status read safely (secure_file.h); a missing, unsafe or corrupt file reads as the
// default status (it only explains and schedules, it never decides what is served).
StatusRecord read_status_or_default(const std::string& path);
std::string serialize_status(const StatusRecord& status);

std::optional<ErrorClass> error_class_from_name(std::string_view name);

// What stopped_for and boot_id may hold (others are written as "none").
bool valid_status_token(std::string_view value);

}  // namespace ckh
