// claude-key-refresher: keeps each profile's credential cache fresh. Command line only:
// parsing (CLI11), loading the config, and mapping outcomes to exit codes (sysexits):
//   0 fresh · 64 usage · 69 refresh failed, nothing valid left (transient) · 75 refresh
//   failed but the published credential is still valid · 77 refresh failed, nothing valid
//   left, the backend refused (permanent: the user must act) · 78 configuration problem ·
//   `once` stopped by SIGTERM/SIGINT/SIGHUP: 143/130/129, after the refresh in flight saved.
//   `status` exits with the worst profile's health in these codes (status_report.h).
#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "refresher/backends/oauth2_backend.h"
#include "refresher/callers_gc.h"
#include "refresher/check_config_command.h"
#include "refresher/clock.h"
#include "refresher/command_suggestion.h"
#include "refresher/config.h"
#include "refresher/config_location.h"
#include "refresher/daemon.h"
#include "refresher/log.h"
#include "refresher/oauth/account.h"
#include "refresher/oauth2/oauth2_account.h"
#include "refresher/process_hardening.h"
#include "refresher/refresh.h"
#include "refresher/reload_command.h"
#include "refresher/signal_deferral.h"
#include "refresher/socket_client.h"
#include "refresher/status_command.h"
#include "refresher/status_report.h"
#include "shared/paths.h"
#include "shared/refresh_protocol.h"
#include "shared/text.h"

#include "ckh_version.h"

