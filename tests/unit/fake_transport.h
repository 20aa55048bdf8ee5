// The HTTP transport seam's fake: records every request and answers from a queue of scripted
// results, or from a callback when one is set (the callback wins). An exhausted script
// answers a transient error "fake transport: script exhausted". Header-only.
// Callers: unit tests of the OAuth, Vault and AWS backends.
#pragma once

#include <cctype>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "refresher/http/transport.h"

namespace ckh::test {

class FakeTransport : public HttpTransport {
 public:
  using Handler = std::function<Result<HttpResponse>(const HttpRequest&)>;

  FakeTransport() = default;
  explicit FakeTransport(Handler handler) : handler(std::move(handler)) {}

  Result<HttpResponse> send(const HttpRequest& request) override {
    requests.push_back(request);
    if (handler) return handler(request);
    if (script.empty()) return fail(ErrorClass::transient, "fake transport: script exhausted");
    auto next = std::move(script.front());
    script.pop_front();
    return next;
  }

  // Queues a response / an error; returns *this to chain.
  FakeTransport& respond(long status, std::string body,
                         std::vector<std::pair<std::string, std::string>> headers = {}) {
    script.push_back(HttpResponse{status, std::move(headers), std::move(body)});
    return *this;
  }
  FakeTransport& fail_with(ErrorClass kind, std::string message) {
    script.push_back(fail(kind, std::move(message)));
    return *this;
  }

  int calls() const { return static_cast<int>(requests.size()); }
  const HttpRequest& last_request() const { return requests.back(); }

  std::deque<Result<HttpResponse>> script;
  Handler handler;
  std::vector<HttpRequest> requests;
};

// A response for scripts and handlers; header names are given lowercased, as the real
// transport delivers them.
inline HttpResponse http_response(long status, std::string body,
                                  std::vector<std::pair<std::string, std::string>> headers = {}) {
  return HttpResponse{status, std::move(headers), std::move(body)};
}

// The value of a request header (case-insensitive name), or "" when absent.
inline std::string request_header(const HttpRequest& request, std::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (key.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < key.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(key[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    }
    if (same) return value;
  }
  return {};
}

}  // namespace ckh::test
