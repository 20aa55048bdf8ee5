// Talking to a standards OAuth 2.0 token endpoint (RFC 6749 §3.2, §4.4, §5; RFC 8628 §3.4;
// RFC 8693 §2; RFC 7523 §2.2): form-encoded requests with the client authenticated as
// configured, and what the endpoint answers. The parsers are pure functions of the bytes
// received (fuzzed: tests/fuzz/fuzz_oauth2_response.cpp).
// Guarantees:
// - client_secret_basic: Authorization: Basic base64(urlencode(id) ":" urlencode(secret))
//   (RFC 6749 §2.3.1); client_secret_post: client_id and client_secret in the body;
//   private_key_jwt: client_assertion_type and a fresh RFC 7523 assertion (aud = the
//   endpoint's URL, 60 s, random jti) plus client_id; none: client_id in the body;
// - parse_oauth2_token_response accepts a JSON object with a non-empty printable
//   access_token; expires_in (integer, integral float, or decimal string, 1 s .. 10 years)
//   is optional; refresh_token and id_token, when present, must be printable tokens; a
//   garbled answer is transient and never quoted;
// - classify_oauth2_failure follows RFC 6749 §5.2: invalid_client, unauthorized_client,
//   unsupported_grant_type, invalid_scope, invalid_target and invalid_request are config
//   errors (the IdP's settings or ours are wrong), invalid_grant and access_denied
//   permanent (code = the error), 429 and 5xx transient (Retry-After kept for 429 and 503;
//   a 502/504 without an OAuth body has code "gateway_error": the IdP behind the proxy may
//   have acted); any other 4xx permanent, keeping the IdP's error as code. Messages are one line:
//   the host, the status, the IdP's error and description cut short, and where to fix it; never a
//   token, secret or assertion.
// Callers: backends/oauth2_backend.cpp, oauth2/device_login.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "refresher/http/transport.h"
#include "refresher/oauth2/oauth2_settings.h"
#include "shared/error.h"

namespace ckh {

class SigningKey;  // oauth2/client_assertion.h

// The client as it authenticates right now: the secret or key read for this request.
struct ClientAuthentication {
  ClientAuthMethod method = ClientAuthMethod::none;
  std::string client_id;
  std::string secret;               // client_secret_basic / client_secret_post
  const SigningKey* key = nullptr;  // private_key_jwt
  std::string key_id;
  // The aud of a private_key_jwt assertion: the token endpoint's URL (OIDC Core §9), also
  // when the request goes to the device authorization or revocation endpoint. Empty: the
  // URL the request goes to.
  std::string assertion_audience;
};

using FormFields = std::vector<std::pair<std::string, std::string>>;

std::string form_encode(const FormFields& fields);

// The POST of `form` to `endpoint` with the client's authentication, ready to send.
Result<HttpRequest> token_form_request(const Oauth2Settings& settings,
                                       const ClientAuthentication& client,
                                       std::string_view endpoint, FormFields form,
                                       std::int64_t now);

struct Oauth2TokenResponse {
  std::string access_token;
  std::string token_type;
  std::optional<std::int64_t> expires_in;
  std::optional<std::string> refresh_token;
  std::optional<std::string> id_token;
  std::string scope;
  std::string issued_token_type;
};

Result<Oauth2TokenResponse> parse_oauth2_token_response(std::string_view body);

// `section` names where to fix the profile: "[profile.work.oauth2]".
Error classify_oauth2_failure(long status, std::string_view body, std::string_view host,
                              const std::optional<std::string>& retry_after, std::int64_t now,
                              std::string_view section);

// Sends the form and parses a 200 answer; anything else is classified as above. A 200 whose
// body is unusable but carries a printable refresh_token sets *salvaged to it (when not
// null): a rotated refresh token must not be lost.
Result<Oauth2TokenResponse> request_tokens(HttpTransport& transport, const Oauth2Settings& settings,
                                           const ClientAuthentication& client,
                                           std::string_view endpoint, FormFields form,
                                           std::int64_t now, std::string_view section,
                                           std::string* salvaged = nullptr);

}  // namespace ckh
