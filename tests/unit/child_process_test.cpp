// refresher/child_process.h: real processes, real signals, real descriptors.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "refresher/child_process.h"
#include "shared/text.h"

namespace {

using namespace std::chrono_literals;
using ckh::ChildEnd;
using ckh::ChildSpec;
using ckh::ErrorClass;

ChildSpec spec_for(std::vector<std::string> argv) {
  ChildSpec spec;
  spec.executable = argv.front();
  spec.argv = std::move(argv);
  spec.environment = {"PATH=/usr/bin:/bin"};
  spec.timeout = 10s;
  spec.kill_grace = 300ms;
  return spec;
}

ChildSpec shell(const std::string& script) {
  return spec_for({"/bin/sh", "-c", script});
}

ckh::ChildOutcome run(const ChildSpec& spec) {
  auto outcome = ckh::run_child(spec);
  if (!outcome) FAIL(outcome.error().message);
  return *outcome;
}

// Dead, or a zombie nobody has reaped yet (a container's init may not reap).
bool process_gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  const auto close_paren = line.rfind(')');
  return close_paren != std::string::npos && close_paren + 2 < line.size() &&
         line[close_paren + 2] == 'Z';
}

bool eventually_gone(pid_t pid) {
  for (int i = 0; i < 100; ++i) {
    if (process_gone(pid)) return true;
    ::usleep(20'000);
  }
  return false;
}

}  // namespace

TEST_CASE("child_process: exit codes", "[child_process]") {
  for (const int code : {0, 1, 3, 255}) {
    const auto outcome = run(shell("exit " + std::to_string(code)));
    CHECK(outcome.end == ChildEnd::exited);
    CHECK(outcome.exit_code == code);
  }
}

TEST_CASE("child_process: stdout and stderr are captured apart", "[child_process]") {
  const auto outcome = run(shell("printf 'to out'; printf 'to err' >&2"));
  CHECK(outcome.end == ChildEnd::exited);
  CHECK(outcome.out == "to out");
  CHECK(outcome.err == "to err");
  CHECK_FALSE(outcome.err_truncated);
}

TEST_CASE("child_process: argv is passed as is, without a shell", "[child_process]") {
  auto spec = spec_for({"/usr/bin/printf", "%s|", "a b", "$HOME", "*", "'q'"});
  const auto outcome = run(spec);
  CHECK(outcome.out == "a b|$HOME|*|'q'|");
}

TEST_CASE("child_process: death by a signal", "[child_process]") {
  const auto outcome = run(shell("kill -USR1 $$"));
  CHECK(outcome.end == ChildEnd::signaled);
  CHECK(outcome.signal == SIGUSR1);
}

TEST_CASE("child_process: stdin is /dev/null", "[child_process]") {
  const auto outcome = run(spec_for({"/bin/cat"}));
  CHECK(outcome.end == ChildEnd::exited);
  CHECK(outcome.exit_code == 0);
  CHECK(outcome.out.empty());
  CHECK(outcome.elapsed < 2s);
}

TEST_CASE("child_process: the environment is exactly the one given", "[child_process]") {
  auto spec = spec_for({"/usr/bin/env"});
  spec.environment = {"A=1", "B=two words"};
  const auto outcome = run(spec);
  CHECK(outcome.out == "A=1\nB=two words\n");
}

TEST_CASE("child_process: no other descriptor is inherited", "[child_process]") {
  const int fd = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC: would leak without closing
  REQUIRE(fd >= 0);
  REQUIRE(::dup2(fd, 57) == 57);
  ::close(fd);
  const auto outcome = run(
      shell("for n in 0 1 2 57; do [ -e /proc/self/fd/$n ] && printf 'open%s ' $n; done; true"));
  ::close(57);
  CHECK(outcome.out == "open0 open1 open2 ");
}

TEST_CASE("child_process: a blocked SIGTERM in the parent does not reach the child",
          "[child_process]") {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  REQUIRE(::pthread_sigmask(SIG_BLOCK, &block, &old) == 0);
  auto spec = spec_for({"/bin/sleep", "30"});
  spec.timeout = 200ms;
  spec.kill_grace = 10s;  // only an unblocked SIGTERM ends it quickly
  const auto outcome = run(spec);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  CHECK(outcome.end == ChildEnd::timed_out);
  CHECK(outcome.elapsed < 3s);
}

TEST_CASE("child_process: a timeout ends it with SIGTERM", "[child_process]") {
  auto spec = spec_for({"/bin/sleep", "30"});
  spec.timeout = 300ms;
  spec.kill_grace = 10s;
  const auto outcome = run(spec);
  CHECK(outcome.end == ChildEnd::timed_out);
  CHECK(outcome.elapsed >= 300ms);
  CHECK(outcome.elapsed < 3s);
}

