// Where a profile's long-lived secret state lives (secret_store = "file" | "keyring"), and
// the moves between the two. The state is what a backend keeps between refreshes: the
// subscription's refresh token, a Vault token or secret_id, an OAuth client's tokens.
// Guarantees (all calls under P.lock):
// - load_secret_state: P.secret first, then the keyring item. P.secret, when it exists, is
//   never older than the item: a save to the keyring removes it, and a save that cannot
//   reach the keyring writes it (below), so the newest state always wins.
// - save_secret_state writes the state into the configured store and only then removes the
//   other copy: with "keyring" the item is written, read back and compared, P.keyring (the
//   marker: the item's attributes, no secret) written, and P.secret unlinked and its bytes
//   zeroed (P.secret is written first, durably, so that a kill during the keyring save loses
//   nothing and P.secret is never older than the item at any step); with "file" P.secret is
//   written (write_file: the StateWriter's durable, retried save) and then the item and the marker
//   are deleted. A keyring that fails (locked, no daemon, timeout, a read-back that differs) never
//   loses the state: it goes to P.secret (0600, durably) instead, and SaveOutcome::store_problem
//   says so in one line for status ("the keyring is locked: unlock it, or set secret_store =
//   \"file\"; ..."). The next save moves it into the keyring.
// - remove_secret_state (logout): P.secret, the item (whenever the marker says there is one
//   or the store is the keyring) and the marker, and says which existed.
// - where_secret_lives names the place from the files alone (no D-Bus): status calls it.
// Callers: refresh.cpp (the refresh loop), oauth/account.cpp (login, import, logout),
// status_command.cpp.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "refresher/config.h"
#include "shared/error.h"
#include "shared/paths.h"

namespace ckh {

// The largest secret state read from P.secret or the keyring.
inline constexpr std::size_t kMaxSecretBytes = 1024 * 1024;

enum class SecretLocation { none, file, keyring };

struct LoadedSecret {
  std::string state;  // empty when there is none
  SecretLocation location = SecretLocation::none;
};

// P.keyring: the marker that the profile's state is in the keyring.
std::string keyring_marker_path(const ProfilePaths& paths);

// An unreadable P.secret is an error (the caller logs it and goes on without a state, as
// before); so is a keyring that is needed and fails.
Result<LoadedSecret> load_secret_state(const ProfileConfig& profile, const ProfilePaths& paths);

struct SaveOutcome {
  SecretLocation location = SecretLocation::none;
  std::string store_problem;  // one line when the configured store could not be used
};

using FileSave = std::function<Result<void>(const std::string& content)>;

// An error only when the state could be saved nowhere (write_file's error).
Result<SaveOutcome> save_secret_state(const ProfileConfig& profile, const ProfilePaths& paths,
                                      const std::string& state, const FileSave& write_file);

// What was removed, for the user ("the saved tokens (…)", "the keyring item …").
Result<std::vector<std::string>> remove_secret_state(const ProfileConfig& profile,
                                                     const ProfilePaths& paths);

// "in the keyring (…)", "in P.secret (…)", "" when neither file exists.
std::string where_secret_lives(const ProfilePaths& paths);

}  // namespace ckh
