// refresher/config.h: parse_config / load_config (every error path, with positions) and
// parse_duration / format_duration.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "refresher/backends/command_backend.h"
#include "refresher/backends/registry.h"
#include "refresher/child_env.h"
#include "refresher/config.h"
#include "refresher/config_section.h"
#include "test_support.h"

namespace {

using namespace std::chrono_literals;
using ckh::ConfigProblem;
using ckh::test::FakeEnv;
using ckh::test::lookup_fake_env;
using ckh::test::TempDir;

std::expected<ckh::Config, std::vector<ConfigProblem>> parse(std::string_view text) {
  return ckh::parse_config(text, "cfg.toml", lookup_fake_env);
}

// The problems of a text that must not parse.
std::vector<ConfigProblem> problems_of(std::string_view text) {
  auto result = parse(text);
  REQUIRE_FALSE(result.has_value());
  REQUIRE_FALSE(result.error().empty());
  for (const auto& problem : result.error()) INFO(problem.to_string());
  return result.error();
}

// The single problem of a text with exactly one mistake.
ConfigProblem only_problem(std::string_view text) {
  auto problems = problems_of(text);
  std::string all;
  for (const auto& p : problems) all += p.to_string() + "\n";
  INFO(all);
  REQUIRE(problems.size() == 1);
  return problems.front();
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

constexpr std::string_view kExample = R"(
[profile.default]
backend = "static"
refresh_interval = "4m"          # default 4m
refresh_before_expiry = "10m"
[profile.default.static]
env = "ANTHROPIC_API_KEY"        # or: file = "/path/to/0600/file"

[profile.gateway]
backend = "command"
[profile.gateway.command]
argv = ["/usr/bin/op", "read", "op://Private/claude/credential"]
timeout = "10s"
ttl = "1h"                        # lifetime of what it prints
)";

}  // namespace

TEST_CASE("config: the documented example parses into two profiles", "[config]") {
  FakeEnv env({});
  auto config = parse(kExample);
  REQUIRE(config.has_value());
  CHECK_FALSE(config->defaulted);
  CHECK(config->path == "cfg.toml");
  REQUIRE(config->profiles.size() == 2);

  const auto& def = config->profiles.at("default");
  CHECK(def.name == "default");
  CHECK(def.backend_name == "static");
  CHECK(std::string(def.backend->name()) == "static");
  CHECK(def.refresh_interval == 240s);
  CHECK(def.refresh_before_expiry == 600s);
  CHECK(def.backend->secret_env_names() == std::vector<std::string>{"ANTHROPIC_API_KEY"});

  const auto& gateway = config->profiles.at("gateway");
  CHECK(gateway.backend_name == "command");
  CHECK(gateway.backend->expected_lifetime() == std::optional<std::chrono::seconds>(3600s));
}

TEST_CASE("config: profile keys have their documented defaults", "[config]") {
  auto config = parse("[profile.a]\nbackend = \"static\"\n[profile.a.static]\nenv = \"K\"\n");
  REQUIRE(config.has_value());
  const auto& a = config->profiles.at("a");
  CHECK(a.refresh_interval == 240s);
  CHECK(a.refresh_before_expiry == 600s);
  CHECK(a.force_min_interval == 30s);
  CHECK(a.backoff_min == 1s);
  CHECK(a.backoff_max == 300s);
}

TEST_CASE("config: every profile key is read", "[config]") {
  auto config = parse(R"(
[profile.a]
backend = "static"
refresh_interval = "1h"
refresh_before_expiry = "0s"
force_min_interval = "250ms"
backoff_min = "2s"
backoff_max = "1h30m"
static = { env = "K" }
)");
  REQUIRE(config.has_value());
  const auto& a = config->profiles.at("a");
  CHECK(a.refresh_interval == 3600s);
  CHECK(a.refresh_before_expiry == 0s);
  CHECK(a.force_min_interval == 1s);  // rounded up to whole seconds
  CHECK(a.backoff_min == 2s);
  CHECK(a.backoff_max == 5400s);
}

