// Parsing what HashiCorp Vault answers (tests/fakes/vault_fixtures/, copied from HashiCorp's
// api-docs): KV v1 and v2 reads, auth responses (login, renew-self), the mount lookup used
// to detect the KV version, unwrapping, and the {"errors": [...]} body of every failure.
// Pure functions of the bytes received (fuzzed: tests/fuzz/fuzz_vault_response.cpp).
// Guarantees: they accept both the short documented form and the full envelope; a value is
// returned only with the expected types; messages name fields and paths, never a value
// (a secret's other fields are listed by name only); errors are one line. A lease or TTL
// (lease_duration, lookup-self's ttl) is a whole number of seconds in 0..kMaxVaultLeaseSeconds,
// else the answer is refused as malformed (ErrorClass::transient, naming the field).
// Callers: refresher/backends/vault_backend.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/error.h"

namespace ckh {

// The longest lease or token TTL taken from Vault: ten years. Vault's own ceiling is
// max_lease_ttl (32 days by default; operators raise it to months), so anything longer is
// garbage, and bounding it keeps now + lease far from overflow wherever it is added.
inline constexpr std::int64_t kMaxVaultLeaseSeconds = 10LL * 365 * 24 * 3600;

// The "errors" list of a failure body, joined with "; " and cut short; empty when the body
// has none (Vault's 404 for a missing path is {"errors":[]}).
std::string vault_error_text(std::string_view body);

struct VaultAuth {
  std::string client_token;
  std::int64_t lease_duration = 0;  // seconds; 0: does not expire (root-like tokens)
  bool renewable = false;
};
// .auth of a login or renew-self answer.
Result<VaultAuth> parse_vault_auth(std::string_view body);

enum class KvVersionState { live, soft_deleted, destroyed };

struct KvRead {
  KvVersionState state = KvVersionState::live;
  std::optional<std::string> value;  // the field, when live and a string
  std::vector<std::string> fields;   // the secret's field names, for messages
  bool field_not_string = false;     // present but not a string
  std::int64_t lease_duration = 0;   // seconds, 0 when none
  std::int64_t version = 0;          // KV v2 metadata.version
  std::string deletion_time;         // KV v2, when soft-deleted
};
// A KV read answer (any status with a body): v2 has the secret at .data.data and the
// version's state in .data.metadata; v1 has it at .data. ErrorClass::transient when the
// body is not such an answer.
Result<KvRead> parse_kv_read(std::string_view body, int kv_version, std::string_view field);

// auth/token/lookup-self: .data.ttl (seconds left) and .data.renewable. A token that never
// expires has expire_time null (ttl 0); a ttl of 0 with an expire_time means it is about to
// expire, not that it never will.
struct VaultTokenInfo {
  std::int64_t ttl = 0;
  bool never_expires = false;
  bool renewable = false;
};
Result<VaultTokenInfo> parse_token_lookup(std::string_view body);

// sys/internal/ui/mounts/<mount>: 1 or 2 for a KV mount; an error for anything else.
Result<int> parse_mount_kv_version(std::string_view body);

// sys/wrapping/unwrap of a response-wrapped AppRole secret_id: .data.secret_id.
Result<std::string> parse_unwrapped_secret_id(std::string_view body);

}  // namespace ckh
