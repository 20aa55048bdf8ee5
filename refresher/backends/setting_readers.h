// Readers that several backends share for their settings and the files those name: one
// definition of "a path in the config", "an endpoint URL", "a secret file", "a file that is
// not ours to police". Guarantees:
// - read_path: "~/x" becomes "$HOME/x", an absolute path stays; anything else is a problem
//   reported at the key (ok set false);
// - read_endpoint_url / take_endpoint_url: https://, or plain http:// only to 127.0.0.1, localhost
// or [::1]
//   (tests, a local proxy): tokens never cross a network in the clear;
// - read_secret_file: a private file (0600-style, O_NOFOLLOW; shared/secure_file.h) of at
//   most 64 KiB holding one token, trimmed; a missing file is a config error naming `what`;
// - read_public_file: a regular file that may be world-readable (a Kubernetes projected
//   token behind links), trimmed. Messages never quote the content.
// Callers: backends/vault_backend.cpp, backends/anthropic_oauth_backend.cpp,
// backends/oauth2_backend.cpp.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "refresher/config_section.h"
#include "refresher/env_lookup.h"
#include "shared/error.h"

namespace ckh {

inline constexpr std::size_t kMaxSmallFileBytes = 64 * 1024;

std::optional<std::string> read_path(ConfigSection& section, std::string_view key, EnvLookup env,
                                     bool& ok);
std::optional<std::string> read_endpoint_url(ConfigSection& section, std::string_view key);
// The same into `into` when the key is there; a present but unusable value sets ok = false.
void take_endpoint_url(ConfigSection& section, std::string_view key, std::string& into, bool& ok);
// An OAuth client id (non-empty, no spaces) into `into` when the key is there; a present but
// unusable value sets ok = false.
void take_client_id(ConfigSection& section, std::string_view expected, std::string& into, bool& ok);

Result<std::string> read_secret_file(const std::string& path, std::string_view what);
Result<std::string> read_public_file(const std::string& path);

}  // namespace ckh