namespace {

using namespace ckh;

constexpr int kOk = 0, kUsage = 64, kUnavailable = 69, kTempFail = 75, kNoPerm = 77, kConfig = 78;

struct Common {
  std::string profile;
  std::string config;
};

void add_common(CLI::App* command, Common& common, const char* profile_help) {
  command->add_option("--profile,-p", common.profile, profile_help);
  command->add_option("--config,-c", common.config,
                      "config file (default: $CLAUDE_KEY_HELPER_CONFIG or "
                      "$XDG_CONFIG_HOME/claude-key-helper/config.toml)");
}

std::string resolve_config_path(const Common& common) {
  return find_config_path(common.config, process_env);
}

// What a command acts on: the loaded config, the profiles selected (the one named, or
// all), and the state dir. On failure, every problem, one line each.
struct Selection {
  Config config;
  std::vector<const ProfileConfig*> profiles;  // point into config.profiles (map nodes stay put)
  std::string state_dir;
};
using Problems = std::vector<std::string>;

std::expected<Selection, Problems> select(const Common& common) {
  const std::string path = resolve_config_path(common);
  auto config = load_config(path);
  if (!config) {
    Problems problems;
    for (const auto& problem : config.error()) problems.push_back(problem.to_string());
    return std::unexpected(std::move(problems));
  }
  Selection selection{std::move(*config), {}, {}};
  const auto& profiles = selection.config.profiles;
  if (common.profile.empty()) {
    for (const auto& [_, profile] : profiles) selection.profiles.push_back(&profile);
  } else if (auto found = profiles.find(common.profile); found != profiles.end()) {
    selection.profiles.push_back(&found->second);
  } else {
    std::string known;
    for (const auto& [name, _] : profiles) known += (known.empty() ? "" : ", ") + name;
    const std::string& from = selection.config.path;
    return std::unexpected(Problems{"no profile '" + common.profile + "' in " +
                                    (from.empty() ? "the default configuration" : from) +
                                    " (profiles: " + known +
                                    "); run: claude-key-refresher check-config"});
  }
  auto dir = state_dir();
  if (!dir) return std::unexpected(Problems{dir.error().message});
  selection.state_dir = std::move(*dir);
  return selection;
}

int report_problems(const Problems& problems) {
  for (const auto& problem : problems)
    std::fprintf(stderr, "claude-key-refresher: %s\n", problem.c_str());
  return kConfig;
}

int exit_for_outcome(const RefreshOutcome& outcome, std::int64_t now) {
  if (outcome.reply.ok) return kOk;
  const bool still_valid =
      outcome.record && (!outcome.record->expires_at || *outcome.record->expires_at > now);
  if (still_valid) return kTempFail;
  switch (outcome.reply.error_class) {
    case ErrorClass::config:
      return kConfig;
    case ErrorClass::permanent:
    case ErrorClass::unsafe:
      return kNoPerm;
    default:
      return kUnavailable;
  }
}

int command_once(const Common& common, bool force, bool quiet, const std::string& helper_request) {
  // The systemd timer's stop, cron's and a person's Ctrl-C wait until the refresh in flight
  // has saved what the token server answered (a stop between the two loses the token
  // family); then `once` exits 128 + the signal. One inherited as ignored stays ignored.
  // Made before any thread starts.
  const DeferredStopSignals stop_signals(InheritedIgnore::stays_ignored);
  // From the helper: answer with exactly one protocol line on stdout, whatever happens.
  const bool for_helper = !helper_request.empty();
  auto answer_helper = [](const RefreshReply& reply) {
    const std::string line = format_reply(reply);
    std::fwrite(line.data(), 1, line.size(), stdout);
    return kOk;
  };
  RefreshRequest request{force ? RefreshReason::forced : RefreshReason::due, 0, 0};
  if (for_helper) {
    auto parsed = parse_request(helper_request);
    if (!parsed)
      return answer_helper(RefreshReply{false, 0, ErrorClass::usage, parsed.error().message});
    request = *parsed;
  }
  auto selection = select(common);
  if (!selection) {
    if (for_helper)
      return answer_helper(RefreshReply{false, 0, ErrorClass::config, selection.error().front()});
    return report_problems(selection.error());
  }
  // A person at a terminal retries a permanent error at once; cron and timers (no
  // terminal) and the helper keep waiting for its cause to change (permanent_stop.h).
  const bool person = !for_helper && (::isatty(STDIN_FILENO) == 1 || ::isatty(STDERR_FILENO) == 1);
  RealClock clock;
  int worst = kOk;
  for (const ProfileConfig* profile : selection->profiles) {
    const ProfilePaths paths = profile_paths(selection->state_dir, profile->name);
    RefreshOutcome outcome = refresh_profile(*profile, paths, request,
                                             RefreshEnvironment{clock, random_uniform01, person});
    const int stopped_by = stop_signals.take();
    if (stopped_by != 0) {
      const char* name = sigabbrev_np(stopped_by);
      log_line(LogLevel::info, profile->name,
               fmt::format("stopped by SIG{}, held back until this refresh had finished",
                           name ? name : "?"));
      if (for_helper) answer_helper(outcome.reply);
      return exit_code_for_signal(stopped_by);
    }
    remove_dead_caller_files(paths.callers_dir);
    if (for_helper) return answer_helper(outcome.reply);
    const std::int64_t now = clock.unix_seconds();
    const int code = exit_for_outcome(outcome, now);
    if (code != kOk) {
      std::string text = std::string("refresh failed (") +
                         error_class_name(outcome.reply.error_class) +
                         "): " + outcome.reply.message;
      if (code == kTempFail) text += "; the published credential is still valid";
      log_line(LogLevel::error, profile->name, text);
    } else if (!quiet) {
      std::printf("%s: %s (generation %llu)\n", profile->name.c_str(),
                  outcome.action == RefreshAction::refreshed ? "refreshed" : "up to date",
                  static_cast<unsigned long long>(outcome.reply.generation));
    }
    if (code != kOk && (worst == kOk || worst == kTempFail)) worst = code;
  }
  if (const int stopped_by = stop_signals.take(); stopped_by != 0) {
    return exit_code_for_signal(stopped_by);
  }
  return worst;
}

int command_signal(const Common& common) {
  auto selection = select(common);
  if (!selection) return report_problems(selection.error());
  int worst = kOk;
  for (const ProfileConfig* profile : selection->profiles) {
    const ProfilePaths paths = profile_paths(selection->state_dir, profile->name);
    const auto record = read_record_if_any(paths);
    RefreshRequest request{RefreshReason::forced, record ? record->generation : 0, 0};
    auto answer = exchange_with_daemon(paths.sock, format_request(request), 10 * 60 * 1000);
    if (!answer) {
      if (answer.error().kind == ErrorClass::not_found) {
        std::fprintf(
            stderr,
            "claude-key-refresher: no daemon is running for profile '%s'; start it (systemctl "
            "--user start "
            "claude-key-refresher) or run: claude-key-refresher once --force --profile %s\n",
            profile->name.c_str(), profile->name.c_str());
      } else {
        std::fprintf(stderr, "claude-key-refresher: profile '%s': %s\n", profile->name.c_str(),
                     answer.error().message.c_str());
      }
      worst = kUnavailable;
      continue;
    }
    auto reply = parse_reply(*answer);
    if (reply && reply->ok) {
      std::printf("%s: refreshed (generation %llu)\n", profile->name.c_str(),
                  static_cast<unsigned long long>(reply->generation));
    } else {
      std::fprintf(stderr, "claude-key-refresher: profile '%s': refresh failed: %s\n",
                   profile->name.c_str(),
                   reply ? reply->message.c_str() : reply.error().message.c_str());
      worst = kTempFail;
    }
  }
  return worst;
}

int command_status(const Common& common, bool json) {
  auto selection = select(common);
  if (!selection) {
    if (json) print_status_config_problems_json(selection.error());
    return report_problems(selection.error());
  }
  return status_command(selection->profiles, selection->state_dir, json);
}

int command_check_config(const Common& common, bool json, bool probe) {
  const CheckConfigRequest request{resolve_config_path(common), common.profile, json, probe};
  return check_config_command(request) ? kOk : kConfig;
}

int command_run(const Common& common, const std::string& pid_file) {
  const std::string path = resolve_config_path(common);
  // Before the load: an edit made while it reads is then seen as a change.
  const ConfigFileStamp stamp = config_file_stamp(path);
  auto config = load_config(path);
  if (!config) {
    for (const auto& problem : config.error())
      std::fprintf(stderr, "%s\n", problem.to_string().c_str());
    return kConfig;
  }
  DaemonOptions options{path, {}, pid_file, stamp};
  if (!common.profile.empty()) options.only_profiles.push_back(common.profile);
  return run_daemon(std::move(*config), options);
}

// The one profile a login/logout/import acts on: the one named, or the only profile with an
// interactive login (anthropic-oauth; oauth2 too for login and logout) when none is named.
std::expected<const ProfileConfig*, int> account_profile(const Selection& selection,
                                                         const Common& common, bool oauth2_too) {
  // Named: any profile of these backends. Not named: only those a person logs in to (an
  // oauth2 client_credentials profile has no login and must not make the choice ambiguous).
  const bool named = !common.profile.empty();
  auto fits = [oauth2_too, named](const ProfileConfig& profile) {
    if (profile.backend_name == "anthropic-oauth") return true;
    if (!oauth2_too || profile.backend_name != "oauth2") return false;
    const auto* backend = dynamic_cast<const Oauth2Backend*>(profile.backend.get());
    return named || (backend != nullptr && backend->settings().grant == Oauth2Grant::device_code);
  };
  const char* kinds =
      oauth2_too ? "backend = \"anthropic-oauth\" or \"oauth2\"" : "backend = \"anthropic-oauth\"";
  std::vector<const ProfileConfig*> oauth;
  for (const ProfileConfig* profile : selection.profiles) {
    if (fits(*profile)) oauth.push_back(profile);
  }
  if (!common.profile.empty() && oauth.empty()) {
    std::fprintf(stderr,
                 "claude-key-refresher: profile '%s' has no login; this command is for profiles "
                 "with %s in their [profile.%s] section\n",
                 common.profile.c_str(), kinds, common.profile.c_str());
    return std::unexpected(kConfig);
  }
  if (oauth.size() != 1) {
    std::fprintf(stderr, "claude-key-refresher: %s profile has %s; name one with --profile\n",
                 oauth.empty() ? "no" : "more than one", kinds);
    return std::unexpected(oauth.empty() ? kConfig : kUsage);
  }
  return oauth.front();
}

int exit_for_error(const Error& error) {
  switch (error.kind) {
    case ErrorClass::usage:
      return kUsage;
    case ErrorClass::config:
      return kConfig;
    case ErrorClass::permanent:
    case ErrorClass::unsafe:
    case ErrorClass::not_found:
    case ErrorClass::corrupt:
      return kNoPerm;
    default:
      return kUnavailable;
  }
}

struct AccountOptions {
  bool no_browser = false;
  bool inference_only = false;
  std::string timeout = "10m";
  std::int64_t expires_in = 0;
  bool claude_code = false;
  bool client_secret_stdin = false;
};

enum class AccountCommand { login, import_claude_code, logout };

int command_account(const Common& common, AccountCommand command, const AccountOptions& options) {
  auto selection = select(common);
  if (!selection) return report_problems(selection.error());
  auto profile = account_profile(*selection, common, command != AccountCommand::import_claude_code);
  if (!profile) return profile.error();
  const ProfilePaths paths = profile_paths(selection->state_dir, (*profile)->name);
  const bool oauth2 = (*profile)->backend_name == "oauth2";
  Result<std::string> done = fail(ErrorClass::usage, "unknown command");
  if (command == AccountCommand::login) {
    const auto timeout = parse_duration(options.timeout);
    if (!timeout || *timeout < std::chrono::seconds(1)) {
      std::fprintf(stderr, "claude-key-refresher: --timeout expects a duration like 10m or 90s\n");
      return kUsage;
    }
    if (options.expires_in != 0 && !options.inference_only) {
      std::fprintf(stderr, "claude-key-refresher: --expires-in needs --inference-only\n");
      return kUsage;
    }
    if (oauth2 && options.inference_only) {
      std::fprintf(stderr,
                   "claude-key-refresher: --inference-only is for anthropic-oauth profiles\n");
      return kUsage;
    }
    if (!oauth2 && options.client_secret_stdin) {
      std::fprintf(stderr, "claude-key-refresher: --client-secret-stdin is for oauth2 profiles\n");
      return kUsage;
    }
    if (oauth2) {
      Oauth2LoginOptions login;
      login.open_browser = !options.no_browser;
      login.timeout = *timeout;
      login.client_secret_stdin = options.client_secret_stdin;
      done = login_oauth2_profile(**profile, paths, login);
    } else {
      LoginOptions login;
      login.open_browser = !options.no_browser;
      login.inference_only = options.inference_only;
      if (options.expires_in > 0) login.expires_in = options.expires_in;
      login.timeout = *timeout;
      done = login_profile(**profile, paths, login);
    }
  } else if (command == AccountCommand::import_claude_code) {
    done = import_claude_code(**profile, paths);
  } else if (oauth2) {
    if (options.claude_code) {
      std::fprintf(stderr, "claude-key-refresher: --claude-code is for anthropic-oauth profiles\n");
      return kUsage;
    }
    done = logout_oauth2_profile(**profile, paths);
  } else {
    done = logout_profile(**profile, paths, options.claude_code);
  }
  if (!done) {
    std::fprintf(stderr, "claude-key-refresher: %s\n", done.error().message.c_str());
    return exit_for_error(done.error());
  }
  std::printf("%s\n", done->c_str());
  return kOk;
}

}  // namespace

