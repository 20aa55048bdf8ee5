// The helper holds the credential in memory from the moment it reads P.cred: a core dump
// (a crash, a SIGQUIT from a terminal, `gcore`) would write it to disk, often in a shared
// place (systemd-coredump, apport, ./core). forbid_core_dumps() makes the process
// non-dumpable (PR_SET_DUMPABLE 0: no core, and no ptrace attach or /proc/<pid>/mem by other
// processes of the same user) and sets RLIMIT_CORE to 0 (soft and hard: a `once` child
// started by the helper inherits it; the refresher does the same for itself). Two system
// calls, no allocation: main() calls it first. Returns false if either call failed (the
// helper goes on: there is nothing better to do than serve). Header-only: main.cpp and the
// unit tests use it. Callers: helper/main.cpp, tests.
#pragma once

#include <sys/resource.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

namespace ckh {

inline bool forbid_core_dumps() {
  bool ok = true;
#if defined(__linux__)
  ok = ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0;
#endif
  const struct rlimit none { 0, 0 };
  return ::setrlimit(RLIMIT_CORE, &none) == 0 && ok;
}

}  // namespace ckh
