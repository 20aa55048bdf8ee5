#include "refresher/oauth/token_client.h"

#include "refresher/json_writer.h"
#include "shared/text.h"

namespace ckh {
namespace {

constexpr std::size_t kMaxTokenResponseBytes = 64 * 1024;

Result<TokenGrant> post_token_request(HttpTransport& transport,
                                      const AnthropicOAuthSettings& settings, std::string body,
                                      std::initializer_list<std::string_view> secrets,
                                      std::int64_t now, std::string* salvaged) {
  HttpRequest request;
  request.method = "POST";
  request.url = settings.token_url;
  request.headers = {{"Content-Type", "application/json"},
                     {"Accept", "application/json, text/plain, */*"},
                     {"User-Agent", settings.user_agent}};
  request.body = std::move(body);
  request.timeout = settings.timeout;
  request.connect_timeout = std::min(settings.timeout, std::chrono::milliseconds(10'000));
  request.max_response_bytes = kMaxTokenResponseBytes;
  auto response = transport.send(request);
  auto scrub = [&](Error error) {
    for (const auto secret : secrets) error.message = redact(error.message, secret);
    return error;
  };
  if (!response) return std::unexpected(scrub(response.error()));
  if (response->status == 200) {
    auto grant = parse_token_grant(response->body);
    if (!grant) {
      if (salvaged != nullptr) {
        if (auto rotated = salvage_refresh_token(response->body)) *salvaged = *rotated;
      }
      return std::unexpected(scrub(grant.error()));
    }
    return grant;
  }
  return std::unexpected(
      scrub(classify_token_failure(response->status, response->body, url_host(settings.token_url),
                                   response->header("retry-after"), now)));
}

}  // namespace

std::string code_grant_body(const AnthropicOAuthSettings& settings, const CodeExchange& exchange) {
  Json body = {{"grant_type", "authorization_code"},    {"code", exchange.code},
               {"redirect_uri", exchange.redirect_uri}, {"client_id", settings.client_id},
               {"code_verifier", exchange.verifier},    {"state", exchange.state}};
  if (exchange.expires_in) body["expires_in"] = *exchange.expires_in;
  return json_text(body);
}

std::string refresh_grant_body(const AnthropicOAuthSettings& settings,
                               std::string_view refresh_token) {
  return json_text({{"grant_type", "refresh_token"},
                    {"refresh_token", refresh_token},
                    {"client_id", settings.client_id}});
}

Result<TokenGrant> exchange_code(HttpTransport& transport, const AnthropicOAuthSettings& settings,
                                 const CodeExchange& exchange, std::int64_t now) {
  return post_token_request(transport, settings, code_grant_body(settings, exchange),
                            {exchange.code, exchange.verifier, exchange.state}, now, nullptr);
}

Result<TokenGrant> refresh_tokens(HttpTransport& transport, const AnthropicOAuthSettings& settings,
                                  std::string_view refresh_token, std::int64_t now,
                                  std::string* salvaged) {
  return post_token_request(transport, settings, refresh_grant_body(settings, refresh_token),
                            {refresh_token}, now, salvaged);
}

}  // namespace ckh
