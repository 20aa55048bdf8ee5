// Issue 10, items 4, 5, 6, 8, 11 and 16 (first half): the helper and the refresher against a
// hostile or broken state dir. A stopped daemon costs at most the helper's wait; a FIFO or
// a foreign file at P.lock is refused at once; the refresher is never found through a
// relative PATH entry; core dumps are off; the state dir and the socket's listener must be
// the user's own. Waits that a regression would make endless run in a child with a bound.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "helper/ask_refresher.h"
#include "helper/helper.h"
#include "helper/no_core_dumps.h"
#include "refresher/profile_lock.h"
#include "shared/line_io.h"
#include "shared/private_dir.h"
#include "shared/record.h"
#include "shared/secure_file.h"
#include "shared/unique_fd.h"
#include "test_support.h"

using namespace ckh;

namespace {

constexpr uid_t kNobody = 65534;

// Runs body in a child process; its exit status (0..255), or -1 when it did not finish
// within bound_s (it is killed then). For code whose regression would block forever.
int run_in_child(const std::function<int()>& body, int bound_s = 20) {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(body());
  const std::int64_t deadline = monotonic_ms() + bound_s * 1000LL;
  int status = 0;
  while (::waitpid(child, &status, WNOHANG) == 0) {
    if (monotonic_ms() > deadline) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      return -1;
    }
    ::usleep(10000);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A unix listener that never accepts (a stopped daemon), with the smallest backlog.
UniqueFd listen_without_accepting(const std::string& path, int backlog) {
  UniqueFd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  REQUIRE(fd.valid());
  struct sockaddr_un address {};
  address.sun_family = AF_UNIX;
  REQUIRE(path.size() < sizeof address.sun_path);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(fd.get(), backlog) == 0);
  return fd;
}

// Connects until the listener's queue is full; the connections stay open in the result.
std::vector<UniqueFd> fill_backlog(const std::string& path) {
  std::vector<UniqueFd> queued;
  for (int i = 0; i < 16; ++i) {
    UniqueFd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
    struct sockaddr_un address {};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      REQUIRE(errno == EAGAIN);
      return queued;
    }
    queued.push_back(std::move(fd));
  }
  FAIL("the listener's backlog never filled");
  return queued;
}

std::string record_text(const std::string& credential, std::int64_t expires_at) {
  CredentialRecord record;
  record.generation = 7;
  record.backend = "static";
  record.source = "test";
  record.fetched_at = static_cast<std::int64_t>(std::time(nullptr));
  record.expires_at = expires_at;
  record.credential = credential;
  return serialize_record(record);
}

// How many descriptors of this process are open on lock_path, and how many of them lack
// close-on-exec.
std::pair<int, int> lock_fds(const std::string& lock_path) {
  char target[PATH_MAX];
  int open_fds = 0, inheritable = 0;
  for (int fd = 0; fd < 1024; ++fd) {
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    const ssize_t length = ::readlink(link.c_str(), target, sizeof target - 1);
    if (length <= 0 || std::string(target, static_cast<std::size_t>(length)) != lock_path) continue;
    ++open_fds;
    if ((::fcntl(fd, F_GETFD) & FD_CLOEXEC) == 0) ++inheritable;
  }
  return {open_fds, inheritable};
}

// Restores the working directory at scope exit.
class ScopedChdir {
 public:
  explicit ScopedChdir(const std::string& dir) {
    REQUIRE(::getcwd(old_, sizeof old_) != nullptr);
    REQUIRE(::chdir(dir.c_str()) == 0);
  }
  ScopedChdir(const ScopedChdir&) = delete;
  ScopedChdir& operator=(const ScopedChdir&) = delete;
  ~ScopedChdir() { (void)!::chdir(old_); }

 private:
  char old_[PATH_MAX] = {};
};

}  // namespace

