#include "refresher/secret_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "refresher/keyring/keyring.h"
#include "refresher/keyring/secret_item.h"
#include "shared/record.h"
#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {
namespace {

KeyringItemId item_id(const ProfilePaths& paths, const std::string& profile) {
  return KeyringItemId{profile, paths.dir};
}

std::string item_name(const KeyringItemId& id) {
  return "the keyring item (application=" + std::string(kKeyringApplication) +
         " profile=" + id.profile + " state_dir=" + id.state_dir + ")";
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// The marker names the item, never its content.
std::string marker_content(const KeyringItemId& id) {
  return "claude-key-helper keyring item\napplication: " + std::string(kKeyringApplication) +
         "\nprofile: " + id.profile + "\nstate_dir: " + id.state_dir + "\n";
}

Result<void> remove_marker(const ProfilePaths& paths) {
  const std::string marker = keyring_marker_path(paths);
  if (::unlink(marker.c_str()) != 0 && errno != ENOENT) {
    return fail(ErrorClass::io, "cannot remove " + marker + ": " + std::strerror(errno));
  }
  return {};
}

Result<std::string> read_item(const KeyringItemId& id) {
  auto item = keyring_read(id);
  if (!item) return std::unexpected(item.error());
  if (!*item) return std::string();
  auto state = parse_secret_item(**item, id.profile);
  if (!state) {
    return fail(ErrorClass::corrupt,
                state.error().message + "; delete " + item_name(id) + " and log in again");
  }
  return std::move(*state);
}

// Into the keyring, read back and compared, then the marker; P.secret is removed by the caller.
Result<void> store_in_keyring(const ProfilePaths& paths, const KeyringItemId& id,
                              const std::string& state) {
  if (auto written = keyring_write(id, serialize_secret_item(id.profile, state)); !written) {
    return written;
  }
  auto back = read_item(id);
  if (!back) return std::unexpected(back.error());
  if (*back != state) {
    return fail(ErrorClass::transient, "the keyring gave back something else than was saved in " +
                                           item_name(id) + "; or set secret_store = \"file\"");
  }
  return write_private_file_atomic(keyring_marker_path(paths), marker_content(id));
}

}  // namespace

std::string keyring_marker_path(const ProfilePaths& paths) {
  std::string path = paths.secret;
  if (path.ends_with(".secret")) path.resize(path.size() - 7);
  return path + ".keyring";
}

Result<LoadedSecret> load_secret_state(const ProfileConfig& profile, const ProfilePaths& paths) {
  if (auto secret = read_private_file(paths.secret, kMaxSecretBytes)) {
    return LoadedSecret{std::move(*secret), SecretLocation::file};
  } else if (secret.error().kind != ErrorClass::not_found) {
    return std::unexpected(secret.error());
  }
  // No P.secret: the item, when the marker says there is one or the store is the keyring
  // (a marker lost with a wiped state dir must not hide the item).
  if (!exists(keyring_marker_path(paths)) && profile.secret_store != SecretStore::keyring) {
    return LoadedSecret{};
  }
  auto state = read_item(item_id(paths, profile.name));
  if (!state) return std::unexpected(state.error());
  if (state->empty()) return LoadedSecret{};
  return LoadedSecret{std::move(*state), SecretLocation::keyring};
}

Result<SaveOutcome> save_secret_state(const ProfileConfig& profile, const ProfilePaths& paths,
                                      const std::string& state, const FileSave& write_file) {
  const KeyringItemId id = item_id(paths, profile.name);
  SaveOutcome outcome;
  bool on_file = false;  // P.secret holds `state` already
  if (profile.secret_store == SecretStore::keyring) {
    // P.secret first, durably (the reserved temp file of a rotation): the state is on disk
    // for the whole keyring save, which may take seconds, so a kill in that window loses
    // nothing; and load prefers P.secret, which is then never older than the item. Once the
    // item is written and read back, P.secret is wiped. If this write fails, the keyring may
    // still take the state; if both fail, the fallback below reports the file's error.
    on_file = write_file(state).has_value();
    auto stored = store_in_keyring(paths, id, state);
    if (stored) {
      outcome.location = SecretLocation::keyring;
      // A P.secret that could not be removed holds this same state: never older than the
      // item, only a copy to remove by hand.
      if (auto wiped = wipe_private_file(paths.secret); !wiped) {
        outcome.store_problem = one_line(wiped.error().message, 300);
      }
      return outcome;
    }
    // Not lost: P.secret holds it (durably, retried) until a save reaches the keyring.
    outcome.store_problem = one_line(stored.error().message, 300) + "; kept in " +
                            base_name(paths.secret) + " (0600) until the keyring takes it";
  }
  if (!on_file) {
    if (auto written = write_file(state); !written) return std::unexpected(written.error());
  }
  outcome.location = SecretLocation::file;
  if (profile.secret_store == SecretStore::file && exists(keyring_marker_path(paths))) {
    // Moved out of the keyring: the item goes, then its marker. A keyring that cannot be
    // reached now keeps both; P.secret wins on every read meanwhile, and the next save
    // tries again.
    auto deleted = keyring_delete(id);
    if (deleted) {
      if (auto removed = remove_marker(paths); !removed) {
        outcome.store_problem = removed.error().message;
      }
    } else {
      outcome.store_problem = "the old copy in " + item_name(id) + " could not be deleted yet: " +
                              one_line(deleted.error().message, 300);
    }
  }
  return outcome;
}

Result<std::vector<std::string>> remove_secret_state(const ProfileConfig& profile,
                                                     const ProfilePaths& paths) {
  std::vector<std::string> removed;
  if (exists(paths.secret)) {
    if (auto wiped = wipe_private_file(paths.secret); !wiped) return std::unexpected(wiped.error());
    removed.push_back("the saved tokens (" + paths.secret + ")");
  }
  // The item also without its marker when the store is the keyring (a marker write that
  // failed, a wiped state dir): load would find it, so logout must too.
  if (exists(keyring_marker_path(paths)) || profile.secret_store == SecretStore::keyring) {
    const KeyringItemId id = item_id(paths, profile.name);
    auto deleted = keyring_delete(id);
    if (!deleted) return std::unexpected(deleted.error());
    if (*deleted) removed.push_back("the saved tokens in " + item_name(id));
    if (auto gone = remove_marker(paths); !gone) return std::unexpected(gone.error());
  }
  return removed;
}

std::string where_secret_lives(const ProfilePaths& paths) {
  if (exists(paths.secret)) return "in " + paths.secret;
  if (exists(keyring_marker_path(paths))) {
    return "in the keyring (application=" + std::string(kKeyringApplication) +
           ", state_dir=" + paths.dir + ")";
  }
  return {};
}

}  // namespace ckh
