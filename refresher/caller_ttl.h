// How long Claude Code caches the helper's output (its apiKeyHelper TTL), as far as the
// refresher can know it, and what that means for a profile whose credentials live shorter.
// The helper hands out a credential only when it stays valid for TTL + margin
// (helper/freshness.h); a credential that lives no longer than that never does, so each
// helper call asks for a refresh (the refresher rate-limits those: schedule.h
// short_lived_min_gap). `check-config` warns about such a profile.
// The TTL comes from CLAUDE_CODE_API_KEY_HELPER_TTL_MS in this environment, else from
// "env" in Claude Code's settings.json ($CLAUDE_CONFIG_DIR or ~/.claude), else Claude
// Code's default (300000 ms); the margin from CLAUDE_KEY_HELPER_MARGIN_MS (default 15000).
// Callers: main.cpp (check-config).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "refresher/config.h"
#include "refresher/env_lookup.h"

namespace ckh {

struct CallerTtl {
  std::int64_t ttl_ms = 300000;
  std::int64_t margin_ms = 15000;
  std::string source;  // where ttl_ms came from, for messages
};

CallerTtl caller_ttl(EnvLookup env = process_env);

// A one-line warning when the profile's credentials (Backend::expected_lifetime) live no
// longer than TTL + margin; none otherwise, or when the lifetime is unknown.
std::optional<std::string> short_lifetime_warning(const ProfileConfig& profile,
                                                  const CallerTtl& ttl);

}  // namespace ckh
