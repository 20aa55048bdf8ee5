#include "refresher/backends/command_backend.h"

#include <cstdlib>

#include <fmt/format.h>

#include "refresher/child_env.h"
#include "refresher/child_process.h"
#include "shared/record.h"
#include "shared/text.h"

namespace ckh {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::size_t kStderrLimit = 64 * 1024;
constexpr std::size_t kStderrExcerptBytes = 200;
constexpr std::size_t kStderrRedactedBytes = 1024;
constexpr std::size_t kStdoutSearchedBytes = 64 * 1024;
constexpr std::size_t kMaxOutputLimit = 1024 * 1024;
// Pieces of stdout shorter than this are not redacted one by one: replacing every "ok" or
// "at" in stderr would destroy the message, and such short pieces are not credentials.
constexpr std::size_t kMinRedactedPiece = 8;
// When PATH is unset, what execvp would search.
constexpr std::string_view kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

// "; stderr: <one line>" with the whole of stdout and each longer word of it redacted:
// a failing command may still have printed (part of) the credential, on either stream.
// Redacted before it is cut or folded to one line, so that a secret split by the cut or by a
// line break cannot survive in part. Bounded work: redaction is quadratic, so only the start
// of stderr (more than the excerpt shows) is redacted, and only pieces of stdout that could
// be a credential are looked for.
std::string stderr_excerpt(const std::string& err, const std::string& out) {
  std::string text = err.substr(0, kStderrRedactedBytes);
  const std::string_view searched = std::string_view(out).substr(0, kStdoutSearchedBytes);
  // Words first: the credential is most likely one word of stdout, and redacting the whole
  // output first could eat its neighbours and leave a tail of the word in view.
  std::size_t begin = 0;
  while (begin < searched.size()) {
    const std::size_t end = std::min(searched.find_first_of(" \t\r\n\v\f", begin), searched.size());
    const std::string_view piece = searched.substr(begin, end - begin);
    if (piece.size() >= kMinRedactedPiece && piece.size() <= kMaxCredentialBytes) {
      text = redact(text, piece);
    }
    begin = end + 1;
  }
  if (const std::string_view whole = trim(out); whole.size() <= kMaxCredentialBytes) {
    text = redact(text, whole);
  }
  const std::string line = one_line(text, kStderrExcerptBytes);
  if (line.empty()) return "";
  return "; stderr: " + line;
}

}  // namespace

std::vector<std::string> CommandBackend::scrubbed_env_names() const {
  if (!secret_env_names_) return {};
  return *secret_env_names_;
}

std::string CommandBackend::source_settings() const {
  std::string out;
  for (const auto& arg : settings_.argv) append_setting(out, "argv", arg);
  append_setting(out, "timeout", std::to_string(settings_.timeout.count()));
  append_setting(out, "max_output", std::to_string(settings_.max_output));
  return out;
}

SourceState CommandBackend::source_state() const {
  SourceState state;
  if (settings_.argv.empty()) return state;
  const char* path_variable = std::getenv("PATH");
  const std::string_view search = path_variable != nullptr ? path_variable : kDefaultPath;
  auto executable = find_executable(settings_.argv.front(), search);
  state.files.push_back(executable ? *executable : settings_.argv.front());
  state.env.emplace_back("PATH", std::string(search));
  return state;
}

