#include "refresher/http/curl_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>

#include "refresher/lazy/lazy_library.h"
#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {

namespace {

constexpr std::size_t kMaxHeaderBytes = 256 * 1024;
constexpr std::size_t kMaxReasonBytes = 300;

struct EasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct UrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using UrlPtr = std::unique_ptr<CURLU, UrlDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

Result<void> global_init() {
  static std::once_flag once;
  static CURLcode code = CURLE_OK;
  std::call_once(once, [] { code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (code != CURLE_OK) {
    return fail(ErrorClass::io,
                std::string("cannot initialise libcurl: ") + curl_easy_strerror(code));
  }
  return {};
}

// Where the request goes: the URL given to curl, the host named in messages, and the
// CURLOPT_CONNECT_TO mapping of a TLS server-name override.
struct Target {
  std::string url;
  std::string host;
  std::string connect_to;  // empty: none
  bool https = false;
};

std::string url_part(CURLU* url, CURLUPart part, unsigned flags) {
  char* out = nullptr;
  if (curl_url_get(url, part, &out, flags) != CURLUE_OK || out == nullptr) return {};
  std::string text(out);
  curl_free(out);
  return text;
}

bool is_host_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
}

Result<Target> resolve_target(const HttpRequest& request) {
  const bool has_control = std::any_of(request.url.begin(), request.url.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte <= 0x20 || byte == 0x7f;
  });
  if (has_control) {
    return fail(ErrorClass::config, "the URL for " + url_host(request.url) +
                                        " contains white space or control characters; fix "
                                        "the configured URL");
  }
  UrlPtr url(curl_url());
  if (!url) return fail(ErrorClass::io, "out of memory while parsing a URL");
  if (const CURLUcode rc = curl_url_set(url.get(), CURLUPART_URL, request.url.c_str(), 0);
      rc != CURLUE_OK) {
    return fail(ErrorClass::config, "malformed URL for " + url_host(request.url) + ": " +
                                        curl_url_strerror(rc) +
                                        "; fix the configured URL (https://host/path)");
  }
  Target target;
  target.host = url_part(url.get(), CURLUPART_HOST, 0);
  if (target.host.empty()) target.host = url_host(request.url);
  const std::string scheme = url_part(url.get(), CURLUPART_SCHEME, 0);
  if (scheme != "http" && scheme != "https") {
    return fail(ErrorClass::config, "unsupported URL scheme \"" + one_line(scheme, 20) + "\" for " +
                                        target.host + "; use https:// (or http://)");
  }
  target.https = scheme == "https";
  const std::string& server_name = request.tls.server_name;
  if (!target.https || server_name.empty()) {
    target.url = request.url;
    return target;
  }
  if (!is_host_name(server_name)) {
    return fail(ErrorClass::config, "tls_server_name for " + target.host +
                                        " is not a host name; set it to the DNS name in the "
                                        "server's certificate");
  }
  const std::string port = url_part(url.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (port.empty() ||
      curl_url_set(url.get(), CURLUPART_HOST, server_name.c_str(), 0) != CURLUE_OK) {
    return fail(ErrorClass::config, "cannot apply tls_server_name \"" + server_name + "\" to " +
                                        target.host + "; check the URL and tls_server_name");
  }
  target.url = url_part(url.get(), CURLUPART_URL, 0);
  if (target.url.empty()) return fail(ErrorClass::io, "out of memory while building a URL");
  target.connect_to = server_name + ":" + port + ":" + target.host + ":" + port;
  return target;
}

bool is_token(std::string_view name) {
  constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kExtra.find(c) != std::string_view::npos;
  });
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

Result<void> append(SlistPtr& list, const std::string& line) {
  curl_slist* grown = curl_slist_append(list.get(), line.c_str());
  if (grown == nullptr) return fail(ErrorClass::io, "out of memory while building headers");
  list.release();
  list.reset(grown);
  return {};
}

// The caller's headers, plus the removal of curl's defaults (Accept, Content-Type, Expect).
Result<SlistPtr> build_headers(const HttpRequest& request, const std::string& host) {
  SlistPtr list;
  bool has_accept = false;
  bool has_content_type = false;
  for (const auto& [name, value] : request.headers) {
    if (!is_token(name)) {
      return fail(ErrorClass::config, "an HTTP header name for " + host +
                                          " is empty or not a token; fix the header name");
    }
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return fail(ErrorClass::config, "the value of HTTP header " + name + " for " + host +
                                          " contains a line break or NUL; remove it");
    }
    has_accept = has_accept || equal_ignoring_case(name, "accept");
    has_content_type = has_content_type || equal_ignoring_case(name, "content-type");
    // "Name;" is libcurl's way to send a header with an empty value.
    if (auto added = append(list, value.empty() ? name + ";" : name + ": " + value); !added) {
      return std::unexpected(added.error());
    }
  }
  std::vector<std::string> removals;
  if (!has_accept) removals.emplace_back("Accept:");
  if (request.method != "GET") {
    if (!has_content_type) removals.emplace_back("Content-Type:");
    removals.emplace_back("Expect:");
  }
  for (const std::string& line : removals) {
    if (auto added = append(list, line); !added) return std::unexpected(added.error());
  }
  return list;
}

