// P.secret of an `oauth2` profile: what the refresher keeps between runs for a standards
// OAuth 2.0 / OpenID Connect identity provider. Written only by the refresher (under
// P.lock, durably, through the profile's secret store) and never read by the helper. Line
// format of shared/kv_lines.h:
//
//   claude-key-helper-oauth2 v1
//   refresh_token: ...            (device login; rotated by the server; empty: none)
//   access_token: ...             (the last one obtained; empty: none yet)
//   id_token: ...                 (when the server sent one)
//   expires_at: 1795363200        (of the token the profile publishes; none: not known)
//   obtained_at: 1795359600       (when it was obtained: its lifetime decides when it is due)
//   scope: openid offline_access  (granted, when stated)
//   pending_refresh_since: none   (a refresh_token request was sent at this time and its
//                                  answer is not saved yet: set before sending, cleared after)
//   client_secret: ...            (stored by `login --client-secret-stdin`; empty: none)
//   settings_fp: 0123abcd...      (the source settings the tokens were obtained under: a
//                                  cached token from other settings is not reused)
//   issuer: https://idp.example   (of the cached discovery document; empty: none)
//   token_endpoint: ...
//   device_authorization_endpoint: ...
//   revocation_endpoint: ...
//   discovery_expires_at: none
//   end
//
// Guarantees: parse_oauth2_state accepts exactly what serialize_oauth2_state writes and
// refuses the rest (ErrorClass::corrupt, no content in the message); tokens and the client
// secret are printable ASCII without spaces; endpoints are one line. Callers:
// backends/oauth2_backend.cpp, oauth2/device_login.cpp (through account.cpp), tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shared/error.h"

namespace ckh {

struct Oauth2Endpoints {
  std::string issuer;  // as the discovery document states it (empty: configured explicitly)
  std::string token_endpoint;
  std::string device_authorization_endpoint;
  std::string revocation_endpoint;
  std::optional<std::int64_t> expires_at;  // when to look the document up again
};

struct Oauth2State {
  std::string refresh_token;
  std::string access_token;
  std::string id_token;
  std::optional<std::int64_t> expires_at;
  std::optional<std::int64_t> obtained_at;
  std::string scope;
  std::optional<std::int64_t> pending_refresh_since;
  std::string client_secret;
  std::string settings_fp;
  Oauth2Endpoints discovered;
};

Result<Oauth2State> parse_oauth2_state(std::string_view text);
std::string serialize_oauth2_state(const Oauth2State& state);

// Whether `candidate`, a complete temp copy of P.secret that a refresh did not get to rename,
// is the state the refresh in flight in `current` led to: current records a refresh in flight,
// candidate parses, has none, and holds another refresh or access token (the server's
// rotated answer). Anything else is left to be deleted.
bool is_saved_oauth2_rotation(std::string_view current, std::string_view candidate);

}  // namespace ckh
