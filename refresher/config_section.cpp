#include "refresher/config_section.h"

#include <algorithm>
#include <cctype>
#include <tuple>

#include <fmt/format.h>

#include "shared/text.h"

namespace ckh {
namespace {

char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

// Optimal string alignment distance (Levenshtein plus adjacent transpositions),
// case-insensitive: "refresh_intervl" and "tiemout" are one edit away.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string join_keys(const std::vector<std::string>& keys) {
  std::string text;
  for (const auto& key : keys) {
    if (!text.empty()) text += ", ";
    text += key;
  }
  return text;
}

constexpr std::string_view kDurationExample =
    "a number and a unit (ms, s, m, h or d), largest unit first, e.g. \"90s\", \"4m\" or "
    "\"1h30m\"";

}  // namespace

void ProblemList::add(toml::source_position where, std::string message) {
  problems_.push_back(ConfigProblem{file_, where.line, where.column, std::move(message)});
}

void ProblemList::add_unplaced(std::string message) {
  problems_.push_back(ConfigProblem{file_, 0, 0, std::move(message)});
}

std::vector<ConfigProblem> ProblemList::take_sorted() {
  std::stable_sort(problems_.begin(), problems_.end(),
                   [](const ConfigProblem& a, const ConfigProblem& b) {
                     return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                   });
  return std::move(problems_);
}

