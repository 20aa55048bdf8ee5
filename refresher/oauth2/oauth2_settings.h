// The settings of an `oauth2` profile ([profile.P.oauth2]): which identity provider, which
// client, which grant, which token to publish. Plain data; parsed and checked by
// backends/oauth2_backend.cpp (make_oauth2_backend), which documents every key.
// Callers: backends/oauth2_backend.cpp, oauth2/*.cpp, oauth/account.cpp (login).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "refresher/http/transport.h"

namespace ckh {

enum class Oauth2Grant { client_credentials, device_code, token_exchange };
enum class ClientAuthMethod { client_secret_basic, client_secret_post, private_key_jwt, none };
enum class PublishedToken { access_token, id_token };

inline constexpr const char* kTokenExchangeGrant =
    "urn:ietf:params:oauth:grant-type:token-exchange";
inline constexpr const char* kDeviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code";
inline constexpr const char* kJwtTokenType = "urn:ietf:params:oauth:token-type:jwt";

const char* grant_name(Oauth2Grant grant);              // "client_credentials", ...
const char* client_auth_name(ClientAuthMethod method);  // "client_secret_basic", ...

struct Oauth2Settings {
  std::string issuer;  // discovery; empty: token_endpoint (and the device one) are explicit
  std::string token_endpoint;
  std::string device_authorization_endpoint;
  std::string revocation_endpoint;
  std::string client_id;
  ClientAuthMethod client_auth = ClientAuthMethod::none;
  std::string client_secret_file;  // empty: client_secret_env, else the secret store
  std::string client_secret_env;
  std::string private_key_file;
  std::string key_id;       // the JWT header's kid (private_key_jwt)
  std::string signing_alg;  // empty: by the key's type
  Oauth2Grant grant = Oauth2Grant::client_credentials;
  std::string scope;  // space-separated, as sent
  std::vector<std::string> audience;
  std::vector<std::string> resource;  // RFC 8707
  PublishedToken publish = PublishedToken::access_token;
  std::string subject_token_file;  // token exchange: re-read on every refresh
  std::string subject_token_type = kJwtTokenType;
  std::string requested_token_type;  // token exchange, optional
  TlsOptions tls;
  std::chrono::milliseconds timeout{30'000};
  // How long a discovery document is used before it is fetched again, when the server's
  // Cache-Control does not say (clamped to [1 min, this] when it does).
  std::chrono::seconds discovery_ttl{86'400};
};

}  // namespace ckh
