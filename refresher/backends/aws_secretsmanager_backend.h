// The `aws-secretsmanager` backend: GetSecretValue (awsJson1_1, SigV4) with the standard AWS
// credential chain (aws/aws_credentials.h).
//   [profile.P]
//   backend = "aws-secretsmanager"
//   [profile.P.aws-secretsmanager]
//   secret_id = "prod/claude"        # required: name or ARN
//   key = "api_key"                  # optional: take this key of a JSON SecretString
//   version_stage = "AWSCURRENT"     # or version_id = "..." (not both)
//   region = "eu-west-1"             # default: AWS_REGION, AWS_DEFAULT_REGION, the profile's
//   aws_profile = "work"             # default: AWS_PROFILE, else "default"
//   endpoint = "https://..."         # default: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL,
//                                    #   else https://secretsmanager.<region>.amazonaws.com
//   ttl = "1h"                       # lifetime of what it publishes (default 1h)
//   timeout = "30s"
// Guarantees (fetch): temporary credentials are cached in memory until 5 minutes before
// their Expiration; SecretString is used whole or through `key`; without `key`, a
// SecretString that is a JSON object is refused (permanent) with the list of its keys and
// the `key = "..."` to set, never a value; SecretBinary is refused;
// not found, access denied and decryption failure are permanent with a clear message;
// throttling and 5xx are transient; a request refused for its time is reported as clock
// skew with the measured offset; no key, token or secret value in any message.
// Callers: registry.cpp, tests with a fake HttpTransport.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "refresher/aws/aws_credentials.h"
#include "refresher/backend.h"
#include "refresher/backends/registry.h"
#include "refresher/http/transport.h"

namespace ckh {

struct AwsSecretsManagerSettings {
  std::string secret_id;
  std::string key;
  std::string version_stage;
  std::string version_id;
  std::string region;
  std::string aws_profile;
  std::string endpoint;
  std::chrono::seconds ttl{3600};
  std::chrono::milliseconds timeout{30'000};
};

class AwsSecretsManagerBackend final : public Backend {
 public:
  AwsSecretsManagerBackend(AwsSecretsManagerSettings settings,
                           std::shared_ptr<HttpTransport> transport, std::string profile,
                           EnvLookup env)
      : settings_(std::move(settings)),
        transport_(std::move(transport)),
        profile_(std::move(profile)),
        env_(env) {}

  const char* name() const override { return "aws-secretsmanager"; }
  std::optional<std::chrono::seconds> expected_lifetime() const override { return settings_.ttl; }
  Result<FetchResult> fetch(const FetchContext& context) override;
  std::vector<std::string> secret_env_names() const override {
    return {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN"};
  }
  // secret_id, key, version, region, aws_profile, endpoint.
  std::string source_settings() const override;
  // The shared config and credentials files, token files, and the AWS_* variables the
  // credential chain and the region read.
  SourceState source_state() const override;
  void probe(Prober& prober) const override;  // backend_probes.cpp
  const AwsSecretsManagerSettings& settings() const { return settings_; }

 private:
  Result<ResolvedCredentials> credentials(std::int64_t now);

  AwsSecretsManagerSettings settings_;
  std::shared_ptr<HttpTransport> transport_;
  std::string profile_;
  EnvLookup env_;
  std::optional<ResolvedCredentials> cached_;
};

std::unique_ptr<Backend> make_aws_secretsmanager_backend(ConfigSection& section,
                                                         const BackendContext& context);

}  // namespace ckh
