#include "refresher/vault/vault_response.h"

#include <simdjson.h>

#include "shared/text.h"

namespace ckh {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

constexpr std::size_t kMaxErrorText = 200;

Result<object> parse_object(simdjson::dom::parser& parser, std::string_view body,
                            std::string_view what) {
  element doc;
  object top;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
      doc.get(top) != simdjson::SUCCESS) {
    return fail(ErrorClass::transient,
                "Vault's answer to the " + std::string(what) + " is not a JSON object");
  }
  return top;
}

std::int64_t integer_or_zero(object parent, std::string_view key) {
  std::int64_t value = 0;
  if (parent[key].get(value) == simdjson::SUCCESS) return value;
  double real = 0;
  if (parent[key].get(real) == simdjson::SUCCESS && real >= 0 && real < 9.0e15) {
    return static_cast<std::int64_t>(real);
  }
  return 0;
}

// A lease or TTL in seconds at parent[key]. Absent or null reads as 0 (Vault's "none" or
// "does not expire"); a whole number in 0..kMaxVaultLeaseSeconds as itself (12.0 included);
// anything else is refused: a negative, a fraction, a string, or more than ten years can
// only be a broken server or proxy, and would otherwise reach the expiry arithmetic.
Result<std::int64_t> lease_seconds(object parent, std::string_view key, std::string_view where) {
  element field;
  if (parent[key].get(field) != simdjson::SUCCESS || field.is_null()) return 0;
  const std::string what = "Vault's answer to the " + std::string(where) + " has a ";
  const std::string name(key);
  double real = 0;
  if (!field.is_number() || field.get(real) != simdjson::SUCCESS) {
    return fail(ErrorClass::transient, what + name + " that is not a number of seconds");
  }
  std::int64_t value = 0;
  const bool integer = field.get(value) == simdjson::SUCCESS;
  if (integer ? value < 0 : real < 0) return fail(ErrorClass::transient, what + "negative " + name);
  if (integer ? value > kMaxVaultLeaseSeconds : real > kMaxVaultLeaseSeconds) {
    return fail(ErrorClass::transient, what + name + " of more than ten years");
  }
  if (!integer) {  // 3600.0 is Vault's 3600; 0.5 is no whole second
    value = static_cast<std::int64_t>(real);
    if (static_cast<double>(value) != real) {
      return fail(ErrorClass::transient, what + name + " that is not a whole number of seconds");
    }
  }
  return value;
}

}  // namespace

std::string vault_error_text(std::string_view body) {
  simdjson::dom::parser parser;
  element doc;
  simdjson::dom::array errors;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
      doc["errors"].get(errors) != simdjson::SUCCESS) {
    return {};
  }
  std::string text;
  for (element entry : errors) {
    std::string_view message;
    if (entry.get(message) != simdjson::SUCCESS || message.empty()) continue;
    if (!text.empty()) text += "; ";
    text += message;
    if (text.size() > kMaxErrorText) break;
  }
  return one_line(text, kMaxErrorText);
}

Result<VaultAuth> parse_vault_auth(std::string_view body) {
  simdjson::dom::parser parser;
  auto top = parse_object(parser, body, "login");
  if (!top) return std::unexpected(top.error());
  object auth;
  if ((*top)["auth"].get(auth) != simdjson::SUCCESS) {
    return fail(ErrorClass::transient, "Vault's login answer has no auth object");
  }
  std::string_view token;
  if (auth["client_token"].get(token) != simdjson::SUCCESS || token.empty() ||
      !is_printable_token(token) || token.size() > 4096) {
    return fail(ErrorClass::transient, "Vault's login answer has no usable client_token");
  }
  VaultAuth out;
  out.client_token = std::string(token);
  auto lease = lease_seconds(auth, "lease_duration", "login");
  if (!lease) return std::unexpected(lease.error());
  out.lease_duration = *lease;
  bool renewable = false;
  if (auth["renewable"].get(renewable) == simdjson::SUCCESS) out.renewable = renewable;
  return out;
}

