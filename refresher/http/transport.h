// The HTTP transport seam: one request, one complete response. The real implementation is
// CurlTransport (curl_transport.h); unit tests use FakeTransport (tests/unit/fake_transport.h).
// Contract of send():
// - a response with ANY status (1xx excepted: the final one is returned) is a success;
//   callers classify statuses themselves;
// - it fails only when there is no complete response, classified where it happens:
//   DNS, connect, reset, timeout, partial or malformed response, response larger than
//   max_response_bytes -> transient; TLS certificate verification failure -> permanent;
//   malformed URL, unsupported scheme or method, unusable header or CA file -> config;
// - Error messages are one line, name the host (never the full URL, whose query or userinfo
//   may carry secrets), and never contain header values or bodies;
// - redirects are never followed; headers are sent as given (the transport adds only Host
//   and, for POST/PUT, Content-Length); no User-Agent unless the caller sets one.
// Callers: the OAuth, Vault and AWS backends of the refresher.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/error.h"

namespace ckh {

struct TlsOptions {
  std::string ca_file;  // PEM bundle of trusted CAs; empty: the system's default store
  std::string ca_path;  // directory of hashed CA certificates; empty: the system's default
  // Verify the server certificate against (and send SNI for) this name instead of the URL's
  // host, while still connecting to the URL's host and port (Vault's tls_server_name).
  // Empty: the URL's host. Ignored for http:// URLs.
  std::string server_name;
  bool insecure_skip_verify = false;  // never the default; only for explicit configuration
};

struct HttpRequest {
  std::string method = "GET";                                // GET, POST, PUT
  std::string url;                                           // http:// or https://
  std::vector<std::pair<std::string, std::string>> headers;  // sent as given, in order
  std::string body;                                          // POST/PUT only
  std::chrono::milliseconds timeout{30'000};                 // whole exchange
  std::chrono::milliseconds connect_timeout{10'000};
  std::size_t max_response_bytes = 1024 * 1024;  // body larger: error, body discarded
  TlsOptions tls;
};

struct HttpResponse {
  long status = 0;
  // Of the final response only; names lowercased, values trimmed, in arrival order
  // (a repeated header appears once per occurrence).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header of that name (compared case-insensitively), or none.
  std::optional<std::string> header(std::string_view lowercase_name) const;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
};

// The host of a URL for messages: no scheme, userinfo, port, path or query; IPv6 literals
// keep their brackets. "(unparsable URL)" when there is no recognisable host.
std::string url_host(std::string_view url);

// Whether a URL may carry tokens: https://, or plain http:// only to this machine
// (127.0.0.1, localhost, [::1]: tests, a local proxy), so that tokens never cross a network in
// the clear.
bool is_allowed_endpoint_url(std::string_view url);

// What of a request may be secret, for redaction: every header value except the plainly
// public ones (Content-Type, Accept, User-Agent, protocol markers such as X-Vault-Request),
// the body's values (JSON string values, or form values; the whole body when it is neither)
// except a few public fields (grant_type, client_id, redirect_uri, scope), and the query's
// values; each of at least 8 bytes.
std::vector<std::string> request_secrets(const HttpRequest& request);

// Error bodies get quoted in messages, and some servers echo what they were sent ("invalid
// refresh_token 'sk-ant-...'", AWS's canonical request with its security token): in a
// response that is not 2xx, every echo of request_secrets(request) is redacted (text.h
// redact: also split across lines or cut), so that no caller can quote it. 2xx bodies are
// data and stay as they are.
void scrub_request_echo(HttpResponse& response, const HttpRequest& request);

}  // namespace ckh