TEST_CASE("config: a TOML syntax error is reported with its position", "[config]") {
  const auto problem = only_problem("[profile.default]\nbackend = = \"static\"\n");
  CHECK(problem.file == "cfg.toml");
  CHECK(problem.line == 2);
  CHECK(problem.column > 0);
  CHECK(contains(problem.message, "TOML syntax error"));
  CHECK(problem.to_string().starts_with("cfg.toml:2:"));
}

TEST_CASE("config: a duplicate table is a syntax error with its position", "[config]") {
  const auto problem =
      only_problem("[profile.a]\nbackend = \"static\"\n[profile.a]\nbackend = \"static\"\n");
  CHECK(problem.line == 3);
}

TEST_CASE("config: an unknown key suggests the closest known one", "[config]") {
  const auto problem = only_problem(R"([profile.default]
backend = "static"
refresh_intervl = "4m"
[profile.default.static]
env = "K"
)");
  CHECK(problem.message ==
        "unknown key 'refresh_intervl' in [profile.default]; did you mean 'refresh_interval'?");
  CHECK(problem.line == 3);
  CHECK(problem.column == 1);
  CHECK(problem.to_string() ==
        "cfg.toml:3:1: unknown key 'refresh_intervl' in [profile.default]; did you mean "
        "'refresh_interval'?");
}

TEST_CASE("config: an unknown key far from any known one lists the known keys", "[config]") {
  const auto problem = only_problem(R"([profile.default]
backend = "static"
colour = "blue"
[profile.default.static]
env = "K"
)");
  CHECK(contains(problem.message, "unknown key 'colour' in [profile.default]; expected one of:"));
  CHECK(contains(problem.message, "refresh_interval"));
  CHECK(contains(problem.message, "backoff_max"));
}

TEST_CASE("config: unknown keys inside a backend section are reported too", "[config]") {
  const auto problem = only_problem(R"([profile.default]
backend = "command"
[profile.default.command]
argv = ["/bin/true"]
tiemout = "5s"
)");
  CHECK(problem.message ==
        "unknown key 'tiemout' in [profile.default.command]; did you mean 'timeout'?");
  CHECK(problem.line == 5);
}

TEST_CASE("config: unknown top-level keys are errors", "[config]") {
  SECTION("a typo of profile") {
    const auto problem = only_problem("[profiles.default]\nbackend = \"static\"\n");
    CHECK(problem.message == "unknown key 'profiles' at the top level; did you mean 'profile'?");
    CHECK(problem.line == 1);
  }
  SECTION("something else") {
    FakeEnv env({{"ANTHROPIC_API_KEY", "sk-test"}});  // must not fall back to the default
    const auto problem = only_problem("log_level = \"debug\"\n");
    CHECK(contains(problem.message,
                   "unknown key 'log_level' at the top level; expected only "
                   "[profile.NAME] sections"));
    CHECK(problem.line == 1);
  }
  SECTION("[[profile]] is not a table of profiles") {
    const auto problem = only_problem("[[profile]]\nbackend = \"static\"\n");
    CHECK(contains(problem.message, "array of tables"));
  }
  SECTION("profile = a value") {
    const auto problem = only_problem("profile = \"default\"\n");
    CHECK(contains(problem.message, "got a string"));
  }
}

