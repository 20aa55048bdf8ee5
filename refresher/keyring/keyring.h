// The OS keyring, for a profile's long-lived secret state (secret_store = "keyring"): one
// item per profile and state dir.
// - Linux and the BSDs: a Secret Service item (gnome-keyring, KWallet, KeePassXC) in the
//   default collection, reached through libsecret on the session bus (DBUS_SESSION_BUS_ADDRESS,
//   else $XDG_RUNTIME_DIR/bus, which is how a systemd user service reaches it). Attributes:
//   application = "claude-key-helper", profile = P, state_dir = the state dir; label
//   keyring_item_label(). `secret-tool search application claude-key-helper` lists them.
// - macOS: a Keychain generic password, service "claude-key-helper", account = P, written
//   and read through /usr/bin/security like the claude-code sink (sinks/keychain.h); the
//   password is the item's content hex-encoded (security -w prints binary data as hex).
// Guarantees:
// - never prompts: a locked collection or item is an error saying so (a refresh at 3 a.m.
//   must not pop a dialog, nor wait for one), and every call ends within kKeyringTimeout;
// - errors are one line, classified (transient: locked, no daemon, timeout; the next refresh
//   may succeed), and never hold any part of the content;
// - the content travels over D-Bus in a Secret Service session (never argv, never a file).
// Callers: refresher/secret_store.cpp (under P.lock), config_probe (keyring_check).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "shared/error.h"

namespace ckh {

inline constexpr std::chrono::seconds kKeyringTimeout{10};
inline constexpr std::string_view kKeyringApplication = "claude-key-helper";
// What a person reads when the keyring refuses: the first line of every locked error.
inline constexpr std::string_view kKeyringLockedMessage =
    "the keyring is locked: unlock it, or set secret_store = \"file\"";

struct KeyringItemId {
  std::string profile;
  std::string state_dir;
};

// "claude-key-helper: secrets of profile 'P' (refresh token, …) — <state dir>"
std::string keyring_item_label(const KeyringItemId& id);

// The item's content; none when there is no such item.
Result<std::optional<std::string>> keyring_read(const KeyringItemId& id);
// Creates or replaces the item.
Result<void> keyring_write(const KeyringItemId& id, std::string_view content);
// true: an item was there and is gone.
Result<bool> keyring_delete(const KeyringItemId& id);
// Whether a keyring answers and its default collection takes items now (check-config --probe).
Result<void> keyring_check();

// macOS: the Keychain password for a content (hex) and back.
std::string keychain_keyring_password(std::string_view content);
std::optional<std::string> keychain_keyring_content(std::string_view password);

}  // namespace ckh
