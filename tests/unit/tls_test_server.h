// A scripted HTTP/1.1 server for transport tests, plain or TLS (OpenSSL), on 127.0.0.1 with
// a kernel-chosen port, in its own thread. One connection per scripted reply: it reads the
// request (headers, then a Content-Length body), records it verbatim, then answers with the
// scripted bytes and closes, hangs until the client goes away, or closes without a word.
// Connections that send no request are not recorded.
// Also: a throwaway CA and server certificate made with the openssl command line.
// Callers: tests/unit/http_transport_test.cpp. Catch2 macros are used only on the test's
// thread (the constructor), never in the server thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace ckh::test {

struct ScriptedReply {
  enum class Kind { answer, hang, close };
  Kind kind = Kind::answer;
  std::string bytes;  // Kind::answer: sent verbatim
};
inline ScriptedReply answer(std::string bytes) {
  return {ScriptedReply::Kind::answer, std::move(bytes)};
}
inline ScriptedReply hang() {
  return {ScriptedReply::Kind::hang, {}};
}
inline ScriptedReply close_without_answer() {
  return {ScriptedReply::Kind::close, {}};
}

// "HTTP/1.1 <status_line>" with the given header lines, a Content-Length and the body.
inline std::string http_reply(const std::string& status_line, const std::string& body,
                              const std::vector<std::string>& header_lines = {}) {
  std::string out = "HTTP/1.1 " + status_line + "\r\n";
  for (const auto& line : header_lines) out += line + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  return out + body;
}

// A throwaway PKI in a temp dir: a CA and a server certificate for `server_names` (DNS
// subjectAltNames), signed by that CA. EC P-256 keys; valid for two days.
class TestPki {
 public:
  explicit TestPki(const std::vector<std::string>& server_names) {
    dir_.write("ca.cnf",
               "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = ckh unit test CA\n"
               "[v3_ca]\nbasicConstraints = critical,CA:TRUE\n"
               "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n");
    dir_.write("server.cnf", "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = " +
                                 server_names.front() + "\n");
    std::string san = "subjectAltName = ";
    for (std::size_t i = 0; i < server_names.size(); ++i) {
      san += (i ? ",DNS:" : "DNS:") + server_names[i];
    }
    dir_.write("server.ext", san +
                                 "\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature\n"
                                 "extendedKeyUsage = serverAuth\n");
    const std::string d = dir_.path();
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    run("openssl req -x509 -new" + ec + " -keyout " + d + "/ca.key -out " + d +
        "/ca.pem -days 2 -config " + d + "/ca.cnf -extensions v3_ca");
    run("openssl req -new" + ec + " -keyout " + d + "/server.key -out " + d +
        "/server.csr -config " + d + "/server.cnf");
    run("openssl x509 -req -in " + d + "/server.csr -CA " + d + "/ca.pem -CAkey " + d +
        "/ca.key -set_serial 2 -days 2 -extfile " + d + "/server.ext -out " + d + "/server.pem");
  }
  std::string ca_file() const { return dir_ / "ca.pem"; }
  std::string cert_file() const { return dir_ / "server.pem"; }
  std::string key_file() const { return dir_ / "server.key"; }

 private:
  static void run(const std::string& command) {
    INFO(command);
    REQUIRE(std::system((command + " >/dev/null 2>&1").c_str()) == 0);
  }
  TempDir dir_;
};

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

inline SslCtxPtr server_tls_context(const TestPki& pki) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  REQUIRE(ctx);
  REQUIRE(SSL_CTX_use_certificate_chain_file(ctx.get(), pki.cert_file().c_str()) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey_file(ctx.get(), pki.key_file().c_str(), SSL_FILETYPE_PEM) == 1);
  REQUIRE(SSL_CTX_check_private_key(ctx.get()) == 1);
  return ctx;
}