TEST_CASE("child_process: a timeout kills the whole group even if it ignores SIGTERM",
          "[child_process]") {
  auto spec = shell("trap '' TERM; sleep 30 & echo $!; wait; wait; sleep 30");
  spec.timeout = 300ms;
  spec.kill_grace = 300ms;
  const auto outcome = run(spec);
  CHECK(outcome.end == ChildEnd::timed_out);
  CHECK(outcome.elapsed >= 600ms);
  CHECK(outcome.elapsed < 3s);
  const auto grandchild = ckh::parse_i64(ckh::trim(outcome.out));
  REQUIRE(grandchild.has_value());
  CHECK(eventually_gone(static_cast<pid_t>(*grandchild)));
}

TEST_CASE("child_process: something left behind holding stdout does not hang the call",
          "[child_process]") {
  const auto outcome = run(shell("sleep 30 & echo $!; echo done"));
  CHECK(outcome.end == ChildEnd::exited);
  CHECK(outcome.exit_code == 0);
  CHECK(outcome.elapsed < 3s);
  const auto pid = ckh::parse_i64(outcome.out.substr(0, outcome.out.find('\n')));
  REQUIRE(pid.has_value());
  CHECK(outcome.out.ends_with("done\n"));
  CHECK(eventually_gone(static_cast<pid_t>(*pid)));
}

TEST_CASE("child_process: stdout over its limit ends the child", "[child_process]") {
  auto spec = spec_for({"/usr/bin/yes"});
  spec.stdout_limit = 1000;
  const auto outcome = run(spec);
  CHECK(outcome.end == ChildEnd::stdout_overflow);
  CHECK(outcome.out.size() == 1000);
  CHECK(outcome.out.starts_with("y\ny\n"));
  CHECK(outcome.elapsed < 3s);
}

TEST_CASE("child_process: stdout exactly at its limit is fine", "[child_process]") {
  auto spec = shell("head -c 1000 /dev/zero");
  spec.stdout_limit = 1000;
  const auto outcome = run(spec);
  CHECK(outcome.end == ChildEnd::exited);
  CHECK(outcome.out.size() == 1000);
}

TEST_CASE("child_process: stderr over its limit is cut, not fatal", "[child_process]") {
  auto spec = shell("head -c 100000 /dev/zero >&2; echo done");
  spec.stderr_limit = 1000;
  const auto outcome = run(spec);
  CHECK(outcome.end == ChildEnd::exited);
  CHECK(outcome.exit_code == 0);
  CHECK(outcome.err.size() == 1000);
  CHECK(outcome.err_truncated);
  CHECK(outcome.out == "done\n");
}

TEST_CASE("child_process: what cannot be started is an error, classified", "[child_process]") {
  SECTION("no such file") {
    auto result = ckh::run_child(spec_for({"/nonexistent/ckh-cmd"}));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == ErrorClass::not_found);
    CHECK(result.error().message.starts_with("cannot execute /nonexistent/ckh-cmd: "));
  }
  SECTION("not executable") {
    char path[] = "/tmp/ckh-child-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    auto result = ckh::run_child(spec_for({path}));
    ::unlink(path);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == ErrorClass::permanent);
  }
  SECTION("a directory") {
    auto result = ckh::run_child(spec_for({"/tmp"}));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == ErrorClass::permanent);
  }
  SECTION("nothing") {
    ChildSpec spec;
    auto result = ckh::run_child(spec);
    REQUIRE_FALSE(result.has_value());
  }
}

TEST_CASE("child_process: find_executable", "[child_process]") {
  CHECK(ckh::find_executable("sh", "/nonexistent:relative/dir::/bin").value() == "/bin/sh");
  CHECK(ckh::find_executable("sh", "/bin/").value() == "/bin/sh");
  CHECK(ckh::find_executable("/bin/sh", "").value() == "/bin/sh");
  const auto missing = ckh::find_executable("ckh-no-such-command", "/bin:/usr/bin");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().kind == ErrorClass::not_found);
  CHECK(missing.error().message == "ckh-no-such-command was not found in PATH (/bin:/usr/bin)");
  // The current directory is never searched, even through an empty or relative entry.
  const auto cwd_only = ckh::find_executable("sh", ":.:bin");
  CHECK_FALSE(cwd_only.has_value());
  char path[] = "/tmp/ckh-find-XXXXXX";
  const int fd = ::mkstemp(path);  // 0600: no execute bit, even for root
  REQUIRE(fd >= 0);
  ::close(fd);
  const auto not_executable = ckh::find_executable(path, "");
  const auto not_executable_in_path =
      ckh::find_executable(std::string_view(path).substr(5), "/tmp");
  ::unlink(path);
  REQUIRE_FALSE(not_executable.has_value());
  CHECK(not_executable.error().kind == ErrorClass::permanent);
  REQUIRE_FALSE(not_executable_in_path.has_value());
  CHECK(not_executable_in_path.error().kind == ErrorClass::permanent);
  const auto directory = ckh::find_executable("tmp", "/");
  REQUIRE_FALSE(directory.has_value());
  CHECK(directory.error().kind == ErrorClass::permanent);
}
