// AWS Signature Version 4, header signing (the Authorization header), as a pure function.
// Guarantees: byte-for-byte the canonical request, string to sign and Authorization of AWS's
// classic SigV4 test suite (33 cases) and of the current aws-c-auth suite (38 cases, header
// signing), see tests/unit/sigv4_test.cpp; no I/O, no clock, no error path (any input gives a
// result: garbage in, a signature AWS rejects out); no result field ever holds the secret
// access key or a derived key (the session token is sent, so it appears where it is sent).
// SHA-256 and HMAC-SHA256 come from OpenSSL's EVP. Presigned URLs (query signing) are not
// implemented. Callers: AWS backends (refresher/aws/), tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckh {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term credentials
};

// What is sent, raw.
struct SigV4Request {
  std::string method;  // "GET", "POST"
  // As on the request line: "/" for an empty path. Non-S3 (normalize_path): dot segments and
  // "//" are removed and each segment is URI-encoded once more ('%' -> "%25": AWS's "double
  // encoding" of an already-encoded path). S3 (!normalize_path): kept as is, encoded once
  // (valid %XX escapes are kept). Raw UTF-8 and spaces are encoded.
  std::string path;
  // As on the request line, without '?'; may be empty. Valid %XX escapes are decoded, then
  // names and values are re-encoded (so an already-encoded query and a raw one sign alike);
  // '+' is a literal plus, never a space. Pass it percent-encoded (space as %20).
  std::string query;
  // Every header to sign, as sent, in order; must include Host (and X-Amz-Date unless
  // SigV4Params::amz_date gives it). Names are case-insensitive; repeated names are joined
  // with ',' in order. Headers the transport adds later (Content-Length, User-Agent) are
  // simply unsigned.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct SigV4Params {
  std::string region;
  std::string service;
  // "20150830T123600Z" (sigv4_amz_date). An X-Amz-Date header in the request wins over it.
  std::string amz_date;
  bool normalize_path = true;              // false for S3: no normalization, no double encoding
  bool add_session_token_header = true;    // sign X-Amz-Security-Token when session_token != ""
  bool add_content_sha256_header = false;  // sign x-amz-content-sha256: hex(sha256(body))
};

struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;      // lowercase hex
  std::string authorization;  // "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., ..."
  // To append to the request, in this order: X-Amz-Security-Token (if signed), X-Amz-Date
  // (if the request had none), x-amz-content-sha256 (if asked), Authorization.
  std::vector<std::pair<std::string, std::string>> headers_to_add;
};

SigV4Result sigv4_sign(const SigV4Request& request, const SigV4Params& params,
                       const AwsCredentials& credentials);

// "yyyymmddThhmmssZ" in UTC.
std::string sigv4_amz_date(std::int64_t unix_seconds);

// Lowercase hex of SHA-256; also the x-amz-content-sha256 value.
std::string sha256_hex(std::string_view data);

// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"),
// as raw bytes. Exposed for the test vectors only: never log or store it.
std::string sigv4_signing_key(std::string_view secret_access_key, std::string_view date_yyyymmdd,
                              std::string_view region, std::string_view service);

}  // namespace ckh