namespace {

// The commands, as named on the command line.
constexpr std::array<std::string_view, 9> kCommands{
    "run",    "once",  "signal", "status", "check-config", "login", "import-claude-code",
    "logout", "reload"};

// The command argv names: its first argument that is neither an option nor the value of
// --config/-c. Empty when there is none, when it is not a command, or when help is asked for
// before it: then every command is set up (the help lists them, a mistake names them).
// Why: setting up all nine commands with CLI11 costs 600K instructions, half of what a
// `once` the helper runs on a 401 costs (issue 15); one command costs a tenth of that.
std::string_view named_command(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--config" || arg == "-c") {
      ++i;  // its value
    } else if (arg == "--" || arg == "-h" || arg == "--help" || arg == "--help-all") {
      return {};
    } else if (!arg.starts_with('-')) {
      const bool known = std::find(kCommands.begin(), kCommands.end(), arg) != kCommands.end();
      return known ? arg : std::string_view{};
    }
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  ckh::harden_process();  // first: no core dump may ever hold a token
  // A helper that gave up waiting closes our stdout: finish the refresh anyway.
  std::signal(SIGPIPE, SIG_IGN);
  // The helper's request on a 401 with no daemon (helper/ask_refresher.h), always in exactly
  // this form: answered without setting up the command line parser, 150K instructions of a
  // path the user waits on (issue 15). The same checks and the same command_once as below.
  if (argc == 6 && std::string_view(argv[1]) == "once" &&
      std::string_view(argv[2]) == "--profile" && std::string_view(argv[4]) == "--helper-request" &&
      argv[5][0] != '\0') {
    Common common;
    common.profile = argv[3];
    if (valid_profile_name(common.profile)) {
      return command_once(common, /*force=*/false, /*quiet=*/false, argv[5]);
    }
  }
  // Named, so that --help (and the man page help2man makes of it) shows the program, not
  // the path it was started by.
  CLI::App app{"claude-key-refresher: keeps Claude Code's apiKeyHelper credential cache fresh",
               "claude-key-refresher"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "claude-key-refresher " + std::string(ckh::kVersion));
  app.set_help_all_flag("--help-all", "print the help of every command and exit");
  app.footer(
      "Every command takes --config FILE (before or after the command) and --profile P.\n"
      "Exit: 0 ok, 64 usage, 69 failed with nothing valid left, 75 failed but the old\n"
      "  credential is still valid, 77 the backend refused (act on it), 78 configuration.\n"
      "Environment: CLAUDE_KEY_HELPER_CONFIG, CLAUDE_KEY_HELPER_STATE_DIR, XDG_CONFIG_HOME,\n"
      "  XDG_STATE_HOME, ANTHROPIC_API_KEY (no config: a static profile 'default' on it).");