TEST_CASE("config: wrong types say what was expected and what was found", "[config]") {
  SECTION("a number for a duration") {
    const auto problem = only_problem(
        "[profile.a]\nbackend = \"static\"\nrefresh_interval = 240\n[profile.a.static]\nenv = "
        "\"K\"\n");
    CHECK(problem.line == 3);
    CHECK(problem.column == 20);
    CHECK(contains(problem.message,
                   "'refresh_interval' in [profile.a]: expected a duration "
                   "string such as \"4m\", got an integer"));
    CHECK(contains(problem.message, "240s"));
  }
  SECTION("a number for backend") {
    const auto problem = only_problem("[profile.a]\nbackend = 3\n");
    CHECK(contains(problem.message, "'backend' in [profile.a]: expected the name of a backend"));
    CHECK(contains(problem.message, "got an integer"));
  }
  SECTION("a table for a string") {
    const auto problem = only_problem(
        "[profile.a]\nbackend = \"static\"\n[profile.a.static]\nenv = { name = \"K\" }\n");
    CHECK(contains(problem.message,
                   "'env' in [profile.a.static]: expected the name of an "
                   "environment variable (a string), got a table"));
    CHECK(problem.line == 4);
  }
  SECTION("a profile that is not a table") {
    const auto problem = only_problem("[profile]\na = 1\n");
    CHECK(contains(problem.message,
                   "'a' in [profile]: expected a table [profile.a], got an "
                   "integer"));
  }
  SECTION("a backend section that is not a table") {
    const auto problem = only_problem("[profile.a]\nbackend = \"static\"\nstatic = \"K\"\n");
    CHECK(contains(problem.message, "expected a table [profile.a.static], got a string"));
  }
}

TEST_CASE("config: bad durations are refused with an example", "[config]") {
  SECTION("not a duration") {
    const auto problem = only_problem(
        "[profile.a]\nbackend = \"static\"\nbackoff_max = \"5 minutes\"\nstatic = {env = "
        "\"K\"}\n");
    CHECK(contains(problem.message,
                   "'backoff_max' in [profile.a]: \"5 minutes\" is not a duration; expected a "
                   "number and a unit"));
    CHECK(problem.line == 3);
  }
  SECTION("below the minimum interval") {
    const auto problem = only_problem(
        "[profile.a]\nbackend = \"static\"\nrefresh_interval = \"5s\"\nstatic = {env = \"K\"}\n");
    CHECK(contains(problem.message, "5s is out of range; expected at least 10s and at most 1d"));
  }
  SECTION("backoff_min above backoff_max") {
    const auto problem = only_problem(
        "[profile.a]\nbackend = \"static\"\nbackoff_min = \"10m\"\nbackoff_max = \"1m\"\n"
        "static = {env = \"K\"}\n");
    CHECK(contains(problem.message, "backoff_min (10m) is larger than backoff_max (1m)"));
    CHECK(problem.line == 3);
  }
  SECTION("backoff_min above the default backoff_max") {
    const auto problem = only_problem(
        "[profile.a]\nbackend = \"static\"\nbackoff_min = \"1h\"\nstatic = {env = \"K\"}\n");
    CHECK(contains(problem.message, "backoff_min (1h) is larger than backoff_max (5m)"));
  }
}

TEST_CASE("config: backend is required and must be known", "[config]") {
  // The list of backends grows; the messages name every one of them.
  const std::string known = ckh::describe_known_backends();
  SECTION("missing") {
    const auto problem = only_problem("[profile.a]\nrefresh_interval = \"4m\"\n");
    CHECK(problem.message == "[profile.a]: missing 'backend'; expected backend = " + known);
    CHECK_THAT(known, Catch::StartsWith("\"static\", \"command\""));
    CHECK(problem.line == 1);
  }
  SECTION("unknown, close to a known one") {
    const auto problem = only_problem("[profile.a]\nbackend = \"statik\"\n");
    CHECK(problem.message == "'backend' in [profile.a]: unknown backend \"statik\"; expected " +
                                 known + " (did you mean \"static\"?)");
    CHECK(problem.line == 2);
    CHECK(problem.column == 11);
  }
  SECTION("unknown, far from all") {
    const auto problem = only_problem("[profile.a]\nbackend = \"keychain\"\n");
    CHECK(problem.message ==
          "'backend' in [profile.a]: unknown backend \"keychain\"; expected " + known);
  }
}

TEST_CASE("config: a section of another backend is refused", "[config]") {
  const auto problem = only_problem(R"([profile.P]
backend = "static"
[profile.P.static]
env = "K"
[profile.P.command]
argv = ["/bin/true"]
)");
  CHECK(
      contains(problem.message, "section [profile.P.command] does not match backend = \"static\""));
  CHECK(problem.line == 5);
}

