#include "refresher/caller_ttl.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>

#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {

namespace {

constexpr const char* kTtlVariable = "CLAUDE_CODE_API_KEY_HELPER_TTL_MS";
constexpr std::size_t kMaxSettingsBytes = 1024 * 1024;

std::optional<std::int64_t> positive_ms(std::string_view text) {
  auto value = parse_i64(trim(text));
  if (!value || *value <= 0) return std::nullopt;
  return value;
}

// settings.json's "env" entry for the TTL: a string (what Claude Code documents) or a number.
std::optional<std::int64_t> ttl_from_settings(const std::string& path) {
  auto text = read_regular_file(path, kMaxSettingsBytes);
  if (!text) return std::nullopt;
  simdjson::padded_string json(*text);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document document;
  if (parser.iterate(json).get(document) != simdjson::SUCCESS) return std::nullopt;
  simdjson::ondemand::value value;
  if (document.at_pointer("/env/CLAUDE_CODE_API_KEY_HELPER_TTL_MS").get(value) !=
      simdjson::SUCCESS) {
    return std::nullopt;
  }
  std::string_view as_text;
  if (value.get_string().get(as_text) == simdjson::SUCCESS) return positive_ms(as_text);
  std::int64_t as_number = 0;
  if (value.get_int64().get(as_number) == simdjson::SUCCESS && as_number > 0) return as_number;
  return std::nullopt;
}

std::string seconds_text(std::int64_t ms) {
  return ms % 1000 == 0 ? fmt::format("{}s", ms / 1000) : fmt::format("{}ms", ms);
}

}  // namespace

CallerTtl caller_ttl(EnvLookup env) {
  CallerTtl ttl;
  if (auto margin = env("CLAUDE_KEY_HELPER_MARGIN_MS")) {
    auto value = parse_i64(trim(*margin));
    if (value && *value >= 0) ttl.margin_ms = *value;
  }
  if (auto value = env(kTtlVariable)) {
    if (auto ms = positive_ms(*value)) {
      ttl.ttl_ms = *ms;
      ttl.source = std::string(kTtlVariable) + " in this environment";
      return ttl;
    }
  }
  std::string dir;
  if (auto configured = env("CLAUDE_CONFIG_DIR"); configured && !configured->empty()) {
    dir = *configured;
  } else if (auto home = env("HOME"); home && !home->empty()) {
    dir = *home + "/.claude";
  }
  if (!dir.empty()) {
    const std::string settings = dir + "/settings.json";
    if (auto ms = ttl_from_settings(settings)) {
      ttl.ttl_ms = *ms;
      ttl.source = "env." + std::string(kTtlVariable) + " in " + settings;
      return ttl;
    }
  }
  ttl.source = "Claude Code's default";
  return ttl;
}

std::optional<std::string> short_lifetime_warning(const ProfileConfig& profile,
                                                  const CallerTtl& ttl) {
  const auto lifetime = profile.backend ? profile.backend->expected_lifetime() : std::nullopt;
  if (!lifetime || lifetime->count() <= 0) return std::nullopt;
  const std::int64_t lifetime_ms = lifetime->count() * 1000;
  if (lifetime_ms > ttl.ttl_ms + ttl.margin_ms) return std::nullopt;
  // The installer's rule (install/claude-code-settings.py ttl_for_lifetime): the refresher
  // replaces a credential when min(L/2, refresh_before_expiry) is left, and the TTL plus the
  // helper's margin must fit in that.
  const std::int64_t left_ms =
      std::min(lifetime_ms / 2, profile.refresh_before_expiry.count() * 1000);
  const std::int64_t suggested_ms = std::max<std::int64_t>(5000, left_ms - ttl.margin_ms);
  return fmt::format(
      "profile '{}': its credentials live {} ({} backend), not longer than the helper TTL {} "
      "({}) plus the {} margin: every helper call would ask for a refresh (rate-limited to "
      "one per {}); set env.{} to \"{}\" in Claude Code's settings.json "
      "(claude-code-settings.py register --ttl-ms {}) or make them live longer",
      profile.name, seconds_text(lifetime_ms), profile.backend->name(), seconds_text(ttl.ttl_ms),
      ttl.source, seconds_text(ttl.margin_ms),
      seconds_text(
          std::clamp<std::int64_t>(lifetime_ms / 2000, 1,
                                   std::max<std::int64_t>(1, profile.force_min_interval.count())) *
          1000),
      kTtlVariable, suggested_ms, suggested_ms);
}

}  // namespace ckh