TEST_CASE("helper safety: the refresher is never found through a relative PATH entry") {
  test::TempDir dir;
  const std::string bin = dir / "bin";
  REQUIRE(::mkdir(bin.c_str(), 0700) == 0);
  dir.write("bin/claude-key-refresher", "#!/bin/sh\nexit 0\n", 0700);
  dir.write("claude-key-refresher", "#!/bin/sh\nexit 0\n", 0700);  // in "the project dir"
  ScopedChdir in_project(dir.path());

  // ".", "", "bin" are relative to wherever Claude Code runs the helper.
  auto relative = locate_refresher(RefresherSearch{"", "", ".::bin:./bin"});
  CHECK_FALSE(relative);
  if (!relative) {
    CHECK(relative.error().kind == ErrorClass::config);
    CHECK(relative.error().message.find("CLAUDE_KEY_REFRESHER") != std::string::npos);
  }
  auto absolute = locate_refresher(RefresherSearch{"", "", ".:" + bin});
  REQUIRE(absolute);
  CHECK(*absolute == bin + "/claude-key-refresher");

  // Beside the helper wins over PATH.
  auto beside = locate_refresher(RefresherSearch{"", bin + "/claude-key-helper", "/usr/bin"});
  REQUIRE(beside);
  CHECK(*beside == bin + "/claude-key-refresher");

  // CLAUDE_KEY_REFRESHER: absolute is taken as is, relative is refused with what to do.
  auto configured = locate_refresher(RefresherSearch{"/opt/x/claude-key-refresher", "", ""});
  REQUIRE(configured);
  CHECK(*configured == "/opt/x/claude-key-refresher");
  auto refused =
      locate_refresher(RefresherSearch{"claude-key-refresher", bin + "/claude-key-helper", bin});
  CHECK_FALSE(refused);
  if (!refused) CHECK(refused.error().message.find("absolute path") != std::string::npos);

  // A directory named like the refresher is not an executable.
  REQUIRE(::mkdir((dir / "bin2").c_str(), 0700) == 0);
  REQUIRE(::mkdir((dir / "bin2/claude-key-refresher").c_str(), 0700) == 0);
  CHECK_FALSE(locate_refresher(RefresherSearch{"", "", dir / "bin2"}));
}

TEST_CASE("helper safety: the state dir must be a real 0700 directory of our own") {
  test::TempDir dir;
  const std::string state = dir / "state";
  REQUIRE(ensure_private_dir(state));
  CHECK(check_private_dir(state));
  CHECK(check_private_dir(dir / "missing").error().kind == ErrorClass::not_found);

  for (mode_t mode : {0755, 0777, 0710}) {
    REQUIRE(::chmod(state.c_str(), mode) == 0);
    auto refused = check_private_dir(state);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == ErrorClass::unsafe);
    CHECK(refused.error().message.find("chmod 700 " + state) != std::string::npos);
    CHECK_FALSE(ensure_private_dir(state));  // the refresher: the same rule
  }
  REQUIRE(::chmod(state.c_str(), 0700) == 0);

  const std::string link = dir / "link";
  REQUIRE(::symlink(state.c_str(), link.c_str()) == 0);
  auto symlinked = check_private_dir(link);
  REQUIRE_FALSE(symlinked);
  CHECK(symlinked.error().kind == ErrorClass::unsafe);
  CHECK(symlinked.error().message.find("symbolic link") != std::string::npos);
  CHECK_FALSE(ensure_private_dir(link));

  if (::geteuid() == 0) {
    REQUIRE(::chown(state.c_str(), kNobody, kNobody) == 0);
    auto foreign = check_private_dir(state);
    REQUIRE_FALSE(foreign);
    CHECK(foreign.error().message.find("owned by uid 65534") != std::string::npos);
    CHECK_FALSE(ensure_private_dir(state));
  } else {
    WARN("the owner check needs root to chown; covered by the rule above only");
  }
}

