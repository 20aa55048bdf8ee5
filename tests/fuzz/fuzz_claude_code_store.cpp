// libFuzzer target for Claude Code's credential store (refresher/sinks/claude_code_store.h):
// the file another program (Claude Code) writes and we rewrite in place.
// Properties checked on every input (a violation is __builtin_trap, i.e. a crash):
// 1. parse_claude_code_store never crashes, leaks or trips a sanitizer, whatever the bytes.
//    A refusal is ErrorClass::corrupt with a one-line message of our own words (it names
//    the store, never quotes the input).
// 2. The renderers agree with the parser: when the parser refuses a text, both renderers
//    refuse it too (a write never destroys what could not be read).
// 3. Round trip of what was read: re-rendering the parsed entry (when it is not a stub)
//    gives text that parses to the same entry, and rendering that text again with the same
//    entry returns it unchanged (a fixed point: a refresh that changes nothing is a no-op).
// 4. Writer's side: an entry built from the same bytes the way the backend builds one is
//    either refused (a stub or a non-UTF-8 string: permanent, never written) or rendered
//    over the input to a text that parses back to exactly that entry.
// 5. Logout: render_without_claude_code_entry gives a text that parses with no entry.
// 6. Every render keeps every other top-level member, in order, with the same value
//    (checked independently of the module, with simdjson's DOM).
// 7. What render writes is never a stub, read independently with simdjson's DOM: the entry
//    is an object whose accessToken and refreshToken are non-empty strings, expiresAt a
//    positive integer and scopes an array (Claude Code #85262).
// Each input is checked three times: as a whole store, as the claudeAiOauth value inside a
// store, and as the choices of a small JSON grammar that knows the entry's keys (so every
// field parser is reached without seeds or a dictionary).
#include <fuzzer/FuzzedDataProvider.h>
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "refresher/json_writer.h"
#include "refresher/sinks/claude_code_store.h"
#include "shared/error.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using Members = std::vector<std::pair<std::string, std::string>>;

// The top-level members other than claudeAiOauth, each value minified, as simdjson's DOM
// sees them. nullopt when the text is not a JSON object ("" counts as an empty one).
std::optional<Members> other_members(std::string_view text) {
  Members members;
  if (text.find_first_not_of(" \t\n\r") == std::string_view::npos) return members;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  const simdjson::padded_string padded(text);
  simdjson::dom::object object;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS ||
      root.get_object().get(object) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  for (auto [key, value] : object) {
    if (key == "claudeAiOauth") continue;
    members.emplace_back(std::string(key), simdjson::minify(value));
  }
  return members;
}

void check_keeps_others(std::string_view original, const std::string& rendered) {
  const auto before = other_members(original);
  const auto after = other_members(rendered);
  CKH_FUZZ_CHECK_SHOW(after.has_value(), "a rendered store is not a JSON object", "rendered",
                      rendered);
  CKH_FUZZ_CHECK_SHOW(before.has_value() && *before == *after,
                      "a render lost or changed another top-level member", "rendered", rendered);
}

bool entry_is_complete(const std::string& rendered) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(rendered);
  simdjson::dom::element root;
  simdjson::dom::object entry;
  std::string_view access, refresh;
  std::int64_t expires_at = 0;
  simdjson::dom::array scopes;
  return parser.parse(padded).get(root) == simdjson::SUCCESS &&
         root["claudeAiOauth"].get_object().get(entry) == simdjson::SUCCESS &&
         entry["accessToken"].get_string().get(access) == simdjson::SUCCESS && !access.empty() &&
         entry["refreshToken"].get_string().get(refresh) == simdjson::SUCCESS && !refresh.empty() &&
         entry["expiresAt"].get_int64().get(expires_at) == simdjson::SUCCESS && expires_at > 0 &&
         entry["scopes"].get_array().get(scopes) == simdjson::SUCCESS;
}

bool writable(const ckh::ClaudeAiOauth& oauth) {
  const auto utf8 = [](const std::string& text) {
    return simdjson::validate_utf8(text.data(), text.size());
  };
  bool ok = !oauth.access_token.empty() && !oauth.refresh_token.empty() &&
            oauth.expires_at_ms > 0 && utf8(oauth.access_token) && utf8(oauth.refresh_token);
  for (const auto& scope : oauth.scopes) ok = ok && utf8(scope);
  for (const auto* text : {&oauth.subscription_type, &oauth.rate_limit_tier, &oauth.client_id}) {
    if (*text) ok = ok && utf8(**text);
  }
  return ok;
}

