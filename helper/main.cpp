// claude-key-helper: what Claude Code runs as apiKeyHelper. Prints the current credential
// of a profile. Process plumbing only: arguments, environment, output, exit code; the
// logic is in helper.cpp. Static, no iostreams: its cost is a bare process start.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include <cstdlib>
#include <string>
#include <string_view>

#include "helper/freshness.h"
#include "helper/helper.h"
#include "helper/no_core_dumps.h"
#include "shared/paths.h"
#include "shared/secure_file.h"
#include "shared/text.h"

#include "ckh_version.h"

namespace {

// Laid out as help2man expects (option lines indented, "Heading:" lines): the man page is
// made from this text.
constexpr std::string_view kUsage =
    "usage: claude-key-helper [--profile P] [--caller-ttl S] [--format token|json]\n"
    "                         [--wait-ms N] | --help | --version\n"
    "Prints the current credential of profile P for Claude Code: as its apiKeyHelper, or as\n"
    "the organization's helper-script credential (command and args in the org's document).\n"
    "\n"
    "Options:\n"
    "  --profile P     the profile (default: $CLAUDE_KEY_HELPER_PROFILE, else 'default')\n"
    "  --caller-ttl S  the caller caches the credential S seconds, 1..43200 (helper-script:\n"
    "                  the document's ttlSec); default CLAUDE_CODE_API_KEY_HELPER_TTL_MS\n"
    "  --format F      token (default): the bare credential; json: {\"token\": ...,\n"
    "                  \"headers\": {...}} with the profile's headers (Claude Desktop)\n"
    "  --wait-ms N     longest wait for a refresh in ms, 0..600000\n"
    "  -h, --help      print this help and exit\n"
    "  --version       print the version and exit\n"
    "\n"
    "Environment:\n"
    "  CLAUDE_HELPER_CONTEXT  set by Claude Code for a helper-script: background and\n"
    "                  interactive serve the cache; mid-session-refresh (the credential was\n"
    "                  refused) forces a refresh, waited for at most 15 s\n"
    "  CLAUDE_CODE_API_KEY_HELPER_TTL_MS  the caller's cache TTL (default 300000)\n"
    "  CLAUDE_KEY_HELPER_MARGIN_MS  extra validity beyond the TTL (default 15000)\n"
    "  CLAUDE_KEY_HELPER_WAIT_MS  longest wait for a refresh (default 10000)\n"
    "  CLAUDE_KEY_HELPER_STATE_DIR  the state dir (default $XDG_STATE_HOME/claude-key-helper)\n"
    "  CLAUDE_KEY_REFRESHER  the refresher's absolute path (default: beside this program)\n"
    "\n"
    "Exit status:\n"
    "  0 ok, 64 usage, 65 corrupt cache, 74 I/O error, 75 expired and not refreshable,\n"
    "  77 unsafe cache, state dir, lock or socket, 78 not configured or no credential yet.\n";

int usage_error(std::string_view what) {
  std::string line = "claude-key-helper: ";
  line += what;
  line += "; run: claude-key-helper --help\n";
  (void)ckh::write_all(2, line);
  return 64;
}

// A positive millisecond count from the environment, else the default.
std::int64_t env_ms(const char* name, std::int64_t fallback) {
  const char* value = std::getenv(name);
  if (!value) return fallback;
  auto parsed = ckh::parse_i64(value);
  return parsed && *parsed >= 0 && *parsed <= 86400000LL ? *parsed : fallback;
}

}  // namespace

// The helper-script contract closes stdin at once: a file opened later would become fd 0
// (or 1, 2), and whatever is written to "stdout" would land in it.
void open_standard_fds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
    const int opened = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (opened >= 0 && opened != fd) ::close(opened);  // only a lower fd was free: keep going
  }
}

