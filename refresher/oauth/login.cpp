#include "refresher/oauth/login.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "refresher/child_env.h"
#include "refresher/child_process.h"
#include "refresher/config.h"
#include "refresher/oauth/browser.h"
#include "refresher/oauth/oauth_urls.h"
#include "refresher/oauth/pkce.h"
#include "refresher/oauth/token_client.h"
#include "shared/line_io.h"
#include "shared/text.h"
#include "shared/unique_fd.h"

namespace ckh {
namespace {

constexpr std::size_t kMaxRequestBytes = 8 * 1024;
constexpr std::size_t kMaxPasteBytes = 8 * 1024;
constexpr int kRequestReadTimeoutMs = 3000;

struct Listener {
  UniqueFd v4;
  UniqueFd v6;
  int port = 0;
};

UniqueFd listen_on(int family, int port) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return {};
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = -1;
  if (family == AF_INET) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
  } else {
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_port = htons(static_cast<std::uint16_t>(port));
    address.sin6_addr = in6addr_loopback;
    rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
  }
  if (rc != 0 || ::listen(fd.get(), 8) != 0) return {};
  return fd;
}

// 127.0.0.1 on a port the OS picks; ::1 on the same port too when possible, because a
// browser may resolve "localhost" to either.
Result<Listener> open_listener() {
  Listener listener;
  listener.v4 = listen_on(AF_INET, 0);
  if (!listener.v4.valid()) {
    return fail(ErrorClass::io, std::string("cannot listen on 127.0.0.1 for the login callback: ") +
                                    std::strerror(errno));
  }
  sockaddr_in bound{};
  socklen_t length = sizeof bound;
  if (::getsockname(listener.v4.get(), reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    return fail(ErrorClass::io, "cannot read the callback listener's port");
  }
  listener.port = ntohs(bound.sin_port);
  listener.v6 = listen_on(AF_INET6, listener.port);
  return listener;
}

std::string page(int status, std::string_view title, std::string_view text) {
  const std::string body =
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>claude-key-refresher</title>"
      "</head><body style=\"font-family:sans-serif;margin:3em\"><h2>" +
      std::string(title) + "</h2><p>" + std::string(text) + "</p></body></html>";
  const char* reason = status == 200   ? "OK"
                       : status == 400 ? "Bad Request"
                       : status == 404 ? "Not Found"
                                       : "Error";
  return "HTTP/1.1 " + to_decimal(status) + " " + reason +
         "\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n"
         "Connection: close\r\nContent-Length: " +
         to_decimal(static_cast<std::uint64_t>(body.size())) + "\r\n\r\n" + body;
}

// The first line of one HTTP request (without its CRLF), read within a short time and at most
// kMaxRequestBytes.
std::optional<std::string> read_request_line(int fd) {
  std::string request;
  const std::int64_t deadline = monotonic_ms() + kRequestReadTimeoutMs;
  while (request.find("\r\n") == std::string::npos && request.size() < kMaxRequestBytes) {
    const std::int64_t left = deadline - monotonic_ms();
    if (left <= 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return std::nullopt;
    char buffer[1024];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return std::nullopt;
    request.append(buffer, static_cast<std::size_t>(n));
  }
  const auto end = request.find("\r\n");
  if (end == std::string::npos) return std::nullopt;
  request.resize(end);
  return request;
}

void say(const LoginOptions& options, const std::string& text) {
  std::fputs(text.c_str(), options.out);
  std::fflush(options.out);
}

class LoginSession {
 public:
  LoginSession(const AnthropicOAuthSettings& settings, HttpTransport& transport,
               const LoginOptions& options)
      : settings_(settings), transport_(transport), options_(options) {}

  Result<LoginResult> run();

 private:
  enum class Step { keep_waiting, done };
  Step on_connection(int listener_fd);
  Step on_input();
  Step exchange(const std::string& code, const std::string& redirect_uri);
  static Result<LoginResult> cannot_complete() {
    return fail(ErrorClass::usage,
                "login needs a terminal to paste the code into (its input is closed or at end "
                "of file) or a browser on this machine (--no-browser, or no DISPLAY); run it in "
                "a terminal: claude-key-refresher login");
  }

  const AnthropicOAuthSettings& settings_;
  HttpTransport& transport_;
  const LoginOptions& options_;
  PkceLogin pkce_;
  std::vector<std::string> scopes_;
  std::string loopback_redirect_;
  std::string input_buffer_;
  bool input_open_ = false;
  std::optional<Result<LoginResult>> outcome_;
};

LoginSession::Step LoginSession::exchange(const std::string& code,
                                          const std::string& redirect_uri) {
  CodeExchange request{code, redirect_uri, pkce_.verifier, pkce_.state,
                       options_.inference_only ? options_.expires_in : std::nullopt};
  auto grant =
      exchange_code(transport_, settings_, request, static_cast<std::int64_t>(std::time(nullptr)));
  if (!grant) {
    Error error = grant.error();
    error.message = "the login code could not be exchanged for tokens: " + error.message;
    outcome_ = std::unexpected(error);
    return Step::done;
  }
  outcome_ = LoginResult{std::move(*grant), scopes_};
  return Step::done;
}

LoginSession::Step LoginSession::on_connection(int listener_fd) {
  UniqueFd client(::accept4(listener_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!client.valid()) return Step::keep_waiting;
  const auto line = read_request_line(client.get());
  const auto request = line ? parse_callback_request_line(*line) : std::nullopt;
  auto reply = [&](int status, std::string_view title, std::string_view text) {
    const std::string response = page(status, title, text);
    (void)send_all(client.get(), response);
  };
  if (!request) {
    reply(400, "Bad request", "This listener only serves the login callback.");
    return Step::keep_waiting;
  }
  const std::string& query = request->query;
  if (request->path != "/callback") {
    reply(404, "Not found", "This listener only serves the login callback.");
    return Step::keep_waiting;
  }
  const auto state = query_value(query, "state");
  if (!state || *state != pkce_.state) {
    reply(400, "Login refused",
          "This response does not belong to the login in progress (its state does not match).");
    say(options_, "Refused a login callback whose state does not match this login.\n");
    return Step::keep_waiting;
  }
  if (auto error = query_value(query, "error")) {
    reply(400, "Login not completed", "The authorization server did not grant access.");
    outcome_ = fail(ErrorClass::permanent,
                    "the authorization server refused the login (" + one_line(*error, 80) + ")");
    return Step::done;
  }
  const auto code = query_value(query, "code");
  if (!code || code->empty()) {
    reply(400, "Login refused", "The callback carries no code.");
    return Step::keep_waiting;
  }
  const Step step = exchange(*code, loopback_redirect_);
  if (outcome_ && *outcome_) {
    reply(200, "Logged in",
          "claude-key-refresher has your Claude subscription tokens. You can "
          "close this window.");
  } else {
    reply(500, "Login failed", "The code could not be exchanged; see the terminal.");
  }
  return step;
}

LoginSession::Step LoginSession::on_input() {
  char buffer[1024];
  const ssize_t n = ::read(options_.input_fd, buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return Step::keep_waiting;
  if (n <= 0) {
    input_open_ = false;
    if (!input_buffer_.empty())
      input_buffer_ += '\n';  // a last line without newline
    else
      return Step::keep_waiting;
  } else {
    input_buffer_.append(buffer, static_cast<std::size_t>(n));
  }
  if (input_buffer_.size() > kMaxPasteBytes && input_buffer_.find('\n') == std::string::npos) {
    input_buffer_.clear();
    say(options_, "That line is too long to be a login code.\n");
    return Step::keep_waiting;
  }
  std::size_t newline;
  while ((newline = input_buffer_.find('\n')) != std::string::npos) {
    const std::string line(trim(std::string_view(input_buffer_).substr(0, newline)));
    input_buffer_.erase(0, newline + 1);
    if (line.empty()) continue;
    const auto pasted = parse_pasted_code(line);
    if (!pasted) {
      say(options_, "That is not a login code; paste what the page shows (code#state).\n");
      continue;
    }
    if (pasted->state != pkce_.state) {
      say(options_,
          "Refused: that code belongs to another login (its state does not match). "
          "Paste the code shown for this login.\n");
      continue;
    }
    return exchange(pasted->code, settings_.manual_redirect_uri);
  }
  return Step::keep_waiting;
}

Result<LoginResult> LoginSession::run() {
  auto pkce = new_pkce_login();
  if (!pkce) return std::unexpected(pkce.error());
  pkce_ = std::move(*pkce);
  scopes_ = options_.inference_only ? std::vector<std::string>{kAnthropicInferenceScope}
                                    : settings_.scopes;
  auto listener = open_listener();
  if (!listener) return std::unexpected(listener.error());
  loopback_redirect_ = "http://localhost:" + to_decimal(listener->port) + "/callback";
  const std::string automatic =
      authorize_url(settings_, loopback_redirect_, scopes_, pkce_.challenge, pkce_.state);
  const std::string manual = authorize_url(settings_, settings_.manual_redirect_uri, scopes_,
                                           pkce_.challenge, pkce_.state);

  const bool opened = options_.open_browser && has_display() && open_in_browser(automatic);
  std::string text = "Log in to your Claude subscription";
  text += options_.inference_only ? " (inference only).\n" : ".\n";
  text += opened ? "Your browser was opened. If it did not open, or runs on another machine, "
                   "open this URL in a browser"
                 : "Open this URL in a browser";
  text += " and paste the code it shows (code#state) here:\n\n  " + manual + "\n\n";
  text += "A browser on this machine can use this one instead (no paste needed):\n\n  " +
          automatic + "\n\n";
  text += "Waiting up to " + format_duration(options_.timeout) + "...\n";
  say(options_, text);

  input_open_ = options_.input_fd >= 0;
  // No browser here and nowhere to paste: nothing can ever finish this login.
  if (!opened && !input_open_) return cannot_complete();
  const std::int64_t deadline = monotonic_ms() + options_.timeout.count();
  while (true) {
    const std::int64_t left = deadline - monotonic_ms();
    if (left <= 0) break;
    pollfd fds[3];
    int count = 0;
    fds[count++] = pollfd{listener->v4.get(), POLLIN, 0};
    if (listener->v6.valid()) fds[count++] = pollfd{listener->v6.get(), POLLIN, 0};
    const int input_index = input_open_ ? count : -1;
    if (input_open_) fds[count++] = pollfd{options_.input_fd, POLLIN, 0};
    const int ready = ::poll(fds, static_cast<nfds_t>(count),
                             static_cast<int>(std::min<std::int64_t>(left, 1000)));
    if (ready < 0 && errno != EINTR) {
      return fail(ErrorClass::io,
                  std::string("waiting for the login failed: ") + std::strerror(errno));
    }
    if (ready <= 0) continue;
    for (int i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      const Step step = i == input_index ? on_input() : on_connection(fds[i].fd);
      if (step == Step::done) return std::move(*outcome_);
      // The input ended (login </dev/null, a closed pipe) and no browser was opened here:
      // no code can arrive any more.
      if (!input_open_ && !opened) return cannot_complete();
    }
  }
  return fail(ErrorClass::transient, "no login code arrived within " +
                                         format_duration(options_.timeout) +
                                         "; run the login again");
}

}  // namespace

Result<LoginResult> run_login(const AnthropicOAuthSettings& settings, HttpTransport& transport,
                              const LoginOptions& options) {
  return LoginSession(settings, transport, options).run();
}

}  // namespace ckh