// Renders `oauth` over `original` and checks the result reads back as exactly `oauth`.
void check_render(std::string_view original, const ckh::ClaudeAiOauth& oauth) {
  auto rendered = ckh::render_claude_code_store(original, oauth);
  if (!writable(oauth)) {
    CKH_FUZZ_CHECK(!rendered && rendered.error().kind == ckh::ErrorClass::permanent,
                   "a stub or non-UTF-8 entry was not refused as permanent");
    return;
  }
  CKH_FUZZ_CHECK_SHOW(rendered.has_value(), "render refused a writable entry over a valid store",
                      "original", original);
  auto again = ckh::parse_claude_code_store(*rendered);
  CKH_FUZZ_CHECK_SHOW(again.has_value(), "parse refuses what render wrote", "rendered", *rendered);
  CKH_FUZZ_CHECK_SHOW(again->has_value() && **again == oauth,
                      "the entry changed in render -> parse", "rendered", *rendered);
  CKH_FUZZ_CHECK_SHOW(entry_is_complete(*rendered), "render wrote an incomplete entry", "rendered",
                      *rendered);
  auto twice = ckh::render_claude_code_store(*rendered, oauth);
  CKH_FUZZ_CHECK_SHOW(twice.has_value() && *twice == *rendered,
                      "rendering the same entry again is not a fixed point", "rendered", *rendered);
  check_keeps_others(original, *rendered);
}

std::string short_string(FuzzedDataProvider& input) {
  return input.ConsumeRandomLengthString(48);
}

std::optional<std::string> maybe_string(FuzzedDataProvider& input) {
  if (!input.ConsumeBool()) return std::nullopt;
  return short_string(input);
}

ckh::ClaudeAiOauth entry_from(FuzzedDataProvider& input) {
  ckh::ClaudeAiOauth oauth;
  oauth.access_token = short_string(input);
  oauth.refresh_token = short_string(input);
  oauth.expires_at_ms = input.ConsumeIntegral<std::int64_t>();
  const auto scope_count = input.ConsumeIntegralInRange<int>(0, 4);
  for (int i = 0; i < scope_count; ++i) oauth.scopes.push_back(short_string(input));
  oauth.subscription_type = maybe_string(input);
  oauth.rate_limit_tier = maybe_string(input);
  if (input.ConsumeBool())
    oauth.refresh_token_expires_at_ms = input.ConsumeIntegral<std::int64_t>();
  oauth.client_id = maybe_string(input);
  return oauth;
}

// A store built from the bytes by a small grammar: known keys, every JSON type, nesting,
// escapes and white space. Reaches every field parser without seeds or a dictionary.
class StoreGrammar {
 public:
  StoreGrammar(const std::uint8_t* data, std::size_t size) : input_(data, size) {}

  std::string store() {
    std::string out = "{";
    const int members = input_.ConsumeIntegralInRange<int>(0, 4);
    for (int i = 0; i < members; ++i) {
      if (i != 0) out += ',';
      const bool entry = input_.ConsumeIntegralInRange<int>(0, 2) != 0;
      out += space() + (entry ? key_text("claudeAiOauth") : key_text(pick_other_key())) + space() +
             ":" + space();
      out += entry && input_.ConsumeIntegralInRange<int>(0, 5) != 0 ? entry_object() : value(2);
    }
    return out + "}";
  }

 private:
  static constexpr const char* kEntryKeys[] = {
      "accessToken",   "refreshToken",          "expiresAt", "scopes", "subscriptionType",
      "rateLimitTier", "refreshTokenExpiresAt", "clientId",  "extra",  "accessToken"};

  std::string space() {
    static constexpr const char* kSpaces[] = {"", "", "", " ", "\n  ", "\t"};
    return kSpaces[input_.ConsumeIntegralInRange<int>(0, 5)];
  }

  std::string pick_other_key() {
    static constexpr const char* kOthers[] = {"mcpOAuth", "x", "claudeAiOauthX", ""};
    const int which = input_.ConsumeIntegralInRange<int>(0, 4);
    return which < 4 ? kOthers[which] : input_.ConsumeRandomLengthString(8);
  }

  // A key, sometimes with its first letter written as a \u escape.
  std::string key_text(std::string_view key) {
    if (!key.empty() && input_.ConsumeIntegralInRange<int>(0, 7) == 0) {
      static constexpr char kHex[] = "0123456789abcdef";
      const auto first = static_cast<unsigned char>(key.front());
      return std::string("\"\\u00") + kHex[first >> 4] + kHex[first & 0xf] +
             std::string(key.substr(1)) + "\"";
    }
    return ckh::json_string(key);
  }

