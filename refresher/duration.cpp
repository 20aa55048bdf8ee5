// Durations in the configuration: "<number><unit>" groups, largest unit first, each unit at
// most once ("1h30m", not "30m1h" nor "1m1m"), so that a typo cannot silently add up.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "refresher/config.h"

namespace ckh {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t milliseconds;
};

// Largest first; "ms" before "m" is handled by matching the longest suffix.
constexpr std::array<Unit, 5> kUnits{{
    {"d", 86'400'000},
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Index into kUnits of the unit at the start of text, and its length.
std::optional<std::size_t> match_unit(std::string_view text, std::size_t& length) {
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < kUnits.size(); ++i) {
    const auto suffix = kUnits[i].suffix;
    if (text.starts_with(suffix) && (!best || suffix.size() > length)) {
      best = i;
      length = suffix.size();
    }
  }
  return best;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  std::optional<std::size_t> previous_unit;
  while (!text.empty()) {
    std::int64_t number = 0;
    std::size_t digits = 0;
    while (digits < text.size() && is_digit(text[digits])) {
      if (__builtin_mul_overflow(number, 10, &number) ||
          __builtin_add_overflow(number, text[digits] - '0', &number)) {
        return std::nullopt;
      }
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    text.remove_prefix(digits);
    std::size_t unit_length = 0;
    const auto unit = match_unit(text, unit_length);
    if (!unit || (previous_unit && *unit <= *previous_unit)) return std::nullopt;
    text.remove_prefix(unit_length);
    previous_unit = unit;
    std::int64_t part = 0;
    if (__builtin_mul_overflow(number, kUnits[*unit].milliseconds, &part) ||
        __builtin_add_overflow(total, part, &total)) {
      return std::nullopt;
    }
  }
  return std::chrono::milliseconds(total);
}

std::string format_duration(std::chrono::milliseconds duration) {
  std::int64_t rest = duration.count();
  if (rest == 0) return "0s";
  if (rest < 0) {
    const std::int64_t magnitude = rest == INT64_MIN ? INT64_MAX : -rest;
    std::string negative = "-";
    negative += format_duration(
        std::chrono::milliseconds(magnitude));  // append: g++ 12 -Wrestrict false positive
    return negative;
  }
  std::string text;
  for (const auto& unit : kUnits) {
    const std::int64_t count = rest / unit.milliseconds;
    if (count == 0) continue;
    text += std::to_string(count);
    text += unit.suffix;
    rest -= count * unit.milliseconds;
  }
  return text;
}

}  // namespace ckh
