#include "refresher/http/retry_after.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace ckh {

namespace {

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kShortDays = {"Mon", "Tue", "Wed", "Thu",
                                                        "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// The year of a unix time (H. Hinnant's civil_from_days, year only).
std::int64_t year_of(std::int64_t unix_s) {
  std::int64_t z = (unix_s >= 0 ? unix_s : unix_s - 86399) / 86400 + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
}

bool is_leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
  constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

struct DateTime {
  std::int64_t year = 0;
  unsigned month = 0;  // 1..12
  unsigned day = 0;
  unsigned hour = 0;
  unsigned minute = 0;
  unsigned second = 0;
};

// A left-to-right reader of the fixed grammar; every method consumes only on success.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : rest_(text) {}
  bool done() const { return rest_.empty(); }

  bool literal(std::string_view expected) {
    if (rest_.size() < expected.size()) return false;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(rest_[i])) !=
          std::tolower(static_cast<unsigned char>(expected[i]))) {
        return false;
      }
    }
    rest_.remove_prefix(expected.size());
    return true;
  }

  // Exactly `count` decimal digits.
  std::optional<unsigned> digits(std::size_t count) {
    if (rest_.size() < count) return std::nullopt;
    unsigned value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(rest_[i]))) return std::nullopt;
      value = value * 10 + static_cast<unsigned>(rest_[i] - '0');
    }
    rest_.remove_prefix(count);
    return value;
  }

  // The index of the name that comes next (longest names are tried by the caller's order).
  template <std::size_t N>
  std::optional<unsigned> one_of(const std::array<std::string_view, N>& names) {
    for (std::size_t i = 0; i < N; ++i) {
      if (literal(names[i])) return static_cast<unsigned>(i);
    }
    return std::nullopt;
  }

 private:
  std::string_view rest_;
};

// time-of-day = hour ":" minute ":" second
bool read_time(Cursor& in, DateTime& out) {
  const auto hour = in.digits(2);
  if (!hour || !in.literal(":")) return false;
  const auto minute = in.digits(2);
  if (!minute || !in.literal(":")) return false;
  const auto second = in.digits(2);
  if (!second) return false;
  out.hour = *hour;
  out.minute = *minute;
  out.second = *second;
  return true;
}

bool read_month(Cursor& in, DateTime& out) {
  const auto month = in.one_of(kMonths);
  if (!month) return false;
  out.month = *month + 1;
  return true;
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<DateTime> parse_imf_fixdate(std::string_view text) {
  Cursor in(text);
  DateTime out;
  if (!in.one_of(kShortDays) || !in.literal(", ")) return std::nullopt;
  const auto day = in.digits(2);
  if (!day || !in.literal(" ") || !read_month(in, out) || !in.literal(" ")) return std::nullopt;
  const auto year = in.digits(4);
  if (!year || !in.literal(" ") || !read_time(in, out) || !in.literal(" GMT") || !in.done()) {
    return std::nullopt;
  }
  out.day = *day;
  out.year = *year;
  return out;
}

// RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; a two-digit year more than 50 years in the
// future means the past century (RFC 9110 §5.6.7).
std::optional<DateTime> parse_rfc850(std::string_view text, std::int64_t now_unix) {
  Cursor in(text);
  DateTime out;
  if (!in.one_of(kLongDays) || !in.literal(", ")) return std::nullopt;
  const auto day = in.digits(2);
  if (!day || !in.literal("-") || !read_month(in, out) || !in.literal("-")) return std::nullopt;
  const auto year = in.digits(2);
  if (!year || !in.literal(" ") || !read_time(in, out) || !in.literal(" GMT") || !in.done()) {
    return std::nullopt;
  }
  // Clamped so that absurd clocks cannot overflow the calendar arithmetic.
  const std::int64_t now_year = year_of(std::clamp<std::int64_t>(now_unix, 0, 253'402'300'799));
  out.year = now_year - now_year % 100 + *year;
  if (out.year > now_year + 50) out.year -= 100;
  out.day = *day;
  return out;
}

// asctime: "Sun Nov  6 08:49:37 1994" (day: two digits or a space and one digit)
std::optional<DateTime> parse_asctime(std::string_view text) {
  Cursor in(text);
  DateTime out;
  if (!in.one_of(kShortDays) || !in.literal(" ") || !read_month(in, out) || !in.literal(" ")) {
    return std::nullopt;
  }
  auto day = in.literal(" ") ? in.digits(1) : in.digits(2);
  if (!day || !in.literal(" ") || !read_time(in, out) || !in.literal(" ")) return std::nullopt;
  const auto year = in.digits(4);
  if (!year || !in.done()) return std::nullopt;
  out.day = *day;
  out.year = *year;
  return out;
}

bool is_valid(const DateTime& t) {
  return t.month >= 1 && t.month <= 12 && t.day >= 1 && t.day <= days_in_month(t.year, t.month) &&
         t.hour <= 23 && t.minute <= 59 && t.second <= 60;  // 60: a leap second
}

std::optional<std::int64_t> parse_delta(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t value = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    if (value <= kMaxRetryAfterSeconds) value = value * 10 + (c - '0');
  }
  return std::min(value, kMaxRetryAfterSeconds);
}

std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::optional<std::int64_t> retry_after_seconds(std::string_view header_value,
                                                std::int64_t now_unix) {
  const std::string_view text = trim_ows(header_value);
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text.front()))) {
    return parse_delta(text);
  }
  std::optional<DateTime> date = parse_imf_fixdate(text);
  if (!date) date = parse_rfc850(text, now_unix);
  if (!date) date = parse_asctime(text);
  if (!date || !is_valid(*date)) return std::nullopt;
  const std::int64_t at = days_from_civil(date->year, date->month, date->day) * 86400 +
                          date->hour * 3600 + date->minute * 60 + date->second;
  if (at <= now_unix) return 0;
  if (now_unix < at - kMaxRetryAfterSeconds) return kMaxRetryAfterSeconds;
  return at - now_unix;
}

}  // namespace ckh
