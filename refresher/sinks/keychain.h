// The macOS Keychain copy of Claude Code's credentials (Claude Code reads it before
// .credentials.json on macOS): a generic password whose data is the store's JSON.
// Guarantees:
// - keychain_service_name is Claude Code's own name for the item: "Claude Code-credentials",
//   plus "-<first 8 hex digits of sha256(CLAUDE_CONFIG_DIR)>" when that variable is set and
//   not empty (the value as given, not resolved; Claude Code NFC-normalises it first, which
//   changes nothing for ASCII paths; a path with decomposed accents would differ).
// - keychain_add_command is exactly the line written to `security -i` on its stdin. The
//   secret travels hex-encoded there and never in argv (visible to every user via ps).
//   Account and service are always double-quoted, with `"` and `\` backslash-escaped: that is
//   how security's interactive parser (split_line in Apple's SecurityTool/security.c) keeps
//   an argument with spaces ("Claude Code-credentials") whole. The hex needs no quoting.
// - keychain_write runs /usr/bin/security -i with that line, bounded in time. It refuses a
//   line longer than security's interactive buffer (kSecurityMaxLineBytes): security would
//   cut it and store a truncated password. Compiled only on macOS; elsewhere it returns
//   ErrorClass::config saying the Keychain exists only on macOS.
// - keychain_read returns the item's JSON, so the sink renders over it (keeping Claude
//   Code's other entries, such as mcpOAuth) instead of replacing it with the file's copy.
// - both run security with keychain_child_environment(): child_env.h's rule, no secret
//   variable of the refresher's environment.
// Callers: the claude-code sink on macOS (refresher/oauth/), the keyring secret store on
// macOS (refresher/keyring/keyring.h); tests check the text on Linux.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "refresher/env_lookup.h"
#include "shared/error.h"

namespace ckh {

// Whether Claude Code on this platform keeps its login in the Keychain (read first) besides
// the file. Callers test it with a plain `if`, so their Keychain code is compiled, and so
// type-checked, on every platform; it runs on macOS.
#ifdef __APPLE__
inline constexpr bool kKeychainStore = true;
#else
inline constexpr bool kKeychainStore = false;
#endif

// SecurityTool's MAX_LINE_LEN: a line (without its newline) must be shorter than this.
inline constexpr std::size_t kSecurityMaxLineBytes = 4096;

std::string keychain_service_name(EnvLookup env = process_env);

// The environment /usr/bin/security runs with (compiled everywhere, so tests check it).
std::vector<std::string> keychain_child_environment();

std::string keychain_add_command(std::string_view user, std::string_view service,
                                 std::string_view json);

Result<void> keychain_write(std::string_view user, std::string_view service, std::string_view json);

// The item's current JSON through `security find-generic-password -a USER -s SERVICE -w`
// (the secret comes back on stdout, never through argv); none when there is no such item.
// Compiled only on macOS, like keychain_write.
Result<std::optional<std::string>> keychain_read(std::string_view user, std::string_view service);

// `security delete-generic-password -a USER -s SERVICE` (the arguments: tested everywhere);
// true when an item was there. Runs only on macOS, like keychain_write.
std::vector<std::string> keychain_delete_argv(std::string_view user, std::string_view service);
Result<bool> keychain_delete(std::string_view user, std::string_view service);

}  // namespace ckh
