#include "refresher/aws/aws_credentials.h"

#include <unistd.h>

#include "refresher/aws/aws_ini.h"
#include "refresher/child_env.h"
#include "refresher/child_process.h"
#include "refresher/config_probe.h"
#include "refresher/file_trust.h"
#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {
namespace {

constexpr std::size_t kMaxFileBytes = 1024 * 1024;
constexpr std::size_t kMaxAnswerBytes = 64 * 1024;

std::string home_file(EnvLookup env, const char* override_name, const char* default_rel) {
  if (auto path = env_nonempty(env, override_name)) {
    if (path->starts_with("~/")) {
      if (auto home = env_nonempty(env, "HOME")) return *home + path->substr(1);
    }
    return *path;
  }
  auto home = env_nonempty(env, "HOME");
  return home ? *home + default_rel : std::string();
}

// A missing file is an empty one. Whoever can write it chooses the credential_process this
// process runs (and the keys it signs with): refused when others can.
Result<AwsIni> read_ini(const std::string& path, std::string_view what) {
  if (path.empty()) return AwsIni{};
  if (auto trusted = check_not_writable_by_others(path, what); !trusted) {
    return std::unexpected(trusted.error());
  }
  auto text = read_regular_file(path, kMaxFileBytes);
  if (!text) {
    if (text.error().kind == ErrorClass::not_found) return AwsIni{};
    return std::unexpected(text.error());
  }
  return parse_aws_ini(*text);
}

std::optional<TemporaryCredentials> static_keys(const std::map<std::string, std::string>& section) {
  const auto key = section.find("aws_access_key_id");
  const auto secret = section.find("aws_secret_access_key");
  if (key == section.end() || secret == section.end() || key->second.empty() ||
      secret->second.empty()) {
    return std::nullopt;
  }
  TemporaryCredentials out;
  out.credentials.access_key_id = key->second;
  out.credentials.secret_access_key = secret->second;
  if (auto token = section.find("aws_session_token"); token != section.end()) {
    out.credentials.session_token = token->second;
  }
  return out;
}

Result<TemporaryCredentials> run_credential_process(const std::string& command,
                                                    const AwsChainInput& input,
                                                    const std::string& profile) {
  auto argv = split_command_line(command);
  if (!argv || argv->empty()) {
    return fail(ErrorClass::config,
                "credential_process of profile " + profile + " has unbalanced quotes");
  }
  const char* path = std::getenv("PATH");
  auto executable = find_executable((*argv)[0], path != nullptr ? path : "/usr/bin:/bin");
  if (!executable) {
    return fail(ErrorClass::config,
                "credential_process of profile " + profile + ": " + executable.error().message);
  }
  ChildSpec spec;
  spec.executable = *executable;
  spec.argv = *argv;
  // The AWS credential source itself: it keeps the AWS variables, loses every other secret.
  spec.environment = child_environment(ChildRole::aws_credential_source);
  spec.timeout = std::max(input.timeout, std::chrono::milliseconds(30'000));
  spec.stdout_limit = kMaxAnswerBytes;
  auto outcome = run_child(spec);
  if (!outcome) return std::unexpected(outcome.error());
  if (outcome->end != ChildEnd::exited || outcome->exit_code != 0) {
    return fail(ErrorClass::transient,
                "credential_process of profile " + profile + " failed (" +
                    (outcome->end == ChildEnd::timed_out
                         ? std::string("timed out")
                         : "exit " + to_decimal(static_cast<std::int64_t>(outcome->exit_code))) +
                    "); run it by hand to see why");
  }
  auto parsed = parse_credentials_json(outcome->out, true);
  if (!parsed) {
    Error error = parsed.error();
    error.message = "credential_process of profile " + profile + ": " + error.message;
    return std::unexpected(error);
  }
  return parsed;
}

Result<ResolvedCredentials> from_shared_files(const AwsChainInput& input,
                                              const std::string& profile, bool explicit_profile,
                                              bool& found) {
  found = false;
  const std::string credentials_path =
      home_file(input.env, "AWS_SHARED_CREDENTIALS_FILE", "/.aws/credentials");
  const std::string config_path = home_file(input.env, "AWS_CONFIG_FILE", "/.aws/config");
  auto credentials = read_ini(credentials_path, "AWS credentials file");
  if (!credentials) return std::unexpected(credentials.error());
  auto config = read_ini(config_path, "AWS config file");
  if (!config) return std::unexpected(config.error());
  const auto* in_credentials = credentials->credentials_profile(profile);
  const auto* in_config = config->config_profile(profile);
  if (in_credentials == nullptr && in_config == nullptr) {
    if (explicit_profile) {
      return fail(ErrorClass::config, "AWS profile " + profile + " is in neither " +
                                          credentials_path + " nor " + config_path);
    }
    return ResolvedCredentials{};
  }
  found = true;
  if (in_credentials != nullptr) {
    if (auto keys = static_keys(*in_credentials)) {
      return ResolvedCredentials{*keys, "profile " + profile + " (" + credentials_path + ")"};
    }
  }
  if (in_config != nullptr) {
    if (auto keys = static_keys(*in_config)) {
      return ResolvedCredentials{*keys, "profile " + profile + " (" + config_path + ")"};
    }
    if (auto process = in_config->find("credential_process"); process != in_config->end()) {
      auto ran = run_credential_process(process->second, input, profile);
      if (!ran) return std::unexpected(ran.error());
      return ResolvedCredentials{*ran, "profile " + profile + " (credential_process)"};
    }
    for (const char* unsupported :
         {"role_arn", "sso_session", "sso_start_url", "web_identity_token_file"}) {
      if (in_config->contains(unsupported)) {
        return fail(ErrorClass::config,
                    "AWS profile " + profile + " uses " + unsupported +
                        ", which this tool does not support; use credential_process (e.g. "
                        "`aws configure export-credentials --profile " +
                        profile + " --format process`)");
      }
    }
  }
  if (explicit_profile) {
    return fail(ErrorClass::config, "AWS profile " + profile + " has no credentials");
  }
  found = false;
  return ResolvedCredentials{};
}

// AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (EKS IRSA) come after the shared files in the
// SDKs' chain. This tool does not call STS AssumeRoleWithWebIdentity: they are refused by
// name rather than skipped, so that the node's instance role never stands in for the pod's.
std::optional<std::string> web_identity_refusal(EnvLookup env) {
  if (!env_nonempty(env, "AWS_ROLE_ARN") || !env_nonempty(env, "AWS_WEB_IDENTITY_TOKEN_FILE")) {
    return std::nullopt;
  }
  // Short enough to reach P.status (300 bytes) whole, with the backend's prefix.
  return "AWS web identity (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, EKS IRSA) is not "
         "supported; use EKS Pod Identity, a profile with credential_process, or "
         "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY";
}

bool container_host_allowed(std::string_view url) {
  if (url.starts_with("https://")) return true;
  if (!url.starts_with("http://")) return false;
  const std::string host = url_host(url);
  return host == "localhost" || host.starts_with("127.") || host == "[::1]" ||
         host == "169.254.170.2" || host == "169.254.170.23" || host == "[fd00:ec2::23]";
}

Result<ResolvedCredentials> from_container(const AwsChainInput& input, bool& configured) {
  const auto relative = env_nonempty(input.env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  const auto full = env_nonempty(input.env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
  configured = relative || full;
  if (!configured) return ResolvedCredentials{};
  const std::string url = relative ? "http://169.254.170.2" + *relative : *full;
  if (!relative && !container_host_allowed(url)) {
    return fail(ErrorClass::config, "AWS_CONTAINER_CREDENTIALS_FULL_URI names host " +
                                        url_host(url) +
                                        ", which is not allowed (https, or http to loopback or "
                                        "the ECS/EKS agent addresses)");
  }
  HttpRequest request;
  request.url = url;
  request.timeout = std::min(input.timeout, std::chrono::milliseconds(5'000));
  request.connect_timeout = std::chrono::milliseconds(2'000);
  request.max_response_bytes = kMaxAnswerBytes;
  if (auto file = env_nonempty(input.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
    auto token = read_regular_file(*file, kMaxAnswerBytes);
    if (!token) {
      return fail(ErrorClass::config,
                  "cannot read the container authorization token: " + token.error().message);
    }
    request.headers.emplace_back("Authorization", std::string(trim(*token)));
  } else if (auto token = env_nonempty(input.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
    request.headers.emplace_back("Authorization", *token);
  }
  auto response = input.transport.send(request);
  if (!response) {
    Error error = response.error();
    error.message = "container credentials endpoint: " + error.message;
    return std::unexpected(error);
  }
  if (response->status != 200) {
    const bool transient = response->status >= 500 || response->status == 429;
    return fail(transient ? ErrorClass::transient : ErrorClass::permanent,
                "container credentials endpoint " + url_host(url) + " answered " +
                    to_decimal(static_cast<std::int64_t>(response->status)) +
                    (response->status == 401 || response->status == 403
                         ? "; check AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)"
                         : ""));
  }
  auto parsed = parse_credentials_json(response->body, false);
  if (!parsed) return std::unexpected(parsed.error());
  return ResolvedCredentials{*parsed, "container credentials (" + url_host(url) + ")"};
}

Result<ResolvedCredentials> from_imds(const AwsChainInput& input) {
  std::string endpoint = env_nonempty(input.env, "AWS_EC2_METADATA_SERVICE_ENDPOINT")
                             .value_or("http://169.254.169.254");
  while (endpoint.ends_with("/")) endpoint.pop_back();
  auto call = [&](std::string method, std::string path,
                  std::vector<std::pair<std::string, std::string>> headers) {
    HttpRequest request;
    request.method = std::move(method);
    request.url = endpoint + path;
    request.headers = std::move(headers);
    request.timeout = std::chrono::milliseconds(3'000);
    request.connect_timeout = std::chrono::milliseconds(1'000);
    request.max_response_bytes = kMaxAnswerBytes;
    Result<HttpResponse> response = input.transport.send(request);
    // IMDS answers 5xx while it is busy: the SDKs retry; one retry here.
    if (response && response->status >= 500) response = input.transport.send(request);
    return response;
  };
  const std::string not_found =
      "no AWS credentials found (environment, profile, container, EC2 instance metadata); set "
      "AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for the refresher";
  auto token =
      call("PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}});
  if (!token)
    return fail(ErrorClass::config,
                not_found + " (instance metadata: " + token.error().message + ")");
  if (token->status != 200 || trim(token->body).empty()) {
    const bool transient = token->status >= 500 || token->status == 429;
    return fail(transient ? ErrorClass::transient : ErrorClass::config,
                "EC2 instance metadata refused a session token (HTTP " +
                    to_decimal(static_cast<std::int64_t>(token->status)) +
                    "); IMDSv2 must be enabled, or set AWS_EC2_METADATA_DISABLED=true");
  }
  const std::string session(trim(token->body));
  auto role = call("GET", "/latest/meta-data/iam/security-credentials/",
                   {{"X-aws-ec2-metadata-token", session}});
  if (!role) return std::unexpected(role.error());
  if (role->status == 404) {
    return fail(ErrorClass::config, "this EC2 instance has no IAM role (instance metadata 404)");
  }
  if (role->status != 200) {
    return fail(ErrorClass::transient, "EC2 instance metadata answered " +
                                           to_decimal(static_cast<std::int64_t>(role->status)) +
                                           " for the role name");
  }
  std::string name(trim(std::string_view(role->body).substr(0, role->body.find('\n'))));
  if (name.empty() || name.find('/') != std::string::npos || !is_printable_token(name)) {
    return fail(ErrorClass::transient, "EC2 instance metadata gave no usable role name");
  }
  auto credentials = call("GET", "/latest/meta-data/iam/security-credentials/" + name,
                          {{"X-aws-ec2-metadata-token", session}});
  if (!credentials) return std::unexpected(credentials.error());
  if (credentials->status != 200) {
    return fail(ErrorClass::transient,
                "EC2 instance metadata answered " +
                    to_decimal(static_cast<std::int64_t>(credentials->status)) +
                    " for the role's credentials");
  }
  auto parsed = parse_credentials_json(credentials->body, false);
  if (!parsed) return std::unexpected(parsed.error());
  return ResolvedCredentials{*parsed, "EC2 instance role " + one_line(name, 64)};
}

}  // namespace

std::string aws_profile_name(EnvLookup env, const std::string& configured) {
  if (!configured.empty()) return configured;
  return env_nonempty(env, "AWS_PROFILE").value_or("default");
}

std::optional<std::string> aws_profile_region(EnvLookup env, const std::string& profile) {
  auto config = read_ini(home_file(env, "AWS_CONFIG_FILE", "/.aws/config"), "AWS config file");
  if (!config) return std::nullopt;
  const auto* section = config->config_profile(profile);
  if (section == nullptr) return std::nullopt;
  auto region = section->find("region");
  if (region == section->end() || region->second.empty()) return std::nullopt;
  return region->second;
}

std::optional<std::vector<std::string>> split_command_line(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (quote == '"' && c == '\\' && i + 1 < line.size()) {
        word += line[++i];
      } else {
        word += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else if (c == '\\' && i + 1 < line.size()) {
      word += line[++i];
      in_word = true;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != 0) return std::nullopt;
  if (in_word) words.push_back(std::move(word));
  return words;
}

Result<ResolvedCredentials> resolve_aws_credentials(const AwsChainInput& input) {
  const auto key = env_nonempty(input.env, "AWS_ACCESS_KEY_ID");
  const auto secret = env_nonempty(input.env, "AWS_SECRET_ACCESS_KEY");
  if (key && secret) {
    TemporaryCredentials value;
    value.credentials.access_key_id = *key;
    value.credentials.secret_access_key = *secret;
    value.credentials.session_token = env_nonempty(input.env, "AWS_SESSION_TOKEN").value_or("");
    return ResolvedCredentials{value, "environment"};
  }
  if (key || secret) {
    return fail(ErrorClass::config,
                std::string(key ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY") + " is set but " +
                    (key ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID") + " is not");
  }
  const bool explicit_profile = !input.profile.empty() || env_nonempty(input.env, "AWS_PROFILE");
  const std::string profile = aws_profile_name(input.env, input.profile);
  bool found = false;
  auto shared = from_shared_files(input, profile, explicit_profile, found);
  if (!shared || found) return shared;
  if (auto refusal = web_identity_refusal(input.env)) return fail(ErrorClass::config, *refusal);
  bool container = false;
  auto from_agent = from_container(input, container);
  if (!from_agent || container) return from_agent;
  if (auto disabled = env_nonempty(input.env, "AWS_EC2_METADATA_DISABLED");
      disabled && (*disabled == "true" || *disabled == "TRUE" || *disabled == "True")) {
    return fail(ErrorClass::config,
                "no AWS credentials found (environment, profile " + profile +
                    ", container; instance metadata is disabled by AWS_EC2_METADATA_DISABLED)");
  }
  return from_imds(input);
}

void probe_aws_credentials(Prober& prober, EnvLookup env, const std::string& configured_profile) {
  const auto key = env_nonempty(env, "AWS_ACCESS_KEY_ID");
  const auto secret = env_nonempty(env, "AWS_SECRET_ACCESS_KEY");
  if (key && secret) return;
  if (key || secret) {
    prober.problem(std::string(key ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY") +
                   " is set but " + (key ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID") +
                   " is not");
    return;
  }
  const bool explicit_profile =
      !configured_profile.empty() || env_nonempty(env, "AWS_PROFILE").has_value();
  const std::string profile = aws_profile_name(env, configured_profile);
  const std::string credentials_path =
      home_file(env, "AWS_SHARED_CREDENTIALS_FILE", "/.aws/credentials");
  const std::string config_path = home_file(env, "AWS_CONFIG_FILE", "/.aws/config");
  bool in_files = false;
  for (const auto& [path, what] : {std::pair{credentials_path, "AWS credentials file"},
                                   std::pair{config_path, "AWS config file"}}) {
    if (path.empty() || ::access(path.c_str(), F_OK) != 0) continue;
    if (!prober.file(what, path, false)) continue;
    auto ini = read_ini(path, what);
    if (!ini) {
      prober.problem(ini.error().message);
      continue;
    }
    const bool is_credentials = path == credentials_path;
    if ((is_credentials ? ini->credentials_profile(profile) : ini->config_profile(profile)) !=
        nullptr) {
      in_files = true;
    }
  }
  if (in_files) return;
  if (explicit_profile) {
    prober.problem("AWS profile " + profile + " is in neither " + credentials_path + " nor " +
                   config_path);
    return;
  }
  if (auto refusal = web_identity_refusal(env)) {
    prober.problem(*refusal);
    return;
  }
  const auto full = env_nonempty(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if (full && !env_nonempty(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") &&
      !container_host_allowed(*full)) {
    prober.problem("AWS_CONTAINER_CREDENTIALS_FULL_URI names host " + url_host(*full) +
                   ", which is not allowed (https, or http to loopback or the ECS/EKS agent "
                   "addresses)");
  }
  if (auto file = env_nonempty(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
    prober.file("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", *file, false);
  }
}

}  // namespace ckh
