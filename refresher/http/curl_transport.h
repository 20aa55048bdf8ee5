// The real HTTP transport: libcurl, one easy handle per request (no shared state, so send()
// may be called from several threads at once; no connection reuse between requests).
// Guarantees beyond the HttpTransport contract (transport.h):
// - TLS certificate and host name verification always on unless tls.insecure_skip_verify;
//   TLS 1.2 or newer; CA file/path from TlsOptions, else the system's store;
// - tls.server_name (https only): the request goes to the URL's host and port, but the
//   certificate is verified against server_name, SNI carries server_name, and so does the
//   Host header (as with `curl --connect-to`); implemented by rewriting the URL's host to
//   server_name and mapping it back with CURLOPT_CONNECT_TO;
// - only http and https, no redirects followed, no cookies, no .netrc, no verbose output,
//   no signals (CURLOPT_NOSIGNAL), no `Expect: 100-continue`, no default Accept, User-Agent
//   or Content-Type: exactly the caller's headers plus Host and Content-Length;
// - the response body is bounded by max_response_bytes (a larger Content-Length is refused
//   before reading) and the response headers by 256 KiB;
// - proxies follow libcurl's environment variables (https_proxy, no_proxy, ...);
// - a response that is not 2xx comes back with every echo of the request's secrets redacted
//   from its body (scrub_request_echo, transport.h), so that a caller quoting an error body
//   cannot quote the refresh token or signature the server echoed.
// The process should ignore SIGPIPE or not mind it: with CURLOPT_NOSIGNAL libcurl relies on
// MSG_NOSIGNAL, which covers its own sockets.
// Callers: refresher/main.cpp builds one and hands it to the backends as HttpTransport&.
#pragma once

#include "refresher/http/transport.h"

namespace ckh {

class CurlTransport final : public HttpTransport {
 public:
  CurlTransport() = default;
  Result<HttpResponse> send(const HttpRequest& request) override;
};

}  // namespace ckh
