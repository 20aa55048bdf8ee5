#include "refresher/oauth2/token_endpoint.h"

#include <simdjson.h>

#include "refresher/http/retry_after.h"
#include "refresher/json_fields.h"
#include "refresher/oauth/oauth_urls.h"
#include "refresher/oauth/pkce.h"
#include "refresher/oauth/token_response.h"
#include "refresher/oauth2/client_assertion.h"
#include "shared/text.h"

namespace ckh {
namespace {

constexpr std::size_t kMaxTokenResponseBytes = 256 * 1024;  // id tokens with many claims
constexpr std::int64_t kMaxExpiresIn = 10LL * 365 * 24 * 3600;
constexpr const char* kJwtBearerAssertion =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// RFC 4648 §4 (with padding), from the URL-safe form.
std::string base64_standard(std::string_view bytes) {
  std::string out = base64url(bytes);
  for (char& c : out) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (out.size() % 4 != 0) out += '=';
  return out;
}

std::string fix_hint(std::string_view error, long status, std::string_view section) {
  const std::string where = " in " + std::string(section);
  if (error == "invalid_client" || (error.empty() && status == 401)) {
    return "; the IdP does not accept this client: check client_id, client_auth and the client's "
           "secret or key" +
           where;
  }
  if (error == "unauthorized_client" || error == "unsupported_grant_type") {
    return "; the IdP does not allow this grant for this client: enable it for the client at "
           "the IdP, or change grant" +
           where;
  }
  if (error == "invalid_scope") return "; check scope" + where;
  if (error == "invalid_target") return "; check resource and audience" + where;
  if (error == "invalid_request") return "; check the grant's settings" + where;
  return {};
}

}  // namespace

std::string form_encode(const FormFields& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += percent_encode(name);
    out += '=';
    out += percent_encode(value);
  }
  return out;
}