TEST_CASE("helper safety: the helper refuses an unsafe state dir (exit 77)") {
  test::TempDir dir;
  const std::string state = dir / "state";
  REQUIRE(::mkdir(state.c_str(), 0700) == 0);
  dir.write("state/default.cred", record_text("sk-test-state-dir", 4102444800), 0600);
  test::ScopedSetenv state_env("CLAUDE_KEY_HELPER_STATE_DIR", state.c_str());
  test::ScopedSetenv refresher_env("CLAUDE_KEY_REFRESHER", "/nonexistent/claude-key-refresher");
  HelperOptions options;
  options.wait_ms = 0;
  CHECK(run_helper(options).out == "sk-test-state-dir\n");

  REQUIRE(::chmod(state.c_str(), 0755) == 0);
  HelperOutcome outcome = run_helper(options);
  CHECK(outcome.exit == HelperExit::unsafe);
  CHECK(outcome.out.empty());
  CHECK(outcome.err.find("refusing the state directory") != std::string::npos);
  CHECK(outcome.err.find("chmod 700") != std::string::npos);
  CHECK(outcome.err.find("sk-test") == std::string::npos);
}

TEST_CASE("helper safety: a stopped daemon costs at most the wait; the valid record is served") {
  test::TempDir dir;
  const std::string state = dir / "state";
  REQUIRE(::mkdir(state.c_str(), 0700) == 0);
  // Valid for an hour, but not for the caller's 2-hour TTL: the helper must ask.
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  dir.write("state/default.cred", record_text("sk-test-wedged", now + 3600), 0600);
  UniqueFd listener = listen_without_accepting(state + "/default.sock", 0);
  auto queued = fill_backlog(state + "/default.sock");

  const int code = run_in_child([&] {
    ::setenv("CLAUDE_KEY_HELPER_STATE_DIR", state.c_str(), 1);
    ::setenv("CLAUDE_KEY_REFRESHER", "/nonexistent/claude-key-refresher", 1);
    HelperOptions options;
    options.ttl_ms = 2 * 3600 * 1000;
    options.wait_ms = 300;
    const HelperOutcome outcome = run_helper(options);
    return outcome.exit == HelperExit::ok && outcome.out == "sk-test-wedged\n" ? 0 : 1;
  });
  CHECK(code == 0);  // -1: it blocked in connect() past the 20 s bound

  // With nothing valid left it says why, still within the bound.
  dir.write("state/default.cred", record_text("sk-test-wedged", now - 10), 0600);
  const int expired = run_in_child([&] {
    ::setenv("CLAUDE_KEY_HELPER_STATE_DIR", state.c_str(), 1);
    ::setenv("CLAUDE_KEY_REFRESHER", "/nonexistent/claude-key-refresher", 1);
    HelperOptions options;
    options.wait_ms = 300;
    const HelperOutcome outcome = run_helper(options);
    return outcome.exit == HelperExit::expired && outcome.out.empty() ? 0 : 1;
  });
  CHECK(expired == 0);
}

TEST_CASE("helper safety: connect_unix ends at the deadline when the listener never accepts") {
  test::TempDir dir;
  const std::string path = dir / "s.sock";
  UniqueFd listener = listen_without_accepting(path, 0);
  auto queued = fill_backlog(path);
  const std::int64_t started = monotonic_ms();
  auto connected = connect_unix(path, started + 200);
  const std::int64_t took = monotonic_ms() - started;
  REQUIRE_FALSE(connected);
  CHECK(connected.error().kind == ErrorClass::transient);
  CHECK(took >= 150);   // it did wait for room (SO_SNDTIMEO), not fail at once
  CHECK(took < 10000);  // and not much past its deadline, even on a busy machine

  // Nothing listening: not_found, so that the helper runs `once` itself.
  CHECK(connect_unix(dir / "none.sock", monotonic_ms() + 200).error().kind ==
        ErrorClass::not_found);
  listener.reset();  // a stale socket file
  CHECK(connect_unix(path, monotonic_ms() + 200).error().kind == ErrorClass::not_found);
}

