#!/bin/bash
# 401 detection with a simulated Claude Code: a long-lived process that runs the helper the
# way Claude Code does (`/bin/sh -c "<apiKeyHelper>"`, CLAUDE_CODE_ENTRYPOINT set, no
# terminal). An early rerun that would get the same generation is a 401: the helper forces
# a refresh and prints the new key. Rate-limited per profile; other callers, manual runs
# and end-of-TTL reruns never force.
source "$(dirname "$0")/lib.sh"
make_command_backend
write_command_config 1h 'force_min_interval = "2s"'

# caller.py RUNS...: one process = one Claude Code; prints one line per helper run.
cat > "$T/caller.py" <<'PY'
import os, subprocess, sys, time
env = dict(os.environ, CLAUDE_CODE_ENTRYPOINT="sdk-cli")
for step in sys.argv[1:]:
    if step.startswith("sleep="):
        time.sleep(float(step[6:]))
        continue
    run = subprocess.run(["/bin/sh", "-c", os.environ["CKH_HELPER"]], env=env,
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    print(run.stdout.strip() or ("exit %d" % run.returncode), flush=True)
PY
caller() { python3 "$T/caller.py" "$@" | tr '\n' ' ' | sed 's/ $//'; }

expect_eq "first call, then an early rerun (a 401): new key at once" "key-1 key-2" "$(caller run run)"
expect_eq "two backend calls" 2 "$(backend_calls)"

# Another Claude Code process starting now is not a 401, and sees the current key.
expect_eq "new caller: no force" "key-2" "$(caller run)"
expect_eq "still two backend calls" 2 "$(backend_calls)"

# Rate limit: key-2 rejected too, within force_min_interval: the best it has, no call.
expect_eq "forced refreshes are rate-limited" "key-2 key-2" "$(caller run run)"
expect_eq "rate limit: no backend call" 2 "$(backend_calls)"
sleep 2.1
expect_eq "after the interval a 401 forces again" "key-2 key-3" "$(caller run run)"

# Manual runs from a shell never force.
run_helper; run_helper
expect_eq "manual runs: same key" "key-3" "$OUT"
expect_eq "manual runs: no backend call" 3 "$(backend_calls)"

# A rerun at the end of the caller's TTL is the regular refresh, not a 401.
sleep 2.1
CLAUDE_CODE_API_KEY_HELPER_TTL_MS=3000 CLAUDE_KEY_HELPER_MARGIN_MS=0 \
  expect_eq "end-of-TTL rerun: no force" "key-3 key-3" "$(CLAUDE_CODE_API_KEY_HELPER_TTL_MS=3000 caller run sleep=3.2 run)"
expect_eq "end-of-TTL rerun: no backend call" 3 "$(backend_calls)"

# Two Claude Code processes rejected with the same key at once: one refresh, both get it.
sleep 2.1
python3 "$T/caller.py" run sleep=1 run > "$T/a.out" &
pa=$!
python3 "$T/caller.py" run sleep=1 run > "$T/b.out" &
pb=$!
wait "$pa" "$pb"
expect_eq "concurrent 401s: one backend call" 4 "$(backend_calls)"
expect_eq "caller A ends with the new key" "key-4" "$(tail -1 "$T/a.out")"
expect_eq "caller B ends with the new key" "key-4" "$(tail -1 "$T/b.out")"

# Through the daemon: the same detection, the refresh done by the daemon.
start_daemon
sleep 2.1
expect_eq "401 through the daemon" "key-4 key-5" "$(caller run run)"
grep -q "suspected-401 refresh: refreshed" "$T/daemon.log" && pass "daemon logged the forced refresh" || fail "daemon log: $(cat "$T/daemon.log")"
ls "$STATE/callers/" | grep -q '^default\.[0-9]*\.[0-9]*$' && pass "per-caller memory files" || fail "no caller files"
finish
