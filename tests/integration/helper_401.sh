#!/bin/bash
# 401 detection with a simulated Claude Code: a long-lived process that runs the helper the
# way Claude Code does (`/bin/sh -c "<apiKeyHelper>"`, CLAUDE_CODE_ENTRYPOINT set, no
# terminal). An early rerun that would get the same generation is a 401: the helper forces
# a refresh and prints the new key. Rate-limited per profile; other callers, manual runs
# and end-of-TTL reruns never force.
#
# Load: no check depends on a wall-clock window. The rate limit is an hour, and its
# passing is simulated by moving P.status's last_forced_at back (the refresher reads it
# under the profile lock at every refresh: the seam for its clock from outside); a 401 is
# any rerun within 270 s of the last (the default TTL's), an end-of-TTL rerun comes after
# a sleep longer than its TTL (slowness only makes it later); waits are bounds.
source "$(dirname "$0")/lib.sh"
make_command_backend
# As write_command_config, with a backend timeout no loaded machine reaches.
cat > "$CLAUDE_KEY_HELPER_CONFIG" <<TOML
[profile.default]
backend = "command"
force_min_interval = "1h"
[profile.default.command]
argv = ["$T/backend/fetch.sh"]
timeout = "60s"
ttl = "1h"
TOML

# caller.py RUNS...: one process = one Claude Code; prints one line per helper run.
cat > "$T/caller.py" <<'PY'
import os, subprocess, sys, time
# A forced refresh may take long on a loaded machine: wait for it (the default is 10 s).
env = dict(os.environ, CLAUDE_CODE_ENTRYPOINT="sdk-cli", CLAUDE_KEY_HELPER_WAIT_MS="60000")
for step in sys.argv[1:]:
    if step.startswith("sleep="):
        time.sleep(float(step[6:]))
        continue
    run = subprocess.run(["/bin/sh", "-c", os.environ["CKH_HELPER"]], env=env,
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    print(run.stdout.strip() or ("exit %d" % run.returncode), flush=True)
PY
caller() { python3 "$T/caller.py" "$@" | tr '\n' ' ' | sed 's/ $//'; }

# forced_long_ago: the last forced refresh is two hours old, as if force_min_interval had
# passed. Written like the refresher writes it (0600, renamed into place).
forced_long_ago() {
  local status="$STATE/default.status"
  grep -q '^last_forced_at: [0-9]' "$status" || { fail "no forced refresh in P.status: $(cat "$status")"; return; }
  (umask 077 && sed "s/^last_forced_at: .*/last_forced_at: $(( $(date +%s) - 7200 ))/" "$status" > "$T/status.new")
  mv -f "$T/status.new" "$status"
}

expect_eq "first call, then an early rerun (a 401): new key at once" "key-1 key-2" "$(caller run run)"
expect_eq "two backend calls" 2 "$(backend_calls)"

# Another Claude Code process starting now is not a 401, and sees the current key.
expect_eq "new caller: no force" "key-2" "$(caller run)"
expect_eq "still two backend calls" 2 "$(backend_calls)"

# Rate limit: key-2 rejected too, within force_min_interval: the best it has, no call.
expect_eq "forced refreshes are rate-limited" "key-2 key-2" "$(caller run run)"
expect_eq "rate limit: no backend call" 2 "$(backend_calls)"
forced_long_ago
expect_eq "after the interval a 401 forces again" "key-2 key-3" "$(caller run run)"

# Manual runs from a shell never force.
run_helper; run_helper
expect_eq "manual runs: same key" "key-3" "$OUT"
expect_eq "manual runs: no backend call" 3 "$(backend_calls)"

# A rerun at the end of the caller's TTL is the regular refresh, not a 401 (no rate limit
# in the way: a wrong force would show as a backend call).
forced_long_ago
expect_eq "end-of-TTL rerun: no force" "key-3 key-3" "$(CLAUDE_CODE_API_KEY_HELPER_TTL_MS=3000 caller run sleep=3.2 run)"
expect_eq "end-of-TTL rerun: no backend call" 3 "$(backend_calls)"

# Two Claude Code processes rejected with the same key at once: one refresh, both get it.
# Whatever the interleaving on a loaded machine (the second may even start after the
# first's refresh), one backend call: the other sees a newer generation, or is inside the
# rate limit.
forced_long_ago
python3 "$T/caller.py" run sleep=1 run > "$T/a.out" &
pa=$!
python3 "$T/caller.py" run sleep=1 run > "$T/b.out" &
pb=$!
wait "$pa" "$pb"
expect_eq "concurrent 401s: one backend call" 4 "$(backend_calls)"
expect_eq "caller A ends with the new key" "key-4" "$(tail -1 "$T/a.out")"
expect_eq "caller B ends with the new key" "key-4" "$(tail -1 "$T/b.out")"

# Through the daemon: the same detection, the refresh done by the daemon. Aged before the
# daemon starts, so nothing it writes at start can race the edit.
forced_long_ago
start_daemon
expect_eq "401 through the daemon" "key-4 key-5" "$(caller run run)"
grep -q "suspected-401 refresh: refreshed" "$T/daemon.log" && pass "daemon logged the forced refresh" || fail "daemon log: $(cat "$T/daemon.log")"
ls "$STATE/callers/" | grep -q '^default\.[0-9]*\.[0-9]*$' && pass "per-caller memory files" || fail "no caller files"
finish
