// Errors as values, shared by both binaries.
// Contract: every fallible function returns Result<T>; the Error says what went wrong in one
// line that never contains a secret, and how to classify it. Only main() maps classes to
// exit codes. Callers: everything.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>

namespace ckh {

enum class ErrorClass {
  transient,  // may work later by itself: network, timeouts, 5xx, 429, a failing command
  permanent,  // needs the user: rejected credentials, missing secret, invalid_grant
  config,     // the configuration is missing or wrong
  not_found,  // the file does not exist (yet)
  unsafe,     // a file was refused for safety: symlink, owner, mode, not a regular file
  corrupt,    // a file is malformed, truncated, too large or of an unknown version
  usage,      // the command line is wrong
  io,         // an unexpected operating-system failure
};

struct Error {
  ErrorClass kind;
  std::string message;  // one line, no secret, says what to do where it can
  // The peer said when to come back (HTTP Retry-After), in seconds; backoff waits at least
  // this long.
  std::optional<std::int64_t> retry_after_s{};
  // A machine-readable reason for callers that must react to one case (e.g. the OAuth
  // error "invalid_grant"); empty when none.
  std::string code{};
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(ErrorClass kind, std::string message) {
  return std::unexpected(Error{kind, std::move(message)});
}

const char* error_class_name(ErrorClass kind);

}  // namespace ckh