  Common common;
  // Also before the command (`--config X status`): the same variable as each command's.
  app.add_option("--config,-c", common.config,
                 "config file (default: $CLAUDE_KEY_HELPER_CONFIG or "
                 "$XDG_CONFIG_HOME/claude-key-helper/config.toml)");
  bool force = false, quiet = false, json = false, probe = false;
  std::string helper_request, pid_file;
  const std::string_view named = named_command(argc, argv);
  const auto set_up = [named](std::string_view command) {
    return named.empty() || named == command;
  };
  CLI::App *run = nullptr, *once = nullptr, *signal = nullptr, *status = nullptr, *check = nullptr,
           *login = nullptr, *import = nullptr, *logout = nullptr, *reload = nullptr;

  if (set_up("run")) {
    run = app.add_subcommand("run",
                             "run as a daemon: refresh when due, on request, with backoff; "
                             "reload the config when it is edited or on SIGHUP");
    add_common(run, common, "serve only this profile (default: every profile)");
    run->add_option("--pid-file", pid_file, "write the daemon's pid here, removed on exit");
  }

  if (set_up("once")) {
    once = app.add_subcommand("once", "refresh once if due (for cron and systemd timers)");
    add_common(once, common, "refresh only this profile (default: every profile)");
    once->add_flag("--force,-f", force, "refresh even if not due");
    once->add_flag("--quiet,-q", quiet, "print nothing on success");
    once->add_option("--helper-request", helper_request)->group("");  // claude-key-helper's
  }