TEST_CASE("config: static needs exactly one of env and file", "[config]") {
  SECTION("both") {
    const auto problem = only_problem(
        "[profile.a]\nbackend = \"static\"\n[profile.a.static]\nenv = \"K\"\nfile = \"/k\"\n");
    CHECK(contains(problem.message, "env and file are both set; expected exactly one of them"));
    CHECK(problem.line == 5);
  }
  SECTION("neither, empty section") {
    const auto problem = only_problem("[profile.a]\nbackend = \"static\"\n[profile.a.static]\n");
    CHECK(contains(problem.message, "[profile.a.static]: expected exactly one of env = "));
    CHECK(problem.line == 3);
  }
  SECTION("neither, no section") {
    const auto problem = only_problem("[profile.a]\nbackend = \"static\"\n");
    CHECK(contains(problem.message, "missing section [profile.a.static]: expected exactly one"));
    CHECK(problem.line == 1);
  }
  SECTION("a bad variable name") {
    const auto problem =
        only_problem("[profile.a]\nbackend = \"static\"\n[profile.a.static]\nenv = \"1KEY\"\n");
    CHECK(contains(problem.message, "\"1KEY\" is not a variable name"));
  }
  SECTION("a relative file") {
    const auto problem =
        only_problem("[profile.a]\nbackend = \"static\"\n[profile.a.static]\nfile = \"key.txt\"\n");
    CHECK(contains(problem.message, "expected an absolute path (or one starting with ~/)"));
  }
  SECTION("~/ without HOME") {
    FakeEnv env({});
    const auto problem =
        only_problem("[profile.a]\nbackend = \"static\"\n[profile.a.static]\nfile = \"~/key\"\n");
    CHECK(contains(problem.message, "HOME is not set"));
  }
}

TEST_CASE("config: a static file under ~/ is expanded with HOME", "[config]") {
  FakeEnv env({{"HOME", "/home/someone"}});
  auto config = parse("[profile.a]\nbackend = \"static\"\n[profile.a.static]\nfile = \"~/k\"\n");
  REQUIRE(config.has_value());
  // The path shows in the source of a fetch; fetching it fails (no such file), naming it.
  ckh::FakeClock clock(0);
  auto fetched = config->profiles.at("a").backend->fetch({clock, ""});
  REQUIRE_FALSE(fetched.has_value());
  CHECK(contains(fetched.error().message, "/home/someone/k"));
}

TEST_CASE("config: command section errors", "[config]") {
  SECTION("argv missing") {
    const auto problem =
        only_problem("[profile.a]\nbackend = \"command\"\n[profile.a.command]\ntimeout = \"5s\"\n");
    CHECK(contains(problem.message, "[profile.a.command]: missing 'argv'"));
  }
  SECTION("argv empty") {
    const auto problem =
        only_problem("[profile.a]\nbackend = \"command\"\n[profile.a.command]\nargv = []\n");
    CHECK(contains(problem.message, "expected a non-empty array"));
    CHECK(problem.line == 4);
  }
  SECTION("argv not all strings; the element is named, not quoted") {
    const auto problem = only_problem(
        "[profile.a]\nbackend = \"command\"\n[profile.a.command]\nargv = [\"/bin/echo\", 7]\n");
    CHECK(contains(problem.message, "'argv' in [profile.a.command]: element 2 is an integer"));
    CHECK(problem.line == 4);
    CHECK(problem.column == 22);
  }
  SECTION("argv a string") {
    const auto problem = only_problem(
        "[profile.a]\nbackend = \"command\"\n[profile.a.command]\nargv = \"/bin/echo x\"\n");
    CHECK(contains(problem.message, "(an array of strings), got a string"));
  }
  SECTION("argv[0] relative") {
    const auto problem = only_problem(
        "[profile.a]\nbackend = \"command\"\n[profile.a.command]\nargv = [\"bin/get-key\"]\n");
    CHECK(contains(problem.message, "argv[0] is a relative path"));
  }
  SECTION("timeout too long") {
    const auto problem = only_problem(
        "[profile.a]\nbackend = \"command\"\n[profile.a.command]\nargv = [\"/bin/true\"]\n"
        "timeout = \"11m\"\n");
    CHECK(
        contains(problem.message, "11m is out of range; expected at least 100ms and at most 10m"));
  }
  SECTION("max_output too large") {
    const auto problem = only_problem(
        "[profile.a]\nbackend = \"command\"\n[profile.a.command]\nargv = [\"/bin/true\"]\n"
        "max_output = 2000000\n");
    CHECK(contains(problem.message,
                   "2000000 is out of range; expected an integer from 1 to "
                   "1048576"));
  }
}

