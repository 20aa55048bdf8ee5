#!/usr/bin/env bash
# Organization helper, scenario 1, cold start, with the REAL Claude Code client
# (/work/shared/CLAUDE_CODE.md, "The organization credential helper (`helper-script`)"):
# the user is signed in to an organization whose document names our installed helper
# (through a root-owned `#!/bin/sh` wrapper that records CLAUDE_HELPER_CONTEXT, then execs
# it) as the `helper-script` credential command, args --profile default --caller-ttl <ttlSec>.
# The refresher (daemon, as the user) has published a fake token with `once`. Proves:
#   - the client fetched the organization's document with the sign-in's Bearer token;
#   - `claude -p` exits 0 and prints the gateway's reply;
#   - the FIRST gateway request carries exactly the published token as
#     `Authorization: Bearer` and no x-api-key, and so does every later one (tool turns);
#   - the helper ran once, with CLAUDE_HELPER_CONTEXT=background and the document's args;
#   - the backend ran once (for `once`): the helper served the cache; nothing got 401;
#   - no minted token appears in the client's output, its own files (~/.claude) or the
#     daemon log.
#   org_cold_start.sh [PIN]   PIN: '' = the client pinned in tests/e2e, `newest` = tests/e2e/newest
# Exit 77 ("skipped: …") only without root / namespaces (or node, npm registry).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib_org.sh
source "$here/lib_org.sh"
org_enter cold "${1:-}"

prefix="gw-e2e-cold-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
org_mock_set tool_turns 2
org_mock_set reply_text '"cold start reply from the organization gateway"'
org_backend "$prefix" --lifetime 900
org_sign_in_and_start --ttl 300 --command "$ORG_SHARE/context-wrapper"

org_claude 1 "say hi"
org_collect
org_run_summary 1
token="$prefix-1"

(( $(org_bootstrap_rows | awk -F'\t' '$4 == 200' | wc -l) >= 1 )) \
  || org_fail "the client never fetched the organization's document (bootstrap requests: $(org_bootstrap_rows | wc -l))"
org_ok "the client fetched the organization's document"

[[ $(cat "$ORG_RUNS/run-1.rc") == 0 ]] \
  || org_fail "claude -p exited $(cat "$ORG_RUNS/run-1.rc"): $(head -c 500 "$ORG_RUNS/run-1.err") $(head -c 300 "$ORG_RUNS/run-1.out")"
grep -qF "cold start reply from the organization gateway" "$ORG_RUNS/run-1.out" \
  || org_fail "claude -p did not print the gateway's reply: $(head -c 300 "$ORG_RUNS/run-1.out")"
org_ok "claude -p succeeded and printed the gateway's reply"

rows=$(org_gateway_rows)
[[ -n $rows ]] || org_fail "the gateway saw no /v1/messages request"
first=$(head -n1 <<<"$rows")
[[ $(cut -f6 <<<"$first") == "Bearer $token" ]] || org_fail "the first gateway request did not carry 'Bearer <published token>'"
[[ $(cut -f5 <<<"$first") == - ]] || org_fail "the first gateway request carried an x-api-key (authScheme is bearer)"
[[ $(cut -f4 <<<"$first") == 200 ]] || org_fail "the first gateway request was answered $(cut -f4 <<<"$first")"
n=$(wc -l <<<"$rows")
others=$(awk -F'\t' -v t="Bearer $token" '$6 != t || $5 != "-" || $4 != 200' <<<"$rows" | wc -l)
(( others == 0 )) || org_fail "$others of $n gateway requests carried another credential or were refused"
(( n >= 3 )) || org_fail "expected the tool turns to make at least 3 gateway requests, got $n"
org_ok "all $n gateway requests carried 'Authorization: Bearer <published token>' only, first at +$(awk -v a="$(cut -f1 <<<"$(head -n1 "$ORG_RUNS/requests.tsv")")" -v b="$(cut -f1 <<<"$first")" 'BEGIN {printf "%d", b - a}') ms after the client's first request"

runs=$(grep -c . "$ORG_E2E/helper-context.log" || true)
echo "[${CKH_ORG_CLIENT}] helper runs: $(tr '\n' ';' <"$ORG_E2E/helper-context.log")"
(( runs == 1 )) || org_fail "the helper ran $runs times (expected once per claude -p)"
grep -q " context=background args=--profile default" "$ORG_E2E/helper-context.log" \
  || org_fail "the helper did not run with CLAUDE_HELPER_CONTEXT=background and the document's args"
if [[ ${CKH_E2E_ORG_NO_CALLER_TTL:-} != 1 ]]; then
  grep -q " args=--profile default --caller-ttl $ORG_TTL\$" "$ORG_E2E/helper-context.log" \
    || org_fail "the helper's args were not --profile default --caller-ttl $ORG_TTL"
fi
org_ok "the helper ran once, CLAUDE_HELPER_CONTEXT=background, args as the document says"

(( $(e2e_backend_runs "$ORG_E2E") == 1 )) || org_fail "the backend ran $(e2e_backend_runs "$ORG_E2E") times (expected 1: once)"
org_assert_no_leak "claude -p output" "$ORG_RUNS/run-1.out" "$ORG_RUNS/run-1.err"
org_assert_no_leak "refresher daemon log" "$ORG_RUNS/daemon.log"
org_assert_no_leak_dir "the client's own files" "$ORG_HOME/.claude"
org_ok "one backend run; no token in the client's output, its files or the daemon log"
echo "PASS[${CKH_ORG_CLIENT}]: organization helper cold start"
