#include "refresher/backends/vault_backend.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "refresher/backends/setting_readers.h"
#include "refresher/file_trust.h"
#include "refresher/fingerprint.h"
#include "refresher/http/curl_transport.h"
#include "refresher/json_writer.h"
#include "refresher/log.h"
#include "refresher/oauth/oauth_urls.h"
#include "refresher/vault/vault_response.h"
#include "shared/secure_file.h"
#include "shared/text.h"
#include "shared/unique_fd.h"

namespace ckh {
namespace {

constexpr std::size_t kMaxVaultResponseBytes = 1024 * 1024;
constexpr std::int64_t kTokenExpiryMargin = 10;  // seconds: a token this close to expiry is dead

std::string trimmed(std::string text) {
  return std::string(trim(text));
}

std::string encode_path(std::string_view path) {
  std::string out;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto piece = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    out += percent_encode(piece);
    if (slash == std::string_view::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

class VaultSession {
 public:
  VaultSession(const VaultBackend& backend, const FetchContext& context)
      : backend_(backend), settings_(backend.settings()), context_(context) {}
  Result<FetchResult> run();

 private:
  Result<HttpResponse> call(std::string method, std::string api_path, std::string body,
                            bool with_token);
  Error failure(const HttpResponse& response, std::string_view doing) const;
  Result<void> ensure_token();
  Result<void> login();
  Result<void> renew();
  void warn_if_outlived(bool login_method) const;
  Result<void> adopt_external_token();
  Result<int> kv_version();
  Result<FetchResult> read_secret(bool may_relogin);
  std::string where() const { return settings_.mount + "/" + settings_.path; }
  // "field 'api_key' of secret/claude/api": what the messages about a read name.
  std::string what() const { return "field '" + settings_.field + "' of " + where(); }

  const VaultBackend& backend_;
  const VaultSettings& settings_;
  const FetchContext& context_;
  VaultSecret secret_;
  std::int64_t now_ = 0;
};

Result<HttpResponse> VaultSession::call(std::string method, std::string api_path, std::string body,
                                        bool with_token) {
  HttpRequest request;
  request.method = std::move(method);
  request.url = settings_.address + "/v1/" + api_path;
  request.headers.emplace_back("X-Vault-Request", "true");
  if (with_token) request.headers.emplace_back("X-Vault-Token", secret_.token);
  if (!settings_.namespace_.empty()) {
    request.headers.emplace_back("X-Vault-Namespace", settings_.namespace_);
  }
  if (!body.empty()) request.headers.emplace_back("Content-Type", "application/json");
  request.body = std::move(body);
  request.timeout = settings_.timeout;
  request.connect_timeout = std::min(settings_.timeout, std::chrono::milliseconds(10'000));
  request.max_response_bytes = kMaxVaultResponseBytes;
  request.tls = settings_.tls;
  auto response = backend_.transport().send(request);
  if (!response) {
    Error error = response.error();
    error.message = "Vault (" + url_host(settings_.address) + "): " + error.message;
    return std::unexpected(error);
  }
  return response;
}

// A failure answer: Vault's own words, classified. 5xx (503: sealed or standby) and 429 are
// worth retrying; the rest needs the operator.
Error VaultSecret_failure_text(long status, const std::string& text, std::string_view doing) {
  std::string message = "Vault answered " + to_decimal(static_cast<std::int64_t>(status)) +
                        " while " + std::string(doing);
  if (!text.empty()) message += " (" + text + ")";
  const bool transient = status >= 500 || status == 429 || status == 412;
  Error error{transient ? ErrorClass::transient : ErrorClass::permanent, message};
  error.code = "http_" + to_decimal(static_cast<std::int64_t>(status));
  return error;
}

Error VaultSession::failure(const HttpResponse& response, std::string_view doing) const {
  Error error = VaultSecret_failure_text(response.status, vault_error_text(response.body), doing);
  if (response.status == 503) error.message += "; Vault is sealed or in standby, retrying";
  return error;
}

Result<void> VaultSession::login() {
  std::string api_path;
  std::string body;
  std::string_view method_name;
  if (settings_.auth == "approle") {
    method_name = "AppRole";
    // Whoever can change these logs the refresher in as a role of their choosing.
    if (auto trusted = check_not_writable_by_others(settings_.role_id_file, "role_id_file");
        !trusted) {
      return std::unexpected(trusted.error());
    }
    if (auto trusted = check_not_writable_by_others(settings_.secret_id_file, "secret_id_file");
        !trusted) {
      return std::unexpected(trusted.error());
    }
    auto role_id = read_public_file(settings_.role_id_file);
    if (!role_id) return std::unexpected(role_id.error());
    auto secret_id = read_secret_file(settings_.secret_id_file, "the AppRole secret_id");
    if (!secret_id) return std::unexpected(secret_id.error());
    std::string id = *secret_id;
    const std::string wrapping_fp = token_fingerprint(id);
    if (settings_.secret_id_wrapped && !secret_.unwrapped_secret_id.empty() &&
        secret_.unwrapped_from == wrapping_fp) {
      // Unwrapped by an earlier run whose login did not succeed: the wrapping token is spent.
      id = secret_.unwrapped_secret_id;
    } else if (settings_.secret_id_wrapped) {
      // The file holds a single-use wrapping token: unwrap it into the real secret_id.
      const std::string saved = secret_.token;
      secret_.token = id;
      auto unwrapped = call("POST", "sys/wrapping/unwrap", "", true);
      secret_.token = saved;
      if (!unwrapped) return std::unexpected(unwrapped.error());
      if (unwrapped->status != 200) {
        Error error = failure(*unwrapped, "unwrapping the AppRole secret_id");
        error.message +=
            "; a wrapping token works once: put a fresh one in " + settings_.secret_id_file;
        return std::unexpected(error);
      }
      auto parsed = parse_unwrapped_secret_id(unwrapped->body);
      if (!parsed) return std::unexpected(parsed.error());
      id = *parsed;
      // Kept (P.secret, durably, before the login is tried) until a login with it succeeds.
      secret_.unwrapped_secret_id = id;
      secret_.unwrapped_from = wrapping_fp;
      if (context_.persist_secret) (void)context_.persist_secret(serialize_vault_secret(secret_));
    }
    api_path = "auth/" + encode_path(settings_.approle_mount) + "/login";
    body = json_text({{"role_id", *role_id}, {"secret_id", id}});
  } else {
    method_name = "Kubernetes";
    auto jwt = read_public_file(settings_.kubernetes_jwt_file);
    if (!jwt) return std::unexpected(jwt.error());
    api_path = "auth/" + encode_path(settings_.kubernetes_mount) + "/login";
    body = json_text({{"role", settings_.kubernetes_role}, {"jwt", *jwt}});
  }
  auto response = call("POST", api_path, std::move(body), false);
  if (!response) return std::unexpected(response.error());
  if (response->status != 200) {
    return std::unexpected(failure(*response, "logging in with " + std::string(method_name)));
  }
  auto auth = parse_vault_auth(response->body);
  if (!auth) return std::unexpected(auth.error());
  secret_.token = auth->client_token;
  secret_.token_ttl = auth->lease_duration;
  secret_.renewable = auth->renewable;
  secret_.token_expires_at =
      auth->lease_duration > 0 ? std::optional(now_ + auth->lease_duration) : std::nullopt;
  secret_.auth = settings_.auth;
  secret_.unwrapped_secret_id.clear();
  secret_.unwrapped_from.clear();
  log_line(LogLevel::info, backend_.profile(),
           "logged in to Vault with " + std::string(method_name) + " (token TTL " +
               to_decimal(auth->lease_duration) + " s)");
  return {};
}

Result<void> VaultSession::renew() {
  auto response = call("POST", "auth/token/renew-self", "{}", true);
  if (!response) return std::unexpected(response.error());
  if (response->status != 200) return std::unexpected(failure(*response, "renewing the token"));
  auto auth = parse_vault_auth(response->body);
  if (!auth) return std::unexpected(auth.error());
  if (!auth->client_token.empty() && auth->client_token != secret_.token) {
    secret_.token = auth->client_token;
  }
  secret_.token_ttl = auth->lease_duration;
  secret_.renewable = auth->renewable;
  secret_.token_expires_at =
      auth->lease_duration > 0 ? std::optional(now_ + auth->lease_duration) : std::nullopt;
  return {};
}

// An operator's token that a renewal still leaves shorter-lived than refresh_interval dies
// between runs (a login method just logs in again): say how to fix it.
void VaultSession::warn_if_outlived(bool login_method) const {
  if (login_method || !secret_.token_expires_at) return;
  if (secret_.token_ttl >= context_.refresh_interval.count() + kTokenExpiryMargin) return;
  log_line(LogLevel::warning, backend_.profile(),
           "the Vault token lives " + to_decimal(secret_.token_ttl) +
               " s after renewal, less than refresh_interval (" +
               to_decimal(static_cast<std::int64_t>(context_.refresh_interval.count())) +
               " s): it will expire between runs; lower refresh_interval or use a token with a "
               "longer TTL");
}

// Token auth: the operator's token (token_file, $VAULT_TOKEN, ~/.vault-token). When it
// differs from the one we hold, learn its TTL with lookup-self.
Result<void> VaultSession::adopt_external_token() {
  std::string token;
  const auto from_env = backend_.env() != nullptr ? backend_.env()("VAULT_TOKEN") : std::nullopt;
  if (!settings_.token_file.empty()) {
    auto read = read_secret_file(settings_.token_file, "the Vault token");
    if (!read) return std::unexpected(read.error());
    token = *read;
  } else if (from_env && !trim(*from_env).empty()) {
    token = trimmed(*from_env);
  } else {
    const auto home = backend_.env() != nullptr ? backend_.env()("HOME") : std::nullopt;
    if (!home) return fail(ErrorClass::config, "no Vault token: set VAULT_TOKEN or token_file");
    auto read = read_secret_file(*home + "/.vault-token", "the Vault token");
    if (!read) {
      Error error = read.error();
      error.message += "; set VAULT_TOKEN or token_file, or run `vault login`";
      return std::unexpected(error);
    }
    token = *read;
  }
  if (!is_printable_token(token)) {
    return fail(ErrorClass::config, "the Vault token is not one printable token");
  }
  if (token == secret_.token && secret_.auth == "token") return {};
  // A new token: only what was learned about the mount carries over.
  VaultSecret fresh;
  fresh.token = token;
  fresh.auth = "token";
  fresh.kv_version = secret_.kv_version;
  fresh.kv_version_of = secret_.kv_version_of;
  secret_ = std::move(fresh);
  auto response = call("GET", "auth/token/lookup-self", "", true);
  if (!response) return std::unexpected(response.error());
  if (response->status != 200) {
    Error error = failure(*response, "looking up the Vault token");
    if (response->status == 403) {
      error.message += settings_.namespace_.empty()
                           ? "; the token is invalid or expired: run `vault login` or set a new one"
                           : "; the token is invalid, expired, or not of namespace " +
                                 settings_.namespace_ + ": run `vault login` or check namespace";
    }
    return std::unexpected(error);
  }
  auto info = parse_token_lookup(response->body);
  if (!info) return std::unexpected(info.error());
  secret_.token_ttl = info->ttl;
  secret_.renewable = info->renewable;
  secret_.token_expires_at = info->never_expires ? std::nullopt : std::optional(now_ + info->ttl);
  return {};
}

// A token that is valid for a while yet: renewed once half its TTL is gone, obtained again
// when it expired or cannot be renewed (login methods), or an error saying what to do.
Result<void> VaultSession::ensure_token() {
  const bool login_method = settings_.auth != "token";
  if (!login_method) {
    if (auto adopted = adopt_external_token(); !adopted) return adopted;
  } else if (secret_.auth != settings_.auth || secret_.token.empty()) {
    return login();
  }
  if (!secret_.token_expires_at) return {};  // does not expire
  const std::int64_t left = *secret_.token_expires_at - now_;
  // Renew while it still works: once half its TTL is gone, when it would not last until the
  // next scheduled run (refresh_interval), or when it is close to expiry (whole-second TTLs
  // make "half" unreachable for a 2-second token).
  const std::int64_t next_run = context_.refresh_interval.count() + kTokenExpiryMargin;
  if (secret_.renewable && left > 0 &&
      (left * 2 <= secret_.token_ttl || left <= next_run || left <= kTokenExpiryMargin)) {
    auto renewed = renew();
    if (renewed) {
      warn_if_outlived(login_method);
      return {};
    }
    log_line(LogLevel::warning, backend_.profile(),
             "could not renew the Vault token: " + renewed.error().message);
    if (login_method) return login();
  }
  // Too close to expiry to use: 10 s, or a tenth of a short token's life.
  const std::int64_t margin = std::min<std::int64_t>(kTokenExpiryMargin, secret_.token_ttl / 10);
  if (left <= margin) {
    if (login_method) return login();
    return fail(ErrorClass::permanent,
                "the Vault token has expired; run `vault login` or set a new token");
  }
  // A token we could not renew still works until it expires.
  return {};
}

Result<int> VaultSession::kv_version() {
  if (settings_.kv_version != 0) return settings_.kv_version;
  // What was detected holds for this address, namespace and mount only.
  const std::string detected_for = settings_.address + " " +
                                   (settings_.namespace_.empty() ? "-" : settings_.namespace_) +
                                   " " + settings_.mount;
  if (secret_.kv_version != 0 && secret_.kv_version_of == detected_for) {
    return secret_.kv_version;
  }
  auto response = call("GET", "sys/internal/ui/mounts/" + encode_path(settings_.mount), "", true);
  if (!response) return std::unexpected(response.error());
  if (response->status != 200) {
    Error error = failure(*response, "detecting the KV version of mount " + settings_.mount);
    error.message += "; set kv_version = 1 or 2 in [profile." + backend_.profile() + ".vault]";
    return std::unexpected(error);
  }
  auto version = parse_mount_kv_version(response->body);
  if (!version) {
    Error error = version.error();
    error.message = "mount " + settings_.mount + ": " + error.message;
    return std::unexpected(error);
  }
  secret_.kv_version = *version;
  secret_.kv_version_of = detected_for;
  return *version;
}

Result<FetchResult> VaultSession::read_secret(bool may_relogin) {
  auto version = kv_version();
  if (!version) return std::unexpected(version.error());
  std::string api_path = encode_path(settings_.mount) + "/";
  if (*version == 2) api_path += "data/";
  api_path += encode_path(settings_.path);
  if (*version == 2 && settings_.version) api_path += "?version=" + to_decimal(*settings_.version);
  auto response = call("GET", api_path, "", true);
  if (!response) return std::unexpected(response.error());
  if (response->status == 403) {
    if (may_relogin && settings_.auth != "token") {
      // Revoked or expired behind our back: one fresh login, then judge.
      if (auto relogged = login(); !relogged) return std::unexpected(relogged.error());
      return read_secret(false);
    }
    Error error = failure(*response, "reading " + what());
    error.kind = ErrorClass::permanent;
    error.message += "; the token's policy needs read on " + api_path.substr(0, api_path.find('?'));
    return std::unexpected(error);
  }
  if (response->status == 404) {
    auto read = parse_kv_read(response->body, *version, settings_.field);
    if (read && read->state == KvVersionState::soft_deleted) {
      return fail(ErrorClass::permanent,
                  what() + ": version " + to_decimal(read->version) +
                      " is deleted (soft delete at " + read->deletion_time +
                      "); undelete it (vault kv undelete) or write a new version");
    }
    if (read && read->state == KvVersionState::destroyed) {
      return fail(ErrorClass::permanent, what() + ": version " + to_decimal(read->version) +
                                             " is destroyed; write a new version");
    }
    return fail(ErrorClass::permanent,
                what() + ": no secret at " + where() + " (Vault answered 404" +
                    (*version == 2 ? ", KV v2" : ", KV v1") + "); check mount and path");
  }
  if (response->status != 200) return std::unexpected(failure(*response, "reading " + what()));
  auto read = parse_kv_read(response->body, *version, settings_.field);
  if (!read) return std::unexpected(read.error());
  if (read->state == KvVersionState::soft_deleted || read->state == KvVersionState::destroyed) {
    return fail(ErrorClass::permanent, what() + ": the version read is deleted or destroyed");
  }
  if (read->field_not_string) {
    return fail(ErrorClass::permanent, what() + " is not a string; store the key as a string");
  }
  if (!read->value) {
    std::string fields;
    for (const auto& name : read->fields) fields += (fields.empty() ? "" : ", ") + name;
    return fail(ErrorClass::permanent,
                "the secret at " + where() + " has no field '" + settings_.field +
                    "' (fields: " + (fields.empty() ? "none" : fields) + ")");
  }
  FetchResult result;
  result.credential = *read->value;
  result.expires_at =
      now_ + (read->lease_duration > 0 ? read->lease_duration : settings_.ttl.count());
  result.source = "vault " + url_host(settings_.address) + " " + where() + "#" + settings_.field;
  return result;
}

Result<FetchResult> VaultSession::run() {
  now_ = context_.clock.unix_seconds();
  if (!context_.secret_state.empty()) {
    if (auto parsed = parse_vault_secret(context_.secret_state)) {
      secret_ = std::move(*parsed);
    } else {
      log_line(LogLevel::warning, backend_.profile(),
               "the saved Vault token state is unreadable (" + parsed.error().message +
                   "); starting afresh");
    }
  }
  if (auto token = ensure_token(); !token) {
    // Keep what a failed login still learned (an unwrapped secret_id, the KV version).
    if (context_.persist_secret) (void)context_.persist_secret(serialize_vault_secret(secret_));
    Error error = token.error();
    error.message = redact(error.message, secret_.token);
    return std::unexpected(error);
  }
  auto result = read_secret(true);
  // Whatever happened, keep what we learned (a new token, the KV version).
  const std::string state = serialize_vault_secret(secret_);
  if (!result) {
    if (context_.persist_secret) (void)context_.persist_secret(state);
    Error error = result.error();
    error.message = redact(error.message, secret_.token);
    return std::unexpected(error);
  }
  result->new_secret_state = state;
  return result;
}

}  // namespace

Result<FetchResult> VaultBackend::fetch(const FetchContext& context) {
  if (settings_.tls.insecure_skip_verify && !warned_insecure_) {
    warned_insecure_ = true;
    log_line(LogLevel::warning, profile_,
             "TLS certificate verification is OFF for Vault (tls_skip_verify = true): anyone on "
             "the network path can read the key");
  }
  return VaultSession(*this, context).run();
}

std::string VaultBackend::source_settings() const {
  const VaultSettings& s = settings_;
  std::string out;
  append_setting(out, "address", s.address);
  append_setting(out, "namespace", s.namespace_);
  append_setting(out, "mount", s.mount);
  append_setting(out, "path", s.path);
  append_setting(out, "field", s.field);
  append_setting(out, "kv_version", std::to_string(s.kv_version));
  append_setting(out, "version", s.version ? std::to_string(*s.version) : "latest");
  append_setting(out, "auth", s.auth);
  append_setting(out, "token_file", s.token_file);
  append_setting(out, "role_id_file", s.role_id_file);
  append_setting(out, "secret_id_file", s.secret_id_file);
  append_setting(out, "secret_id_wrapped", s.secret_id_wrapped ? "true" : "false");
  append_setting(out, "approle_mount", s.approle_mount);
  append_setting(out, "kubernetes_role", s.kubernetes_role);
  append_setting(out, "kubernetes_jwt_file", s.kubernetes_jwt_file);
  append_setting(out, "kubernetes_mount", s.kubernetes_mount);
  return out;
}

SourceState VaultBackend::source_state() const {
  const VaultSettings& s = settings_;
  SourceState state;
  if (s.auth == "approle") {
    state.files = {s.role_id_file, s.secret_id_file};
  } else if (s.auth == "kubernetes") {
    state.files = {s.kubernetes_jwt_file};
  } else if (!s.token_file.empty()) {
    state.files = {s.token_file};
  } else if (const auto home = env_ != nullptr ? env_("HOME") : std::nullopt) {
    state.files = {*home + "/.vault-token"};
  }
  std::erase_if(state.files, [](const std::string& file) { return file.empty(); });
  const auto token = env_ != nullptr ? env_("VAULT_TOKEN") : std::nullopt;
  state.env.emplace_back("VAULT_TOKEN", token.value_or(std::string("\x01unset")));
  return state;
}

std::unique_ptr<Backend> make_vault_backend(ConfigSection& section, const BackendContext& context) {
  VaultSettings settings;
  bool ok = true;
  const EnvLookup env = context.env;
  const std::string label = "[profile." + std::string(context.profile) + ".vault]";

  auto address = section.get_string("address", "the Vault address, e.g. https://vault:8200");
  if (!address && section.has("address")) ok = false;
  if (!address) address = env_nonempty(env, "VAULT_ADDR");
  if (!address) {
    section.problem(
        "missing 'address' (and VAULT_ADDR is not set); expected address = "
        "\"https://vault.example.com:8200\"");
    ok = false;
  } else {
    std::string a = *address;
    while (a.ends_with("/")) a.pop_back();
    if (!a.starts_with("https://") && !a.starts_with("http://")) {
      section.problem_at("address", "expected an http:// or https:// URL");
      ok = false;
    }
    settings.address = a;
  }
  if (auto ns = section.get_string("namespace", "a Vault namespace, e.g. \"team-a\"")) {
    settings.namespace_ = *ns;
  } else if (section.has("namespace")) {
    ok = false;
  } else if (auto from_env = env_nonempty(env, "VAULT_NAMESPACE")) {
    settings.namespace_ = *from_env;
  }
  if (auto mount = section.get_string("mount", "the KV mount, e.g. \"secret\"")) {
    settings.mount = *mount;
  } else if (section.has("mount")) {
    ok = false;
  }
  auto take_required = [&](std::string_view key, std::string_view expected, std::string& into) {
    if (auto value = section.get_string(key, expected)) {
      if (value->empty()) {
        section.problem_at(key, "expected a non-empty value");
        ok = false;
      }
      into = *value;
    } else {
      if (!section.has(key)) {
        section.problem(
            fmt::format("missing '{}'; expected {} = \"...\" ({})", key, key, expected));
      }
      ok = false;
    }
  };
  take_required("path", "the secret's path inside the mount", settings.path);
  take_required("field", "the key inside the secret that holds the credential", settings.field);
  for (const char* key : {"path", "mount"}) {
    const std::string& value = std::string_view(key) == "path" ? settings.path : settings.mount;
    if (value.starts_with("/") || value.ends_with("/") || value.find("..") != std::string::npos) {
      section.problem_at(key, "expected a relative path without leading or trailing '/' or '..'");
      ok = false;
    }
  }
  if (auto kv = section.get_integer("kv_version", 1, 2)) {
    settings.kv_version = static_cast<int>(*kv);
  } else if (section.has("kv_version")) {
    ok = false;
  }
  if (auto version = section.get_integer("version", 1, INT64_MAX / 2)) {
    settings.version = *version;
    if (settings.kv_version == 1) {
      section.problem_at("version", "only KV v2 keeps versions; remove it or set kv_version = 2");
      ok = false;
    }
  } else if (section.has("version")) {
    ok = false;
  }
  if (auto ca = read_path(section, "ca_cert", env, ok))
    settings.tls.ca_file = *ca;
  else if (auto from_env = env_nonempty(env, "VAULT_CACERT"))
    settings.tls.ca_file = *from_env;
  if (auto ca = read_path(section, "ca_path", env, ok))
    settings.tls.ca_path = *ca;
  else if (auto from_env = env_nonempty(env, "VAULT_CAPATH"))
    settings.tls.ca_path = *from_env;
  if (auto name = section.get_string("tls_server_name", "a host name in the server certificate")) {
    settings.tls.server_name = *name;
  } else if (section.has("tls_server_name")) {
    ok = false;
  } else if (auto from_env = env_nonempty(env, "VAULT_TLS_SERVER_NAME")) {
    settings.tls.server_name = *from_env;
  }
  if (section.has("tls_skip_verify")) {
    if (auto skip = section.get_bool("tls_skip_verify")) {
      settings.tls.insecure_skip_verify = *skip;
    } else {
      ok = false;
    }
  }
  if (auto auth = section.get_string("auth", "token, approle or kubernetes")) {
    if (*auth != "token" && *auth != "approle" && *auth != "kubernetes") {
      section.problem_at("auth", "expected \"token\", \"approle\" or \"kubernetes\"");
      ok = false;
    }
    settings.auth = *auth;
  } else if (section.has("auth")) {
    ok = false;
  }
  if (auto file = read_path(section, "token_file", env, ok)) settings.token_file = *file;
  if (auto file = read_path(section, "role_id_file", env, ok)) settings.role_id_file = *file;
  if (auto file = read_path(section, "secret_id_file", env, ok)) settings.secret_id_file = *file;
  if (section.has("secret_id_wrapped")) {
    if (auto wrapped = section.get_bool("secret_id_wrapped")) {
      settings.secret_id_wrapped = *wrapped;
    } else {
      ok = false;
    }
  }
  if (auto mount = section.get_string("approle_mount", "the AppRole auth mount")) {
    settings.approle_mount = *mount;
  } else if (section.has("approle_mount")) {
    ok = false;
  }
  if (auto role =
          section.get_string("kubernetes_role", "the Vault role for this service account")) {
    settings.kubernetes_role = *role;
  } else if (section.has("kubernetes_role")) {
    ok = false;
  }
  if (auto file = read_path(section, "kubernetes_jwt_file", env, ok)) {
    settings.kubernetes_jwt_file = *file;
  }
  if (auto mount = section.get_string("kubernetes_mount", "the Kubernetes auth mount")) {
    settings.kubernetes_mount = *mount;
  } else if (section.has("kubernetes_mount")) {
    ok = false;
  }
  if (settings.auth == "approle" &&
      (settings.role_id_file.empty() || settings.secret_id_file.empty())) {
    section.problem("auth = \"approle\" needs role_id_file and secret_id_file");
    ok = false;
  }
  if (settings.auth == "kubernetes" && settings.kubernetes_role.empty()) {
    section.problem("auth = \"kubernetes\" needs kubernetes_role");
    ok = false;
  }
  ok &= section.take_duration_seconds("ttl", std::chrono::seconds(10),
                                      std::chrono::seconds(90LL * 24 * 3600), settings.ttl);
  ok &= section.take_duration("timeout", std::chrono::milliseconds(1000),
                              std::chrono::milliseconds(300'000), settings.timeout);
  (void)label;
  if (!ok) return nullptr;
  return std::make_unique<VaultBackend>(std::move(settings), std::make_shared<CurlTransport>(),
                                        std::string(context.profile), env);
}

}  // namespace ckh
