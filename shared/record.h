// The credential record, P.cred: the contract between the refresher (sole writer) and the
// helper (reader). Line format (see kv_lines.h), in exactly this order:
//
//   claude-key-helper-cred v3
//   generation: <u64, strictly increasing per profile>
//   backend: <backend name, e.g. static>
//   source: <where it came from, never a secret, e.g. env ANTHROPIC_API_KEY>
//   source_fingerprint: <token naming the profile's source settings when it was fetched
//                        (refresher/fingerprint.h; no secret in them), or "none">
//   headers: <the profile's extra HTTP headers, "Name:value" separated by one space, each
//             value percent-encoded (space, '%' and anything outside 0x21..0x7e), or "none">
//   fetched_at: <unix seconds>
//   expires_at: <unix seconds, or "none">
//   credential: <the credential: 1..16384 bytes of 0x21..0x7e>
//   end
//
// A record without headers is written as version 2 (the same without the headers line),
// so that a helper from before version 3 still reads what most profiles publish. Version 1
// (without source_fingerprint) is still read, with the field empty: the refresher takes
// such a record as fetched under other settings (due at once), the helper serves it as
// before. A reader refuses anything else as corrupt (exit 65 in the helper).
// Callers: the helper (parse), the refresher's publish and status (parse, serialize).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/error.h"

namespace ckh {

inline constexpr std::string_view kRecordMagic = "claude-key-helper-cred";
inline constexpr unsigned kRecordVersion = 3;
inline constexpr std::size_t kMaxHeaders = 16;
inline constexpr std::size_t kMaxHeaderNameBytes = 64;
inline constexpr std::size_t kMaxHeaderValueBytes = 1024;
inline constexpr std::size_t kMaxCredentialBytes = 16384;
inline constexpr std::size_t kMaxRecordBytes = 64 * 1024;

struct CredentialRecord {
  std::uint64_t generation = 0;
  std::string backend;
  std::string source;
  std::string source_fingerprint;  // empty: none (a version 1 record)
  std::int64_t fetched_at = 0;
  std::optional<std::int64_t> expires_at;  // none: never expires
  std::string credential;
  // Sent beside the credential by a caller that takes headers (Claude Desktop's
  // helper-script contract, `claude-key-helper --format json`); in the profile's order.
  std::vector<std::pair<std::string, std::string>> headers;
};

// An HTTP header name (RFC 9110 token, at most 64 bytes) and value (printable ASCII and
// spaces, not at either end, at most 1024 bytes): what a profile's headers may hold.
bool valid_header_name(std::string_view name);
bool valid_header_value(std::string_view value);

// Refuses (ErrorClass::permanent) a credential that is empty, longer than 16384 bytes, or
// holds anything but printable ASCII without white space. The message never quotes it.
Result<void> validate_credential(std::string_view credential);

Result<CredentialRecord> parse_record(std::string_view text);

// Reads and parses P.cred safely (secure_file.h): none when the file does not exist, else
// the record, else why not (unsafe, corrupt, io), the message naming the path.
Result<std::optional<CredentialRecord>> read_record_file(const std::string& path);

// Precondition: validate_credential(record.credential), one-line backend/source, at most
// kMaxHeaders headers, each valid. A
// source_fingerprint that is not a printable token of at most 64 bytes is written as none.
std::string serialize_record(const CredentialRecord& record);

}  // namespace ckh