Result<KvRead> parse_kv_read(std::string_view body, int kv_version, std::string_view field) {
  simdjson::dom::parser parser;
  auto top = parse_object(parser, body, "secret read");
  if (!top) return std::unexpected(top.error());
  KvRead read;
  auto lease = lease_seconds(*top, "lease_duration", "secret read");
  if (!lease) return std::unexpected(lease.error());
  read.lease_duration = *lease;
  element data;
  if ((*top)["data"].get(data) != simdjson::SUCCESS || data.is_null()) {
    return fail(ErrorClass::transient, "Vault's answer to the secret read has no data");
  }
  object secret;
  if (kv_version == 2) {
    object envelope;
    if (data.get(envelope) != simdjson::SUCCESS) {
      return fail(ErrorClass::transient, "Vault's KV v2 answer has no data object");
    }
    object metadata;
    if (envelope["metadata"].get(metadata) == simdjson::SUCCESS) {
      read.version = integer_or_zero(metadata, "version");
      bool destroyed = false;
      if (metadata["destroyed"].get(destroyed) == simdjson::SUCCESS && destroyed) {
        read.state = KvVersionState::destroyed;
      }
      std::string_view deleted;
      if (metadata["deletion_time"].get(deleted) == simdjson::SUCCESS && !deleted.empty() &&
          read.state == KvVersionState::live) {
        read.state = KvVersionState::soft_deleted;
        read.deletion_time = one_line(deleted, 40);
      }
    }
    element inner;
    if (envelope["data"].get(inner) != simdjson::SUCCESS || inner.is_null()) {
      if (read.state == KvVersionState::live) {
        return fail(ErrorClass::transient, "Vault's KV v2 answer has no data.data");
      }
      return read;
    }
    if (inner.get(secret) != simdjson::SUCCESS) {
      return fail(ErrorClass::transient, "Vault's KV v2 data.data is not an object");
    }
  } else if (data.get(secret) != simdjson::SUCCESS) {
    return fail(ErrorClass::transient, "Vault's KV v1 data is not an object");
  }
  for (auto [key, value] : secret) {
    if (read.fields.size() < 32) read.fields.push_back(one_line(key, 64));
    if (key == field) {
      std::string_view text;
      if (value.get(text) == simdjson::SUCCESS) {
        read.value = std::string(text);
      } else {
        read.field_not_string = true;
      }
    }
  }
  return read;
}

Result<VaultTokenInfo> parse_token_lookup(std::string_view body) {
  simdjson::dom::parser parser;
  auto top = parse_object(parser, body, "token lookup");
  if (!top) return std::unexpected(top.error());
  object data;
  if ((*top)["data"].get(data) != simdjson::SUCCESS) {
    return fail(ErrorClass::transient, "Vault's token lookup has no data");
  }
  VaultTokenInfo info;
  auto ttl = lease_seconds(data, "ttl", "token lookup");
  if (!ttl) return std::unexpected(ttl.error());
  info.ttl = *ttl;
  element expire_time;
  const bool has_expire_time =
      data["expire_time"].get(expire_time) == simdjson::SUCCESS && !expire_time.is_null();
  info.never_expires = info.ttl == 0 && !has_expire_time;
  bool renewable = false;
  if (data["renewable"].get(renewable) == simdjson::SUCCESS) info.renewable = renewable;
  return info;
}

Result<int> parse_mount_kv_version(std::string_view body) {
  simdjson::dom::parser parser;
  auto top = parse_object(parser, body, "mount lookup");
  if (!top) return std::unexpected(top.error());
  object data;
  if ((*top)["data"].get(data) != simdjson::SUCCESS) {
    return fail(ErrorClass::transient, "Vault's mount lookup has no data");
  }
  std::string_view type;
  if (data["type"].get(type) == simdjson::SUCCESS && type != "kv" && type != "generic") {
    return fail(ErrorClass::permanent,
                "the mount is not a KV secrets engine (type \"" + one_line(type, 32) + "\")");
  }
  std::string_view version;
  object options;
  if (data["options"].get(options) == simdjson::SUCCESS &&
      options["version"].get(version) == simdjson::SUCCESS && version == "2") {
    return 2;
  }
  return 1;
}

Result<std::string> parse_unwrapped_secret_id(std::string_view body) {
  simdjson::dom::parser parser;
  auto top = parse_object(parser, body, "unwrap");
  if (!top) return std::unexpected(top.error());
  std::string_view secret_id;
  if ((*top)["data"]["secret_id"].get(secret_id) != simdjson::SUCCESS || secret_id.empty() ||
      !is_printable_token(secret_id)) {
    return fail(ErrorClass::permanent, "the wrapped response holds no secret_id");
  }
  return std::string(secret_id);
}

}  // namespace ckh
