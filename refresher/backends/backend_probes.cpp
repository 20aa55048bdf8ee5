// Each backend's Backend::probe (backend.h) for `check-config --probe` (config_probe.h): what
// its configuration relies on, named to the prober, which checks it. Kept together because
// they share the prober's vocabulary and none of them fetches: no request carries a secret,
// no command is run.
#include <unistd.h>

#include "refresher/aws/aws_credentials.h"
#include "refresher/backends/anthropic_oauth_backend.h"
#include "refresher/backends/aws_secretsmanager_backend.h"
#include "refresher/backends/command_backend.h"
#include "refresher/backends/oauth2_backend.h"
#include "refresher/backends/static_backend.h"
#include "refresher/backends/vault_backend.h"
#include "refresher/config_probe.h"
#include "refresher/oauth2/discovery.h"

namespace ckh {

void StaticBackend::probe(Prober& prober) const {
  // Reading the key is local and is the exact check (mode, owner, link, empty, printable);
  // its messages never quote the key.
  auto fetched = variable_.empty() ? fetch_file() : fetch_env();
  if (!fetched) prober.problem(fetched.error().message);
}

void CommandBackend::probe(Prober& prober) const {
  // Only where argv[0] is found: running it may ask a person (op, gcloud) or cost something.
  prober.executable("command argv[0]", settings_.argv.front());
}

void VaultBackend::probe(Prober& prober) const {
  const VaultSettings& s = settings_;
  // An unusable CA file fails every request: the endpoint is not tried with it (libcurl
  // would be handed a FIFO or a directory). With verification off it is not used at all.
  const bool ca_usable = s.tls.ca_file.empty() || s.tls.insecure_skip_verify ||
                         prober.file("Vault ca_cert", s.tls.ca_file, false);
  if (s.auth == "approle") {
    prober.file("Vault role_id_file", s.role_id_file, false);
    prober.file("Vault secret_id_file", s.secret_id_file, true);
  } else if (s.auth == "kubernetes") {
    prober.file("Vault kubernetes_jwt_file", s.kubernetes_jwt_file, false);
  } else if (!s.token_file.empty()) {
    prober.file("Vault token_file", s.token_file, true);
  } else if (!env_nonempty(env_, "VAULT_TOKEN")) {
    // As fetch looks: VAULT_TOKEN, else ~/.vault-token (what `vault login` writes).
    const auto home = env_nonempty(env_, "HOME");
    const std::string file = home ? *home + "/.vault-token" : std::string();
    if (file.empty() || ::access(file.c_str(), F_OK) != 0) {
      prober.problem(
          "no Vault token: set token_file or VAULT_TOKEN, or run `vault login` (it writes "
          "~/.vault-token)");
    } else {
      prober.file("Vault token (~/.vault-token)", file, true);
    }
  }
  if (ca_usable) prober.endpoint("Vault address", s.address, s.tls);
}

void AwsSecretsManagerBackend::probe(Prober& prober) const {
  const EnvLookup env = env_;
  probe_aws_credentials(prober, env, settings_.aws_profile);
  // The region and endpoint as fetch works them out.
  std::string region = settings_.region;
  if (region.empty()) region = env_nonempty(env, "AWS_REGION").value_or("");
  if (region.empty()) region = env_nonempty(env, "AWS_DEFAULT_REGION").value_or("");
  if (region.empty()) {
    region = aws_profile_region(env, aws_profile_name(env, settings_.aws_profile)).value_or("");
  }
  std::string endpoint = settings_.endpoint;
  if (endpoint.empty())
    endpoint = env_nonempty(env, "AWS_ENDPOINT_URL_SECRETS_MANAGER").value_or("");
  if (endpoint.empty()) endpoint = env_nonempty(env, "AWS_ENDPOINT_URL").value_or("");
  if (endpoint.empty() && region.empty()) {
    prober.problem("no AWS region: set region in [profile." + profile_ +
                   ".aws-secretsmanager], AWS_REGION, or the AWS profile's region");
    return;
  }
  if (endpoint.empty()) endpoint = "https://secretsmanager." + region + ".amazonaws.com";
  prober.endpoint("AWS Secrets Manager endpoint", endpoint, TlsOptions{});
}

void Oauth2Backend::probe(Prober& prober) const {
  const Oauth2Settings& s = settings_;
  const bool ca_usable = s.tls.ca_file.empty() || s.tls.insecure_skip_verify ||
                         prober.file("oauth2 ca_cert", s.tls.ca_file, false);
  if (!s.client_secret_file.empty()) prober.file("client_secret_file", s.client_secret_file, true);
  if (!s.private_key_file.empty()) prober.file("private_key_file", s.private_key_file, true);
  if (!s.subject_token_file.empty()) {
    prober.file("subject_token_file", s.subject_token_file, false);
  }
  if (!s.client_secret_env.empty() && !env_nonempty(env_, s.client_secret_env.c_str())) {
    prober.problem("client_secret_env: " + s.client_secret_env + " is not set");
  }
  if (!ca_usable) return;
  // Reaching the IdP is the check; its discovery document is public (no secret is sent).
  if (!s.issuer.empty()) prober.endpoint("issuer", openid_configuration_url(s.issuer), s.tls);
  if (!s.token_endpoint.empty()) prober.endpoint("token_endpoint", s.token_endpoint, s.tls);
}

void AnthropicOAuthBackend::probe(Prober& prober) const {
  prober.endpoint("token_url", settings_.token_url, TlsOptions{});
}

}  // namespace ckh
