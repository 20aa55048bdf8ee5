#!/usr/bin/env bash
# Organization helper, scenario 4, short-lived credentials under a short ttlSec, with the
# REAL Claude Code client (/work/shared/CLAUDE_CODE.md, "The organization credential helper":
# the token is cached for ttlSec and the helper re-runs, context `background` under
# `claude -p`, before the next request once ttlSec has passed). The document says
# ttlSec = TTL (20 s) and passes --caller-ttl TTL; the command backend mints tokens that live
# LIFETIME (45 s: somewhat above ttlSec) and the gateway refuses each one once its own
# lifetime is over (key_expiry, set by the backend when it mints it). One `claude -p` holds a
# conversation of several tool turns (the gateway answers each after turn_delay_ms) that
# lasts longer than one lifetime. The refresher daemon is lazy (refresh_before_expiry 5 s):
# only the helper's own check that what it hands out outlives --caller-ttl keeps every
# cached token alive for ttlSec (a helper ignoring it hands out tokens with seconds left,
# which the client keeps sending for up to ttlSec). The document's command is the root-owned wrapper that
# records each run's CLAUDE_HELPER_CONTEXT, then execs our helper. Proves:
#   - `claude -p` exits 0 and prints the gateway's reply;
#   - the conversation outlives one token; the tokens rotate during it;
#   - every gateway request carried a token that was valid when it arrived (none expired,
#     none answered 401) — the least remaining validity is printed;
#   - the client re-ran the helper during the conversation, always in context `background`;
#   - the daemon log shows the refreshes and their reasons (printed);
#   - no token leaks into the client's output, its files or the daemon log.
#   org_short_ttl.sh [PIN]   PIN: '' = the client pinned in tests/e2e, `newest` = tests/e2e/newest
# Exit 77 ("skipped: …") only without root / namespaces (or node, npm registry).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib_org.sh
source "$here/lib_org.sh"
org_enter short "${1:-}"
TTL=20
LIFETIME=45
TOOL_TURNS=${CKH_E2E_ORG_TURNS:-6}
TURN_DELAY_MS=${CKH_E2E_ORG_DELAY_MS:-9000}

prefix="gw-e2e-short-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
org_mock_set tool_turns "$TOOL_TURNS"
org_mock_set turn_delay_ms "$TURN_DELAY_MS"
org_mock_set reply_text '"short ttl reply from the organization gateway"'
# A lazy daemon: it refreshes by itself only when less than 5 s remain, so that only the
# helper's own check (--caller-ttl) keeps what the client caches alive for ttlSec.
org_backend "$prefix" --lifetime "$LIFETIME" --profile-line 'refresh_interval = "10m"' \
  --profile-line 'refresh_before_expiry = "5s"'
org_sign_in_and_start --ttl "$TTL" --command "$ORG_SHARE/context-wrapper"

org_claude 1 "read the readme"
org_collect
org_run_summary 1

rows=$(org_gateway_rows)
n=$(grep -c . <<<"$rows" || true)
span_s=$(awk -F'\t' 'NR == 1 {f = $1} {l = $1} END {printf "%.1f", (l - f) / 1000}' <<<"$rows")
keys=$(awk -F'\t' '{print $6}' <<<"$rows" | sort -u | grep -c . || true)
echo "[${CKH_ORG_CLIENT}] $n gateway requests over $span_s s; distinct tokens: $keys; backend runs: $(e2e_backend_runs "$ORG_E2E")"
echo "[${CKH_ORG_CLIENT}] helper runs (ms, context): $(awk '{printf "%s %s; ", $1, $2}' "$ORG_E2E/helper-context.log")"
echo "[${CKH_ORG_CLIENT}] daemon log: $(grep -F 'refresh:' "$ORG_RUNS/daemon.log" | sed 's/^[^ ]* [^ ]* //; s/: refreshed.*//' | tr '\n' ';')"
# Each request's token and how long it still had to live when it arrived.
printf '%s\n' "$rows" >"$ORG_RUNS/gateway.tsv"
python3 - "$ORG_E2E/mock-config.json" "$ORG_RUNS/gateway.tsv" <<'PY' >"$ORG_RUNS/validity.tsv"
import json, sys
expiry = json.load(open(sys.argv[1])).get("key_expiry", {})
for line in open(sys.argv[2]):
    f = line.rstrip("\n").split("\t")
    token = f[5][len("Bearer "):] if f[5].startswith("Bearer ") else ""
    left = expiry[token] - float(f[0]) / 1000 if token in expiry else float("nan")
    print(f"{float(f[0]) / 1000:.1f}\t{f[3]}\t{token.rsplit('-', 1)[-1] if token else '-'}\t{left:.1f}")