// Short-lived credentials are refreshed at half-life (schedule.h), so a ttl below
// refresh_before_expiry is fine: a 60 s gateway token with the default 10 m.
TEST_CASE("config: a ttl shorter than refresh_before_expiry is accepted", "[config]") {
  auto short_lived = parse(
      "[profile.a]\nbackend = \"command\"\n[profile.a.command]\nargv = [\"/bin/true\"]\nttl = "
      "\"60s\"\n");
  REQUIRE(short_lived.has_value());
  CHECK(short_lived->profiles.at("a").backend->expected_lifetime() ==
        std::optional<std::chrono::seconds>(60s));
}

TEST_CASE("config: a short ttl works with a shorter refresh_before_expiry", "[config]") {
  auto config = parse(
      "[profile.a]\nbackend = \"command\"\nrefresh_before_expiry = \"1m\"\n[profile.a.command]\n"
      "argv = [\"/bin/true\"]\nttl = \"5m\"\nmax_output = 100\n");
  REQUIRE(config.has_value());
  CHECK(config->profiles.at("a").backend->expected_lifetime() ==
        std::optional<std::chrono::seconds>(300s));
}

TEST_CASE("config: profile names must be usable in file names", "[config]") {
  SECTION("a space") {
    const auto problem =
        only_problem("[profile.\"a b\"]\nbackend = \"static\"\nstatic = {env = \"K\"}\n");
    CHECK(contains(problem.message, "profile name 'a b' is not valid; expected 1 to 64 letters"));
    CHECK(problem.line == 1);
  }
  SECTION("too long") {
    const std::string name(65, 'x');
    const auto problem =
        only_problem("[profile." + name + "]\nbackend = \"static\"\nstatic = {env = \"K\"}\n");
    CHECK(contains(problem.message, "is not valid"));
  }
  SECTION("64 is fine, and so are - and _") {
    const std::string name = std::string(62, 'x') + "-_";
    auto config = parse("[profile." + name + "]\nbackend = \"static\"\nstatic = {env = \"K\"}\n");
    REQUIRE(config.has_value());
    CHECK(config->profiles.count(name) == 1);
  }
  SECTION("control characters are not echoed raw") {
    const auto problems = problems_of("[profile.\"a\\nb\"]\nbackend = \"static\"\n");
    for (const auto& problem : problems) CHECK_FALSE(contains(problem.message, "\n"));
  }
}

TEST_CASE("config: every problem of a file is reported, in file order", "[config]") {
  const auto problems = problems_of(R"(colour = 1
[profile.a]
backend = "static"
refresh_intervl = "4m"
[profile.a.static]
env = "K"
file = "/k"
[profile.b]
backend = "nope"
backoff_max = "forever"
)");
  REQUIRE(problems.size() == 5);
  CHECK(problems[0].line == 1);
  CHECK(problems[1].line == 4);
  CHECK(problems[2].line == 7);
  CHECK(problems[3].line == 9);
  CHECK(problems[4].line == 10);
}

