#include "refresher/oauth2/oauth2_settings.h"

namespace ckh {

const char* grant_name(Oauth2Grant grant) {
  switch (grant) {
    case Oauth2Grant::client_credentials:
      return "client_credentials";
    case Oauth2Grant::device_code:
      return "device_code";
    case Oauth2Grant::token_exchange:
      return "token_exchange";
  }
  return "?";
}

const char* client_auth_name(ClientAuthMethod method) {
  switch (method) {
    case ClientAuthMethod::client_secret_basic:
      return "client_secret_basic";
    case ClientAuthMethod::client_secret_post:
      return "client_secret_post";
    case ClientAuthMethod::private_key_jwt:
      return "private_key_jwt";
    case ClientAuthMethod::none:
      return "none";
  }
  return "?";
}

}  // namespace ckh
