// refresher/child_process.cpp's wait for a child (issue 10, item 16): while a backend command
// runs, the refresher sleeps until the child's output, its exit (a pidfd) or a deadline,
// instead of waking every 20 ms to look. Counted with the thread's voluntary context
// switches: every sleep that ends is one, and load adds none (those are involuntary).
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "refresher/child_process.h"

namespace {

using namespace std::chrono_literals;

long voluntary_switches() {
  struct rusage usage {};
  REQUIRE(::getrusage(RUSAGE_THREAD, &usage) == 0);
  return usage.ru_nvcsw;
}

bool pidfd_supported() {
#ifdef SYS_pidfd_open
  const long fd = ::syscall(SYS_pidfd_open, ::getpid(), 0);
  if (fd < 0) return false;
  ::close(static_cast<int>(fd));
  return true;
#else
  return false;
#endif
}

ckh::ChildSpec sleeper(const char* seconds) {
  ckh::ChildSpec spec;
  spec.executable = "/bin/sleep";
  spec.argv = {"sleep", seconds};
  spec.environment = {"PATH=/usr/bin:/bin"};
  spec.timeout = 30s;
  return spec;
}

}  // namespace

TEST_CASE("child wait: a running child is waited for on its pidfd, not polled every 20 ms") {
  if (!pidfd_supported()) {
    WARN("pidfd_open is not available here: the 20 ms polling fallback is in use");
    return;
  }
  const long before = voluntary_switches();
  const auto started = std::chrono::steady_clock::now();
  auto outcome = ckh::run_child(sleeper("2"));
  const auto took = std::chrono::steady_clock::now() - started;
  const long switches = voluntary_switches() - before;
  REQUIRE(outcome);
  CHECK(outcome->end == ckh::ChildEnd::exited);
  CHECK(outcome->exit_code == 0);
  CHECK(took >= 2s);
  // Polling every 20 ms sleeps and wakes about 100 times in 2 s (still 20+ on a machine so
  // loaded that each wake-up comes 100 ms late); the pidfd wait wakes for the spawn, at most
  // once a second, and for the exit and the pipes closing.
  INFO("voluntary context switches while a 2 s child ran: " << switches);
  CHECK(switches < 15);
}

TEST_CASE("child wait: a quick exit is seen, and the timeout still ends a child") {
  auto quick = ckh::run_child(sleeper("0"));
  REQUIRE(quick);
  CHECK(quick->end == ckh::ChildEnd::exited);
  CHECK(quick->exit_code == 0);
  // A child that outlives its timeout is still ended (the wait has deadlines, not only the
  // pidfd). Bounds are loose: the machine may be loaded.
  auto spec = sleeper("30");
  spec.timeout = 1500ms;
  spec.kill_grace = 300ms;
  const auto started = std::chrono::steady_clock::now();
  auto slow = ckh::run_child(spec);
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE(slow);
  CHECK(slow->end == ckh::ChildEnd::timed_out);
  CHECK(took >= 1500ms);
  CHECK(took < 15s);
}