std::string_view describe_toml_type(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::optional<std::string_view> suggest_key(std::string_view unknown,
                                            std::span<const std::string_view> known) {
  std::optional<std::string_view> best;
  std::size_t best_distance = 0;
  for (const auto candidate : known) {
    // Small enough to be a typo: one edit for short names, up to three for long ones.
    const std::size_t allowed = std::clamp<std::size_t>(candidate.size() / 3, 1, 3);
    // The distance is at least the difference in length: skip the quadratic work for
    // names that cannot be near (a fuzzer's megabyte-long key).
    const std::size_t length_gap = unknown.size() > candidate.size()
                                       ? unknown.size() - candidate.size()
                                       : candidate.size() - unknown.size();
    if (length_gap > allowed) continue;
    const std::size_t distance = edit_distance(unknown, candidate);
    if (distance <= allowed && (!best || distance < best_distance)) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string quote_from_file(std::string_view text, std::size_t max_bytes) {
  return one_line(text, max_bytes);
}

ConfigSection::ConfigSection(const toml::table* table, std::string label,
                             toml::source_position fallback, ProblemList& problems)
    : table_(table), label_(std::move(label)), fallback_(fallback), problems_(problems) {}

toml::source_position ConfigSection::position() const {
  if (table_ != nullptr && table_->source().begin.line != 0) return table_->source().begin;
  return fallback_;
}

toml::source_position ConfigSection::position_of(std::string_view key) const {
  if (table_ != nullptr) {
    if (const toml::node* node = table_->get(key); node != nullptr && node->source().begin) {
      return node->source().begin;
    }
  }
  return position();
}

const toml::node* ConfigSection::find(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
  return table_ == nullptr ? nullptr : table_->get(key);
}

bool ConfigSection::has(std::string_view key) {
  return find(key) != nullptr;
}

std::optional<bool> ConfigSection::get_bool(std::string_view key) {
  const toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  const auto* value = node->as_boolean();
  if (value == nullptr) {
    problem_at(key, fmt::format("expected true or false, got {}", describe_toml_type(*node)));
    return std::nullopt;
  }
  return value->get();
}

std::optional<std::string> ConfigSection::get_string(std::string_view key,
                                                     std::string_view expected) {
  const toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  const auto* value = node->as_string();
  if (value == nullptr) {
    problem_at(key,
               fmt::format("expected {} (a string), got {}", expected, describe_toml_type(*node)));
    return std::nullopt;
  }
  const std::string& text = value->get();
  if (text.find('\0') != std::string::npos) {
    problem_at(key, fmt::format("expected {}; a NUL byte is not allowed", expected));
    return std::nullopt;
  }
  return text;
}

std::optional<std::vector<std::string>> ConfigSection::get_strings(std::string_view key,
                                                                   std::string_view expected) {
  const toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  if (node->is_array()) return get_string_array(key, expected);
  auto text = get_string(key, expected);
  if (!text) return std::nullopt;
  return std::vector<std::string>{*text};
}

std::optional<std::vector<std::string>> ConfigSection::get_string_array(std::string_view key,
                                                                        std::string_view expected) {
  const toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  const auto* array = node->as_array();
  if (array == nullptr) {
    problem_at(key, fmt::format("expected {} (an array of strings), got {}", expected,
                                describe_toml_type(*node)));
    return std::nullopt;
  }
  std::vector<std::string> items;
  bool ok = true;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    const auto* text = element.as_string();
    std::string_view wrong;
    if (text == nullptr) {
      wrong = describe_toml_type(element);
    } else if (text->get().find('\0') != std::string::npos) {
      wrong = "a string with a NUL byte";
    }
    if (!wrong.empty()) {
      // Placed at the element; its value is not quoted (an argument may be sensitive).
      const auto where = element.source().begin ? element.source().begin : position_of(key);
      problems_.add(where, fmt::format("'{}' in {}: element {} is {}; expected {} (an array "
                                       "of strings)",
                                       key, label_, i + 1, wrong, expected));
      ok = false;
      continue;
    }
    items.push_back(text->get());
  }
  if (!ok) return std::nullopt;
  return items;
}

std::optional<std::vector<std::pair<std::string, std::string>>> ConfigSection::get_string_table(
    std::string_view key, std::string_view expected) {
  const toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  const auto* table = node->as_table();
  if (table == nullptr) {
    problem_at(key, fmt::format("expected {} (a table of strings), got {}", expected,
                                describe_toml_type(*node)));
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> items;
  bool ok = true;
  for (auto&& [name, element] : *table) {
    const auto* text = element.as_string();
    if (text == nullptr || text->get().find('\0') != std::string::npos) {
      const auto where = element.source().begin ? element.source().begin : position_of(key);
      problems_.add(where, fmt::format("'{}.{}' in {}: is {}; expected {} (a table of strings)",
                                       key, quote_from_file(name.str()), label_,
                                       text ? "a string with a NUL byte"
                                            : std::string(describe_toml_type(element)),
                                       expected));
      ok = false;
      continue;
    }
    items.emplace_back(std::string(name.str()), text->get());
  }
  if (!ok) return std::nullopt;
  return items;
}

std::optional<std::int64_t> ConfigSection::get_integer(std::string_view key, std::int64_t min,
                                                       std::int64_t max) {
  const toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  const auto* value = node->as_integer();
  if (value == nullptr) {
    problem_at(key, fmt::format("expected an integer from {} to {}, got {}", min, max,
                                describe_toml_type(*node)));
    return std::nullopt;
  }
  const std::int64_t number = value->get();
  if (number < min || number > max) {
    problem_at(key, fmt::format("{} is out of range; expected an integer from {} to {}", number,
                                min, max));
    return std::nullopt;
  }
  return number;
}

std::optional<std::chrono::milliseconds> ConfigSection::read_duration(std::string_view key) {
  const toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  const auto* value = node->as_string();
  if (value == nullptr) {
    const std::string_view hint = node->is_number() ? " (write \"240s\" for 240 seconds)" : "";
    problem_at(key, fmt::format("expected a duration string such as \"4m\", got {}{}",
                                describe_toml_type(*node), hint));
    return std::nullopt;
  }
  const auto duration = parse_duration(value->get());
  if (!duration) {
    problem_at(key, fmt::format("\"{}\" is not a duration; expected {}",
                                quote_from_file(value->get(), 40), kDurationExample));
  }
  return duration;
}

bool ConfigSection::check_range(std::string_view key, std::chrono::milliseconds value,
                                std::chrono::milliseconds min, std::chrono::milliseconds max) {
  if (value >= min && value <= max) return true;
  problem_at(key, fmt::format("{} is out of range; expected at least {} and at most {}",
                              format_duration(value), format_duration(min), format_duration(max)));
  return false;
}

std::optional<std::chrono::milliseconds> ConfigSection::get_duration(
    std::string_view key, std::chrono::milliseconds min, std::chrono::milliseconds max) {
  const auto duration = read_duration(key);
  if (!duration || !check_range(key, *duration, min, max)) return std::nullopt;
  return duration;
}

std::optional<std::chrono::seconds> ConfigSection::get_duration_seconds(std::string_view key,
                                                                        std::chrono::seconds min,
                                                                        std::chrono::seconds max) {
  const auto duration = read_duration(key);
  if (!duration) return std::nullopt;
  // Rounded before the range check: "250ms" is 1s, as far as anyone can tell.
  const auto rounded = std::chrono::ceil<std::chrono::seconds>(*duration);
  if (!check_range(key, rounded, min, max)) return std::nullopt;
  return rounded;
}

void ConfigSection::problem(std::string_view message) {
  if (present()) {
    problems_.add(position(), fmt::format("{}: {}", label_, message));
  } else {
    problems_.add(position(), fmt::format("missing section {}: {}", label_, message));
  }
}

void ConfigSection::problem_at(std::string_view key, std::string_view message) {
  problems_.add(position_of(key), fmt::format("'{}' in {}: {}", key, label_, message));
}

void ConfigSection::report_unknown_keys() {
  if (table_ == nullptr) return;
  const std::vector<std::string_view> candidates(known_.begin(), known_.end());
  for (auto&& [key, node] : *table_) {
    const std::string_view name = key.str();
    if (std::find(known_.begin(), known_.end(), name) != known_.end()) continue;
    const auto where = key.source().begin ? key.source().begin : node.source().begin;
    const std::string shown = quote_from_file(name);
    if (const auto suggestion = suggest_key(name, candidates)) {
      problems_.add(where, fmt::format("unknown key '{}' in {}; did you mean '{}'?", shown, label_,
                                       *suggestion));
    } else {
      problems_.add(where, fmt::format("unknown key '{}' in {}; expected one of: {}", shown, label_,
                                       join_keys(known_)));
    }
  }
}

bool ConfigSection::take_duration(std::string_view key, std::chrono::milliseconds min,
                                  std::chrono::milliseconds max, std::chrono::milliseconds& into) {
  if (auto value = get_duration(key, min, max)) {
    into = *value;
    return true;
  }
  return !has(key);
}

bool ConfigSection::take_duration_seconds(std::string_view key, std::chrono::seconds min,
                                          std::chrono::seconds max, std::chrono::seconds& into) {
  if (auto value = get_duration_seconds(key, min, max)) {
    into = *value;
    return true;
  }
  return !has(key);
}

}  // namespace ckh