  std::string entry_object() {
    std::string out = "{";
    const int members = input_.ConsumeIntegralInRange<int>(0, 9);
    for (int i = 0; i < members; ++i) {
      if (i != 0) out += ',';
      const char* key = kEntryKeys[input_.ConsumeIntegralInRange<int>(0, 9)];
      out += key_text(key) + ":" + space() + entry_value(key);
    }
    return out + "}";
  }

  // Mostly the right type for the key, sometimes any value.
  std::string entry_value(std::string_view key) {
    if (input_.ConsumeIntegralInRange<int>(0, 4) == 0) return value(1);
    if (key == "expiresAt" || key == "refreshTokenExpiresAt") return number();
    if (key == "scopes") {
      std::string out = "[";
      const int count = input_.ConsumeIntegralInRange<int>(0, 3);
      for (int i = 0; i < count; ++i) out += (i ? "," : "") + string_value();
      return out + "]";
    }
    return string_value();
  }

  std::string number() {
    static constexpr const char* kForms[] = {
        "1.76e12", "-0.5", "1e400", "18446744073709551616", "0", "-9223372036854775808",
        "1E3",     "2.0"};
    const int which = input_.ConsumeIntegralInRange<int>(0, 8);
    if (which < 8) return kForms[which];
    return std::to_string(input_.ConsumeIntegral<std::int64_t>());
  }

  std::string string_value() {
    std::string text = input_.ConsumeRandomLengthString(24);
    if (input_.ConsumeBool()) return ckh::json_string(text);
    return "\"" + text + "\"";  // raw bytes: escapes, bad UTF-8, stray quotes
  }

  std::string value(int depth) {
    switch (input_.ConsumeIntegralInRange<int>(0, depth > 0 ? 6 : 4)) {
      case 0:
        return "null";
      case 1:
        return input_.ConsumeBool() ? "true" : "false";
      case 2:
        return number();
      case 3:
      case 4:
        return string_value();
      case 5: {
        std::string out = "[";
        const int count = input_.ConsumeIntegralInRange<int>(0, 3);
        for (int i = 0; i < count; ++i) out += (i ? "," + space() : "") + value(depth - 1);
        return out + "]";
      }
      default: {
        std::string out = "{";
        const int count = input_.ConsumeIntegralInRange<int>(0, 3);
        for (int i = 0; i < count; ++i) {
          out += (i ? "," : "") + key_text(pick_other_key()) + ":" + value(depth - 1);
        }
        return out + "}";
      }
    }
  }

  FuzzedDataProvider input_;
};

// Every property above, for one text; `data` feeds the writer's-side entry.
void check_store(std::string_view text, const std::uint8_t* data, std::size_t size) {
  auto parsed = ckh::parse_claude_code_store(text);
  if (!parsed) {
    const std::string& message = parsed.error().message;
    CKH_FUZZ_CHECK(parsed.error().kind == ckh::ErrorClass::corrupt,
                   "a refused store is not ErrorClass::corrupt");
    CKH_FUZZ_CHECK(message.find('\n') == std::string::npos, "a refusal message spans lines");
    CKH_FUZZ_CHECK(message.rfind("Claude Code's credential store ", 0) == 0 && message.size() < 200,
                   "a refusal message is not our own short sentence");
    CKH_FUZZ_CHECK(!ckh::render_without_claude_code_entry(text),
                   "logout rendered a store the parser refuses");
    ckh::ClaudeAiOauth stub_free;
    stub_free.access_token = "a";
    stub_free.refresh_token = "r";
    stub_free.expires_at_ms = 1;
    CKH_FUZZ_CHECK(!ckh::render_claude_code_store(text, stub_free),
                   "render wrote over a store the parser refuses");
    return;
  }

  if (*parsed && writable(**parsed)) check_render(text, **parsed);

  FuzzedDataProvider input(data, size);
  check_render(text, entry_from(input));

  auto logged_out = ckh::render_without_claude_code_entry(text);
  CKH_FUZZ_CHECK_SHOW(logged_out.has_value(), "logout refused a store the parser accepts",
                      "original", text);
  auto after = ckh::parse_claude_code_store(*logged_out);
  CKH_FUZZ_CHECK_SHOW(after.has_value() && !after->has_value(),
                      "after logout the store still has (or cannot be read for) an entry",
                      "rendered", *logged_out);
  check_keeps_others(text, *logged_out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_store(text, data, size);
  // The same bytes as the claudeAiOauth value of a store with another member around it:
  // reaches the entry's parser and the in-place update without the fuzzer first having to
  // discover the whole top-level shape.
  const std::string wrapped = "{\"a\":[1],\"claudeAiOauth\":" + std::string(text) + ",\"z\":{}}";
  check_store(wrapped, data, size);
  check_store(StoreGrammar(data, size).store(), data, size);
  return 0;
}