Result<FetchResult> CommandBackend::fetch(const FetchContext& context) {
  // Taken before the run: the credential is at least this old when it arrives.
  const std::int64_t started_at = context.clock.unix_seconds();
  const std::string label = one_line(settings_.argv.front(), 256);

  const char* path_variable = std::getenv("PATH");
  auto executable = find_executable(settings_.argv.front(),
                                    path_variable != nullptr ? path_variable : kDefaultPath);
  if (!executable) {
    return fail(ErrorClass::permanent, fmt::format("command: {}; check argv[0] in the profile's "
                                                   "[command] section",
                                                   executable.error().message));
  }

  ChildSpec spec;
  spec.executable = *executable;
  spec.argv = settings_.argv;
  spec.environment = child_environment(ChildRole::ordinary, scrubbed_env_names());
  spec.timeout = settings_.timeout;
  spec.kill_grace = settings_.kill_grace;
  spec.stdout_limit = settings_.max_output;
  spec.stderr_limit = kStderrLimit;
  auto outcome = run_child(spec);
  if (!outcome) {
    const ErrorClass kind =
        outcome.error().kind == ErrorClass::io ? ErrorClass::transient : ErrorClass::permanent;
    return fail(kind, fmt::format("command: {}", outcome.error().message));
  }

  switch (outcome->end) {
    case ChildEnd::timed_out:
      return fail(ErrorClass::transient,
                  fmt::format("command {} did not finish within {} and was killed{}", label,
                              format_duration(settings_.timeout),
                              stderr_excerpt(outcome->err, outcome->out)));
    case ChildEnd::stdout_overflow:
      return fail(ErrorClass::permanent,
                  fmt::format("command {} printed more than {} bytes on stdout and was killed; "
                              "expected only the credential (max_output)",
                              label, settings_.max_output));
    case ChildEnd::signaled:
      return fail(ErrorClass::transient,
                  fmt::format("command {} was killed by signal {}{}", label, outcome->signal,
                              stderr_excerpt(outcome->err, outcome->out)));
    case ChildEnd::exited:
      break;
  }
  if (outcome->exit_code != 0) {
    return fail(ErrorClass::transient,
                fmt::format("command {} exited with status {}{}", label, outcome->exit_code,
                            stderr_excerpt(outcome->err, outcome->out)));
  }

  const std::string_view credential = trim(outcome->out);
  if (credential.empty()) {
    return fail(ErrorClass::permanent,
                fmt::format("command {} succeeded but printed nothing on stdout; expected the "
                            "credential",
                            label));
  }
  if (!validate_credential(credential)) {
    return fail(ErrorClass::permanent,
                fmt::format("command {} printed something that is not a single printable token "
                            "({} bytes); expected only the credential on stdout",
                            label, credential.size()));
  }
  FetchResult result;
  result.credential = std::string(credential);
  if (settings_.ttl) result.expires_at = started_at + settings_.ttl->count();
  result.source = "command " + label;
  return result;
}

std::unique_ptr<Backend> make_command_backend(ConfigSection& section,
                                              const BackendContext& context) {
  const auto argv = section.get_string_array(
      "argv", "the command and its arguments, e.g. [\"/usr/bin/op\", \"read\", \"op://...\"]");
  const auto timeout = section.get_duration("timeout", milliseconds(100), std::chrono::minutes(10));
  const auto ttl = section.get_duration_seconds("ttl", seconds(1), std::chrono::days(366));
  const auto max_output = section.get_integer("max_output", 1, kMaxOutputLimit);
  // A getter returns nothing both when the key is absent and when it reported a problem.
  const bool options_ok = (timeout || !section.has("timeout")) && (ttl || !section.has("ttl")) &&
                          (max_output || !section.has("max_output"));

  if (!section.has("argv")) {
    section.problem("missing 'argv'; expected argv = [\"/path/to/command\", \"arg\", ...]");
    return nullptr;
  }
  if (!argv) return nullptr;  // wrong type, already reported
  if (argv->empty() || argv->front().empty()) {
    section.problem_at("argv",
                       "expected a non-empty array whose first element is the command "
                       "(an absolute path or a name found in PATH)");
    return nullptr;
  }
  const std::string& command = argv->front();
  if (command.find('/') != std::string::npos && !command.starts_with("/")) {
    section.problem_at("argv",
                       "argv[0] is a relative path; expected an absolute path or a bare "
                       "name looked up in PATH");
    return nullptr;
  }
  if (!options_ok) return nullptr;

  CommandSettings settings;
  settings.argv = *argv;
  if (timeout) settings.timeout = *timeout;
  settings.ttl = ttl;
  if (max_output) settings.max_output = static_cast<std::size_t>(*max_output);
  return std::make_unique<CommandBackend>(std::move(settings), context.secret_env_names);
}

}  // namespace ckh
