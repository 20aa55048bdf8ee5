// refresher/process_hardening: the refresher's memory (refresh tokens) never lands in a core
// dump. Checked in a forked child, so that this test process keeps its own settings.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <catch2/catch.hpp>

#include "refresher/process_hardening.h"

TEST_CASE("process_hardening: no core file and not dumpable", "[process_hardening]") {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ckh::harden_process();
    int failed = 0;
    struct rlimit core {};
    if (::getrlimit(RLIMIT_CORE, &core) != 0 || core.rlim_cur != 0 || core.rlim_max != 0)
      failed |= 1;
#ifdef __linux__
    if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) failed |= 2;
#endif
    // The hard limit is 0 too: nothing started later can raise it again.
    const struct rlimit raise { RLIM_INFINITY, RLIM_INFINITY };
    if (::geteuid() != 0 && ::setrlimit(RLIMIT_CORE, &raise) == 0) failed |= 4;
    ::_exit(failed);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  INFO("failed checks (1 core limit, 2 dumpable, 4 raised again): " << WEXITSTATUS(status));
  CHECK(WEXITSTATUS(status) == 0);
}