TEST_CASE("config: a file without profiles", "[config]") {
  const std::string commented_out =
      "# [profile.default]\n# backend = \"static\"\n# [profile.default.static]\n# env = "
      "\"ANTHROPIC_API_KEY\"\n";
  SECTION("with ANTHROPIC_API_KEY set it behaves like no file") {
    FakeEnv env({{"ANTHROPIC_API_KEY", "sk-test"}});
    for (const std::string& text : {std::string(), commented_out, std::string("[profile]\n")}) {
      auto config = parse(text);
      REQUIRE(config.has_value());
      CHECK(config->defaulted);
      REQUIRE(config->profiles.size() == 1);
      const auto& profile = config->profiles.at("default");
      CHECK(profile.backend_name == "static");
      CHECK(profile.backend->secret_env_names() == std::vector<std::string>{"ANTHROPIC_API_KEY"});
      ckh::FakeClock clock(0);
      auto fetched = profile.backend->fetch({clock, ""});
      REQUIRE(fetched.has_value());
      CHECK(fetched->credential == "sk-test");
    }
  }
  SECTION("without it, it is an error that says what to add") {
    FakeEnv env({});
    const auto problem = only_problem(commented_out);
    CHECK(problem.line == 0);
    CHECK(contains(problem.message, "no profile is configured; add a [profile.default]"));
    CHECK(contains(problem.message, "ANTHROPIC_API_KEY"));
    CHECK(problem.to_string().starts_with("cfg.toml: no profile"));
  }
  SECTION("an empty ANTHROPIC_API_KEY does not count") {
    FakeEnv env({{"ANTHROPIC_API_KEY", ""}});
    CHECK(problems_of("").size() == 1);
  }
}

TEST_CASE("config: load_config without a file", "[config]") {
  TempDir dir;
  // The default location: only there may the file be absent (item 5 of issue 11).
  const std::string path = dir.file("claude-key-helper/config.toml");
  SECTION("ANTHROPIC_API_KEY set: the default profile") {
    FakeEnv env({{"ANTHROPIC_API_KEY", "sk-test"}, {"XDG_CONFIG_HOME", dir.path()}});
    auto config = ckh::load_config(path, lookup_fake_env);
    REQUIRE(config.has_value());
    CHECK(config->defaulted);
    CHECK(config->path.empty());
    REQUIRE(config->profiles.size() == 1);
    CHECK(config->profiles.at("default").backend_name == "static");
  }
  SECTION("nothing set: create the file, or set the variable, then check-config") {
    FakeEnv env({{"XDG_CONFIG_HOME", dir.path()}});
    auto config = ckh::load_config(path, lookup_fake_env);
    REQUIRE_FALSE(config.has_value());
    REQUIRE(config.error().size() == 1);
    const auto& problem = config.error().front();
    CHECK(problem.file == path);
    CHECK(contains(problem.message, "create this file"));
    CHECK(contains(problem.message, "ANTHROPIC_API_KEY"));
    CHECK(contains(problem.message, "claude-key-refresher check-config"));
  }
}

TEST_CASE("config: load_config reads a file and refuses what is not one", "[config]") {
  TempDir dir;
  FakeEnv env({{"ANTHROPIC_API_KEY", "sk-test"}});
  SECTION("a regular file") {
    const auto path = dir.write("config.toml", kExample, 0644);
    auto config = ckh::load_config(path, lookup_fake_env);
    REQUIRE(config.has_value());
    CHECK(config->path == path);
    CHECK(config->profiles.size() == 2);
  }
  SECTION("problems name the file") {
    const auto path = dir.write("config.toml", "[profile.a]\nbackend = \"x\"\n");
    auto config = ckh::load_config(path, lookup_fake_env);
    REQUIRE_FALSE(config.has_value());
    CHECK(config.error().front().to_string().starts_with(path + ":2:11: "));
  }
  SECTION("a directory") {
    std::filesystem::create_directory(dir.file("config.toml"));
    auto config = ckh::load_config(dir.file("config.toml"), lookup_fake_env);
    REQUIRE_FALSE(config.has_value());
    CHECK(contains(config.error().front().message, "not a regular file"));
  }
  SECTION("a FIFO does not hang") {
    REQUIRE(::mkfifo(dir.file("config.toml").c_str(), 0600) == 0);
    auto config = ckh::load_config(dir.file("config.toml"), lookup_fake_env);
    REQUIRE_FALSE(config.has_value());
    CHECK(contains(config.error().front().message, "not a regular file"));
  }
  SECTION("too large") {
    const auto path = dir.write("config.toml", std::string(1024 * 1024 + 1, '#'));
    auto config = ckh::load_config(path, lookup_fake_env);
    REQUIRE_FALSE(config.has_value());
    CHECK(contains(config.error().front().message, "larger than 1048576 bytes"));
  }
  SECTION("unreadable") {
    if (::geteuid() == 0)
      SUCCEED("root reads everything");
    else {
      const auto path = dir.write("config.toml", kExample, 0000);
      auto config = ckh::load_config(path, lookup_fake_env);
      REQUIRE_FALSE(config.has_value());
      CHECK(contains(config.error().front().message, "cannot open the configuration file"));
    }
  }
}

