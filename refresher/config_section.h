// Typed reading of one TOML table of the configuration, collecting problems instead of
// stopping at the first one. Guarantees:
// - every problem carries the file, line and column of the offending key or value (or of
//   the section header when a key is missing) and says what was expected;
// - a key counts as known once a getter or has() asked for it; report_unknown_keys() then
//   reports every other key, suggesting the closest known one when it is a likely typo;
// - text from the file that appears in a message is cut to one short line.
// Callers: config.cpp (top level and [profile.P]) and every backend's factory
// ([profile.P.<backend>]), see backends/registry.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "refresher/config.h"

namespace ckh {

// The problems found in one configuration file, in the order found.
class ProblemList {
 public:
  explicit ProblemList(std::string file) : file_(std::move(file)) {}
  void add(toml::source_position where, std::string message);
  void add_unplaced(std::string message);
  std::size_t size() const { return problems_.size(); }
  bool empty() const { return problems_.empty(); }
  // Sorted by position (unplaced first), stable otherwise.
  std::vector<ConfigProblem> take_sorted();

 private:
  std::string file_;
  std::vector<ConfigProblem> problems_;
};

// "a string", "an integer", ...: for "expected X, got Y" messages.
std::string_view describe_toml_type(const toml::node& node);

// The known key closest to `unknown` when it is near enough to be a typo (a small
// optimal-string-alignment distance, case-insensitive), else nothing.
std::optional<std::string_view> suggest_key(std::string_view unknown,
                                            std::span<const std::string_view> known);

// Text from the file as it may appear in a message: one line, at most max_bytes.
std::string quote_from_file(std::string_view text, std::size_t max_bytes = 64);

class ConfigSection {
 public:
  // table may be null: the section is absent from the file. Getters then find nothing, and
  // problems are placed at `fallback` (the enclosing section's header).
  ConfigSection(const toml::table* table, std::string label, toml::source_position fallback,
                ProblemList& problems);

  const std::string& label() const { return label_; }  // "[profile.default.static]"
  bool present() const { return table_ != nullptr; }
  toml::source_position position() const;
  toml::source_position position_of(std::string_view key) const;

  // Marks key as known; true when the section holds it (whatever its type).
  bool has(std::string_view key);

  // Each getter marks key as known and returns nothing when the key is absent or when it
  // recorded a problem (wrong type, bad value, out of range). `expected` completes
  // "expected ..." in the message, e.g. "an environment variable name".
  std::optional<std::string> get_string(std::string_view key, std::string_view expected);
  std::optional<std::vector<std::string>> get_string_array(std::string_view key,
                                                           std::string_view expected);
  // A string or an array of strings (`scope = "a b"` or `resource = ["x", "y"]`): a string
  // is one element.
  std::optional<std::vector<std::string>> get_strings(std::string_view key,
                                                      std::string_view expected);
  // A table of strings ({ Name = "value", ... }), in the file's key order (sorted).
  std::optional<std::vector<std::pair<std::string, std::string>>> get_string_table(
      std::string_view key, std::string_view expected);
  std::optional<bool> get_bool(std::string_view key);
  std::optional<std::int64_t> get_integer(std::string_view key, std::int64_t min, std::int64_t max);
  std::optional<std::chrono::milliseconds> get_duration(std::string_view key,
                                                        std::chrono::milliseconds min,
                                                        std::chrono::milliseconds max);
  // The same rounded up to whole seconds ("250ms" is 1s).
  std::optional<std::chrono::seconds> get_duration_seconds(std::string_view key,
                                                           std::chrono::seconds min,
                                                           std::chrono::seconds max);

  // The getters above for optional keys with a default already in `into`: true when the key
  // is absent (into unchanged) or valid (into set); false when it is present and wrong (the
  // problem is recorded). For backends' many optional settings.
  bool take_duration(std::string_view key, std::chrono::milliseconds min,
                     std::chrono::milliseconds max, std::chrono::milliseconds& into);
  bool take_duration_seconds(std::string_view key, std::chrono::seconds min,
                             std::chrono::seconds max, std::chrono::seconds& into);

  // "[profile.P.static]: <message>" at the header ("missing section ...: " when absent).
  void problem(std::string_view message);
  // "'key' in [profile.P.static]: <message>" at the key's value.
  void problem_at(std::string_view key, std::string_view message);

  // Reports each key no getter (or has()) asked for, with the closest known key as a
  // suggestion, or the list of known keys.
  void report_unknown_keys();

 private:
  const toml::node* find(std::string_view key);
  std::optional<std::chrono::milliseconds> read_duration(std::string_view key);
  bool check_range(std::string_view key, std::chrono::milliseconds value,
                   std::chrono::milliseconds min, std::chrono::milliseconds max);

  const toml::table* table_;
  std::string label_;
  toml::source_position fallback_;
  ProblemList& problems_;
  std::vector<std::string> known_;
};

}  // namespace ckh
