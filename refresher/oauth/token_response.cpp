#include "refresher/oauth/token_response.h"

#include <simdjson.h>

#include "refresher/http/retry_after.h"
#include "refresher/json_fields.h"
#include "shared/text.h"

namespace ckh {
namespace {

constexpr std::size_t kMaxErrorText = 160;
constexpr std::int64_t kMaxExpiresIn =
    10LL * 365 * 24 * 3600;  // ten years: anything more is garbage

std::string error_text(std::string_view text) {
  return one_line(text, kMaxErrorText);
}

// What a non-JSON error page says, for a message: the text without its markup (an edge's
// HTML page becomes "403 Forbidden ..."), one short line.
std::string page_excerpt(std::string_view body) {
  std::string text;
  bool in_tag = false;
  for (const char c : body.substr(0, 4096)) {
    if (c == '<') {
      in_tag = true;
      text += ' ';
    } else if (c == '>') {
      in_tag = false;
    } else if (!in_tag) {
      text += c;
    }
  }
  return one_line(trim(text), 80);
}

}  // namespace

Result<TokenGrant> parse_token_grant(std::string_view body) {
  simdjson::dom::parser parser;
  const auto parsed = parse_json_object(parser, body);
  if (!parsed) {
    return fail(ErrorClass::transient,
                "the token server's answer is not a JSON object (a proxy or an outage page?)");
  }
  const simdjson::dom::object object = *parsed;
  TokenGrant grant;
  const auto access = string_field(object, "access_token");
  if (!access || access->empty() || !is_printable_token(*access)) {
    return fail(ErrorClass::transient, "the token server's answer has no usable access_token");
  }
  grant.access_token = std::string(*access);
  const auto expires_in = integer_field(object, "expires_in");
  if (!expires_in || *expires_in <= 0 || *expires_in > kMaxExpiresIn) {
    return fail(ErrorClass::transient, "the token server's answer has no usable expires_in");
  }
  grant.expires_in = *expires_in;
  simdjson::dom::element refresh;
  if (object["refresh_token"].get(refresh) == simdjson::SUCCESS && !refresh.is_null()) {
    std::string_view value;
    if (refresh.get(value) != simdjson::SUCCESS || value.empty() || !is_printable_token(value)) {
      return fail(ErrorClass::transient, "the token server's answer has a malformed refresh_token");
    }
    grant.refresh_token = std::string(value);
  }
  if (const auto scope = string_field(object, "scope")) {
    std::string_view rest = *scope;
    while (!rest.empty()) {
      const auto space = rest.find(' ');
      const auto piece = rest.substr(0, space);
      if (!piece.empty() && is_printable_token(piece)) grant.scopes.emplace_back(piece);
      if (space == std::string_view::npos) break;
      rest.remove_prefix(space + 1);
    }
  }
  if (const auto refresh_expires = integer_field(object, "refresh_token_expires_in");
      refresh_expires && *refresh_expires > 0 && *refresh_expires <= kMaxExpiresIn) {
    grant.refresh_token_expires_in = *refresh_expires;
  }
  simdjson::dom::object account;
  if (object["account"].get(account) == simdjson::SUCCESS) {
    if (const auto email = string_field(account, "email_address")) {
      grant.account_email = one_line(*email, 200);
    }
    if (const auto uuid = string_field(account, "uuid")) grant.account_uuid = one_line(*uuid, 80);
  }
  simdjson::dom::object organization;
  if (object["organization"].get(organization) == simdjson::SUCCESS) {
    if (const auto uuid = string_field(organization, "uuid")) {
      grant.organization_uuid = one_line(*uuid, 80);
    }
  }
  return grant;
}

std::optional<std::string> salvage_refresh_token(std::string_view body) {
  simdjson::dom::parser parser;
  const auto parsed = parse_json_object(parser, body);
  if (!parsed) {
    return std::nullopt;
  }
  const simdjson::dom::object object = *parsed;
  const auto refresh = string_field(object, "refresh_token");
  if (!refresh || refresh->empty() || !is_printable_token(*refresh)) return std::nullopt;
  return std::string(*refresh);
}

std::optional<TokenErrorBody> parse_token_error(std::string_view body) {
  simdjson::dom::parser parser;
  const auto parsed = parse_json_object(parser, body);
  if (!parsed) {
    return std::nullopt;
  }
  const simdjson::dom::object object = *parsed;
  TokenErrorBody out;
  simdjson::dom::element error;
  if (object["error"].get(error) != simdjson::SUCCESS) return std::nullopt;
  std::string_view text;
  simdjson::dom::object nested;
  if (error.get(text) == simdjson::SUCCESS) {  // RFC 6749 shape
    out.error = error_text(text);
    if (const auto description = string_field(object, "error_description")) {
      out.description = error_text(*description);
    }
  } else if (error.get(nested) == simdjson::SUCCESS) {  // Anthropic API shape
    if (const auto type = string_field(nested, "type")) out.error = error_text(*type);
    if (const auto message = string_field(nested, "message")) {
      out.description = error_text(*message);
    }
  } else {
    return std::nullopt;
  }
  if (out.error.empty() && out.description.empty()) return std::nullopt;
  return out;
}

std::string describe_token_failure(long status, std::string_view body, std::string_view host,
                                   std::string_view server) {
  const auto parsed = parse_token_error(body);
  std::string what = "the " + std::string(server) + " " + std::string(host) + " answered " +
                     to_decimal(static_cast<std::int64_t>(status));
  if (parsed) {
    what += " (" + parsed->error;
    if (!parsed->description.empty()) what += ": " + parsed->description;
    what += ")";
  } else if (!body.empty() && status != 429 && status < 500) {
    // An edge's HTML or text page: its first words say who refused (no JSON to read).
    if (const std::string excerpt = page_excerpt(body); !excerpt.empty()) {
      what += " (\"" + excerpt + "\")";
    }
  }
  return what;
}

Error classify_token_failure(long status, std::string_view body, std::string_view host,
                             const std::optional<std::string>& retry_after, std::int64_t now) {
  const auto parsed = parse_token_error(body);
  const std::string what = describe_token_failure(status, body, host, "token server");
  Error error{ErrorClass::transient, what};
  error.code = "http_status";  // the server answered: it did not act on the request
  if (parsed && parsed->error == "invalid_grant") {
    error.kind = ErrorClass::permanent;
    error.code = "invalid_grant";
    return error;
  }
  if (status == 429) {
    if (retry_after) error.retry_after_s = retry_after_seconds(*retry_after, now);
    error.message += "; rate limited, retrying later";
    return error;
  }
  if (status >= 500) return error;
  if (status == 400 || status == 401) {
    error.kind = ErrorClass::permanent;
    error.message += "; check client_id and token_url in the profile's [anthropic-oauth] section";
    return error;
  }
  if (status == 403 || status == 404) {
    // The edge in front of the token endpoint filters clients (the facts document records
    // it refusing some User-Agents): the user can change it, waiting alone may not help.
    error.kind = ErrorClass::permanent;
    error.message +=
        "; the endpoint refused this client: check token_url, or set another "
        "user_agent in the profile's [anthropic-oauth] section";
    return error;
  }
  return error;
}

}  // namespace ckh
