#!/bin/bash
# The organization credential helper contract (../shared/CLAUDE_CODE.md, "The organization
# credential helper"), with a caller that runs the helper as Claude Code 2.1.330/2.1.332 do:
# no shell, cwd /, stdin closed, stdout and stderr sockets, no ANTHROPIC_API_KEY/LD_*/GIT_*,
# CLAUDE_CODE_ENTRYPOINT=sdk-cli and CLAUDE_HELPER_CONTEXT set. (tests/e2e/org_*.sh run the
# real client; this one checks each rule alone, without it.)
# - background/interactive serve the cache: an early rerun is no 401 guess here;
# - mid-session-refresh forces one refresh and prints the new generation; rate-limited like
#   any refusal; with the backend down it gives the refused one back (nothing newer exists)
#   with a warning on stderr, and status shows the rejection;
# - --caller-ttl: a credential that cannot outlive the caller's TTL is served with a warning
#   that status also shows (the apiKeyHelper contract, whose TTL is only assumed, stays
#   silent on success);
# - --format json: exactly {"token":...,"headers":{...}} with the profile's headers.
# No check depends on a wall-clock window: the rate limit is an hour, moved back in P.status.
source "$(dirname "$0")/lib.sh"
make_command_backend
write_config() {  # write_config [headers line]
  cat > "$CLAUDE_KEY_HELPER_CONFIG" <<TOML
[profile.default]
backend = "command"
force_min_interval = "1h"
${1:-}
[profile.default.command]
argv = ["$T/backend/fetch.sh"]
timeout = "60s"
ttl = "1h"
TOML
}
write_config

# org_run CONTEXT [ARGS...]: one run as the client makes it; prints stdout, then a line
# "rc=N", then "stderr=<text>" (the caller's view of the run).
cat > "$T/org_run.py" <<'PY'
import os, socket, subprocess, sys
context, args = sys.argv[1], sys.argv[2:]
# The client removes every variable that can load code and every credential variable.
env = {k: v for k, v in os.environ.items()
       if not (k.startswith("LD_") or k.startswith("GIT_") or k.startswith("PYTHON") or
               k in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"))}
env["CLAUDE_CODE_ENTRYPOINT"] = "sdk-cli"
if context:
    env["CLAUDE_HELPER_CONTEXT"] = context
out_parent, out_child = socket.socketpair()
err_parent, err_child = socket.socketpair()
proc = subprocess.Popen([os.environ["CKH_HELPER"]] + args, cwd="/", env=env,
                        stdin=subprocess.DEVNULL, stdout=out_child.fileno(), stderr=err_child.fileno(),
                        preexec_fn=lambda: os.close(0))
out_child.close(); err_child.close()
rc = proc.wait(timeout=60)
def drain(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data.decode()
        data += chunk
sys.stdout.write(drain(out_parent))
print("rc=%d" % rc)
print("stderr=" + drain(err_parent).replace("\n", " | "))
PY
org_run() {
  python3 "$T/org_run.py" "$@" > "$T/org.out"
  OUT=$(head -n -2 "$T/org.out"); RC=$(tail -n 2 "$T/org.out" | head -1); ERR=$(tail -n 1 "$T/org.out")
  echo "$ERR" >> "$T/all-stderr"
}
forced_long_ago() {
  (umask 077 && sed "s/^last_forced_at: .*/last_forced_at: $(( $(date +%s) - 7200 ))/" "$STATE/default.status" > "$T/status.new")
  mv -f "$T/status.new" "$STATE/default.status"
}

org_run background --profile default --caller-ttl 600
expect_eq "background: the first run gets a credential" "key-1" "$OUT"
expect_eq "background: exit 0" "rc=0" "$RC"
org_run background --profile default --caller-ttl 600
org_run interactive --profile default --caller-ttl 600
expect_eq "background/interactive reruns at once: no 401 guess, the cache" "key-1" "$OUT"
expect_eq "one backend call for three runs" 1 "$(backend_calls)"

org_run mid-session-refresh --profile default --caller-ttl 600
expect_eq "mid-session-refresh: the refused key is replaced at once" "key-2" "$OUT"
expect_eq "mid-session-refresh: exactly one more backend call" 2 "$(backend_calls)"
expect_eq "mid-session-refresh: no warning" "stderr=" "$ERR"
grep -q '^last_rejected_at: [0-9]' "$STATE/default.status" && pass "P.status records the rejection" || fail "no last_rejected_at: $(cat "$STATE/default.status")"
"$CKH_REFRESHER" status --profile default > "$T/status.txt" 2>&1 || true
grep -q "last rejected:" "$T/status.txt" && pass "status shows the rejection" || fail "status: $(cat "$T/status.txt")"

# key-2 refused too, within force_min_interval: nothing newer may be had yet.
org_run mid-session-refresh --profile default --caller-ttl 600
expect_eq "refused again within the rate limit: the same key (nothing newer may be had)" "key-2" "$OUT"
expect_eq "rate limit: no backend call" 2 "$(backend_calls)"
case "$ERR" in *"refused is the newest there is"*) pass "the refused-again run says why on stderr" ;; *) fail "stderr: $ERR" ;; esac

# The backend is down when the credential is refused: the refused one back, exit 0 (the
# client then says the gateway refused it), a warning, status says the refresh failed.
forced_long_ago
backend_mode fail
org_run mid-session-refresh --profile default --caller-ttl 600
expect_eq "backend down: the refused key, as nothing newer exists" "key-2" "$OUT"
expect_eq "backend down: exit 0" "rc=0" "$RC"
case "$ERR" in *"upstream said no"*) pass "the warning names the backend's failure" ;; *) fail "stderr: $ERR" ;; esac
"$CKH_REFRESHER" status --profile default > "$T/status.txt" 2>&1 || true
grep -q "upstream said no" "$T/status.txt" && pass "status says the forced refresh failed" || fail "status: $(cat "$T/status.txt")"
backend_mode ok
# A person retries at once (the failure's backoff is no wall-clock window to wait out).
"$CKH_REFRESHER" once --force --profile default >/dev/null 2>&1 || fail "once --force failed"

