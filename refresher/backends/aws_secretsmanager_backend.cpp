#include "refresher/backends/aws_secretsmanager_backend.h"

#include <fmt/format.h>

#include <simdjson.h>
#include <cctype>
#include <cstdlib>

#include "refresher/aws/sigv4.h"
#include "refresher/http/curl_transport.h"
#include "refresher/json_writer.h"
#include "shared/text.h"

namespace ckh {
namespace {

constexpr std::int64_t kRefreshBeforeExpiration = 300;  // SDKs: new IMDS keys appear 5 min early
constexpr std::size_t kMaxResponseBytes = 256 * 1024;   // SecretString is at most 64 KiB

// "https://host:port/path" -> "host:port" for the Host header (what curl sends).
std::string host_header(std::string_view url) {
  auto scheme = url.find("://");
  std::string_view rest = scheme == std::string_view::npos ? url : url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  if (url.starts_with("https://") && rest.ends_with(":443")) rest.remove_suffix(4);
  if (url.starts_with("http://") && rest.ends_with(":80")) rest.remove_suffix(3);
  return std::string(rest);
}

// A request AWS refused for its time: how far off our clock is, from the answer's Date.
std::string skew_note(const HttpResponse& response, std::int64_t now) {
  const auto date = response.header("date");
  if (!date) return "the local clock may be off; check NTP";
  struct tm parts {};
  if (::strptime(date->c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parts) == nullptr) {
    return "the local clock may be off; check NTP";
  }
  const std::int64_t server = static_cast<std::int64_t>(::timegm(&parts));
  // AWS allows about 5 minutes; a smaller offset is not what it refused.
  if ((now > server ? now - server : server - now) < 240) {
    return "the local clock may be off; check NTP";
  }
  return "the local clock is " +
         to_decimal(static_cast<std::int64_t>(now > server ? now - server : server - now)) + " s " +
         (now > server ? "ahead of" : "behind") + " AWS; fix the time (NTP)";
}

// The keys of a SecretString that is a JSON object, for the message that says which to set
// (at most 20, each cut to 64 bytes); none when it is not an object. Never a value.
std::optional<std::vector<std::string>> json_object_keys(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::object top;
  if (parser.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS ||
      doc.get(top) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  std::vector<std::string> keys;
  for (auto [name, value] : top) {
    if (keys.size() == 20) break;
    keys.push_back(one_line(name, 64));
  }
  return keys;
}

// The key to suggest: the first whose name says it holds a key or token, else the first.
std::string likely_key(const std::vector<std::string>& keys) {
  for (const auto& key : keys) {
    std::string lower;
    for (const char c : key)
      lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("key") != std::string::npos || lower.find("token") != std::string::npos)
      return key;
  }
  return keys.empty() ? std::string("...") : keys.front();
}

}  // namespace

std::string AwsSecretsManagerBackend::source_settings() const {
  const AwsSecretsManagerSettings& s = settings_;
  std::string out;
  append_setting(out, "secret_id", s.secret_id);
  append_setting(out, "key", s.key);
  append_setting(out, "version_stage", s.version_stage);
  append_setting(out, "version_id", s.version_id);
  append_setting(out, "region", s.region);
  append_setting(out, "aws_profile", s.aws_profile);
  append_setting(out, "endpoint", s.endpoint);
  return out;
}

SourceState AwsSecretsManagerBackend::source_state() const {
  SourceState state;
  auto read = [this](const char* name) {
    return env_ != nullptr ? env_(name) : std::optional<std::string>();
  };
  static constexpr const char* kVariables[] = {"AWS_ACCESS_KEY_ID",
                                               "AWS_SECRET_ACCESS_KEY",
                                               "AWS_SESSION_TOKEN",
                                               "AWS_PROFILE",
                                               "AWS_REGION",
                                               "AWS_DEFAULT_REGION",
                                               "AWS_ENDPOINT_URL",
                                               "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                                               "AWS_CONFIG_FILE",
                                               "AWS_SHARED_CREDENTIALS_FILE",
                                               "AWS_ROLE_ARN",
                                               "AWS_WEB_IDENTITY_TOKEN_FILE",
                                               "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                               "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                               "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                               "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                               "AWS_EC2_METADATA_DISABLED"};
  for (const char* name : kVariables) {
    state.env.emplace_back(name, read(name).value_or(std::string("\x01unset")));
  }
  // Where the credential chain reads files (aws_credentials.cpp: home_file).
  const auto home = read("HOME");
  auto file = [&](const char* variable, const char* below_home) {
    if (auto path = read(variable); path && !path->empty()) {
      state.files.push_back(path->starts_with("~/") && home ? *home + path->substr(1) : *path);
    } else if (below_home && home) {
      state.files.push_back(*home + below_home);
    }
  };
  file("AWS_SHARED_CREDENTIALS_FILE", "/.aws/credentials");
  file("AWS_CONFIG_FILE", "/.aws/config");
  file("AWS_WEB_IDENTITY_TOKEN_FILE", nullptr);
  file("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", nullptr);
  return state;
}

Result<ResolvedCredentials> AwsSecretsManagerBackend::credentials(std::int64_t now) {
  if (cached_ &&
      (!cached_->value.expiration || *cached_->value.expiration - now > kRefreshBeforeExpiration)) {
    return *cached_;
  }
  cached_.reset();
  auto resolved = resolve_aws_credentials(
      AwsChainInput{env_, *transport_, settings_.aws_profile, settings_.timeout});
  if (!resolved) return resolved;
  if (resolved->value.expiration) cached_ = *resolved;  // only temporary ones are worth it
  return resolved;
}

Result<FetchResult> AwsSecretsManagerBackend::fetch(const FetchContext& context) {
  const std::int64_t now = context.clock.unix_seconds();
  std::string region = settings_.region;
  if (region.empty()) region = env_nonempty(env_, "AWS_REGION").value_or("");
  if (region.empty()) region = env_nonempty(env_, "AWS_DEFAULT_REGION").value_or("");
  if (region.empty()) {
    region = aws_profile_region(env_, aws_profile_name(env_, settings_.aws_profile)).value_or("");
  }
  if (region.empty()) {
    return fail(ErrorClass::config,
                "no AWS region: set region in [profile." + profile_ +
                    ".aws-secretsmanager], AWS_REGION, or the profile's region");
  }
  std::string endpoint = settings_.endpoint;
  if (endpoint.empty())
    endpoint = env_nonempty(env_, "AWS_ENDPOINT_URL_SECRETS_MANAGER").value_or("");
  if (endpoint.empty()) endpoint = env_nonempty(env_, "AWS_ENDPOINT_URL").value_or("");
  if (endpoint.empty()) endpoint = "https://secretsmanager." + region + ".amazonaws.com";
  while (endpoint.ends_with("/")) endpoint.pop_back();

  auto creds = credentials(now);
  if (!creds) return std::unexpected(creds.error());

  Json get_secret_value = {{"SecretId", settings_.secret_id}};
  if (!settings_.version_id.empty()) get_secret_value["VersionId"] = settings_.version_id;
  if (!settings_.version_stage.empty()) {
    get_secret_value["VersionStage"] = settings_.version_stage;
  }
  std::string body = json_text(get_secret_value);
  SigV4Request to_sign;
  to_sign.method = "POST";
  // What is signed is the path actually sent: "/" or, behind a proxy endpoint, its path + "/".
  const auto scheme_end = endpoint.find("://");
  const auto path_start = endpoint.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  to_sign.path = (path_start == std::string::npos ? "" : endpoint.substr(path_start)) + "/";
  to_sign.headers = {{"Host", host_header(endpoint)},
                     {"Content-Type", "application/x-amz-json-1.1"},
                     {"X-Amz-Target", "secretsmanager.GetSecretValue"}};
  to_sign.body = body;
  SigV4Params params;
  params.region = region;
  params.service = "secretsmanager";
  params.amz_date = sigv4_amz_date(now);
  const SigV4Result signed_parts = sigv4_sign(to_sign, params, creds->value.credentials);

  HttpRequest request;
  request.method = "POST";
  request.url = endpoint + "/";
  request.headers = to_sign.headers;
  for (const auto& header : signed_parts.headers_to_add) request.headers.push_back(header);
  request.body = std::move(body);
  request.timeout = settings_.timeout;
  request.connect_timeout = std::min(settings_.timeout, std::chrono::milliseconds(10'000));
  request.max_response_bytes = kMaxResponseBytes;
  auto response = transport_->send(request);
  const std::string secret = "secret " + one_line(settings_.secret_id, 200) + " (" + region + ")";
  if (!response) {
    Error error = response.error();
    error.message = "Secrets Manager: " + error.message;
    return std::unexpected(error);
  }
  if (response->status != 200) {
    const AwsError error =
        parse_aws_error(response->body, response->header("x-amzn-errortype").value_or(""));
    const std::string said = error.type.empty()
                                 ? "HTTP " + to_decimal(static_cast<std::int64_t>(response->status))
                                 : error.type + (error.message.empty() ? "" : ": " + error.message);
    // The advice first and AWS's own words cut short: status keeps 300 bytes.
    auto permanent = [&](std::string advice) {
      return fail(ErrorClass::permanent, "Secrets Manager refused " + secret + ": " + advice +
                                             " (" + one_line(said, 120) + ")");
    };
    // Only a refusal that names the time: a plain SignatureDoesNotMatch is a wrong key.
    const bool time_refused = error.type == "RequestExpired" ||
                              error.message.find("Signature expired") != std::string::npos ||
                              error.message.find("not yet current") != std::string::npos;
    if (time_refused) {
      return fail(ErrorClass::transient, "Secrets Manager refused the request's time (" + said +
                                             "): clock skew: " + skew_note(*response, now));
    }
    if (error.type == "ResourceNotFoundException") {
      return permanent("check secret_id and region");
    }
    if (error.type == "AccessDeniedException") {
      return permanent("the IAM policy of " + creds->source +
                       " needs secretsmanager:GetSecretValue on it (and kms:Decrypt when it uses "
                       "a customer-managed KMS key)");
    }
    if (error.type == "DecryptionFailure") {
      return permanent("the caller needs kms:Decrypt on the secret's KMS key");
    }
    if (error.type == "InvalidParameterException" || error.type == "InvalidRequestException") {
      return permanent("check secret_id, version_id and version_stage");
    }
    if (error.type == "UnrecognizedClientException" || error.type == "InvalidClientTokenId" ||
        error.type == "InvalidSignatureException" || error.type == "IncompleteSignature" ||
        error.type == "SignatureDoesNotMatch") {
      cached_.reset();
      return permanent("the credentials from " + creds->source + " are not accepted");
    }
    if (error.type == "ExpiredTokenException") {
      cached_.reset();
      return fail(ErrorClass::transient, "Secrets Manager: the temporary credentials from " +
                                             creds->source + " expired (" + said +
                                             "); renewing them");
    }
    const bool transient =
        response->status >= 500 || response->status == 429 || error.type == "ThrottlingException" ||
        error.type == "Throttling" || error.type == "RequestLimitExceeded" ||
        error.type == "InternalServiceError" || error.type == "ServiceUnavailable";
    return fail(transient ? ErrorClass::transient : ErrorClass::permanent,
                "Secrets Manager answered " +
                    to_decimal(static_cast<std::int64_t>(response->status)) + " for " + secret +
                    " (" + said + ")");
  }
  auto value = parse_get_secret_value(response->body);
  if (!value) return std::unexpected(value.error());
  if (!value->secret_string) {
    return fail(ErrorClass::permanent, secret +
                                           " holds SecretBinary; store the key as "
                                           "SecretString (plain, or JSON with key = \"...\")");
  }
  std::string credential = *value->secret_string;
  if (!settings_.key.empty()) {
    auto picked = secret_json_key(credential, settings_.key);
    if (!picked) {
      Error error = picked.error();
      error.message = secret + ": " + error.message;
      return std::unexpected(error);
    }
    credential = *picked;
  } else {
    credential = std::string(trim(credential));
    // A JSON object is several values, not a key: publishing it whole would send it as
    // the API key. Which value is the key is not guessed: the keys are named instead.
    if (auto keys = json_object_keys(credential)) {
      std::string listed;
      for (const auto& key : *keys) listed += (listed.empty() ? "" : ", ") + key;
      return fail(ErrorClass::permanent, secret + ": SecretString is a JSON object with keys " +
                                             (listed.empty() ? std::string("(none)") : listed) +
                                             "; set key = \"" + likely_key(*keys) +
                                             "\" in [profile." + profile_ + ".aws-secretsmanager]");
    }
  }
  FetchResult result;
  result.credential = std::move(credential);
  result.expires_at = now + settings_.ttl.count();
  result.source = "aws-secretsmanager " +
                  one_line(value->name.empty() ? settings_.secret_id : value->name, 120) +
                  (settings_.key.empty() ? "" : "#" + one_line(settings_.key, 64)) + " via " +
                  creds->source;
  return result;
}

std::unique_ptr<Backend> make_aws_secretsmanager_backend(ConfigSection& section,
                                                         const BackendContext& context) {
  AwsSecretsManagerSettings settings;
  bool ok = true;
  auto optional_string = [&](std::string_view key, std::string_view expected, std::string& into) {
    if (auto value = section.get_string(key, expected)) {
      into = *value;
    } else if (section.has(key)) {
      ok = false;
    }
  };
  optional_string("secret_id", "the secret's name or ARN", settings.secret_id);
  if (settings.secret_id.empty()) {
    if (!section.has("secret_id")) {
      section.problem("missing 'secret_id'; expected secret_id = \"name-or-arn\"");
    } else {
      section.problem_at("secret_id", "expected a non-empty name or ARN");
    }
    ok = false;
  } else if (settings.secret_id.size() > 2048) {
    section.problem_at("secret_id", "expected at most 2048 characters");
    ok = false;
  }
  optional_string("key", "a key of the SecretString's JSON object", settings.key);
  optional_string("version_stage", "a staging label such as \"AWSCURRENT\"",
                  settings.version_stage);
  optional_string("version_id", "a version id", settings.version_id);
  if (!settings.version_stage.empty() && !settings.version_id.empty()) {
    section.problem_at("version_id", "set version_id or version_stage, not both");
    ok = false;
  }
  optional_string("region", "an AWS region such as \"eu-west-1\"", settings.region);
  optional_string("aws_profile", "a profile of ~/.aws/config", settings.aws_profile);
  optional_string("endpoint", "an https:// URL", settings.endpoint);
  if (!settings.endpoint.empty() && !settings.endpoint.starts_with("https://") &&
      !settings.endpoint.starts_with("http://127.0.0.1") &&
      !settings.endpoint.starts_with("http://localhost")) {
    section.problem_at("endpoint",
                       "expected an https:// URL (http:// only to 127.0.0.1 or localhost)");
    ok = false;
  }
  ok &= section.take_duration_seconds("ttl", std::chrono::seconds(10),
                                      std::chrono::seconds(90LL * 24 * 3600), settings.ttl);
  ok &= section.take_duration("timeout", std::chrono::milliseconds(1000),
                              std::chrono::milliseconds(300'000), settings.timeout);
  if (!ok) return nullptr;
  return std::make_unique<AwsSecretsManagerBackend>(std::move(settings),
                                                    std::make_shared<CurlTransport>(),
                                                    std::string(context.profile), context.env);
}

}  // namespace ckh
