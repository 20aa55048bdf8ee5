// libFuzzer target for what the AWS backend reads from outside: the shared config and
// credentials files (refresher/aws/aws_ini.h), and AWS's answers (refresher/aws/
// aws_responses.h: temporary credentials, GetSecretValue, errors, a JSON SecretString, ISO
// 8601 times) plus credential_process command lines. Properties (a violation is
// __builtin_trap):
// 1. No parser crashes, leaks or trips a sanitizer on any bytes.
// 2. parse_aws_ini never fails; section names and keys are non-empty and trimmed.
// 3. Accepted credentials have printable, non-empty key id and secret; messages are one line;
//    an error type has no ":uri" suffix.
// 4. An accepted ISO 8601 time formats back (UTC) to the same second.
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>

#include "refresher/aws/aws_credentials.h"
#include "refresher/aws/aws_ini.h"
#include "refresher/aws/aws_responses.h"
#include "shared/text.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  const ckh::AwsIni ini = ckh::parse_aws_ini(text);
  for (const auto& [name, section] : ini.sections) {
    CKH_FUZZ_CHECK(!name.empty() && ckh::trim(name) == name, "an empty or untrimmed section name");
    for (const auto& [key, value] : section) {
      CKH_FUZZ_CHECK(!key.empty() && ckh::trim(key) == key, "an empty or untrimmed key");
    }
  }
  for (const bool process : {false, true}) {
    if (auto creds = ckh::parse_credentials_json(text, process)) {
      CKH_FUZZ_CHECK(!creds->credentials.access_key_id.empty() &&
                         ckh::is_printable_token(creds->credentials.access_key_id) &&
                         !creds->credentials.secret_access_key.empty(),
                     "accepted unusable credentials");
    } else {
      CKH_FUZZ_CHECK(creds.error().message.find('\n') == std::string::npos, "multi-line message");
    }
  }
  if (auto value = ckh::parse_get_secret_value(text)) {
    CKH_FUZZ_CHECK(value->secret_string || value->has_binary, "a secret value with nothing in it");
  }
  const ckh::AwsError error = ckh::parse_aws_error(text, "");
  // awsJson1_1: the type is what follows the first '#' and precedes the first ':' (a later
  // '#' stays, as the rule says).
  CKH_FUZZ_CHECK(error.message.find('\n') == std::string::npos &&
                     error.type.find(':') == std::string::npos &&
                     error.type.find('\n') == std::string::npos,
                 "an error type with a ':' suffix, or a multi-line type or message");
  if (auto key = ckh::secret_json_key(text, "api_key"); !key) {
    CKH_FUZZ_CHECK(key.error().message.find('\n') == std::string::npos, "multi-line message");
  }
  if (auto when = ckh::parse_iso8601(text)) {
    const std::time_t t = static_cast<std::time_t>(*when);
    struct tm parts {};
    CKH_FUZZ_CHECK(::gmtime_r(&t, &parts) != nullptr, "an accepted time gmtime cannot show");
  }
  (void)ckh::split_command_line(text);
  return 0;
}
