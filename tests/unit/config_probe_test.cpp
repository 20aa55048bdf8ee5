// Issue 11, items 5, 12 and part of 14: a named config must exist; check-config --probe
// (config_probe.h) and every problem of every profile; AWS web identity named; login with
// nowhere to paste fails at once; logout says what it removed; messages are not cut
// mid-word and keep one hint.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "fake_transport.h"
#include "refresher/aws/aws_credentials.h"
#include "refresher/backends/anthropic_oauth_backend.h"
#include "refresher/config.h"
#include "refresher/config_probe.h"
#include "refresher/http/curl_transport.h"
#include "refresher/oauth/account.h"
#include "refresher/oauth/login.h"
#include "shared/text.h"
#include "test_support.h"
#include "tls_test_server.h"

namespace {

using ckh::test::FakeEnv;
using ckh::test::lookup_fake_env;
using ckh::test::TempDir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string all_of(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

std::vector<std::string> problem_texts(const std::vector<ckh::ConfigProblem>& problems) {
  std::vector<std::string> out;
  for (const auto& problem : problems) out.push_back(problem.to_string());
  return out;
}

std::vector<const ckh::ProfileConfig*> every_profile(const ckh::Config& config) {
  std::vector<const ckh::ProfileConfig*> out;
  for (const auto& [_, profile] : config.profiles) out.push_back(&profile);
  return out;
}

}  // namespace

TEST_CASE("config: a named config file that does not exist is an error, even with a key set",
          "[config][issue11]") {
  TempDir dir;
  const std::string typo = dir.file("typo.toml");
  SECTION("named by CLAUDE_KEY_HELPER_CONFIG") {
    FakeEnv env({{"ANTHROPIC_API_KEY", "sk-test"},
                 {"XDG_CONFIG_HOME", dir.path()},
                 {"CLAUDE_KEY_HELPER_CONFIG", typo}});
    auto config = ckh::load_config(typo, lookup_fake_env);
    REQUIRE_FALSE(config.has_value());
    REQUIRE(config.error().size() == 1);
    const std::string text = config.error().front().to_string();
    CHECK(text.starts_with(typo + ": "));
    CHECK(contains(text, "named by CLAUDE_KEY_HELPER_CONFIG does not exist"));
    CHECK(contains(text, "unset CLAUDE_KEY_HELPER_CONFIG to use the default " + dir.path() +
                             "/claude-key-helper/config.toml"));
  }
  SECTION("named by --config") {
    FakeEnv env({{"ANTHROPIC_API_KEY", "sk-test"}, {"HOME", dir.path()}});
    auto config = ckh::load_config(typo, lookup_fake_env);
    REQUIRE_FALSE(config.has_value());
    CHECK(contains(config.error().front().to_string(), "named by --config does not exist"));
  }
  SECTION("the default location may be absent: the default profile") {
    FakeEnv env({{"ANTHROPIC_API_KEY", "sk-test"}, {"HOME", dir.path()}});
    auto config =
        ckh::load_config(dir.path() + "/.config/claude-key-helper/config.toml", lookup_fake_env);
    REQUIRE(config.has_value());
    CHECK(config->defaulted);
  }
}

TEST_CASE("config: an unknown backend does not hide the problems of its backend section",
          "[config][issue11]") {
  FakeEnv env({});
  auto config = ckh::parse_config(
      "[profile.a]\n"
      "backend = \"comand\"\n"
      "[profile.a.command]\n"
      "argv = 5\n"
      "timout = \"2s\"\n"
      "[profile.b]\n"
      "[profile.b.static]\n"
      "env = \"1BAD\"\n",
      "cfg.toml", lookup_fake_env);
  REQUIRE_FALSE(config.has_value());
  const std::string text = all_of(problem_texts(config.error()));
  CHECK(contains(text, "cfg.toml:2:11: 'backend' in [profile.a]: unknown backend \"comand\""));
  CHECK(contains(text, "cfg.toml:4:8: 'argv' in [profile.a.command]"));
  CHECK(contains(text, "cfg.toml:5:1: unknown key 'timout' in [profile.a.command]"));
  CHECK(contains(text, "missing 'backend'"));
  CHECK(contains(text, "'env' in [profile.b.static]: \"1BAD\" is not a variable name"));
}

TEST_CASE("config probe: every problem of every profile, nothing sent but a bare GET",
          "[config][probe][issue11]") {
  TempDir dir;
  const std::string loose = dir.write("loose-token", "s.vaulttoken\n", 0644);
  const std::string config_text =
      "[profile.file]\nbackend = \"static\"\n[profile.file.static]\nfile = \"" +
      dir.file("missing-key") +
      "\"\n"
      "[profile.env]\nbackend = \"static\"\n[profile.env.static]\nenv = \"CKH_PROBE_UNSET\"\n"
      "[profile.cmd]\nbackend = \"command\"\n[profile.cmd.command]\nargv = [\"" +
      dir.file("no-such-program") +
      "\"]\n"
      "[profile.vault]\nbackend = \"vault\"\n[profile.vault.vault]\naddress = "
      "\"https://vault.test:8200/ui\"\npath = \"p\"\nfield = \"f\"\ntoken_file = \"" +
      loose + "\"\n";
  FakeEnv env({{"HOME", dir.path()}, {"PATH", "/usr/bin:/bin"}});
  auto config = ckh::parse_config(config_text, "cfg.toml", lookup_fake_env);
  REQUIRE(config.has_value());
  ckh::test::FakeTransport transport;
  transport.fail_with(ckh::ErrorClass::transient, "cannot resolve host vault.test");
  const auto problems = ckh::probe_profiles(every_profile(*config), lookup_fake_env, transport);
  const std::string text = all_of(problems);
  INFO(text);
  CHECK(problems.size() == 5);
  CHECK(contains(text, "profile 'file': static key file: "));
  CHECK(contains(text, dir.file("missing-key")));
  CHECK(contains(text, "profile 'env': environment variable CKH_PROBE_UNSET is not set"));
  CHECK(contains(text, "profile 'cmd': command argv[0]: "));
  CHECK(contains(text, "profile 'vault': Vault token_file " + loose +
                           " is readable by others (mode 0644); run: chmod 600 " + loose));
  CHECK(contains(text,
                 "profile 'vault': Vault address https://vault.test:8200 does not answer: "
                 "cannot resolve host vault.test"));
  REQUIRE(transport.calls() == 1);
  const ckh::HttpRequest& sent = transport.last_request();
  CHECK(sent.method == "GET");
  CHECK(sent.url == "https://vault.test:8200/");
  CHECK(sent.headers.empty());
  CHECK(sent.body.empty());
  CHECK_FALSE(contains(text, "s.vaulttoken"));
}

TEST_CASE("config probe: an endpoint must complete a verified TLS handshake",
          "[config][probe][tls][issue11]") {
  const ckh::test::ScopedSetenv no_proxy_lower("no_proxy", "*");
  const ckh::test::ScopedSetenv no_proxy_upper("NO_PROXY", "*");
  ckh::test::TestPki pki({"localhost"});
  auto tls = ckh::test::server_tls_context(pki);
  ckh::test::ScriptedHttpServer server(
      {ckh::test::answer(ckh::test::http_reply("404 Not Found", "no such page")),
       ckh::test::answer(ckh::test::http_reply("200 OK", "never reached"))},
      tls.get());
  ckh::CurlTransport transport;
  ckh::RealProber prober(nullptr, transport);
  ckh::TlsOptions trusted;
  trusted.ca_file = pki.ca_file();
  // Any HTTP status counts: the name resolved, the port answered, the certificate verified.
  CHECK(prober.endpoint("Vault address", server.origin("localhost") + "/v1/x?y=z", trusted));
  // Without the CA, the same server fails verification and says so.
  CHECK_FALSE(prober.endpoint("Vault address", server.origin("localhost"), ckh::TlsOptions{}));
  REQUIRE(prober.problems().size() == 1);
  CHECK(contains(prober.problems().front(), "TLS certificate verification failed for localhost"));
  // A closed port.
  CHECK_FALSE(prober.endpoint("token_url", "https://127.0.0.1:1/token", ckh::TlsOptions{}));
  CHECK(prober.problems().size() == 2);
  CHECK(ckh::url_origin("https://user:pw@h.example:8443/p?q#f") == "https://h.example:8443");
  CHECK(ckh::url_origin("ftp://h/") == "");
}

TEST_CASE("aws credentials: web identity (EKS IRSA) is named, not skipped", "[aws][issue11]") {
  TempDir dir;
  FakeEnv env({{"HOME", dir.path()},
               {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/pod"},
               {"AWS_WEB_IDENTITY_TOKEN_FILE", dir.file("token")},
               {"AWS_EC2_METADATA_DISABLED", "true"}});
  ckh::test::FakeTransport transport;
  ckh::AwsChainInput input{lookup_fake_env, transport, "", std::chrono::seconds(10)};
  auto resolved = ckh::resolve_aws_credentials(input);
  REQUIRE_FALSE(resolved.has_value());
  CHECK(resolved.error().kind == ckh::ErrorClass::config);
  CHECK(contains(resolved.error().message, "AWS_WEB_IDENTITY_TOKEN_FILE"));
  CHECK(contains(resolved.error().message, "not supported"));
  CHECK(transport.calls() == 0);  // not the instance role in the pod role's place
}

TEST_CASE("login: with no browser and its input at end of file it fails at once",
          "[anthropic-oauth][login][issue11]") {
  TempDir dir;
  ckh::test::FakeTransport transport;
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(null_fd >= 0);
  std::FILE* out = std::fopen(dir.file("out").c_str(), "w");
  REQUIRE(out != nullptr);
  ckh::LoginOptions options;
  options.open_browser = false;
  options.input_fd = null_fd;
  options.out = out;
  options.timeout = std::chrono::seconds(30);  // before the fix: waited all of it
  auto result = ckh::run_login(ckh::AnthropicOAuthSettings{}, transport, options);
  std::fclose(out);
  ::close(null_fd);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == ckh::ErrorClass::usage);
  CHECK(contains(result.error().message, "login needs a terminal to paste the code into"));
  CHECK(transport.calls() == 0);
}

TEST_CASE("logout: says what it removed, and what it left alone", "[anthropic-oauth][issue11]") {
  TempDir dir;
  const std::string state = dir.file("state");
  REQUIRE(::mkdir(state.c_str(), 0700) == 0);
  const std::string claude = dir.file("claude");
  REQUIRE(::mkdir(claude.c_str(), 0700) == 0);
  FakeEnv env({{"HOME", dir.path()}, {"CLAUDE_CONFIG_DIR", claude}});
  auto config = ckh::parse_config("[profile.max]\nbackend = \"anthropic-oauth\"\n", "cfg.toml",
                                  lookup_fake_env);
  REQUIRE(config.has_value());
  const ckh::ProfileConfig& profile = config->profiles.at("max");
  // Before any refresh or login: no state dir at all is nothing to remove, not an error.
  const ckh::ProfilePaths never = ckh::profile_paths(dir.file("no-state-yet"), "max");
  auto nothing_yet = ckh::logout_profile(profile, never, false);
  REQUIRE(nothing_yet.has_value());
  CHECK(*nothing_yet == "profile 'max': nothing to remove: no saved tokens (already logged out)");

  const ckh::ProfilePaths paths = ckh::profile_paths(state, "max");
  auto nothing = ckh::logout_profile(profile, paths, false);
  REQUIRE(nothing.has_value());
  CHECK(*nothing == "profile 'max': nothing to remove: no saved tokens (already logged out)");

  dir.write("state/max.secret", "x\n");
  dir.write("state/max.cred", "y\n");
  dir.write("claude/.credentials.json",
            "{\"claudeAiOauth\":{\"accessToken\":\"at-1234567890\",\"refreshToken\":"
            "\"rt-1234567890\",\"expiresAt\":4102444800000,\"scopes\":[\"user:inference\"]}}");
  auto some = ckh::logout_profile(profile, paths, false);
  REQUIRE(some.has_value());
  CHECK(*some == "profile 'max': logged out; removed the saved tokens (" + paths.secret +
                     ") and the published credential (" + paths.cred +
                     "); Claude Code's own login in " + claude +
                     "/.credentials.json was left alone (add --claude-code to remove it too)");

  auto store = ckh::logout_profile(profile, paths, true);
  REQUIRE(store.has_value());
  CHECK(*store == "profile 'max': logged out; removed Claude Code's login in " + claude +
                      "/.credentials.json");
}

TEST_CASE("text: one_line cuts at a word boundary, never inside a UTF-8 sequence",
          "[text][issue11]") {
  CHECK(ckh::one_line("permanent failure of the backend", 18) == "permanent...");
  CHECK(ckh::one_line("permanent failure of the backend", 20) == "permanent failure...");
  // One long word has no boundary to go back to; the cut still keeps whole characters.
  CHECK(ckh::one_line("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 10) ==
        "\xc3\xa9\xc3\xa9\xc3\xa9...");
  CHECK(ckh::one_line(std::string(50, 'x'), 10) == "xxxxxxx...");
}

TEST_CASE("text: a message keeps one command hint, the inner one", "[text][issue11]") {
  CHECK(ckh::without_repeated_hint(
            "profile 'p' is not set up: x.toml: no profile, then run `claude-key-refresher "
            "check-config`; see: claude-key-refresher check-config") ==
        "profile 'p' is not set up: x.toml: no profile, then run `claude-key-refresher "
        "check-config`");
  CHECK(ckh::without_repeated_hint("expired: invalid_grant; run: claude-key-refresher login "
                                   "--profile p; run: claude-key-refresher status --profile p") ==
        "expired: invalid_grant; run: claude-key-refresher login --profile p");
  // One hint, or none: unchanged.
  CHECK(ckh::without_repeated_hint("no credential yet: 503; run: claude-key-refresher once") ==
        "no credential yet: 503; run: claude-key-refresher once");
  CHECK(ckh::without_repeated_hint("a; b; c") == "a; b; c");
}
