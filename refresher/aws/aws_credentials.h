// The standard AWS credential chain, in the AWS SDKs' order (docs: "Standardized credential
// providers" of the AWS SDKs and Tools Reference Guide; fixtures in tests/fakes/aws_fixtures/):
//   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
//   2. the shared files for the profile (configured aws_profile, else AWS_PROFILE, else
//      "default"): static keys in AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) or
//      AWS_CONFIG_FILE (~/.aws/config), or that profile's credential_process (run without a
//      shell, bounded; its JSON must say "Version": 1);
//   (web identity, AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE as EKS IRSA sets them, would
//   come here: it is not supported and refused by name, never skipped;)
//   3. container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on 169.254.170.2) or
//      _FULL_URI (https, or http only to loopback / 169.254.170.2 / 169.254.170.23 /
//      fd00:ec2::23), Authorization from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or _TOKEN;
//   4. IMDSv2 (PUT token, role, credentials) unless AWS_EC2_METADATA_DISABLED=true; endpoint
//      AWS_EC2_METADATA_SERVICE_ENDPOINT, default http://169.254.169.254.
// The shared files are refused when others can write or own them (file_trust.h): their
// credential_process runs as the user. credential_process runs with child_env.h's
// environment for the AWS credential source (AWS_* kept, every other secret dropped).
// Guarantees: the first source that is configured decides (a broken one is an error, not a
// silent fall-through); messages name the source, never a key; nothing is cached here (the
// backend caches temporary credentials until shortly before Expiration).
// Callers: backends/aws_secretsmanager_backend.cpp.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "refresher/aws/aws_responses.h"
#include "refresher/env_lookup.h"
#include "refresher/http/transport.h"

namespace ckh {

class Prober;  // config_probe.h

struct AwsChainInput {
  EnvLookup env;
  HttpTransport& transport;
  std::string profile;  // empty: AWS_PROFILE, else "default"
  std::chrono::milliseconds timeout{10'000};
};

struct ResolvedCredentials {
  TemporaryCredentials value;
  std::string source;  // "environment", "profile work (credentials file)", "IMDSv2 role r", ...
};

Result<ResolvedCredentials> resolve_aws_credentials(const AwsChainInput& input);

// check-config --probe: the local part of the chain, without a request and without running
// credential_process: the environment pair, the shared files (trust, the named profile), web
// identity, the container settings and token file. IMDS cannot be checked without asking it.
void probe_aws_credentials(Prober& prober, EnvLookup env, const std::string& configured_profile);

// The profile the shared files are read for, and its region (config file), if any.
std::string aws_profile_name(EnvLookup env, const std::string& configured);
std::optional<std::string> aws_profile_region(EnvLookup env, const std::string& profile);

// credential_process's command line split like the SDKs do it, without a shell: words
// separated by spaces, "double" and 'single' quotes group, backslash escapes in double
// quotes. None when the quoting is unbalanced.
std::optional<std::vector<std::string>> split_command_line(std::string_view line);

}  // namespace ckh