enum class Abort { none, body_too_large, headers_too_large, out_of_memory };

// What the callbacks collect for one exchange.
struct Exchange {
  std::size_t max_body = 0;
  std::size_t header_bytes = 0;
  Abort abort = Abort::none;
  HttpResponse response;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) noexcept {
  auto& exchange = *static_cast<Exchange*>(user);
  const std::size_t bytes = size * count;
  std::string& body = exchange.response.body;
  if (bytes > exchange.max_body - body.size()) {
    exchange.abort = Abort::body_too_large;
    return 0;
  }
  try {
    body.append(data, bytes);
  } catch (const std::bad_alloc&) {
    exchange.abort = Abort::out_of_memory;
    return 0;
  }
  return bytes;
}

std::string_view trim_http_space(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

// One header line: a status line starts a new response (1xx, proxies), so headers collected
// so far are dropped; folded lines continue the previous header.
bool take_header_line(Exchange& exchange, std::string_view line) {
  auto& headers = exchange.response.headers;
  if (line.starts_with("HTTP/")) {
    headers.clear();
    return true;
  }
  const bool folded = !line.empty() && (line.front() == ' ' || line.front() == '\t');
  line = trim_http_space(line);
  if (line.empty()) return true;
  if (folded) {
    if (!headers.empty()) {
      std::string& value = headers.back().second;
      if (!value.empty()) value.push_back(' ');
      value.append(line);
    }
    return true;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return true;  // not a header: ignore
  std::string name(trim_http_space(line.substr(0, colon)));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string_view value = trim_http_space(line.substr(colon + 1));
  if (name == "content-length") {
    const auto length = parse_u64(value);
    if (length && *length > exchange.max_body) {
      exchange.abort = Abort::body_too_large;
      return false;
    }
  }
  headers.emplace_back(std::move(name), std::string(value));
  return true;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) noexcept {
  auto& exchange = *static_cast<Exchange*>(user);
  const std::size_t bytes = size * count;
  exchange.header_bytes += bytes;
  if (exchange.header_bytes > kMaxHeaderBytes) {
    exchange.abort = Abort::headers_too_large;
    return 0;
  }
  try {
    return take_header_line(exchange, std::string_view(data, bytes)) ? bytes : 0;
  } catch (const std::bad_alloc&) {
    exchange.abort = Abort::out_of_memory;
    return 0;
  }
}

// curl's reason, one line, with anything of the request that could be secret removed (curl
// does not echo headers or bodies, but a message must never depend on that). Redacted
// before it is cut to one line, so that the cut cannot leave part of a secret.
std::string reason_for(CURLcode code, const char* error_buffer, const HttpRequest& request) {
  std::string reason = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  constexpr std::size_t kMinSecret = 8;
  for (const auto& [name, value] : request.headers) {
    if (value.size() >= kMinSecret) reason = redact(reason, value);
  }
  if (request.body.size() >= kMinSecret && request.body.size() <= 4096) {
    reason = redact(reason, request.body);
  }
  for (const auto& secret : request_secrets(request)) reason = redact(reason, secret);
  if (const std::size_t query = request.url.find('?'); query != std::string::npos) {
    const std::string_view rest = std::string_view(request.url).substr(query + 1);
    if (rest.size() >= kMinSecret) reason = redact(reason, rest);
  }
  return one_line(reason, kMaxReasonBytes);
}

bool is_name_mismatch(std::string_view reason) {
  return reason.find("subject name") != std::string_view::npos ||
         reason.find("does not match") != std::string_view::npos;
}

Error classify(CURLcode code, const Exchange& exchange, const Target& target,
               const HttpRequest& request, const char* error_buffer) {
  const std::string& host = target.host;
  const std::string reason = reason_for(code, error_buffer, request);
  const auto error = [](ErrorClass kind, std::string message) {
    return Error{kind, std::move(message)};
  };
  if (exchange.abort == Abort::body_too_large || code == CURLE_FILESIZE_EXCEEDED) {
    return error(ErrorClass::transient,
                 "response from " + host + " larger than " +
                     to_decimal(request.max_response_bytes) +
                     " bytes; check that the URL points at the right endpoint");
  }
  if (exchange.abort == Abort::headers_too_large) {
    return error(ErrorClass::transient, "response headers from " + host + " larger than " +
                                            to_decimal(kMaxHeaderBytes) +
                                            " bytes; check that the URL points at the right "
                                            "endpoint");
  }
  if (exchange.abort == Abort::out_of_memory || code == CURLE_OUT_OF_MEMORY) {
    return error(ErrorClass::io, "out of memory while receiving the response from " + host);
  }
  switch (code) {
    case CURLE_URL_MALFORMAT:
      return error(ErrorClass::config, "cannot use the URL for " + host + ": " + reason +
                                           "; fix the configured URL (https://host/path)");
    case CURLE_COULDNT_RESOLVE_HOST:
      return error(ErrorClass::transient, "cannot resolve " + host + ": " + reason +
                                              "; check the host name and the network");
    case CURLE_COULDNT_RESOLVE_PROXY:
      return error(ErrorClass::transient, "cannot resolve the proxy for " + host + ": " + reason +
                                              "; check https_proxy/no_proxy and the network");
    case CURLE_COULDNT_CONNECT:
      return error(ErrorClass::transient, "cannot connect to " + host + ": " + reason +
                                              "; check that the server is up and reachable");
    case CURLE_OPERATION_TIMEDOUT:
      return error(ErrorClass::transient, "request to " + host + " timed out: " + reason +
                                              "; the server or the network is slow or down");
    case CURLE_PEER_FAILED_VERIFICATION:
      return error(ErrorClass::permanent,
                   "TLS certificate verification failed for " + host + ": " + reason +
                       "; set ca_cert (or VAULT_CACERT) to the CA that signed it" +
                       (is_name_mismatch(reason)
                            ? std::string(", or tls_server_name to the name in the certificate")
                            : std::string()));
    case CURLE_SSL_CACERT_BADFILE:
      return error(ErrorClass::config, "cannot load the CA certificates for " + host +
                                           " (ca_file \"" + one_line(request.tls.ca_file, 200) +
                                           "\", ca_path \"" + one_line(request.tls.ca_path, 200) +
                                           "\"): " + reason +
                                           "; point ca_cert at a readable PEM file");
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return error(ErrorClass::permanent, "TLS certificate of " + host + " rejected: " + reason +
                                              "; check the server's certificate and ca_cert");
    case CURLE_SSL_CONNECT_ERROR:
      return error(ErrorClass::transient, "TLS handshake with " + host + " failed: " + reason +
                                              "; check that the URL's port speaks TLS");
    case CURLE_UNSUPPORTED_PROTOCOL:  // the URL was checked: this is an HTTP/0.9 answer
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
      return error(ErrorClass::transient, "incomplete or malformed response from " + host + ": " +
                                              reason + "; it will be retried");
    case CURLE_FAILED_INIT:
    case CURLE_WRITE_ERROR:
      return error(ErrorClass::io, "cannot receive the response from " + host + ": " + reason);
    default:
      return error(ErrorClass::transient, "HTTP request to " + host + " failed: " + reason);
  }
}

// A CA bundle (Debian's whole store is about 200 KB); more is a wrong file, not a bundle.
constexpr std::size_t kMaxCaFileBytes = 8u << 20;

long clamp_ms(std::chrono::milliseconds value) {
  // curl reads 0 as "no timeout": never let a zero or negative timeout mean that.
  return static_cast<long>(std::max<std::chrono::milliseconds::rep>(value.count(), 1));
}

Result<HttpResponse> send_unchecked(const HttpRequest& request) {
  if (auto init = global_init(); !init) return std::unexpected(init.error());
  auto target = resolve_target(request);
  if (!target) return std::unexpected(target.error());
  const std::string& host = target->host;

  const bool is_get = request.method == "GET";
  if (!is_get && request.method != "POST" && request.method != "PUT") {
    return fail(ErrorClass::config, "unsupported HTTP method \"" + one_line(request.method, 20) +
                                        "\" for " + host + "; use GET, POST or PUT");
  }
  if (is_get && !request.body.empty()) {
    return fail(ErrorClass::config, "a GET request to " + host + " cannot carry a body");
  }
  auto headers = build_headers(request, host);
  if (!headers) return std::unexpected(headers.error());
  SlistPtr connect_to;
  if (!target->connect_to.empty()) {
    if (auto added = append(connect_to, target->connect_to); !added) {
      return std::unexpected(added.error());
    }
  }

  // The CA bundle is read here, not by libcurl: a FIFO or device planted as ca_cert would
  // block libcurl's open with signals deferred (a hung `once`, an unkillable probe); ours
  // opens without blocking and takes only a regular file. With verification off it is not
  // used at all, so not read either (a stale ca_cert must not fail an insecure profile).
  std::string ca_bundle;
  const bool use_ca_file =
      target->https && !request.tls.insecure_skip_verify && !request.tls.ca_file.empty();
  if (use_ca_file) {
    auto read = read_regular_file(request.tls.ca_file, kMaxCaFileBytes);
    if (!read) {
      return fail(ErrorClass::config, "cannot use the CA file for " + host + ": " +
                                          one_line(read.error().message, 300) +
                                          "; set ca_cert to a readable PEM file");
    }
    ca_bundle = std::move(*read);
  }

  EasyPtr easy(curl_easy_init());
  if (!easy) return fail(ErrorClass::io, "cannot create a libcurl handle (out of memory?)");
  CURL* handle = easy.get();
  Exchange exchange;
  exchange.max_body = request.max_response_bytes;
  char error_buffer[CURL_ERROR_SIZE] = {};

  CURLcode set = CURLE_OK;
  const auto option = [&](CURLoption name, auto value) {
    if (set == CURLE_OK) set = curl_easy_setopt(handle, name, value);
  };
  option(CURLOPT_ERRORBUFFER, error_buffer);
  option(CURLOPT_NOSIGNAL, 1L);
  option(CURLOPT_VERBOSE, 0L);
  option(CURLOPT_NOPROGRESS, 1L);
  option(CURLOPT_FOLLOWLOCATION, 0L);
  option(CURLOPT_PROTOCOLS_STR, "http,https");
  option(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  option(CURLOPT_URL, target->url.c_str());
  if (connect_to) option(CURLOPT_CONNECT_TO, connect_to.get());
  option(CURLOPT_HTTPHEADER, headers->get());
  option(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  option(CURLOPT_TIMEOUT_MS, clamp_ms(request.timeout));
  option(CURLOPT_CONNECTTIMEOUT_MS, clamp_ms(request.connect_timeout));
  option(CURLOPT_WRITEFUNCTION, &on_body);
  option(CURLOPT_WRITEDATA, static_cast<void*>(&exchange));
  option(CURLOPT_HEADERFUNCTION, &on_header);
  option(CURLOPT_HEADERDATA, static_cast<void*>(&exchange));
  if (target->https) {
    const long verify = request.tls.insecure_skip_verify ? 0L : 1L;
    option(CURLOPT_SSL_VERIFYPEER, verify);
    option(CURLOPT_SSL_VERIFYHOST, verify * 2L);
    option(CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    curl_blob ca_blob{ca_bundle.data(), ca_bundle.size(), CURL_BLOB_COPY};
    if (use_ca_file) option(CURLOPT_CAINFO_BLOB, &ca_blob);
    if (!request.tls.insecure_skip_verify && !request.tls.ca_path.empty()) {
      option(CURLOPT_CAPATH, request.tls.ca_path.c_str());
    }
  }
  if (is_get) {
    option(CURLOPT_HTTPGET, 1L);
  } else {
    option(CURLOPT_POST, 1L);
    option(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    option(CURLOPT_POSTFIELDS, request.body.data());
    if (request.method == "PUT") option(CURLOPT_CUSTOMREQUEST, "PUT");
  }
  if (set != CURLE_OK) {
    return fail(ErrorClass::io, "cannot configure libcurl for " + host + ": " +
                                    curl_easy_strerror(set) + "; libcurl 7.85 or newer is needed");
  }

  const CURLcode code = curl_easy_perform(handle);
  if (code != CURLE_OK) {
    return std::unexpected(classify(code, exchange, *target, request, error_buffer));
  }
  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  if (status < 100 || status > 999) {
    return fail(ErrorClass::transient,
                "malformed response from " + host + " (no HTTP status); it will be retried");
  }
  exchange.response.status = status;
  scrub_request_echo(exchange.response, request);
  return std::move(exchange.response);
}

}  // namespace

Result<HttpResponse> CurlTransport::send(const HttpRequest& request) {
  // Everything a request and its answer need, loaded before anything is sent: once a
  // server has rotated a token, its answer must be parseable (lazy_library.h).
  if (auto stack = ensure_network_stack(); !stack) return std::unexpected(stack.error());
  try {
    return send_unchecked(request);
  } catch (const std::bad_alloc&) {
    return fail(ErrorClass::io, "out of memory during an HTTP request to " + url_host(request.url));
  }
}

}  // namespace ckh
