#include "refresher/oauth2/device_login.h"

#include <algorithm>

#include "refresher/oauth/browser.h"
#include "shared/text.h"

namespace ckh {
namespace {

constexpr std::int64_t kSlowDownStep = 5;  // RFC 8628 §3.5
constexpr std::int64_t kMaxPollInterval = 60;
}  // namespace

Result<Oauth2TokenResponse> run_device_login(
    HttpTransport& transport, const Oauth2Settings& settings, const ClientAuthentication& client,
    std::string_view device_endpoint, std::string_view token_endpoint, const Clock& clock,
    const DeviceLoginOptions& options, std::string_view section) {
  FormFields form;
  if (!settings.scope.empty()) form.emplace_back("scope", settings.scope);
  for (const auto& audience : settings.audience) form.emplace_back("audience", audience);
  for (const auto& resource : settings.resource) form.emplace_back("resource", resource);
  auto request = token_form_request(settings, client, device_endpoint, form, clock.unix_seconds());
  if (!request) return std::unexpected(request.error());
  auto response = transport.send(*request);
  // The IdP may echo the client secret it decoded from Basic (the transport cannot know it).
  if (!response) {
    Error error = response.error();
    error.message = "device authorization: " + redact(error.message, client.secret);
    return std::unexpected(error);
  }
  if (response->status != 200) {
    Error error =
        classify_oauth2_failure(response->status, response->body, url_host(device_endpoint),
                                response->header("retry-after"), clock.unix_seconds(), section);
    error.message = "device authorization: " + redact(error.message, client.secret);
    return std::unexpected(error);
  }
  auto device = parse_device_authorization(response->body);
  if (!device) return std::unexpected(device.error());

  std::fprintf(options.out, "To sign in, open %s and enter the code: %s\n",
               device->verification_uri.c_str(), device->user_code.c_str());
  if (!device->verification_uri_complete.empty()) {
    std::fprintf(options.out, "Or open this link, which carries the code: %s\n",
                 device->verification_uri_complete.c_str());
  }
  const std::string& to_open = device->verification_uri_complete.empty()
                                   ? device->verification_uri
                                   : device->verification_uri_complete;
  if (options.open_browser && has_display() && open_in_browser(to_open)) {
    std::fprintf(options.out, "(opened in your browser)\n");
  }
  std::fprintf(options.out, "Waiting for the sign-in (code valid for %lld s)...\n",
               static_cast<long long>(device->expires_in));
  std::fflush(options.out);

  const auto started = clock.monotonic();
  const auto limit = std::min<std::chrono::milliseconds>(options.timeout,
                                                         std::chrono::seconds(device->expires_in));
  std::int64_t interval = device->interval;
  std::optional<Error> last_transient;
  for (;;) {
    clock.sleep_for(std::chrono::seconds(interval));
    if (clock.monotonic() - started > limit) {
      const bool timed_out = options.timeout < std::chrono::seconds(device->expires_in);
      Error error{ErrorClass::permanent,
                  timed_out ? "the sign-in was not completed within --timeout; run login again"
                            : "the sign-in was not completed in time (the code expired); run "
                              "login again"};
      if (last_transient) error.message += " (last problem: " + last_transient->message + ")";
      error.code = "expired_token";
      return std::unexpected(error);
    }
    auto tokens =
        request_tokens(transport, settings, client, token_endpoint,
                       {{"grant_type", kDeviceCodeGrant}, {"device_code", device->device_code}},
                       clock.unix_seconds(), section);
    if (tokens) return tokens;
    const Error& error = tokens.error();
    if (error.code == "authorization_pending") continue;
    if (error.code == "slow_down") {
      interval = std::min(interval + kSlowDownStep, kMaxPollInterval);
      continue;
    }
    if (error.code == "access_denied") {
      Error denied{ErrorClass::permanent, "the sign-in was denied at the identity provider"};
      denied.code = "access_denied";
      return std::unexpected(denied);
    }
    if (error.code == "expired_token") {
      Error expired{ErrorClass::permanent,
                    "the code expired before the sign-in was completed; run login again"};
      expired.code = "expired_token";
      return std::unexpected(expired);
    }
    if (error.kind == ErrorClass::transient) {
      last_transient = error;
      if (error.retry_after_s) {
        clock.sleep_for(std::chrono::seconds(std::min<std::int64_t>(*error.retry_after_s, 60)));
      }
      continue;
    }
    return std::unexpected(error);
  }
}

}  // namespace ckh
