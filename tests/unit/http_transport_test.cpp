// refresher/http: CurlTransport against a real HTTP/1.1 (and TLS) server in the test,
// retry_after_seconds, url_host and the FakeTransport.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "fake_transport.h"
#include "refresher/http/curl_transport.h"
#include "refresher/http/retry_after.h"
#include "refresher/http/transport.h"
#include "test_support.h"
#include "tls_test_server.h"

namespace {

using namespace std::chrono_literals;
using ckh::CurlTransport;
using ckh::ErrorClass;
using ckh::HttpRequest;
using ckh::HttpResponse;
using ckh::retry_after_seconds;
using ckh::test::answer;
using ckh::test::http_reply;
using ckh::test::ScriptedHttpServer;

constexpr const char* kCanary = "CANARY-SECRET-123";

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// The test servers are local: a proxy from the environment must not get in the way.
struct NoProxy {
  ckh::test::ScopedSetenv lower{"no_proxy", "*"};
  ckh::test::ScopedSetenv upper{"NO_PROXY", "*"};
};

// A request as the server received it.
struct Received {
  std::string request_line;
  std::vector<std::pair<std::string, std::string>> headers;  // as sent
  std::string body;

  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key.size() == name.size() &&
          std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
          })) {
        return value;
      }
    }
    return std::nullopt;
  }
};

Received parse_received(const std::string& raw) {
  Received out;
  const std::size_t end = raw.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  out.body = raw.substr(end + 4);
  std::string_view head(raw.data(), end);
  std::size_t line_end = head.find("\r\n");
  out.request_line = std::string(head.substr(0, line_end));
  while (line_end != std::string_view::npos) {
    head.remove_prefix(line_end + 2);
    line_end = head.find("\r\n");
    const std::string_view line = head.substr(0, line_end);
    const std::size_t colon = line.find(':');
    REQUIRE(colon != std::string_view::npos);
    std::string_view value = line.substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);
    out.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  return out;
}

Received only_request(ScriptedHttpServer& server) {
  server.finish();
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  return parse_received(requests.front());
}

HttpRequest get(const std::string& url) {
  HttpRequest request;
  request.url = url;
  request.timeout = 10s;
  request.connect_timeout = 5s;
  return request;
}

// A POST that carries the canary in a header, the body and the query string.
HttpRequest canary_request(const std::string& origin) {
  HttpRequest request = get(origin + "/token?code=" + kCanary);
  request.method = "POST";
  request.headers = {{"Authorization", std::string("Bearer ") + kCanary},
                     {"Content-Type", "application/x-www-form-urlencoded"}};
  request.body = std::string("refresh_token=") + kCanary;
  return request;
}

ckh::Error expect_error(const ckh::Result<HttpResponse>& result, ErrorClass kind) {
  REQUIRE_FALSE(result.has_value());
  const ckh::Error& error = result.error();
  INFO(error.message);
  CHECK(error.kind == kind);
  CHECK_FALSE(contains(error.message, kCanary));
  CHECK_FALSE(contains(error.message, "CANARY"));
  CHECK_FALSE(contains(error.message, "\n"));
  CHECK_FALSE(error.message.empty());
  return error;
}

// A port on 127.0.0.1 where nothing listens (bound once, then closed).
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

}  // namespace

// --- plain HTTP

