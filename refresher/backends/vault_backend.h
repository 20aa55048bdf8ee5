// The `vault` backend: a key kept in HashiCorp Vault's KV secrets engine, read the way
// Vault's own CLI and agent do (VAULT_* environment conventions, X-Vault-Token,
// X-Vault-Namespace, X-Vault-Request).
//   [profile.P]
//   backend = "vault"
//   [profile.P.vault]
//   address = "https://vault.example.com:8200"   # default $VAULT_ADDR
//   namespace = "team-a"                          # default $VAULT_NAMESPACE
//   mount = "secret"                              # default "secret"
//   path = "claude/api"                           # required
//   field = "api_key"                             # required: the key inside the secret
//   kv_version = 2                                # 1, 2, or absent: detected from the mount
//   version = 3                                   # KV v2 only: a fixed version (default latest)
//   ca_cert / ca_path / tls_server_name           # defaults $VAULT_CACERT $VAULT_CAPATH
//   $VAULT_TLS_SERVER_NAME tls_skip_verify = false                       # true only explicitly,
//   warned on every start auth = "token"                                # token | approle |
//   kubernetes token_file = "~/.vault-token"                 # token auth: else $VAULT_TOKEN, else
//   ~/.vault-token role_id_file, secret_id_file, secret_id_wrapped, approle_mount   # approle
//   kubernetes_role, kubernetes_jwt_file, kubernetes_mount           # kubernetes
//   ttl = "1h"                                    # lifetime of the key when the read has no lease
//   timeout = "30s"
// Guarantees (fetch, under P.lock):
// - the Vault token lives only in P.secret (vault/vault_secret.h): renewed with
//   auth/token/renew-self when half its TTL is gone, obtained again by logging in (AppRole,
//   Kubernetes) when it expired, cannot be renewed, or is refused;
// - the field must be a string; a missing field, a soft-deleted or destroyed version and
//   permission denied are distinct permanent errors naming mount, path and field, never a
//   value; 5xx, 429 and 503 (sealed, standby) are transient; Vault's errors text is shown;
// - TLS verification is always on unless tls_skip_verify = true (then a warning each start).
// Callers: registry.cpp, tests with a fake HttpTransport.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "refresher/backend.h"
#include "refresher/backends/registry.h"
#include "refresher/http/transport.h"
#include "refresher/vault/vault_secret.h"

namespace ckh {

struct VaultSettings {
  std::string address;  // without a trailing slash
  std::string namespace_;
  std::string mount = "secret";
  std::string path;
  std::string field;
  int kv_version = 0;  // 0: detect
  std::optional<std::int64_t> version;
  TlsOptions tls;
  std::string auth = "token";
  std::string token_file;  // empty: $VAULT_TOKEN, then ~/.vault-token
  std::string role_id_file;
  std::string secret_id_file;
  bool secret_id_wrapped = false;
  std::string approle_mount = "approle";
  std::string kubernetes_role;
  std::string kubernetes_jwt_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string kubernetes_mount = "kubernetes";
  std::chrono::seconds ttl{3600};
  std::chrono::milliseconds timeout{30'000};
};

class VaultBackend final : public Backend {
 public:
  VaultBackend(VaultSettings settings, std::shared_ptr<HttpTransport> transport,
               std::string profile, EnvLookup env)
      : settings_(std::move(settings)),
        transport_(std::move(transport)),
        profile_(std::move(profile)),
        env_(env) {}

  const char* name() const override { return "vault"; }
  std::optional<std::chrono::seconds> expected_lifetime() const override { return std::nullopt; }
  Result<FetchResult> fetch(const FetchContext& context) override;
  std::vector<std::string> secret_env_names() const override { return {"VAULT_TOKEN"}; }
  // Address, namespace, mount, path, field, versions, auth method and its files and roles.
  std::string source_settings() const override;
  // The token, role id, secret id or JWT file the auth method reads, and VAULT_TOKEN.
  SourceState source_state() const override;
  void probe(Prober& prober) const override;  // backend_probes.cpp

  const VaultSettings& settings() const { return settings_; }
  HttpTransport& transport() const { return *transport_; }
  EnvLookup env() const { return env_; }
  const std::string& profile() const { return profile_; }

 private:
  VaultSettings settings_;
  std::shared_ptr<HttpTransport> transport_;
  std::string profile_;
  EnvLookup env_;
  bool warned_insecure_ = false;
};

std::unique_ptr<Backend> make_vault_backend(ConfigSection& section, const BackendContext& context);

}  // namespace ckh
