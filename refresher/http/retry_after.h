// Parsing an HTTP Retry-After header value (RFC 9110 §10.2.3). Pure; no clock of its own.
// Guarantees: delta-seconds ("120") or an HTTP-date in any of the three forms of RFC 9110
// §5.6.7 (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", obsolete RFC 850
// "Sunday, 06-Nov-94 08:49:37 GMT", asctime "Sun Nov  6 08:49:37 1994") becomes a number of
// seconds from now_unix, clamped to [0, 86400] (a date in the past is 0); surrounding white
// space is allowed; anything else (signs, fractions, unknown formats, impossible dates)
// gives none. Callers: backends that honour 429/503 answers.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ckh {

inline constexpr std::int64_t kMaxRetryAfterSeconds = 86'400;

std::optional<std::int64_t> retry_after_seconds(std::string_view header_value,
                                                std::int64_t now_unix);

}  // namespace ckh
