// Claude Code's own OAuth credential store: `<config dir>/.credentials.json`, the
// `claudeAiOauth` entry that Claude Code reads its subscription tokens from.
// Guarantees:
// - Parsing validates the whole document (simdjson DOM: structure, UTF-8, numbers). A file
//   that is not a JSON object, whose claudeAiOauth is neither an object nor null, that holds
//   claudeAiOauth twice (or a known field twice inside it), or whose known fields have the
//   wrong type is ErrorClass::corrupt, with a one-line message that names the file and never
//   quotes its content. Known fields that are absent or null read as empty / 0 / nullopt:
//   the caller judges whether such an entry is usable. An empty file reads as "no entry".
// - Rendering (and so writing) keeps every other top-level key and every unknown key inside
//   claudeAiOauth, in their original order and byte for byte as their raw JSON values;
//   known fields are updated in place (their raw bytes kept when the value did not change),
//   missing ones are appended. expiresAt is written in ms as a JSON number, scopes always
//   as an array of strings. An optional field that is nullopt is written as null when the
//   file had the key (Claude Code's own convention) and left out when it did not.
// - It never writes a stub: an entry with an empty access or refresh token, expiresAt <= 0
//   or a string that is not UTF-8 is refused (ErrorClass::permanent) before any I/O. Those
//   are the "blanked entry" and "saved without expiresAt/scopes" failure modes of Claude
//   Code (anthropics/claude-code #85262); a refused write leaves the file untouched.
// - Writing is atomic and durable (temp file beside the real file, 0600, fsync, rename,
//   directory fsync): a concurrent reader sees the old or the new file, never a part.
//   When .credentials.json is a symbolic link (any depth, relative or absolute), the write
//   goes through to the final target and the link stays a link (#76561). The config dir is
//   created 0700 when missing; the file always ends up 0600.
// - Reading follows symbolic links, refuses (ErrorClass::unsafe) a file that is not a
//   regular file or not owned by the caller, and (corrupt) one over 1 MiB. A group- or
//   world-readable file is read anyway (Claude Code created it); the next write makes it
//   0600.
// - write/remove are read-modify-write: callers hold ClaudeCodeLock (claude_code_lock.h)
//   across read_claude_code_store .. write_claude_code_store so Claude Code never writes
//   in between.
// Callers: the anthropic-oauth backend (refresher/oauth/), logout, tests/fuzz.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "refresher/env_lookup.h"
#include "shared/error.h"

namespace ckh {

inline constexpr std::size_t kMaxClaudeCodeStoreBytes = 1024 * 1024;

struct ClaudeAiOauth {
  std::string access_token;                                 // "accessToken"
  std::string refresh_token;                                // "refreshToken"
  std::int64_t expires_at_ms = 0;                           // "expiresAt", ms since the epoch
  std::vector<std::string> scopes;                          // "scopes", always an array
  std::optional<std::string> subscription_type;             // "subscriptionType" (may be null)
  std::optional<std::string> rate_limit_tier;               // "rateLimitTier"
  std::optional<std::int64_t> refresh_token_expires_at_ms;  // "refreshTokenExpiresAt"
  std::optional<std::string> client_id;                     // "clientId"

  friend bool operator==(const ClaudeAiOauth&, const ClaudeAiOauth&) = default;
};

struct ClaudeCodeStorePaths {
  std::string config_dir;        // $CLAUDE_CONFIG_DIR, else $HOME/.claude (made absolute)
  std::string credentials_file;  // <config_dir>/.credentials.json
  std::string lock_dir;          // realpath(config_dir) + ".lock", as Claude Code locks it
};

// Where Claude Code keeps its credentials for this environment. A config dir that does not
// exist yet gets its absolute path (without trailing slashes) + ".lock" as the lock dir.
// ErrorClass::config when neither CLAUDE_CONFIG_DIR nor HOME is set.
Result<ClaudeCodeStorePaths> claude_code_store_paths(EnvLookup env = process_env);

// The claudeAiOauth entry of a store's text; nullopt when the text is empty or has no
// entry (absent or null). Pure; fuzzed.
Result<std::optional<ClaudeAiOauth>> parse_claude_code_store(std::string_view json);

// The text to store: original_json (empty means "{}") with its claudeAiOauth set to oauth,
// everything else kept as described above. Refuses a corrupt original or a stub. Pure;
// fuzzed; what write_claude_code_store writes.
Result<std::string> render_claude_code_store(std::string_view original_json,
                                             const ClaudeAiOauth& oauth);

// original_json without its claudeAiOauth key (everything else kept): what logout writes.
// A store holding only the entry becomes "{}". Pure; fuzzed.
Result<std::string> render_without_claude_code_entry(std::string_view original_json);

// nullopt when the file does not exist, is empty, or has no claudeAiOauth entry.
Result<std::optional<ClaudeAiOauth>> read_claude_code_store(const std::string& file);

Result<void> write_claude_code_store(const std::string& file, const ClaudeAiOauth& oauth);

// Logout: drops claudeAiOauth and keeps the rest. True when the key was there (and so was
// removed); false when there was no file or no entry (nothing is written then).
Result<bool> remove_claude_code_entry(const std::string& file);

}  // namespace ckh
