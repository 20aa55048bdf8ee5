#include "shared/time_text.h"

#include <utility>

#include "shared/text.h"

namespace ckh {

std::string rfc3339_utc(std::int64_t unix_s) {
  return format_utc(unix_s, "%Y-%m-%dT%H:%M:%SZ");
}

namespace {

// The two most significant units of a non-negative span: "4m", "1h30m", "2d3h", "45s".
std::string span(std::int64_t seconds) {
  struct Unit {
    std::int64_t seconds;
    char name;
  };
  static constexpr Unit kUnits[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  std::string text;
  int shown = 0;
  for (const Unit& unit : kUnits) {
    if (shown == 2) break;
    const std::int64_t count = seconds / unit.seconds;
    if (count == 0) {
      if (shown > 0) break;  // "1h" rather than "1h0m", "1d" rather than "1d0h"
      continue;
    }
    text += to_decimal(count);
    text += unit.name;
    seconds -= count * unit.seconds;
    ++shown;
  }
  return text;
}

}  // namespace

std::string relative_time(std::int64_t t, std::int64_t now) {
  if (t == now) return "now";
  // Unsigned distance: no overflow even for the extremes of int64.
  const bool future = t > now;
  const std::uint64_t distance =
      future ? static_cast<std::uint64_t>(t) - static_cast<std::uint64_t>(now)
             : static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(t);
  const std::int64_t capped = distance > 100'000ULL * 365 * 86400
                                  ? 100'000LL * 365 * 86400
                                  : static_cast<std::int64_t>(distance);
  return future ? "in " + span(capped) : span(capped) + " ago";
}

std::string duration_text(std::int64_t seconds) {
  if (seconds == 0) return "0s";
  // Unsigned magnitude: INT64_MIN has no positive counterpart.
  std::uint64_t left =
      seconds < 0 ? 0 - static_cast<std::uint64_t>(seconds) : static_cast<std::uint64_t>(seconds);
  std::string text = seconds < 0 ? "-" : "";
  static constexpr std::pair<std::uint64_t, char> kUnits[] = {
      {86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  for (const auto& [unit, name] : kUnits) {
    if (left < unit) continue;
    text += to_decimal(left / unit);
    text += name;
    left %= unit;
  }
  return text;
}

std::string time_and_relative(std::int64_t t, std::int64_t now) {
  return rfc3339_utc(t) + " (" + relative_time(t, now) + ")";
}

}  // namespace ckh
