#include "refresher/oauth2/oauth2_state.h"

#include <array>

#include "shared/kv_lines.h"
#include "shared/text.h"

namespace ckh {
namespace {

constexpr std::string_view kMagic = "claude-key-helper-oauth2";
constexpr unsigned kVersion = 1;
constexpr std::int64_t kMaxTime = 253402300799;  // 9999-12-31T23:59:59Z
constexpr std::array<std::string_view, 14> kKeys = {"refresh_token",
                                                    "access_token",
                                                    "id_token",
                                                    "expires_at",
                                                    "obtained_at",
                                                    "scope",
                                                    "pending_refresh_since",
                                                    "client_secret",
                                                    "settings_fp",
                                                    "issuer",
                                                    "token_endpoint",
                                                    "device_authorization_endpoint",
                                                    "revocation_endpoint",
                                                    "discovery_expires_at"};

bool token_or_empty(std::string_view value) {
  return value.empty() || is_printable_token(value);
}

// Scope and endpoint values: printable, one line (spaces allowed in a scope).
bool printable_line(std::string_view value) {
  for (const char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

Result<Oauth2State> parse_oauth2_state(std::string_view text) {
  auto lines = parse_kv_lines(text, kMagic, kVersion, kKeys);
  if (!lines) return std::unexpected(lines.error());
  const auto& l = *lines;
  Oauth2State state;
  state.refresh_token = std::string(l[0].value);
  state.access_token = std::string(l[1].value);
  state.id_token = std::string(l[2].value);
  state.client_secret = std::string(l[7].value);
  state.settings_fp = std::string(l[8].value);
  for (const auto* token : {&state.refresh_token, &state.access_token, &state.id_token,
                            &state.client_secret, &state.settings_fp}) {
    if (!token_or_empty(*token)) return fail(ErrorClass::corrupt, "has a malformed token");
  }
  const auto expires = parse_optional_time(l[3].value);
  const auto obtained = parse_optional_time(l[4].value);
  const auto pending = parse_optional_time(l[6].value);
  const auto discovery_expires = parse_optional_time(l[13].value);
  // Unix seconds of 1970..9999: the arithmetic on them (when a token is due) cannot overflow.
  const auto in_range = [](const std::optional<std::optional<std::int64_t>>& time) {
    return time && (!*time || (**time >= 0 && **time <= kMaxTime));
  };
  if (!in_range(expires) || !in_range(obtained) || !in_range(pending) ||
      !in_range(discovery_expires)) {
    return fail(ErrorClass::corrupt, "has a malformed time");
  }
  state.expires_at = *expires;
  state.obtained_at = *obtained;
  state.pending_refresh_since = *pending;
  state.discovered.expires_at = *discovery_expires;
  for (std::size_t i : {5u, 9u, 10u, 11u, 12u}) {
    if (!printable_line(l[i].value)) return fail(ErrorClass::corrupt, "has a malformed line");
  }
  state.scope = std::string(l[5].value);
  state.discovered.issuer = std::string(l[9].value);
  state.discovered.token_endpoint = std::string(l[10].value);
  state.discovered.device_authorization_endpoint = std::string(l[11].value);
  state.discovered.revocation_endpoint = std::string(l[12].value);
  // Only the writer's spelling (no "0042" for 42): one text per state, so that comparing
  // texts compares states (is_saved_oauth2_rotation, the unchanged-state check of a fetch).
  if (serialize_oauth2_state(state) != text) {
    return fail(ErrorClass::corrupt, "is not in the form the refresher writes");
  }
  return state;
}

std::string serialize_oauth2_state(const Oauth2State& state) {
  // Values that would break the line format are dropped (they never come from a parse).
  auto line = [](const std::string& value) {
    return printable_line(value) ? value : std::string();
  };
  const std::string expires = format_optional_time(state.expires_at);
  const std::string obtained = format_optional_time(state.obtained_at);
  const std::string pending = format_optional_time(state.pending_refresh_since);
  const std::string discovery_expires = format_optional_time(state.discovered.expires_at);
  const std::string scope = line(state.scope);
  const std::string issuer = line(state.discovered.issuer);
  const std::string token_endpoint = line(state.discovered.token_endpoint);
  const std::string device = line(state.discovered.device_authorization_endpoint);
  const std::string revocation = line(state.discovered.revocation_endpoint);
  const std::array<KvLine, 14> lines = {KvLine{kKeys[0], state.refresh_token},
                                        KvLine{kKeys[1], state.access_token},
                                        KvLine{kKeys[2], state.id_token},
                                        KvLine{kKeys[3], expires},
                                        KvLine{kKeys[4], obtained},
                                        KvLine{kKeys[5], scope},
                                        KvLine{kKeys[6], pending},
                                        KvLine{kKeys[7], state.client_secret},
                                        KvLine{kKeys[8], state.settings_fp},
                                        KvLine{kKeys[9], issuer},
                                        KvLine{kKeys[10], token_endpoint},
                                        KvLine{kKeys[11], device},
                                        KvLine{kKeys[12], revocation},
                                        KvLine{kKeys[13], discovery_expires}};
  return write_kv_lines(kMagic, kVersion, lines);
}

bool is_saved_oauth2_rotation(std::string_view current, std::string_view candidate) {
  const auto before = parse_oauth2_state(current);
  if (!before || !before->pending_refresh_since) return false;
  const auto after = parse_oauth2_state(candidate);
  if (!after || after->pending_refresh_since) return false;
  return after->refresh_token != before->refresh_token ||
         after->access_token != before->access_token;
}

}  // namespace ckh
