// The device authorization grant (RFC 8628) for a person: `claude-key-refresher login` of
// an oauth2 profile with grant = "device_code".
// Guarantees of run_device_login:
// - one device authorization request (scope, audience, resource; the client authenticated
//   as configured); the user is shown the verification URI and the user code, and
//   verification_uri_complete as a link when the IdP gives one; the browser is opened on it
//   only with open_browser and a display;
// - the token endpoint is polled no faster than `interval` (5 s when unstated), which grows by
//   5 s on every slow_down (§3.5); authorization_pending keeps polling; access_denied and
//   expired_token end the login with a permanent error that says what happened; a transient
//   failure (network, 5xx) keeps polling; the wait is bounded by the code's expires_in and
//   by timeout;
// - the device code, tokens and secrets never appear in messages or output; the user code
//   (meant to be typed by a person) does.
// Callers: oauth/account.cpp (login), tests with a fake transport and clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "refresher/clock.h"
#include "refresher/http/transport.h"
#include "refresher/oauth2/device_authorization.h"
#include "refresher/oauth2/oauth2_settings.h"
#include "refresher/oauth2/token_endpoint.h"

namespace ckh {

struct DeviceLoginOptions {
  bool open_browser = true;
  std::chrono::milliseconds timeout{600'000};
  std::FILE* out = stderr;  // instructions for the user
};

Result<Oauth2TokenResponse> run_device_login(
    HttpTransport& transport, const Oauth2Settings& settings, const ClientAuthentication& client,
    std::string_view device_endpoint, std::string_view token_endpoint, const Clock& clock,
    const DeviceLoginOptions& options, std::string_view section);

}  // namespace ckh