# --caller-ttl longer than the backend's credentials live (1 h): served, with a warning.
org_run background --profile default --caller-ttl 43200
expect_eq "a 12 h caller TTL: the freshest credential all the same" "key-3" "$OUT"
case "$ERR" in *"before the caller's TTL ends"*) pass "the shortfall is said on stderr" ;; *) fail "stderr: $ERR" ;; esac
"$CKH_REFRESHER" status --profile default > "$T/status.txt" 2>&1 || true
grep -q "warning: .*a caller needs credentials that stay valid about 12h" "$T/status.txt" && pass "status shows the shortfall" || fail "status: $(cat "$T/status.txt")"
org_run background --profile default --caller-ttl 1800
expect_eq "a TTL the credential outlives: no warning" "stderr=" "$ERR"
# The apiKeyHelper contract (no CLAUDE_HELPER_CONTEXT, no --caller-ttl): the TTL is only
# assumed, so a success says nothing on stderr (DESIGN.md), even where it falls short.
CLAUDE_CODE_API_KEY_HELPER_TTL_MS=7200000 org_run "" --profile default
expect_eq "apiKeyHelper, an assumed 2 h TTL over 1 h credentials: served" "rc=0" "$RC"
expect_eq "apiKeyHelper: a success is silent on stderr" "stderr=" "$ERR"

# Usage errors: said, exit 64.
org_run background --caller-ttl 0
expect_eq "--caller-ttl 0 is a usage error" "rc=64" "$RC"
org_run background --caller-ttl 43201
expect_eq "--caller-ttl over 12 h is a usage error" "rc=64" "$RC"
org_run background --format xml
expect_eq "--format xml is a usage error" "rc=64" "$RC"

# --format json with the profile's headers; a changed header republishes at once.
write_config 'headers = { "X-Org" = "acme corp", "X-Quote" = "say \"hi\"" }'
# The next refresh republishes at once (the daemon's on reload, here cron's `once`).
"$CKH_REFRESHER" once --profile default >/dev/null 2>&1 || fail "once after the headers edit failed"
org_run background --profile default --format json
expect_eq "--format json: exact bytes" '{"token":"key-4","headers":{"X-Org":"acme corp","X-Quote":"say \"hi\""}}' "$OUT"
printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert set(d)=={"token","headers"}' &&
  pass "the JSON parses" || fail "invalid JSON: $OUT"
org_run background --profile default
expect_eq "the default format stays the bare token" "key-4" "$OUT"
write_config
"$CKH_REFRESHER" once --profile default >/dev/null 2>&1 || fail "once after removing the headers failed"
org_run background --profile default --format json
expect_eq "headers removed from the config: gone from the output" '{"token":"key-5","headers":{}}' "$OUT"

# Nothing of a credential on stderr, whatever happened above.
if grep -q "key-[0-9]" "$T/all-stderr"; then fail "a credential on stderr: $(grep "key-" "$T/all-stderr")"; else pass "no credential on stderr in $(wc -l < "$T/all-stderr") runs"; fi
finish
