// Parsing what AWS answers (tests/fakes/aws_fixtures/, copied from AWS's documentation and
// SDK test data): temporary credentials (IMDSv2, the container endpoint,
// credential_process), GetSecretValue results, and awsJson1_1 errors. Pure functions of
// the bytes received (fuzzed: tests/fuzz/fuzz_aws_input.cpp).
// Guarantees: values are returned only with the expected types and shapes; messages name
// fields, never values; the error type follows the awsJson1_1 rules (X-Amzn-Errortype
// header, then "code", then "__type"; the part after '#' and before ':').
// Callers: aws/aws_credentials.cpp, backends/aws_secretsmanager_backend.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "refresher/aws/sigv4.h"
#include "shared/error.h"

namespace ckh {

struct TemporaryCredentials {
  AwsCredentials credentials;
  std::optional<std::int64_t> expiration;  // unix seconds; none: long-term
};

// {"AccessKeyId", "SecretAccessKey", "Token" or "SessionToken", "Expiration" (ISO 8601)};
// credential_process output must also say "Version": 1.
Result<TemporaryCredentials> parse_credentials_json(std::string_view body, bool process_output);

// "2009-02-13T23:31:30Z", with optional fraction and a Z or +hh:mm offset -> unix seconds.
std::optional<std::int64_t> parse_iso8601(std::string_view text);

struct SecretValue {
  std::optional<std::string> secret_string;
  bool has_binary = false;
  std::string name;
  std::string version_id;
};
Result<SecretValue> parse_get_secret_value(std::string_view body);

struct AwsError {
  std::string type;     // "ResourceNotFoundException"
  std::string message;  // one short line
};
// header_error_type: the X-Amzn-Errortype header, if any.
AwsError parse_aws_error(std::string_view body, std::string_view header_error_type);

// The value of `key` in a SecretString that holds a JSON object; an error naming the keys
// there (never values) when absent or not a string.
Result<std::string> secret_json_key(std::string_view secret_string, std::string_view key);

}  // namespace ckh