TEST_CASE("http: a GET arrives as sent, response headers come back lowercased", "[http]") {
  ScriptedHttpServer server(
      {answer(http_reply("200 OK", "{\"ok\":true}",
                         {"Content-Type:  application/json  ", "X-Mixed-Case: Value",
                          "Set-Cookie: a=1", "Set-Cookie: b=2", "X-Folded: first", "  second"}))});
  HttpRequest request = get(server.origin() + "/v1/sys/health?standby=1");
  request.headers = {{"X-Vault-Request", "true"}, {"X-Empty", ""}};
  const NoProxy no_proxy;
  CurlTransport transport;
  const auto response = transport.send(request);
  REQUIRE(response.has_value());
  CHECK(response->status == 200);
  CHECK(response->body == "{\"ok\":true}");
  CHECK(response->header("content-type") == "application/json");
  CHECK(response->header("x-mixed-case") == "Value");
  CHECK(response->header("X-MIXED-CASE") == "Value");
  CHECK(response->header("x-folded") == "first second");
  CHECK(response->header("set-cookie") == "a=1");
  CHECK_FALSE(response->header("absent"));
  int cookies = 0;
  for (const auto& [name, value] : response->headers) {
    CHECK(name == Catch::toLower(name));
    if (name == "set-cookie") ++cookies;
  }
  CHECK(cookies == 2);

  const Received received = only_request(server);
  CHECK(received.request_line == "GET /v1/sys/health?standby=1 HTTP/1.1");
  CHECK(received.header("Host") == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(received.header("X-Vault-Request") == "true");
  CHECK(received.header("X-Empty") == "");
  // Nothing the caller did not ask for: no User-Agent, Accept, Expect or body.
  CHECK_FALSE(received.header("User-Agent"));
  CHECK_FALSE(received.header("Accept"));
  CHECK_FALSE(received.header("Expect"));
  CHECK_FALSE(received.header("Content-Length"));
  CHECK(received.body.empty());
  CHECK(received.headers.size() == 3);
}

TEST_CASE("http: a POST's headers and body arrive as sent, without Expect", "[http]") {
  // Larger than libcurl's 1 KiB threshold for Expect: 100-continue.
  const std::string body =
      "{\"grant_type\":\"refresh_token\",\"pad\":\"" + std::string(4000, 'x') + "\"}";
  ScriptedHttpServer server({answer(http_reply("200 OK", "done"))});
  HttpRequest request = get(server.origin() + "/v1/oauth/token");
  request.method = "POST";
  request.headers = {{"Content-Type", "application/json"},
                     {"Authorization", "Bearer abc"},
                     {"User-Agent", "claude-key-refresher/test"},
                     {"Accept", "application/json"}};
  request.body = body;
  const NoProxy no_proxy;
  CurlTransport transport;
  const auto response = transport.send(request);
  REQUIRE(response.has_value());
  CHECK(response->status == 200);
  CHECK(response->body == "done");

  const Received received = only_request(server);
  CHECK(received.request_line == "POST /v1/oauth/token HTTP/1.1");
  CHECK(received.header("Content-Type") == "application/json");
  CHECK(received.header("Authorization") == "Bearer abc");
  CHECK(received.header("User-Agent") == "claude-key-refresher/test");
  CHECK(received.header("Accept") == "application/json");
  CHECK(received.header("Content-Length") == std::to_string(body.size()));
  CHECK_FALSE(received.header("Expect"));
  CHECK(received.body == body);
}

TEST_CASE("http: a PUT without Content-Type gets none added", "[http]") {
  ScriptedHttpServer server({answer(http_reply("204 No Content", ""))});
  HttpRequest request = get(server.origin() + "/v1/auth/token/renew-self");
  request.method = "PUT";
  request.body = "{}";
  const NoProxy no_proxy;
  CurlTransport transport;
  const auto response = transport.send(request);
  REQUIRE(response.has_value());
  CHECK(response->status == 204);
  CHECK(response->body.empty());

  const Received received = only_request(server);
  CHECK(received.request_line == "PUT /v1/auth/token/renew-self HTTP/1.1");
  CHECK(received.body == "{}");
  CHECK(received.header("Content-Length") == "2");
  CHECK_FALSE(received.header("Content-Type"));
  CHECK_FALSE(received.header("Expect"));
}

TEST_CASE("http: 200, 400, 429 and 500 are responses, not errors", "[http]") {
  ScriptedHttpServer server({
      answer(http_reply("200 OK", "fine")),
      answer(http_reply("400 Bad Request", "{\"error\":\"invalid_grant\"}",
                        {"Content-Type: application/json"})),
      answer(http_reply("429 Too Many Requests", "slow down", {"Retry-After: 7"})),
      answer(http_reply("500 Internal Server Error", "oops")),
  });
  const NoProxy no_proxy;
  CurlTransport transport;
  const HttpRequest request = get(server.origin() + "/");
  const auto ok = transport.send(request);
  const auto bad = transport.send(request);
  const auto limited = transport.send(request);
  const auto broken = transport.send(request);
  REQUIRE(ok.has_value());
  REQUIRE(bad.has_value());
  REQUIRE(limited.has_value());
  REQUIRE(broken.has_value());
  CHECK(ok->status == 200);
  CHECK(ok->body == "fine");
  CHECK(bad->status == 400);
  CHECK(bad->body == "{\"error\":\"invalid_grant\"}");
  CHECK(bad->header("content-type") == "application/json");
  CHECK(limited->status == 429);
  CHECK(limited->header("retry-after") == "7");
  CHECK(limited->body == "slow down");
  CHECK(broken->status == 500);
  CHECK(broken->body == "oops");
  server.finish();
  CHECK(server.requests().size() == 4);
}

TEST_CASE("http: a 302 is returned, not followed", "[http]") {
  ScriptedHttpServer server({answer(http_reply("302 Found", "moved", {"Location: /elsewhere"}))});
  const NoProxy no_proxy;
  CurlTransport transport;
  const auto response = transport.send(get(server.origin() + "/start"));
  REQUIRE(response.has_value());
  CHECK(response->status == 302);
  CHECK(response->header("location") == "/elsewhere");
  CHECK(response->body == "moved");
  server.finish();
  CHECK(server.connections() == 1);
  CHECK(server.requests().size() == 1);
}

TEST_CASE("http: after an interim 100 response only the final headers are kept", "[http]") {
  ScriptedHttpServer server({answer("HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n" +
                                    http_reply("201 Created", "made", {"X-Final: yes"}))});
  const NoProxy no_proxy;
  CurlTransport transport;
  HttpRequest request = get(server.origin() + "/");
  request.method = "POST";
  request.body = "x=1";
  const auto response = transport.send(request);
  REQUIRE(response.has_value());
  CHECK(response->status == 201);
  CHECK(response->body == "made");
  CHECK(response->header("x-final") == "yes");
  CHECK_FALSE(response->header("x-interim"));
}

TEST_CASE("http: a body at the limit is fine, one byte more is a transient error", "[http]") {
  const std::string at_limit(1000, 'a');
  const std::string over_limit(1001, 'b');
  const std::string large(200'000, 'c');
  SECTION("with Content-Length") {
    ScriptedHttpServer server({answer(http_reply("200 OK", at_limit)),
                               answer(http_reply("200 OK", over_limit)),
                               answer(http_reply("200 OK", large))});
    const NoProxy no_proxy;
    CurlTransport transport;
    HttpRequest request = canary_request(server.origin());
    request.max_response_bytes = 1000;
    const auto fits = transport.send(request);
    REQUIRE(fits.has_value());
    CHECK(fits->body == at_limit);
    for (int i = 0; i < 2; ++i) {
      const auto error = expect_error(transport.send(request), ErrorClass::transient);
      CHECK(contains(error.message, "response from 127.0.0.1 larger than 1000 bytes"));
    }
  }
  SECTION("without Content-Length (the body ends when the connection closes)") {
    const auto unsized = [](const std::string& body) {
      return answer("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body);
    };
    ScriptedHttpServer server({unsized(at_limit), unsized(over_limit), unsized(large)});
    const NoProxy no_proxy;
    CurlTransport transport;
    HttpRequest request = canary_request(server.origin());
    request.max_response_bytes = 1000;
    const auto fits = transport.send(request);
    REQUIRE(fits.has_value());
    CHECK(fits->body == at_limit);
    for (int i = 0; i < 2; ++i) {
      const auto error = expect_error(transport.send(request), ErrorClass::transient);
      CHECK(contains(error.message, "response from 127.0.0.1 larger than 1000 bytes"));
    }
  }
}

TEST_CASE("http: response headers over 256 KiB are a transient error", "[http]") {
  std::vector<std::string> many;
  for (int i = 0; i < 3000; ++i)
    many.push_back("X-Filler-" + std::to_string(i) + ": " + std::string(90, 'h'));
  ScriptedHttpServer server({answer(http_reply("200 OK", "small", many))});
  const NoProxy no_proxy;
  CurlTransport transport;
  const auto error =
      expect_error(transport.send(canary_request(server.origin())), ErrorClass::transient);
  CHECK(contains(error.message, "response headers from 127.0.0.1 larger than 262144 bytes"));
}

TEST_CASE("http: a host that does not resolve is a transient error", "[http]") {
  const NoProxy no_proxy;
  CurlTransport transport;
  HttpRequest request = canary_request("http://ckh-no-such-host.invalid");
  request.timeout = 3s;
  request.connect_timeout = 2s;
  const auto error = expect_error(transport.send(request), ErrorClass::transient);
  CHECK(contains(error.message, "ckh-no-such-host.invalid"));
}

TEST_CASE("http: a server that never answers times out as a transient error", "[http]") {
  ScriptedHttpServer server({ckh::test::hang()});
  const NoProxy no_proxy;
  CurlTransport transport;
  HttpRequest request = canary_request(server.origin());
  request.timeout = 300ms;
  const auto started = std::chrono::steady_clock::now();
  const auto error = expect_error(transport.send(request), ErrorClass::transient);
  CHECK(contains(error.message, "timed out"));
  CHECK(contains(error.message, "127.0.0.1"));
  CHECK(std::chrono::steady_clock::now() - started < 10s);
}

TEST_CASE("http: connection refused is a transient error", "[http]") {
  const NoProxy no_proxy;
  CurlTransport transport;
  const std::string origin = "http://127.0.0.1:" + std::to_string(closed_port());
  const auto error = expect_error(transport.send(canary_request(origin)), ErrorClass::transient);
  CHECK(contains(error.message, "cannot connect to 127.0.0.1"));
}

TEST_CASE("http: a closed connection or a cut body is a transient error", "[http]") {
  ScriptedHttpServer server(
      {ckh::test::close_without_answer(),
       answer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nonly ten b"),
       answer("SSH-2.0-OpenSSH_9.2\r\n\r\n")});
  const NoProxy no_proxy;
  CurlTransport transport;
  const HttpRequest request = canary_request(server.origin());
  for (int i = 0; i < 3; ++i) {
    const auto error = expect_error(transport.send(request), ErrorClass::transient);
    CHECK(contains(error.message, "127.0.0.1"));
  }
}

TEST_CASE("http: malformed requests are configuration errors", "[http]") {
  const NoProxy no_proxy;
  CurlTransport transport;
  HttpRequest request = canary_request("http://127.0.0.1:1");
  std::string mention;  // what the message must name, when known
  SECTION("no scheme") {
    request.url = std::string("127.0.0.1/token?code=") + kCanary;
  }
  SECTION("white space in the URL") {
    request.url = std::string("https://exa mple.com/?code=") + kCanary;
  }
  SECTION("unsupported scheme") {
    request.url = std::string("ftp://example.com/file?code=") + kCanary;
    mention = "example.com";
  }
  SECTION("unknown scheme") {
    request.url = std::string("gopher2://example.com/?code=") + kCanary;
  }
  SECTION("bad port") {
    request.url = std::string("http://example.com:99999999/?code=") + kCanary;
  }
  SECTION("unsupported method") {
    request.method = "DELETE";
  }
  SECTION("a line break in a header value") {
    request.headers.emplace_back("X-Injected", std::string(kCanary) + "\r\nX-Evil: 1");
  }
  SECTION("a header name that is not a token") {
    request.headers.emplace_back(std::string("Bad Name ") + kCanary, "x");
  }
  SECTION("a GET with a body") {
    request.method = "GET";
  }
  SECTION("a tls_server_name that is not a host name") {
    request.url = "https://127.0.0.1:1/";
    request.tls.server_name = "vault.test/evil";
    mention = "tls_server_name";
  }
  const auto error = expect_error(transport.send(request), ErrorClass::config);
  CHECK(contains(error.message, mention));
}

// --- TLS

TEST_CASE("https: an unknown CA fails verification, permanently", "[http][tls]") {
  ckh::test::TestPki pki({"vault.test", "localhost"});
  auto tls = ckh::test::server_tls_context(pki);
  ScriptedHttpServer server({answer(http_reply("200 OK", "secret data"))}, tls.get());
  const NoProxy no_proxy;
  CurlTransport transport;
  const auto error = expect_error(transport.send(canary_request(server.origin("localhost"))),
                                  ErrorClass::permanent);
  CHECK(contains(error.message, "TLS certificate verification failed for localhost: "));
  CHECK(contains(error.message, "set ca_cert (or VAULT_CACERT) to the CA that signed it"));
  server.finish();
  CHECK(server.requests().empty());
}

TEST_CASE("https: ca_file set to the signing CA verifies", "[http][tls]") {
  ckh::test::TestPki pki({"vault.test", "localhost"});
  auto tls = ckh::test::server_tls_context(pki);
  ScriptedHttpServer server({answer(http_reply("200 OK", "over tls", {"X-Tls: 1"}))}, tls.get());
  const NoProxy no_proxy;
  CurlTransport transport;
  HttpRequest request = canary_request(server.origin("localhost"));
  request.tls.ca_file = pki.ca_file();
  const auto response = transport.send(request);
  REQUIRE(response.has_value());
  CHECK(response->status == 200);
  CHECK(response->body == "over tls");
  CHECK(response->header("x-tls") == "1");
  const Received received = only_request(server);
  CHECK(received.body == std::string("refresh_token=") + kCanary);
}

TEST_CASE("https: tls_server_name verifies against that name at the URL's address", "[http][tls]") {
  ckh::test::TestPki pki({"vault.test"});
  auto tls = ckh::test::server_tls_context(pki);
  ScriptedHttpServer server({answer(http_reply("200 OK", "{\"initialized\":true}")),
                             answer(http_reply("200 OK", "never sent"))},
                            tls.get());
  const NoProxy no_proxy;
  CurlTransport transport;
  HttpRequest request = get(server.origin("127.0.0.1") + "/v1/sys/health");
  request.tls.ca_file = pki.ca_file();

  request.tls.server_name = "vault.test";
  const auto response = transport.send(request);
  REQUIRE(response.has_value());
  CHECK(response->status == 200);
  CHECK(response->body == "{\"initialized\":true}");

  // The same request without the override: the certificate does not name 127.0.0.1.
  request.tls.server_name.clear();
  const auto error = expect_error(transport.send(request), ErrorClass::permanent);
  CHECK(contains(error.message, "TLS certificate verification failed for 127.0.0.1"));
  CHECK(contains(error.message, "tls_server_name"));

  server.finish();
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  const Received received = parse_received(requests.front());
  CHECK(received.request_line == "GET /v1/sys/health HTTP/1.1");
  CHECK(received.header("Host") == "vault.test:" + std::to_string(server.port()));
}

TEST_CASE("https: insecure_skip_verify accepts an unknown CA", "[http][tls]") {
  ckh::test::TestPki pki({"vault.test"});
  auto tls = ckh::test::server_tls_context(pki);
  ScriptedHttpServer server({answer(http_reply("200 OK", "unverified"))}, tls.get());
  const NoProxy no_proxy;
  CurlTransport transport;
  HttpRequest request = get(server.origin() + "/");
  request.tls.insecure_skip_verify = true;
  const auto response = transport.send(request);
  REQUIRE(response.has_value());
  CHECK(response->body == "unverified");
}

TEST_CASE("https: with insecure_skip_verify a stale ca_file is not read", "[http][tls]") {
  // Verification off uses no CA at all: a ca_cert left behind (gone, a FIFO) must not fail
  // or block the profile.
  ckh::test::TestPki pki({"vault.test"});
  auto tls = ckh::test::server_tls_context(pki);
  ScriptedHttpServer server(
      {answer(http_reply("200 OK", "one")), answer(http_reply("200 OK", "two"))}, tls.get());
  const NoProxy no_proxy;
  CurlTransport transport;
  ckh::test::TempDir dir;
  const std::string fifo = dir / "ca.pem";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  for (const std::string& path : {fifo, std::string("/nonexistent/ckh-ca.pem")}) {
    HttpRequest request = get(server.origin() + "/");
    request.tls.insecure_skip_verify = true;
    request.tls.ca_file = path;
    const auto response = transport.send(request);
    REQUIRE(response.has_value());
    CHECK(response->status == 200);
  }
}

TEST_CASE("https: an unreadable CA file is a configuration error", "[http][tls]") {
  ckh::test::TestPki pki({"localhost"});
  auto tls = ckh::test::server_tls_context(pki);
  ScriptedHttpServer server({answer(http_reply("200 OK", "x"))}, tls.get());
  const NoProxy no_proxy;
  CurlTransport transport;
  HttpRequest request = canary_request(server.origin("localhost"));
  request.tls.ca_file = "/nonexistent/ckh-ca.pem";
  const auto error = expect_error(transport.send(request), ErrorClass::config);
  CHECK(contains(error.message, "/nonexistent/ckh-ca.pem"));
}

TEST_CASE("https: a FIFO or a directory as the CA file is refused without blocking",
          "[http][tls]") {
  // libcurl would open a FIFO with a blocking open and hang the refresher (signals
  // deferred); the transport reads the bundle itself and takes only a regular file.
  ckh::test::TestPki pki({"localhost"});
  auto tls = ckh::test::server_tls_context(pki);
  ScriptedHttpServer server({answer(http_reply("200 OK", "x"))}, tls.get());
  const NoProxy no_proxy;
  CurlTransport transport;
  ckh::test::TempDir dir;
  const std::string fifo = dir / "ca.pem";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  for (const std::string& path : {fifo, std::string(dir.path())}) {
    HttpRequest request = canary_request(server.origin("localhost"));
    request.tls.ca_file = path;
    const auto error = expect_error(transport.send(request), ErrorClass::config);
    CHECK(contains(error.message, "not a regular file"));
    CHECK(contains(error.message, "ca_cert"));
  }
}

// --- retry_after_seconds

TEST_CASE("retry-after: delta-seconds", "[http][retry_after]") {
  const std::int64_t now = 1'700'000'000;
  CHECK(retry_after_seconds("120", now) == 120);
  CHECK(retry_after_seconds("0", now) == 0);
  CHECK(retry_after_seconds(" 7\t", now) == 7);
  CHECK(retry_after_seconds("86400", now) == 86400);
  CHECK(retry_after_seconds("86401", now) == 86400);
  CHECK(retry_after_seconds("99999999999999999999999999", now) == 86400);
}

TEST_CASE("retry-after: HTTP-dates in all three forms", "[http][retry_after]") {
  const std::int64_t date = 784'111'777;  // Sun, 06 Nov 1994 08:49:37 GMT
  CHECK(retry_after_seconds("Sun, 06 Nov 1994 08:49:37 GMT", date - 30) == 30);
  CHECK(retry_after_seconds("Sunday, 06-Nov-94 08:49:37 GMT", date - 30) == 30);
  CHECK(retry_after_seconds("Sun Nov  6 08:49:37 1994", date - 30) == 30);
  CHECK(retry_after_seconds("Sun Nov 06 08:49:37 1994", date - 30) == 30);
  CHECK(retry_after_seconds("Sun, 06 Nov 1994 08:49:37 GMT", date) == 0);
  // In the past: retry now.
  CHECK(retry_after_seconds("Sun, 06 Nov 1994 08:49:37 GMT", date + 3600) == 0);
  // Far ahead: clamped to a day.
  CHECK(retry_after_seconds("Fri, 01 Jan 2100 00:00:00 GMT", date) == 86400);
  // Leap day and year boundaries.
  CHECK(retry_after_seconds("Thu, 29 Feb 2024 00:00:10 GMT", 1'709'164'800) == 10);
  CHECK(retry_after_seconds("Mon, 01 Jan 2024 00:00:00 GMT", 1'704'067'200 - 1) == 1);
}

TEST_CASE("retry-after: RFC 850 two-digit years pick the nearest century", "[http][retry_after]") {
  const std::int64_t jan_2024 = 1'704'067'200;  // Mon, 01 Jan 2024 00:00:00 GMT
  CHECK(retry_after_seconds("Monday, 01-Jan-24 00:00:00 GMT", jan_2024 - 100) == 100);
  CHECK(retry_after_seconds("Friday, 01-Jan-99 00:00:00 GMT", jan_2024) == 0);       // 1999
  CHECK(retry_after_seconds("Tuesday, 01-Jan-70 00:00:00 GMT", jan_2024) == 86400);  // 2070
}

TEST_CASE("retry-after: garbage gives nothing", "[http][retry_after]") {
  const std::int64_t now = 1'700'000'000;
  for (const char* value :
       {"", "   ", "-5", "+5", "1.5", "12abc", "soon", "0x10", "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37", "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 06 Nov 1994 08:61:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT trailing", "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun Nov  6 08:49:37 94"}) {
    INFO(value);
    CHECK_FALSE(retry_after_seconds(value, now));
  }
}

// --- url_host

TEST_CASE("url_host: only the host, never userinfo, port, path or query", "[http]") {
  CHECK(ckh::url_host("https://user:pw@Vault.example.com:8200/v1/x?token=abc") ==
        "Vault.example.com");
  CHECK(ckh::url_host("http://[::1]:8080/") == "[::1]");
  CHECK(ckh::url_host("https://sts.amazonaws.com") == "sts.amazonaws.com");
  CHECK(ckh::url_host("https://h.example/?q=a@b") == "h.example");
  CHECK(ckh::url_host("no scheme here") == "(unparsable URL)");
  CHECK(ckh::url_host("https://bad host/") == "(unparsable URL)");
  CHECK(ckh::url_host("https:///path") == "(unparsable URL)");
}

// --- the fake

TEST_CASE("FakeTransport: records requests, answers from the script or a handler", "[http]") {
  ckh::test::FakeTransport fake;
  fake.respond(200, "first", {{"x-one", "1"}}).fail_with(ErrorClass::transient, "down");
  HttpRequest request = get("https://example.com/a");
  request.headers = {{"Authorization", "Bearer t"}};
  const auto first = fake.send(request);
  REQUIRE(first.has_value());
  CHECK(first->body == "first");
  CHECK(first->header("x-one") == "1");
  const auto second = fake.send(get("https://example.com/b"));
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().message == "down");
  CHECK(fake.send(request).error().kind == ErrorClass::transient);  // exhausted
  CHECK(fake.calls() == 3);
  CHECK(ckh::test::request_header(fake.requests.front(), "authorization") == "Bearer t");

  fake.handler = [](const HttpRequest& r) -> ckh::Result<HttpResponse> {
    return ckh::test::http_response(r.url.ends_with("/ok") ? 200 : 404, r.url);
  };
  CHECK(fake.send(get("https://example.com/ok"))->status == 200);
  CHECK(fake.send(get("https://example.com/no"))->status == 404);
  CHECK(fake.last_request().url == "https://example.com/no");
}
