// Keeps this process's memory (refresh tokens, credentials) out of core dumps and away from
// other processes of the same user: no core file (RLIMIT_CORE 0, soft and hard, so a child
// cannot raise it again) and, on Linux, not dumpable (PR_SET_DUMPABLE 0: no core, no ptrace
// attach and no /proc/<pid>/mem or environ for unprivileged processes of the same uid).
// execve resets dumpability, so the children the refresher starts are unaffected by the
// latter; they inherit the core limit, which costs them nothing a credential tool needs.
// Called first thing in the refresher's main(), before any secret is read. Failures are
// ignored: hardening is best effort and must never stop a refresh.
#pragma once

namespace ckh {

void harden_process();

}  // namespace ckh