TEST_CASE("helper safety: nothing is said to a P.sock listener of another uid") {
  if (::geteuid() != 0) {
    WARN("needs root to listen as another uid; skipped");
    return;
  }
  test::TempDir dir;
  const std::string path = dir / "s.sock";
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Bound as root in our dir, listening as nobody: SO_PEERCRED reports the listen() uid.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un address {};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        ::setresgid(kNobody, kNobody, kNobody) != 0 ||
        ::setresuid(kNobody, kNobody, kNobody) != 0 || ::listen(fd, 4) != 0) {
      ::_exit(2);
    }
    (void)!::write(ready[1], "x", 1);
    const int client = ::accept(fd, nullptr, nullptr);
    char byte = 0;
    struct pollfd pfd {
      client, POLLIN, 0
    };
    // Anything sent within 2 s of the connection is a failure of the client.
    const bool told = ::poll(&pfd, 1, 2000) > 0 && ::read(client, &byte, 1) == 1;
    ::_exit(told ? 1 : 0);
  }
  ::close(ready[1]);
  char byte = 0;
  REQUIRE(::read(ready[0], &byte, 1) == 1);
  ::close(ready[0]);
  auto connected = connect_unix(path, monotonic_ms() + 5000);
  REQUIRE_FALSE(connected);
  CHECK(connected.error().kind == ErrorClass::unsafe);
  CHECK(connected.error().message.find("uid 65534") != std::string::npos);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("helper safety: a FIFO or a foreign file at P.lock is refused at once") {
  test::TempDir dir;
  const std::string lock = dir / "default.lock";
  REQUIRE(::mkfifo(lock.c_str(), 0600) == 0);
  const int code = run_in_child([&] {
    auto acquired = ProfileLock::acquire(lock);
    if (acquired) return 1;
    if (acquired.error().kind != ErrorClass::unsafe) return 2;
    return acquired.error().message.find("not a regular file") != std::string::npos ? 0 : 3;
  });
  CHECK(code == 0);  // -1: it hung opening the FIFO
  REQUIRE(::unlink(lock.c_str()) == 0);

  const std::string elsewhere = dir.write("elsewhere", "", 0600);
  REQUIRE(::symlink(elsewhere.c_str(), lock.c_str()) == 0);
  auto symlinked = ProfileLock::acquire(lock);
  REQUIRE_FALSE(symlinked);
  CHECK(symlinked.error().kind == ErrorClass::unsafe);
  REQUIRE(::unlink(lock.c_str()) == 0);

  if (::geteuid() == 0) {
    dir.write("default.lock", "", 0600);
    REQUIRE(::chown(lock.c_str(), kNobody, kNobody) == 0);
    auto foreign = ProfileLock::acquire(lock);
    REQUIRE_FALSE(foreign);
    CHECK(foreign.error().kind == ErrorClass::unsafe);
    CHECK(foreign.error().message.find("owned by uid 65534") != std::string::npos);
  }
}

TEST_CASE("helper safety: the P.lock descriptor is close-on-exec and excludes other processes") {
  test::TempDir dir;
  const std::string lock = dir / "default.lock";
  {
    auto held = ProfileLock::acquire(lock);
    REQUIRE(held);
    const auto [open_fds, inheritable] = lock_fds(lock);
    CHECK(open_fds == 1);
    CHECK(inheritable == 0);
    // Another process (with the classic fcntl lock earlier releases took) cannot have it.
    const int other = run_in_child([&] {
      const int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
      struct flock range {};
      range.l_type = F_WRLCK;
      range.l_whence = SEEK_SET;
      return fd >= 0 && ::fcntl(fd, F_SETLK, &range) != 0 ? 0 : 1;
    });
    CHECK(other == 0);
  }
  // Released with the object.
  const int after = run_in_child([&] {
    const int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
    struct flock range {};
    range.l_type = F_WRLCK;
    range.l_whence = SEEK_SET;
    return fd >= 0 && ::fcntl(fd, F_SETLK, &range) == 0 ? 0 : 1;
  });
  CHECK(after == 0);
}

TEST_CASE("helper safety: forbid_core_dumps makes the process non-dumpable with no core limit") {
  const int code = run_in_child([] {
    if (!forbid_core_dumps()) return 1;
    if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) return 2;
    struct rlimit core {};
    if (::getrlimit(RLIMIT_CORE, &core) != 0 || core.rlim_cur != 0 || core.rlim_max != 0) return 3;
    return 0;
  });
  CHECK(code == 0);
}
