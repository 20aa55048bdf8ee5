#include "refresher/oauth/oauth_urls.h"

#include "shared/text.h"

namespace ckh {
namespace {}  // namespace

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_digit_value(text[i + 1]) >= 0 &&
        hex_digit_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit_value(text[i + 1]) * 16 + hex_digit_value(text[i + 2]));
      i += 2;
    } else if (text[i] == '+') {
      out += ' ';
    } else {
      out += text[i];
    }
  }
  return out;
}

std::optional<std::string> query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto equals = pair.find('=');
    const std::string_view key = pair.substr(0, equals);
    if (percent_decode(key) == name) {
      return equals == std::string_view::npos ? std::string()
                                              : percent_decode(pair.substr(equals + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::string authorize_url(const AnthropicOAuthSettings& settings, std::string_view redirect_uri,
                          const std::vector<std::string>& scopes, std::string_view challenge,
                          std::string_view state) {
  std::string scope;
  for (const auto& s : scopes) scope += (scope.empty() ? "" : " ") + s;
  const char separator = settings.authorize_url.find('?') == std::string::npos ? '?' : '&';
  return settings.authorize_url + separator +
         "code=true&client_id=" + percent_encode(settings.client_id) +
         "&response_type=code&redirect_uri=" + percent_encode(redirect_uri) +
         "&scope=" + percent_encode(scope) + "&code_challenge=" + percent_encode(challenge) +
         "&code_challenge_method=S256&state=" + percent_encode(state);
}

std::optional<PastedCode> parse_pasted_code(std::string_view line) {
  line = trim(line);
  if (line.empty()) return std::nullopt;
  const auto question = line.find('?');
  if (line.find("code=") != std::string_view::npos) {
    const std::string_view query =
        question == std::string_view::npos ? line : line.substr(question + 1);
    auto code = query_value(query.substr(0, query.find('#')), "code");
    auto state = query_value(query.substr(0, query.find('#')), "state");
    if (code && state && !code->empty() && !state->empty() && is_printable_token(*code) &&
        is_printable_token(*state)) {
      return PastedCode{*code, *state};
    }
    return std::nullopt;
  }
  const auto hash = line.rfind('#');
  if (hash == std::string_view::npos || hash == 0 || hash + 1 == line.size()) return std::nullopt;
  const std::string_view code = line.substr(0, hash);
  const std::string_view state = line.substr(hash + 1);
  if (!is_printable_token(code) || !is_printable_token(state)) return std::nullopt;
  return PastedCode{std::string(code), std::string(state)};
}

std::optional<CallbackRequest> parse_callback_request_line(std::string_view line) {
  const auto first = line.find(' ');
  const auto last = line.rfind(' ');
  if (first == std::string_view::npos || last <= first + 1) return std::nullopt;
  if (line.substr(0, first) != "GET") return std::nullopt;
  const std::string_view target = line.substr(first + 1, last - first - 1);
  if (target.find(' ') != std::string_view::npos) return std::nullopt;
  const auto question = target.find('?');
  CallbackRequest request;
  request.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) request.query = std::string(target.substr(question + 1));
  return request;
}

}  // namespace ckh
