// What a device authorization endpoint answers (RFC 8628 §3.2), parsed: a pure function of
// the bytes received (fuzzed: tests/fuzz/fuzz_oauth2_response.cpp).
// Guarantees: accepted only with a printable device_code, a printable user_code of at most
// 64 bytes, an http(s) verification_uri (Google's verification_url too) that is one
// printable token, and expires_in > 0 (capped at one hour); verification_uri_complete is
// kept only when it meets the same rule; interval defaults to 5 s and is capped at 60 s.
// Anything else is a transient error that quotes nothing of the body.
// Callers: oauth2/device_login.cpp, tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shared/error.h"

namespace ckh {

struct DeviceAuthorization {
  std::string device_code;
  std::string user_code;
  std::string verification_uri;
  std::string verification_uri_complete;  // empty: none
  std::int64_t expires_in = 0;
  std::int64_t interval = 5;
};

Result<DeviceAuthorization> parse_device_authorization(std::string_view body);

}  // namespace ckh
