// The account commands of an `oauth2` profile: login and logout.
// Guarantees:
// - login with grant = "device_code" runs the device authorization grant
//   (oauth2/device_login.h) and saves the tokens it gets (a refresh token is required: the
//   IdP must issue one, usually for scope offline_access) with save_login_and_publish; the
//   client secret, discovered endpoints and other state already saved are kept;
// - login --client-secret-stdin (any grant whose client authenticates with a secret and
//   names no client_secret_file/env) stores the secret read from standard input into the
//   profile's secret store, then publishes; the secret is never echoed or logged;
// - logout revokes the refresh token (RFC 7009) at the revocation endpoint when there is one
//   (a failure is said, not fatal), then removes the secret state and P.cred; its text names
//   what was removed;
// - the returned text is for the user and never holds a token or secret.
// Callers: refresher/main.cpp.
#pragma once

#include <chrono>
#include <string>

#include "refresher/config.h"
#include "shared/error.h"
#include "shared/paths.h"

namespace ckh {

struct Oauth2LoginOptions {
  bool open_browser = true;
  std::chrono::milliseconds timeout{600'000};
  bool client_secret_stdin = false;
  int input_fd = 0;  // where the client secret is read from
};

Result<std::string> login_oauth2_profile(const ProfileConfig& profile, const ProfilePaths& paths,
                                         const Oauth2LoginOptions& options);
Result<std::string> logout_oauth2_profile(const ProfileConfig& profile, const ProfilePaths& paths);

}  // namespace ckh