ckh::CallerContext caller_context() {
  const char* value = std::getenv("CLAUDE_HELPER_CONTEXT");
  if (!value || !*value) return ckh::CallerContext::api_key_helper;
  const std::string_view context = value;
  if (context == "mid-session-refresh") return ckh::CallerContext::mid_session_refresh;
  if (context == "interactive") return ckh::CallerContext::interactive;
  // background, and any context a newer client adds: serve the cache as usual.
  return ckh::CallerContext::background;
}

int main(int argc, char** argv) {
  // Before anything can hold the credential.
  (void)ckh::forbid_core_dumps();
  open_standard_fds();
  // stdout and stderr may be sockets whose reader has gone: an error, not a kill.
  std::signal(SIGPIPE, SIG_IGN);
  ckh::HelperOptions options;
  if (const char* profile = std::getenv("CLAUDE_KEY_HELPER_PROFILE"); profile && *profile) {
    options.profile = profile;
  }
  options.ttl_ms = env_ms("CLAUDE_CODE_API_KEY_HELPER_TTL_MS", ckh::kDefaultTtlMs);
  options.margin_ms = env_ms("CLAUDE_KEY_HELPER_MARGIN_MS", ckh::kDefaultMarginMs);
  options.wait_ms = env_ms("CLAUDE_KEY_HELPER_WAIT_MS", ckh::kDefaultWaitMs);

  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    std::string_view value;
    bool has_value = false;
    auto take = [&](std::string_view flag) {
      if (arg == flag) {
        if (i + 1 >= argc) return false;
        value = argv[++i];
        has_value = true;
        return true;
      }
      if (arg.size() > flag.size() + 1 && arg.substr(0, flag.size()) == flag &&
          arg[flag.size()] == '=') {
        value = arg.substr(flag.size() + 1);
        has_value = true;
        return true;
      }
      return false;
    };
    if (arg == "--help" || arg == "-h") {
      (void)ckh::write_all(1, kUsage);
      return 0;
    }
    if (arg == "--version") {
      std::string line = "claude-key-helper ";
      line += ckh::kVersion;
      line += '\n';
      (void)ckh::write_all(1, line);
      return 0;
    }
    if (take("--profile")) {
      options.profile = std::string(value);
    } else if (take("--wait-ms")) {
      auto parsed = ckh::parse_i64(value);
      if (!parsed || *parsed < 0 || *parsed > 600000)
        return usage_error("--wait-ms takes 0..600000");
      options.wait_ms = *parsed;
    } else if (take("--caller-ttl")) {
      auto parsed = ckh::parse_i64(value);
      if (!parsed || *parsed < 1 || *parsed > 43200)
        return usage_error("--caller-ttl takes seconds, 1..43200 (the document's ttlSec)");
      options.ttl_ms = *parsed * 1000;
      options.caller_ttl_stated = true;
    } else if (take("--format")) {
      if (value == "token") {
        options.format = ckh::OutputFormat::token;
      } else if (value == "json") {
        options.format = ckh::OutputFormat::json;
      } else {
        return usage_error("--format takes token or json");
      }
    } else if (arg == "--profile" || arg == "--wait-ms" || arg == "--caller-ttl" ||
               arg == "--format") {
      return usage_error(std::string(arg) + " needs a value");
    } else {
      return usage_error("unknown argument '" + ckh::one_line(arg, 64) + "'");
    }
    (void)has_value;
  }
  if (!ckh::valid_profile_name(options.profile)) {
    return usage_error("profile names are 1-64 letters, digits, '-' or '_'");
  }
  // Started by Claude Code (it sets CLAUDE_CODE_ENTRYPOINT for the helper) and not by a
  // person at a terminal: only then may an early rerun be taken for a 401.
  const char* entrypoint = std::getenv("CLAUDE_CODE_ENTRYPOINT");
  options.from_claude_code = entrypoint && *entrypoint && !::isatty(0) && !::isatty(2);
  options.context = caller_context();

  const ckh::HelperOutcome outcome = ckh::run_helper(options);
  if (!outcome.out.empty()) (void)ckh::write_all(1, outcome.out);
  if (!outcome.err.empty()) (void)ckh::write_all(2, outcome.err);
  return static_cast<int>(outcome.exit);
}