TEST_CASE("config: a config others can write or own is refused with the command to run",
          "[config]") {
  TempDir dir;
  FakeEnv env({{"ANTHROPIC_API_KEY", "sk-test"}});
  const auto refused = [](const std::string& path) {
    auto config = ckh::load_config(path, lookup_fake_env);
    REQUIRE_FALSE(config.has_value());
    REQUIRE(config.error().size() == 1);
    return config.error().front().to_string();
  };
  SECTION("mode 0666: whoever can write it runs code through argv") {
    const auto path = dir.write("config.toml", kExample, 0666);
    CHECK(refused(path) ==
          "config " + path + " is writable by others (mode 0666); run: chmod go-w " + path);
  }
  SECTION("group-writable") {
    const auto path = dir.write("config.toml", kExample, 0664);
    CHECK(contains(refused(path), "run: chmod go-w " + path));
  }
  SECTION("owned by another user (nobody); root's own file is fine") {
    const auto path = dir.write("config.toml", kExample, 0644);
    REQUIRE(ckh::load_config(path, lookup_fake_env).has_value());
    if (::geteuid() != 0) {
      WARN("not root: cannot give the config to another user");
      return;
    }
    REQUIRE(::chown(path.c_str(), 65534, 65534) == 0);
    const std::string message = refused(path);
    CHECK(contains(message, "config " + path + " is owned by uid 65534"));
    CHECK(contains(message, "run: chown root " + path));
  }
  SECTION("in a directory others can write") {
    REQUIRE(::chmod(dir.path().c_str(), 0777) == 0);
    const auto path = dir.write("config.toml", kExample, 0600);
    CHECK(contains(refused(path), "is in " + dir.path() + ", which is writable by others"));
    REQUIRE(::chmod(dir.path().c_str(), 0700) == 0);
  }
}

TEST_CASE("config: a loaded config's secret variables leave every child's environment",
          "[config]") {
  TempDir dir;
  ckh::test::ScopedSetenv team("CKH_CONFIG_TEST_TEAM_KEY", "CANARY-team");
  const auto path = dir.write("config.toml",
                              "[profile.team]\nbackend = \"static\"\n"
                              "static = { env = \"CKH_CONFIG_TEST_TEAM_KEY\" }\n",
                              0600);
  REQUIRE(ckh::load_config(path, ckh::process_env).has_value());
  // The browser opener and credential_process have no SecretEnvNames of their own.
  for (const auto role : {ckh::ChildRole::ordinary, ckh::ChildRole::aws_credential_source}) {
    for (const auto& entry : ckh::child_environment(role)) {
      CHECK_FALSE(entry.starts_with("CKH_CONFIG_TEST_TEAM_KEY="));
    }
  }
}

TEST_CASE("config: secret variables of every profile are scrubbed from commands", "[config]") {
  auto config = parse(R"(
[profile.a]
backend = "static"
static = { env = "MY_TEAM_KEY" }
[profile.b]
backend = "command"
command = { argv = ["/bin/true"] }
)");
  REQUIRE(config.has_value());
  const auto* command =
      dynamic_cast<const ckh::CommandBackend*>(config->profiles.at("b").backend.get());
  REQUIRE(command != nullptr);
  const auto names = command->scrubbed_env_names();  // besides child_env.h's fixed lists
  CHECK(std::find(names.begin(), names.end(), "MY_TEAM_KEY") != names.end());
}

