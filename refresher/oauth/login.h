// The interactive login of an `anthropic-oauth` profile: OAuth 2.0 authorization code with
// PKCE (S256), as ../shared/ANTHROPIC_OAUTH.md describes Claude Code doing it.
// Guarantees of run_login:
// - one PKCE verifier and one separate random state per login; two authorize URLs sharing
//   them: the automatic one (redirect_uri http://localhost:<OS-assigned port>/callback,
//   served by a listener on 127.0.0.1, and ::1 when available) and the manual one
//   (manual_redirect_uri, whose page shows "code#state" to paste);
// - the first valid code wins, from either the listener or a line pasted on input_fd
//   ("code#state", or the whole callback URL); a code whose state is not this login's is
//   refused (and said so) and the login keeps waiting; the listener answers every request
//   with a small page, /callback only with a valid state;
// - the browser is opened (xdg-open, or open on macOS) only with open_browser and a
//   display; the URLs hold the challenge and state, never a code, verifier or token;
// - the code is exchanged with the redirect_uri of the path it came by; the wait is bounded
//   by timeout; codes, verifiers and tokens never appear in messages, argv or logs;
// - with no browser opened here and no input to paste into (input_fd -1, or at its end:
//   `login </dev/null`), it fails at once (ErrorClass::usage) instead of waiting for nothing.
// Callers: refresher/oauth/account.cpp (the `login` command), tests.
#pragma once

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "refresher/http/transport.h"
#include "refresher/oauth/anthropic_oauth_settings.h"
#include "refresher/oauth/oauth_urls.h"
#include "refresher/oauth/token_response.h"

namespace ckh {

struct LoginOptions {
  bool open_browser = true;
  bool inference_only = false;             // scope user:inference only
  std::optional<std::int64_t> expires_in;  // with inference_only: ask for this lifetime
  std::chrono::milliseconds timeout{600'000};
  int input_fd = 0;         // where a pasted code arrives; -1: none
  std::FILE* out = stderr;  // instructions for the user
};

struct LoginResult {
  TokenGrant grant;
  std::vector<std::string> requested_scopes;
};

Result<LoginResult> run_login(const AnthropicOAuthSettings& settings, HttpTransport& transport,
                              const LoginOptions& options);

}  // namespace ckh
