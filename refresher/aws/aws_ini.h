// The AWS shared config and credentials files (~/.aws/config, ~/.aws/credentials), as the
// AWS SDKs read them: "[section]" headers ("[default]", "[profile name]" in config,
// "[name]" in credentials), "key = value" lines, '#' and ';' comments (full-line, or after
// whitespace in a value), indented continuation lines that make a key a sub-section
// (ignored here: no setting we read has one). Keys are case-sensitive and trimmed.
// Pure function of the file's text (fuzzed: tests/fuzz/fuzz_aws_input.cpp).
// Guarantees: never fails: malformed lines are skipped (the SDKs do the same) and counted;
// a later duplicate section merges into the first, a later duplicate key wins.
// Callers: aws/aws_credentials.cpp, backends/aws_secretsmanager_backend.cpp.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace ckh {

struct AwsIni {
  std::map<std::string, std::map<std::string, std::string>, std::less<>> sections;
  std::size_t skipped_lines = 0;

  // The section of an AWS profile: config file "profile NAME" (or "default"), credentials
  // file "NAME". Null when absent.
  const std::map<std::string, std::string>* config_profile(std::string_view name) const;
  const std::map<std::string, std::string>* credentials_profile(std::string_view name) const;
};

AwsIni parse_aws_ini(std::string_view text);

}  // namespace ckh