Result<HttpRequest> token_form_request(const Oauth2Settings& settings,
                                       const ClientAuthentication& client,
                                       std::string_view endpoint, FormFields form,
                                       std::int64_t now) {
  HttpRequest request;
  request.method = "POST";
  request.url = std::string(endpoint);
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"Accept", "application/json"}};
  switch (client.method) {
    case ClientAuthMethod::client_secret_basic:
      request.headers.emplace_back(
          "Authorization", "Basic " + base64_standard(percent_encode(client.client_id) + ":" +
                                                      percent_encode(client.secret)));
      break;
    case ClientAuthMethod::client_secret_post:
      form.emplace_back("client_id", client.client_id);
      form.emplace_back("client_secret", client.secret);
      break;
    case ClientAuthMethod::private_key_jwt: {
      if (client.key == nullptr) {
        return fail(ErrorClass::config, "private_key_jwt without a private key");
      }
      const std::string_view audience =
          client.assertion_audience.empty() ? endpoint : client.assertion_audience;
      auto assertion =
          sign_client_assertion(*client.key, client.key_id, client.client_id, audience, now);
      if (!assertion) return std::unexpected(assertion.error());
      form.emplace_back("client_id", client.client_id);
      form.emplace_back("client_assertion_type", kJwtBearerAssertion);
      form.emplace_back("client_assertion", *assertion);
      break;
    }
    case ClientAuthMethod::none:
      form.emplace_back("client_id", client.client_id);
      break;
  }
  request.body = form_encode(form);
  request.timeout = settings.timeout;
  request.connect_timeout = std::min(settings.timeout, std::chrono::milliseconds(10'000));
  request.max_response_bytes = kMaxTokenResponseBytes;
  request.tls = settings.tls;
  return request;
}

Result<Oauth2TokenResponse> parse_oauth2_token_response(std::string_view body) {
  simdjson::dom::parser parser;
  const auto parsed = parse_json_object(parser, body);
  if (!parsed) {
    return fail(ErrorClass::transient,
                "the token endpoint's answer is not a JSON object (a proxy or an outage page?)");
  }
  const simdjson::dom::object object = *parsed;
  Oauth2TokenResponse out;
  const auto access = string_field(object, "access_token");
  if (!access || access->empty() || !is_printable_token(*access)) {
    return fail(ErrorClass::transient, "the token endpoint's answer has no usable access_token");
  }
  out.access_token = std::string(*access);
  simdjson::dom::element expires;
  if (object["expires_in"].get(expires) == simdjson::SUCCESS && !expires.is_null()) {
    const auto seconds = integer_or_decimal_field(object, "expires_in");
    if (!seconds || *seconds <= 0 || *seconds > kMaxExpiresIn) {
      return fail(ErrorClass::transient, "the token endpoint's answer has a malformed expires_in");
    }
    out.expires_in = *seconds;
  }
  for (const auto& [key, into] : {std::pair<std::string_view, std::optional<std::string>*>{
                                      "refresh_token", &out.refresh_token},
                                  {"id_token", &out.id_token}}) {
    simdjson::dom::element element;
    if (object[key].get(element) != simdjson::SUCCESS || element.is_null()) continue;
    std::string_view value;
    if (element.get(value) != simdjson::SUCCESS || value.empty() || !is_printable_token(value)) {
      return fail(ErrorClass::transient,
                  "the token endpoint's answer has a malformed " + std::string(key));
    }
    *into = std::string(value);
  }
  if (const auto type = string_field(object, "token_type")) out.token_type = one_line(*type, 40);
  if (const auto scope = string_field(object, "scope")) out.scope = one_line(*scope, 1000);
  if (const auto issued = string_field(object, "issued_token_type")) {
    out.issued_token_type = one_line(*issued, 200);
  }
  return out;
}

Error classify_oauth2_failure(long status, std::string_view body, std::string_view host,
                              const std::optional<std::string>& retry_after, std::int64_t now,
                              std::string_view section) {
  const auto parsed = parse_token_error(body);
  const std::string code = parsed ? parsed->error : std::string();
  Error error{ErrorClass::transient, describe_token_failure(status, body, host, "token endpoint")};
  error.code = "http_status";  // the server answered: it did not act on the request
  if (retry_after && (status == 429 || status == 503)) {
    error.retry_after_s = retry_after_seconds(*retry_after, now);
  }
  if (code == "invalid_grant" || code == "access_denied") {
    error.kind = ErrorClass::permanent;
    error.code = code;
    return error;
  }
  if (code == "invalid_client" || code == "unauthorized_client" ||
      code == "unsupported_grant_type" || code == "invalid_scope" || code == "invalid_target" ||
      code == "invalid_request" || (code.empty() && status == 401)) {
    error.kind = ErrorClass::config;
    error.code = code.empty() ? "invalid_client" : code;
    error.message += fix_hint(code, status, section);
    return error;
  }
  if (status == 429) {
    if (!code.empty()) error.code = code;  // slow_down arrives as a 429 from some IdPs
    error.message += "; rate limited, retrying later";
    return error;
  }
  if ((status == 502 || status == 504) && !parsed) {
    // A proxy's answer: the IdP behind it may have acted on the request.
    error.code = "gateway_error";
    return error;
  }
  if (status >= 500 || code == "temporarily_unavailable" || code == "server_error") return error;
  if (status >= 400) {
    error.kind = ErrorClass::permanent;
    if (!code.empty()) error.code = code;  // authorization_pending, slow_down, expired_token...
    error.message += "; check token_endpoint (or issuer) in " + std::string(section);
  }
  return error;
}

Result<Oauth2TokenResponse> request_tokens(HttpTransport& transport, const Oauth2Settings& settings,
                                           const ClientAuthentication& client,
                                           std::string_view endpoint, FormFields form,
                                           std::int64_t now, std::string_view section,
                                           std::string* salvaged) {
  std::vector<std::string> secrets;
  for (const auto& [name, value] : form) {
    if (name == "refresh_token" || name == "subject_token" || name == "device_code" ||
        name == "actor_token") {
      secrets.push_back(value);
    }
  }
  if (!client.secret.empty()) secrets.push_back(client.secret);
  auto request = token_form_request(settings, client, endpoint, std::move(form), now);
  if (!request) return std::unexpected(request.error());
  auto scrub = [&](Error error) {
    for (const auto& secret : secrets) error.message = redact(error.message, secret);
    return error;
  };
  auto response = transport.send(*request);
  if (!response) return std::unexpected(scrub(response.error()));
  if (response->status == 200) {
    auto parsed = parse_oauth2_token_response(response->body);
    if (!parsed) {
      if (salvaged != nullptr) {
        if (auto rotated = salvage_refresh_token(response->body)) *salvaged = *rotated;
      }
      return std::unexpected(scrub(parsed.error()));
    }
    return parsed;
  }
  return std::unexpected(
      scrub(classify_oauth2_failure(response->status, response->body, url_host(endpoint),
                                    response->header("retry-after"), now, section)));
}

}  // namespace ckh