PY
echo "[${CKH_ORG_CLIENT}] per request (status, token #, seconds left): $(awk -F'\t' '{printf "%s #%s %ss; ", $2, $3, $4}' "$ORG_RUNS/validity.tsv")"

[[ $(cat "$ORG_RUNS/run-1.rc") == 0 ]] \
  || org_fail "claude -p exited $(cat "$ORG_RUNS/run-1.rc"): $(head -c 500 "$ORG_RUNS/run-1.err") $(head -c 300 "$ORG_RUNS/run-1.out")"
grep -qF "short ttl reply from the organization gateway" "$ORG_RUNS/run-1.out" || org_fail "claude -p did not print the gateway's reply"
org_ok "claude -p succeeded and printed the gateway's reply"

(( n >= TOOL_TURNS + 1 )) || org_fail "expected at least $((TOOL_TURNS + 1)) gateway requests, got $n"
awk -v s="$span_s" -v l="$LIFETIME" 'BEGIN {exit !(s > l)}' \
  || org_fail "the conversation lasted $span_s s, not longer than one ${LIFETIME} s lifetime"
(( keys >= 2 )) || org_fail "one token served the whole $span_s s conversation: no rotation happened"
org_ok "the conversation ($span_s s) outlived a ${LIFETIME} s token; $keys tokens were used"

(( $(awk -F'\t' '$10 == "expired" || $4 != 200' <<<"$rows" | wc -l) == 0 )) \
  || org_fail "$(awk -F'\t' '$10 == "expired"' <<<"$rows" | wc -l) request(s) carried an expired token; $(awk -F'\t' '$4 != 200' <<<"$rows" | wc -l) were refused"
(( $(awk -F'\t' -v p="Bearer $prefix-" 'index($6, p) != 1 || $5 != "-"' <<<"$rows" | wc -l) == 0 )) \
  || org_fail "a gateway request carried no token, a foreign one, or an x-api-key"
(( $(awk -F'\t' '!($4 > 0)' "$ORG_RUNS/validity.tsv" | wc -l) == 0 )) || org_fail "a request carried a token past its expiry"
org_ok "every gateway request carried a token valid when it arrived (least left: $(sort -t$'\t' -k4,4g "$ORG_RUNS/validity.tsv" | head -n1 | cut -f4) s)"

runs=$(grep -c . "$ORG_E2E/helper-context.log" || true)
(( runs >= 2 )) || org_fail "the helper ran $runs time(s) during a $span_s s conversation with ttlSec $TTL"
(( $(grep -vc ' context=background ' "$ORG_E2E/helper-context.log" || true) == 0 )) \
  || org_fail "a helper run was not in context background: $(grep -v ' context=background ' "$ORG_E2E/helper-context.log" | head -n 2)"
org_ok "the client re-ran the helper ($runs runs), every run in context background"

org_assert_no_leak "claude -p output" "$ORG_RUNS/run-1.out" "$ORG_RUNS/run-1.err"
org_assert_no_leak "refresher daemon log" "$ORG_RUNS/daemon.log"
org_assert_no_leak_dir "the client's own files" "$ORG_HOME/.claude"
org_ok "no token in the client's output, its files or the daemon log"
echo "PASS[${CKH_ORG_CLIENT}]: organization helper, short-lived credentials under ttlSec $TTL"
