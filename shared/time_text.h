// The one way a time is shown to a person, by both binaries: UTC in RFC 3339
// ("2026-12-04T20:17:59Z"), plus where it helps a relative form ("in 4m", "4m ago").
// No message shows raw unix seconds. Machine formats (P.cred, P.status, JSON numbers) keep
// their own encodings; JSON carries these strings beside its numbers.
// Guarantees: pure functions of their arguments, no iostreams or fmt (the helper is static).
// Callers: status, the helper's messages, the refresher's log lines and errors.
#pragma once

#include <cstdint>
#include <string>

namespace ckh {

// "2026-12-04T20:17:59Z".
std::string rfc3339_utc(std::int64_t unix_s);

// The distance from now to t in at most two units: "in 4m", "in 1h30m", "2d3h ago", "now"
// (within a second).
std::string relative_time(std::int64_t t, std::int64_t now);

// "2026-12-04T20:17:59Z (in 4m)": what a message shows for a time near enough to matter.
std::string time_and_relative(std::int64_t t, std::int64_t now);

// A configured duration, exactly, in the config file's own units: "4m", "1h30m", "45s",
// "1d2h3m4s", "0s" (negative: "-" and the same). For settings, not for distances in time.
std::string duration_text(std::int64_t seconds);

}  // namespace ckh
