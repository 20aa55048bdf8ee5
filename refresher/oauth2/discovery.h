// Finding an identity provider's endpoints from its issuer: OpenID Connect Discovery 1.0
// (`<issuer>/.well-known/openid-configuration`), and RFC 8414 authorization server metadata
// (`/.well-known/oauth-authorization-server` inserted before the issuer's path) when the
// first is not there. The parser is a pure function of the bytes received (fuzzed:
// tests/fuzz/fuzz_oauth2_response.cpp).
// Guarantees:
// - a document is used only when its `issuer` is the configured one (OIDC Discovery §4.3,
//   RFC 8414 §3.3; a trailing '/' on either side is not a difference), and its
//   token_endpoint is https:// (http:// only to this machine); device_authorization and
//   revocation endpoints are taken when they meet the same rule;
// - the answer is kept until max-age of its Cache-Control (clamped to [60 s, discovery_ttl];
//   no-store and no-cache: 60 s), else for discovery_ttl; a 429 or 503 carries Retry-After;
// - errors: no document at either place (404, 400, 405, 410) and a wrong issuer or a
//   document without a usable token_endpoint are config errors that name the issuer and say
//   what to check; a network failure, a 5xx or a body that is not JSON is transient. Messages
//   are one line and never quote the document.
// Callers: backends/oauth2_backend.cpp (through its endpoint cache), tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "refresher/http/transport.h"
#include "refresher/oauth2/oauth2_settings.h"
#include "refresher/oauth2/oauth2_state.h"
#include "shared/error.h"

namespace ckh {

std::string openid_configuration_url(std::string_view issuer);
std::string authorization_server_metadata_url(std::string_view issuer);

// The endpoints of a discovery document (expires_at unset), or why it cannot be used.
Result<Oauth2Endpoints> parse_discovery_document(std::string_view body,
                                                 std::string_view expected_issuer);

// max-age of a Cache-Control value, when it states one; 0 for no-store or no-cache (kept for
// the shortest time, 60 s, then).
std::optional<std::int64_t> cache_control_max_age(std::string_view value);

Result<Oauth2Endpoints> discover_endpoints(HttpTransport& transport, const Oauth2Settings& settings,
                                           std::int64_t now, std::string_view section);

}  // namespace ckh