TEST_CASE("config: ConfigProblem::to_string", "[config]") {
  CHECK(ConfigProblem{"f.toml", 3, 7, "bad"}.to_string() == "f.toml:3:7: bad");
  CHECK(ConfigProblem{"f.toml", 0, 0, "bad"}.to_string() == "f.toml: bad");
}

TEST_CASE("config: key suggestions are only offered for likely typos", "[config]") {
  const std::array<std::string_view, 3> known{"refresh_interval", "backend", "env"};
  CHECK(ckh::suggest_key("refresh_intervl", known) ==
        std::optional<std::string_view>("refresh_interval"));
  CHECK(ckh::suggest_key("Backend", known) == std::optional<std::string_view>("backend"));
  CHECK(ckh::suggest_key("bakcend", known) == std::optional<std::string_view>("backend"));
  CHECK(ckh::suggest_key("enb", known) == std::optional<std::string_view>("env"));
  CHECK_FALSE(ckh::suggest_key("xyz", known).has_value());
  CHECK_FALSE(ckh::suggest_key("colour", known).has_value());
  CHECK_FALSE(ckh::suggest_key(std::string(100000, 'a'), known).has_value());
}

TEST_CASE("duration: accepted forms", "[config][duration]") {
  using ckh::parse_duration;
  using std::chrono::milliseconds;
  CHECK(parse_duration("4m") == milliseconds(240'000));
  CHECK(parse_duration("90s") == milliseconds(90'000));
  CHECK(parse_duration("1h30m") == milliseconds(5'400'000));
  CHECK(parse_duration("250ms") == milliseconds(250));
  CHECK(parse_duration("2d") == milliseconds(172'800'000));
  CHECK(parse_duration("0s") == milliseconds(0));
  CHECK(parse_duration("1d2h3m4s5ms") == milliseconds(93'784'005));
  CHECK(parse_duration("1m500ms") == milliseconds(60'500));
  CHECK(parse_duration("007s") == milliseconds(7'000));
}

TEST_CASE("duration: refused forms", "[config][duration]") {
  using ckh::parse_duration;
  for (const char* text : {"", "-1s", "+1s", "1", "s", "1x", "1.5h", "30m1h", "1m1m", "1h 30m",
                           " 1h", "1h ", "1S", "1sec", "1mss", "ms", "1m-1s", "0x10s"}) {
    INFO(text);
    CHECK_FALSE(parse_duration(text).has_value());
  }
}

TEST_CASE("duration: overflow is refused, the largest value is not", "[config][duration]") {
  using ckh::parse_duration;
  CHECK(parse_duration("9223372036854775807ms") == std::chrono::milliseconds(INT64_MAX));
  CHECK_FALSE(parse_duration("9223372036854775808ms").has_value());
  CHECK_FALSE(parse_duration("99999999999999999999s").has_value());
  CHECK(parse_duration("106751991167d7h12m55s807ms") == std::chrono::milliseconds(INT64_MAX));
  CHECK_FALSE(parse_duration("106751991168d").has_value());
  CHECK_FALSE(parse_duration("106751991167d7h12m55s808ms").has_value());
}

TEST_CASE("duration: format_duration is the inverse", "[config][duration]") {
  using std::chrono::milliseconds;
  CHECK(ckh::format_duration(milliseconds(0)) == "0s");
  CHECK(ckh::format_duration(milliseconds(240'000)) == "4m");
  CHECK(ckh::format_duration(milliseconds(5'400'000)) == "1h30m");
  CHECK(ckh::format_duration(milliseconds(250)) == "250ms");
  CHECK(ckh::format_duration(milliseconds(93'784'005)) == "1d2h3m4s5ms");
  for (const std::int64_t value : {INT64_C(1), INT64_C(999), INT64_C(86'400'000), INT64_MAX}) {
    CHECK(ckh::parse_duration(ckh::format_duration(milliseconds(value))) == milliseconds(value));
  }
}
