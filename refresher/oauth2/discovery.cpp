#include "refresher/oauth2/discovery.h"

#include <simdjson.h>

#include <algorithm>

#include "refresher/http/retry_after.h"
#include "refresher/json_fields.h"
#include "shared/text.h"

namespace ckh {
namespace {

constexpr std::size_t kMaxDocumentBytes = 512 * 1024;
constexpr std::int64_t kMinDiscoveryTtl = 60;

std::string_view without_trailing_slash(std::string_view text) {
  while (text.ends_with('/')) text.remove_suffix(1);
  return text;
}

bool not_there(long status) {
  return status == 404 || status == 400 || status == 405 || status == 410;
}

}  // namespace

std::string openid_configuration_url(std::string_view issuer) {
  return std::string(without_trailing_slash(issuer)) + "/.well-known/openid-configuration";
}

std::string authorization_server_metadata_url(std::string_view issuer) {
  issuer = without_trailing_slash(issuer);
  const auto scheme_end = issuer.find("://");
  const auto path_start = scheme_end == std::string_view::npos ? std::string_view::npos
                                                               : issuer.find('/', scheme_end + 3);
  if (path_start == std::string_view::npos) {
    return std::string(issuer) + "/.well-known/oauth-authorization-server";
  }
  return std::string(issuer.substr(0, path_start)) + "/.well-known/oauth-authorization-server" +
         std::string(issuer.substr(path_start));
}

Result<Oauth2Endpoints> parse_discovery_document(std::string_view body,
                                                 std::string_view expected_issuer) {
  simdjson::dom::parser parser;
  const auto parsed = parse_json_object(parser, body);
  if (!parsed) {
    return fail(ErrorClass::transient, "the discovery document of " +
                                           one_line(expected_issuer, 200) +
                                           " is not a JSON object (a proxy or an outage page?)");
  }
  const simdjson::dom::object object = *parsed;
  Oauth2Endpoints out;
  const auto issuer = string_field(object, "issuer");
  if (!issuer) {
    return fail(ErrorClass::config, "the discovery document of " + one_line(expected_issuer, 200) +
                                        " names no issuer; check issuer, or set token_endpoint");
  }
  if (without_trailing_slash(*issuer) != without_trailing_slash(expected_issuer)) {
    return fail(ErrorClass::config,
                "the discovery document found at " + one_line(expected_issuer, 200) +
                    " is for issuer \"" + one_line(*issuer, 200) +
                    "\", not the configured one: set issuer to the IdP's exact issuer URL");
  }
  out.issuer = std::string(*issuer);
  const auto token = string_field(object, "token_endpoint");
  if (!token || !is_allowed_endpoint_url(*token) || one_line(*token, 2048) != *token) {
    return fail(ErrorClass::config,
                "the discovery document of " + one_line(expected_issuer, 200) +
                    " has no usable https:// token_endpoint; set token_endpoint yourself");
  }
  out.token_endpoint = std::string(*token);
  auto optional_url = [&](std::string_view key, std::string& into) {
    if (const auto url = string_field(object, key);
        url && is_allowed_endpoint_url(*url) && one_line(*url, 2048) == *url) {
      into = std::string(*url);
    }
  };
  optional_url("device_authorization_endpoint", out.device_authorization_endpoint);
  optional_url("revocation_endpoint", out.revocation_endpoint);
  return out;
}

std::optional<std::int64_t> cache_control_max_age(std::string_view value) {
  std::optional<std::int64_t> max_age;
  while (!value.empty()) {
    const auto comma = value.find(',');
    std::string directive(trim(value.substr(0, comma)));
    std::transform(directive.begin(), directive.end(), directive.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (directive == "no-store" || directive == "no-cache") return 0;  // the shortest keep
    if (directive.starts_with("max-age=")) {
      std::string_view number = std::string_view(directive).substr(8);
      if (number.size() >= 2 && number.front() == '"' && number.back() == '"') {
        number = number.substr(1, number.size() - 2);
      }
      if (const auto seconds = parse_i64(number); seconds && *seconds >= 0) max_age = *seconds;
    }
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return max_age;
}

Result<Oauth2Endpoints> discover_endpoints(HttpTransport& transport, const Oauth2Settings& settings,
                                           std::int64_t now, std::string_view section) {
  const std::string issuer(without_trailing_slash(settings.issuer));
  auto get = [&](const std::string& url) {
    HttpRequest request;
    request.url = url;
    request.headers = {{"Accept", "application/json"}};
    request.timeout = settings.timeout;
    request.connect_timeout = std::min(settings.timeout, std::chrono::milliseconds(10'000));
    request.max_response_bytes = kMaxDocumentBytes;
    request.tls = settings.tls;
    return transport.send(request);
  };
  auto response = get(openid_configuration_url(issuer));
  if (response && not_there(response->status)) {
    response = get(authorization_server_metadata_url(issuer));
    if (response && not_there(response->status)) {
      return fail(ErrorClass::config,
                  "no discovery document for issuer " + one_line(issuer, 200) +
                      " (neither /.well-known/openid-configuration nor "
                      "/.well-known/oauth-authorization-server): check issuer in " +
                      std::string(section) + ", or set token_endpoint there");
    }
  }
  if (!response) {
    Error error = response.error();
    error.message = "discovery of " + one_line(issuer, 200) + ": " + error.message;
    return std::unexpected(error);
  }
  if (response->status != 200) {
    Error error{ErrorClass::transient, "discovery of " + one_line(issuer, 200) + ": " +
                                           url_host(issuer) + " answered " +
                                           to_decimal(static_cast<std::int64_t>(response->status))};
    if (const auto retry_after = response->header("retry-after");
        retry_after && (response->status == 429 || response->status == 503)) {
      error.retry_after_s = retry_after_seconds(*retry_after, now);
    }
    if (response->status >= 400 && response->status < 500 && response->status != 429 &&
        response->status != 408) {
      error.kind = ErrorClass::config;
      error.message += "; check issuer in " + std::string(section);
    }
    return std::unexpected(error);
  }
  auto endpoints = parse_discovery_document(response->body, issuer);
  if (!endpoints) return std::unexpected(endpoints.error());
  std::int64_t ttl = settings.discovery_ttl.count();
  if (const auto header = response->header("cache-control")) {
    if (const auto max_age = cache_control_max_age(*header)) {
      ttl = std::clamp(*max_age, kMinDiscoveryTtl, std::max(kMinDiscoveryTtl, ttl));
    }
  }
  endpoints->expires_at = now + ttl;
  return endpoints;
}

}  // namespace ckh
