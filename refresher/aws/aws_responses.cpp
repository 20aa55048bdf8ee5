#include "refresher/aws/aws_responses.h"

#include <simdjson.h>

#include <ctime>

#include "shared/text.h"

namespace ckh {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

std::optional<std::string_view> string_field(object parent, std::string_view key) {
  std::string_view value;
  if (parent[key].get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

int digits(std::string_view text, std::size_t at, std::size_t count) {
  if (at + count > text.size()) return -1;
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// The error type as awsJson1_1 says to read it: after the first '#', before the first ':'.
std::string clean_type(std::string_view type) {
  if (const auto hash = type.find('#'); hash != std::string_view::npos)
    type.remove_prefix(hash + 1);
  if (const auto colon = type.find(':'); colon != std::string_view::npos)
    type = type.substr(0, colon);
  return one_line(type, 80);
}

}  // namespace

std::optional<std::int64_t> parse_iso8601(std::string_view text) {
  text = trim(text);
  const int year = digits(text, 0, 4), month = digits(text, 5, 2), day = digits(text, 8, 2);
  const int hour = digits(text, 11, 2), minute = digits(text, 14, 2), second = digits(text, 17, 2);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
      minute < 0 || minute > 59 || second < 0 || second > 60 || text.size() < 20 ||
      text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't' && text[10] != ' ') ||
      text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  std::size_t at = 19;
  if (at < text.size() && text[at] == '.') {
    ++at;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') ++at;
  }
  std::int64_t offset = 0;
  const std::string_view zone = text.substr(at);
  if (zone == "Z" || zone == "z") {
    offset = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    const int hh = digits(zone, 1, 2), mm = digits(zone, 4, 2);
    if (hh < 0 || hh > 23 || mm < 0 || mm > 59) return std::nullopt;
    offset = (zone[0] == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
  } else {
    return std::nullopt;
  }
  struct tm parts {};
  parts.tm_year = year - 1900;
  parts.tm_mon = month - 1;
  parts.tm_mday = day;
  parts.tm_hour = hour;
  parts.tm_min = minute;
  parts.tm_sec = second;
  const std::time_t utc = ::timegm(&parts);
  if (utc == static_cast<std::time_t>(-1)) return std::nullopt;
  return static_cast<std::int64_t>(utc) - offset;
}

Result<TemporaryCredentials> parse_credentials_json(std::string_view body, bool process_output) {
  simdjson::dom::parser parser;
  element doc;
  object top;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
      doc.get(top) != simdjson::SUCCESS) {
    return fail(ErrorClass::transient, "the credentials answer is not a JSON object");
  }
  if (process_output) {
    std::int64_t version = 0;
    if (top["Version"].get(version) != simdjson::SUCCESS || version != 1) {
      return fail(ErrorClass::permanent, "credential_process printed JSON without \"Version\": 1");
    }
  }
  TemporaryCredentials out;
  const auto key = string_field(top, "AccessKeyId");
  const auto secret = string_field(top, "SecretAccessKey");
  if (!key || key->empty() || !is_printable_token(*key) || !secret || secret->empty() ||
      !is_printable_token(*secret)) {
    return fail(process_output ? ErrorClass::permanent : ErrorClass::transient,
                "the credentials answer has no usable AccessKeyId and SecretAccessKey");
  }
  out.credentials.access_key_id = std::string(*key);
  out.credentials.secret_access_key = std::string(*secret);
  auto token = string_field(top, "Token");
  if (!token) token = string_field(top, "SessionToken");
  if (token && !token->empty()) {
    if (!is_printable_token(*token)) {
      return fail(ErrorClass::transient, "the credentials answer has a malformed session token");
    }
    out.credentials.session_token = std::string(*token);
  }
  if (const auto expiration = string_field(top, "Expiration"); expiration && !expiration->empty()) {
    out.expiration = parse_iso8601(*expiration);
    if (!out.expiration) {
      return fail(ErrorClass::transient, "the credentials answer has a malformed Expiration");
    }
  }
  return out;
}

Result<SecretValue> parse_get_secret_value(std::string_view body) {
  simdjson::dom::parser parser;
  element doc;
  object top;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
      doc.get(top) != simdjson::SUCCESS) {
    return fail(ErrorClass::transient, "Secrets Manager's answer is not a JSON object");
  }
  SecretValue out;
  if (const auto text = string_field(top, "SecretString")) out.secret_string = std::string(*text);
  element binary;
  out.has_binary = top["SecretBinary"].get(binary) == simdjson::SUCCESS && !binary.is_null();
  if (const auto name = string_field(top, "Name")) out.name = one_line(*name, 200);
  if (const auto version = string_field(top, "VersionId")) out.version_id = one_line(*version, 80);
  if (!out.secret_string && !out.has_binary) {
    return fail(ErrorClass::transient,
                "Secrets Manager's answer has neither SecretString nor SecretBinary");
  }
  return out;
}

AwsError parse_aws_error(std::string_view body, std::string_view header_error_type) {
  AwsError error;
  simdjson::dom::parser parser;
  element doc;
  object top;
  const bool json = parser.parse(body.data(), body.size()).get(doc) == simdjson::SUCCESS &&
                    doc.get(top) == simdjson::SUCCESS;
  if (!header_error_type.empty()) {
    error.type = clean_type(header_error_type);
  } else if (json) {
    if (auto code = string_field(top, "code")) {
      error.type = clean_type(*code);
    } else if (auto type = string_field(top, "__type")) {
      error.type = clean_type(*type);
    }
  }
  if (json) {
    auto message = string_field(top, "Message");
    if (!message) message = string_field(top, "message");
    if (message) error.message = one_line(*message, 200);
  }
  return error;
}

Result<std::string> secret_json_key(std::string_view secret_string, std::string_view key) {
  simdjson::dom::parser parser;
  element doc;
  object top;
  if (parser.parse(secret_string.data(), secret_string.size()).get(doc) != simdjson::SUCCESS ||
      doc.get(top) != simdjson::SUCCESS) {
    return fail(ErrorClass::permanent, "the SecretString is not a JSON object, so key '" +
                                           one_line(key, 64) +
                                           "' cannot be read; remove key "
                                           "to use the whole string");
  }
  std::string keys;
  std::size_t listed = 0;
  for (auto [name, value] : top) {
    if (name == key) {
      std::string_view text;
      if (value.get(text) != simdjson::SUCCESS) {
        return fail(ErrorClass::permanent,
                    "key '" + one_line(key, 64) + "' of the secret is not a string");
      }
      return std::string(text);
    }
    if (listed++ < 20) keys += (keys.empty() ? "" : ", ") + one_line(name, 64);
  }
  return fail(ErrorClass::permanent, "the secret's JSON has no key '" + one_line(key, 64) +
                                         "' (keys: " + (keys.empty() ? "none" : keys) + ")");
}

}  // namespace ckh
