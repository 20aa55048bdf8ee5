#include "refresher/http/transport.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>

#include "shared/text.h"

namespace ckh {

namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool is_host_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '.' || c == '-' || c == '_' || c == '~' || c == '%' || c == ':' ||
         c == '[' || c == ']';
}

constexpr std::size_t kMinSecretBytes = 8;

bool listed_ignoring_case(std::string_view name, std::initializer_list<std::string_view> names) {
  for (const auto candidate : names) {
    if (equal_ignoring_case(name, candidate)) return true;
  }
  return false;
}

bool public_header(std::string_view name) {
  return listed_ignoring_case(
      name, {"content-type", "accept", "user-agent", "content-length", "host", "x-vault-request",
             "x-vault-namespace", "x-amz-date", "x-amz-target", "x-amz-content-sha256",
             "anthropic-version", "anthropic-beta", "x-aws-ec2-metadata-token-ttl-seconds"});
}

bool public_field(std::string_view name) {
  return listed_ignoring_case(name, {"grant_type", "client_id", "redirect_uri", "scope"});
}

void add_secret(std::vector<std::string>& out, std::string_view value) {
  if (value.size() >= kMinSecretBytes) out.emplace_back(value);
}

// String values of a JSON text (keys and public fields skipped), escapes left as they are:
// a rough scan is enough to know what to redact, and it never fails.
void json_values(std::string_view body, std::vector<std::string>& out) {
  std::string_view key;  // the last key seen
  std::size_t i = 0;
  while (i < body.size()) {
    if (body[i] != '"') {
      ++i;
      continue;
    }
    std::size_t end = i + 1;
    while (end < body.size() && body[end] != '"') end += body[end] == '\\' ? 2 : 1;
    if (end >= body.size()) break;
    const std::string_view literal = body.substr(i + 1, end - i - 1);
    std::size_t next = end + 1;
    while (next < body.size() &&
           (body[next] == ' ' || body[next] == '\t' || body[next] == '\n' || body[next] == '\r')) {
      ++next;
    }
    if (next < body.size() && body[next] == ':') {
      key = literal;
    } else if (!public_field(key)) {
      add_secret(out, literal);
    }
    i = end + 1;
  }
}

// Values of name=value&... (public fields skipped).
void form_values(std::string_view text, std::vector<std::string>& out) {
  while (!text.empty()) {
    const std::size_t amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    if (const std::size_t eq = pair.find('='); eq != std::string_view::npos) {
      if (!public_field(pair.substr(0, eq))) add_secret(out, pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    text.remove_prefix(amp + 1);
  }
}

}  // namespace

std::vector<std::string> request_secrets(const HttpRequest& request) {
  std::vector<std::string> out;
  for (const auto& [name, value] : request.headers) {
    if (!public_header(name)) add_secret(out, value);
  }
  const std::string_view body = trim(request.body);
  if (body.starts_with('{') || body.starts_with('[')) {
    json_values(body, out);
  } else if (body.find('=') != std::string_view::npos) {
    form_values(body, out);
  } else {
    add_secret(out, body);
  }
  if (const std::size_t query = request.url.find('?'); query != std::string::npos) {
    std::string_view rest = std::string_view(request.url).substr(query + 1);
    rest = rest.substr(0, rest.find('#'));
    form_values(rest, out);
  }
  return out;
}

void scrub_request_echo(HttpResponse& response, const HttpRequest& request) {
  if (response.status >= 200 && response.status < 300) return;
  if (response.body.empty()) return;
  for (const auto& secret : request_secrets(request)) {
    response.body = redact(response.body, secret);
  }
}

std::optional<std::string> HttpResponse::header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (equal_ignoring_case(name, lowercase_name)) return value;
  }
  return std::nullopt;
}

std::string url_host(std::string_view url) {
  constexpr std::string_view kUnparsable = "(unparsable URL)";
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return std::string(kUnparsable);
  std::string_view authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string_view host;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::string(kUnparsable);
    host = authority.substr(0, close + 1);
  } else {
    host = authority.substr(0, authority.find(':'));
  }
  if (host.empty() || !std::all_of(host.begin(), host.end(), is_host_char)) {
    return std::string(kUnparsable);
  }
  return std::string(host);
}

bool is_allowed_endpoint_url(std::string_view url) {
  if (url.empty() || !is_printable_token(url)) return false;  // no spaces, no control bytes
  const bool https = url.starts_with("https://");
  if (!https && !url.starts_with("http://")) return false;
  std::string_view authority = url.substr(https ? 8 : 7);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  // No userinfo: "http://127.0.0.1:80@evil.example/" goes to evil.example.
  if (authority.empty() || authority.find('@') != std::string_view::npos) return false;
  const std::string host = url_host(url);
  if (host == "(unparsable URL)") return false;
  if (https) return true;
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]";
}

}  // namespace ckh