class ScriptedHttpServer {
 public:
  // tls: serve TLS with this context (owned by the caller, must outlive the server).
  explicit ScriptedHttpServer(std::vector<ScriptedReply> script, SSL_CTX* tls = nullptr)
      : script_(std::move(script)), tls_(tls) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listener_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(listener_, 16) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ScriptedHttpServer(const ScriptedHttpServer&) = delete;
  ScriptedHttpServer& operator=(const ScriptedHttpServer&) = delete;
  ~ScriptedHttpServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
  }

  int port() const { return port_; }
  std::string origin(const std::string& host = "127.0.0.1") const {
    return std::string(tls_ ? "https://" : "http://") + host + ":" + std::to_string(port_);
  }
  // Waits until every scripted reply has been used (or the server gave up waiting).
  void finish() {
    if (thread_.joinable()) thread_.join();
  }
  std::vector<std::string> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  int connections() const { return connections_; }
  int failed_handshakes() const { return failed_handshakes_; }

 private:
  // One accepted connection, plain or TLS.
  struct Connection {
    int fd = -1;
    SSL* ssl = nullptr;
    ~Connection() {
      if (ssl) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
      }
      if (fd >= 0) ::close(fd);
    }
    long read(char* buffer, std::size_t size) {
      if (ssl) {
        const int n = SSL_read(ssl, buffer, static_cast<int>(size));
        return n > 0 ? n : -1;
      }
      return ::recv(fd, buffer, size, 0);
    }
    bool write_all(const std::string& bytes) {
      std::size_t done = 0;
      while (done < bytes.size()) {
        long n;
        if (ssl) {
          n = SSL_write(ssl, bytes.data() + done, static_cast<int>(bytes.size() - done));
        } else {
          n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
        }
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
      }
      return true;
    }
  };

  void run() {
    // A peer that hangs up while we write must not kill the test with SIGPIPE: a blocked
    // SIGPIPE stays pending on this thread only (OpenSSL writes with plain write()).
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
    for (const ScriptedReply& reply : script_) {
      const int fd = accept_one();
      if (fd < 0) return;
      ++connections_;
      serve(fd, reply);
    }
  }

  int accept_one() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 50) == 1) return ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    }
    return -1;
  }

  void serve(int fd, const ScriptedReply& reply) {
    Connection connection;
    connection.fd = fd;
    timeval five_seconds{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five_seconds, sizeof five_seconds);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &five_seconds, sizeof five_seconds);
    if (tls_) {
      connection.ssl = SSL_new(tls_);
      SSL_set_fd(connection.ssl, fd);
      if (SSL_accept(connection.ssl) != 1) {
        ERR_clear_error();
        ++failed_handshakes_;
        SSL_free(connection.ssl);
        connection.ssl = nullptr;
        return;
      }
    }
    std::string request = read_request(connection);
    // A client may hang up after the handshake without a request: libcurl checks the
    // certificate's name only once the handshake is done.
    if (request.empty()) return;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
    }
    switch (reply.kind) {
      case ScriptedReply::Kind::answer:
        connection.write_all(reply.bytes);
        break;
      case ScriptedReply::Kind::hang:
        wait_for_hangup(fd);
        break;
      case ScriptedReply::Kind::close:
        break;
    }
    ERR_clear_error();
  }

  static std::string read_request(Connection& connection) {
    std::string data;
    char buffer[4096];
    std::optional<std::size_t> total;
    while (!total || data.size() < *total) {
      const long n = connection.read(buffer, sizeof buffer);
      if (n <= 0) break;
      data.append(buffer, static_cast<std::size_t>(n));
      if (!total) {
        const std::size_t end = data.find("\r\n\r\n");
        if (end != std::string::npos) total = end + 4 + content_length(data.substr(0, end));
      }
      if (data.size() > 8 * 1024 * 1024) break;
    }
    return data;
  }

  static std::size_t content_length(const std::string& head) {
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::size_t at = lower.find("\r\ncontent-length:");
    if (at == std::string::npos) return 0;
    return std::strtoul(lower.c_str() + at + 17, nullptr, 10);
  }

  void wait_for_hangup(int fd) {
    char buffer[512];
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) != 1) continue;
      if (::recv(fd, buffer, sizeof buffer, 0) <= 0) return;
    }
  }

  std::vector<ScriptedReply> script_;
  SSL_CTX* tls_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> failed_handshakes_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

}  // namespace ckh::test