  if (set_up("signal")) {
    signal = app.add_subcommand("signal", "ask the running daemon to refresh now");
    add_common(signal, common, "only this profile (default: every profile)");
  }

  if (set_up("status")) {
    status = app.add_subcommand(
        "status",
        "show each profile's state and health (never a secret); exits with the worst "
        "profile's: 0 ok, 75 stale, 69 unavailable, 77 refused, 78 config");
    add_common(status, common, "only this profile (default: every profile)");
    status->add_flag("--json", json, "machine-readable output");
  }

  if (set_up("check-config")) {
    check = app.add_subcommand("check-config", "validate the configuration file");
    add_common(check, common, "only this profile (default: every profile)");
    check->add_flag("--json", json, "machine-readable output");
    check->add_flag("--probe", probe,
                    "also check that files, programs and endpoints are there and usable (TLS)");
  }

  AccountOptions account;
  if (set_up("login")) {
    login = app.add_subcommand(
        "login",
        "log in: a Claude Pro/Max subscription (anthropic-oauth), or an identity provider's "
        "device login (oauth2)");
    add_common(login, common, "the profile with a login (default: the only one)");
    login->add_flag("--no-browser", account.no_browser, "print the URL, do not open a browser");
    login->add_flag("--inference-only", account.inference_only,
                    "ask only for the user:inference scope");
    login->add_option("--expires-in", account.expires_in,
                      "with --inference-only: the token lifetime to ask for, in seconds");
    login->add_option("--timeout", account.timeout, "how long to wait for the code (default 10m)");
    login->add_flag("--client-secret-stdin", account.client_secret_stdin,
                    "oauth2: store the client secret read from standard input in the secret store");
  }
  if (set_up("import-claude-code")) {
    import = app.add_subcommand(
        "import-claude-code",
        "adopt Claude Code's own subscription login; this profile becomes its only writer");
    add_common(import, common, "the anthropic-oauth profile (default: the only one)");
  }
  if (set_up("logout")) {
    logout = app.add_subcommand(
        "logout", "forget a profile's login tokens (oauth2: revoked at the IdP first)");
    add_common(logout, common, "the profile with a login (default: the only one)");
    logout->add_flag("--claude-code", account.claude_code,
                     "also remove the login from Claude Code's credential store");
  }
  ReloadOptions reload_options;
  if (set_up("reload")) reload = add_reload_command(app, reload_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // No command word CLI11 knows: say which was meant instead of "A subcommand is required".
    const bool no_command = dynamic_cast<const CLI::RequiredError*>(&error) != nullptr ||
                            dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr;
    if (no_command && app.get_subcommands().empty()) {
      std::vector<std::string_view> names;
      for (const auto* command : app.get_subcommands({})) names.push_back(command->get_name());
      const auto unplaced = app.remaining();
      std::fprintf(stderr, "claude-key-refresher: %s\n",
                   unknown_command_message(unplaced, names).c_str());
      return kUsage;
    }
    const int code = app.exit(error);
    return code == 0 ? kOk : kUsage;
  }
  if (!common.profile.empty() && !valid_profile_name(common.profile)) {
    std::fprintf(stderr,
                 "claude-key-refresher: profile names are 1-64 letters, digits, '-' or '_'\n");
    return kUsage;
  }
  const auto chosen = [](const CLI::App* command) { return command != nullptr && *command; };
  if (chosen(run)) return command_run(common, pid_file);
  if (chosen(once)) return command_once(common, force, quiet, helper_request);
  if (chosen(signal)) return command_signal(common);
  if (chosen(status)) return command_status(common, json);
  if (chosen(check)) return command_check_config(common, json, probe);
  if (chosen(login)) return command_account(common, AccountCommand::login, account);
  if (chosen(import)) return command_account(common, AccountCommand::import_claude_code, account);
  if (chosen(logout)) return command_account(common, AccountCommand::logout, account);
  if (chosen(reload)) {
    auto done = reload_daemon(reload_options);
    std::fprintf(done ? stdout : stderr, "claude-key-refresher: %s\n",
                 done ? done->c_str() : done.error().message.c_str());
    return done ? kOk : exit_for_error(done.error());
  }
  return kUsage;
}
