#!/usr/bin/env bash
# Scenario f, concurrency, with the REAL Claude Code client: 4 `claude -p` processes start
# at once against one profile that has no credential yet. The command backend rotates keys
# and is slow (0.3 s per run, so that overlapping runs would show); the mock rejects the
# first key with 401. So the four helpers race twice: for the first key (cold start), and
# again after the four 401s (four early reruns, each suspecting a 401). Proves:
#   - all four `claude -p` succeed and print the mock's reply;
#   - the backend never runs twice at once, and runs exactly twice in all: once for the
#     first key and once for the forced refresh after the 401s (the other helpers find the
#     newer generation and take it);
#   - per claude process (x-claude-code-session-id): at most one 401, and no request after
#     it carries the rejected key; at most two helper runs.
# Prints per mode: helper runs and requests per `claude -p`, 401-to-success times.
# Modes (CKH_E2E_CONCURRENT_MODES, default "oneshot daemon"): "oneshot" = no daemon, the
# four helpers each run `claude-key-refresher once`; "daemon" = they ask the daemon.
# Exit 77 ("skipped: …") without npm registry / network namespace / node.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
MODES=${CKH_E2E_CONCURRENT_MODES:-oneshot daemon}
CLAUDES=4
REPLY="concurrent reply from the mock"

e2e_begin concurrent
fail() { echo "FAIL[$mode]: $*"; exit 1; }

for mode in $MODES; do
  tmp="$E2E_ROOT/$mode"
  e2e_profile "$tmp"
  prefix="sk-ant-c$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  rejected="$prefix-1"
  e2e_backend "$tmp" "$prefix" --hold 0.3
  printf '{"reject_keys": ["%s"], "tool_turns": 2, "reply_text": "%s"}\n' "$rejected" "$REPLY" \
    >"$tmp/mock-config.json"
  [[ $mode == daemon ]] && e2e_start_daemon "$tmp"

  e2e_claude "$tmp" --runs "$CLAUDES" --parallel --prompt "say hi"
  e2e_collect "$tmp"

  runs=$(e2e_backend_runs "$tmp")
  overlap=$(e2e_backend_overlap "$tmp")
  echo "[$mode] $CLAUDES claude -p at once; backend runs: $runs (at most $overlap at a time);" \
    "helper runs: $(wc -l <"$tmp/helper-runs.log"); requests: $(e2e_api_requests "$tmp")"
  for ((i = 1; i <= CLAUDES; i++)); do
    run_rc=$(cat "$tmp/run-$i.rc")
    [[ $run_rc == 0 ]] || fail "claude -p #$i exited $run_rc: $(head -c 500 "$tmp/run-$i.err") $(head -c 300 "$tmp/run-$i.out")"
    [[ $(cat "$tmp/run-$i.out") == *"$REPLY"* ]] || fail "claude -p #$i did not print the mock's reply"
  done
  echo "ok[$mode]: all $CLAUDES claude -p succeeded ($(cat "$tmp"/run-*.ms | sort -n | tr '\n' ' ')ms)"

  (( overlap <= 1 )) || fail "backend runs overlapped ($overlap at once)"
  (( runs == 2 )) || fail "the backend ran $runs times (expected 2: the first key, one forced refresh)"
  echo "ok[$mode]: no backend overlap; exactly 2 backend runs for $CLAUDES processes"

  per_claude=$(awk '{sub("claude=", "", $4); n[$4]++} END {for (c in n) print n[c]}' "$tmp/helper-runs.log" | sort -n | tr '\n' ' ')
  (( $(awk '{print $4}' "$tmp/helper-runs.log" | sort -u | wc -l) == CLAUDES )) \
    || fail "helper runs came from $(awk '{print $4}' "$tmp/helper-runs.log" | sort -u | wc -l) processes, not $CLAUDES"
  max_per=$(tr ' ' '\n' <<<"$per_claude" | sort -n | tail -n1)
  (( max_per <= 2 )) || fail "a claude process ran the helper $max_per times (at most 2 allowed)"

  sessions=$(awk -F'\t' '$3 ~ /^\/v1\// {print $9}' "$tmp/requests.tsv" | sort -u)
  (( $(wc -l <<<"$sessions") == CLAUDES )) || fail "the mock saw $(wc -l <<<"$sessions") sessions, not $CLAUDES"
  gaps=()
  while read -r session; do
    awk -F'\t' -v s="$session" '$3 ~ /^\/v1\// && $9 == s' "$tmp/requests.tsv" >"$tmp/session.tsv"
    n401=$(awk -F'\t' '$4 == 401' "$tmp/session.tsv" | wc -l)
    (( n401 <= 1 )) || fail "session $session got $n401 401s"
    blank=$(awk -F'\t' -v p="$prefix-" 'index($5, p) != 1' "$tmp/session.tsv" | wc -l)
    (( blank == 0 )) || fail "session $session sent $blank request(s) without one of the backend's keys"
    if (( n401 == 1 )); then
      t401=$(awk -F'\t' '$4 == 401 {print $1}' "$tmp/session.tsv")
      stale=$(awk -F'\t' -v t="$t401" -v k="$rejected" '$1 > t && $5 == k' "$tmp/session.tsv" | wc -l)
      (( stale == 0 )) || fail "session $session sent the rejected key again after its 401"
      t_ok=$(awk -F'\t' -v t="$t401" '$1 > t && $4 == 200 {print $1; exit}' "$tmp/session.tsv")
      [[ -n $t_ok ]] || fail "session $session never succeeded after its 401"
      gaps+=("$(awk -v a="$t401" -v b="$t_ok" 'BEGIN {printf "%d", b - a}')")
    fi
    echo "[$mode] session ${session:0:8}: $(wc -l <"$tmp/session.tsv") requests, $n401 401"
  done <<<"$sessions"
  echo "ok[$mode]: per claude process: helper runs $per_claude; at most one 401 each, never the rejected key after it"
  echo "[$mode] 401 -> successful retry: ${gaps[*]:-none} ms"
done
echo "PASS: $CLAUDES concurrent claude -p ($MODES)"
