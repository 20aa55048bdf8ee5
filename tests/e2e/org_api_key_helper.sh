#!/usr/bin/env bash
# Organization helper, scenario 5, both contracts from one installed binary, with the REAL
# Claude Code client (/work/shared/CLAUDE_CODE.md: "How the helper is run" for
# `apiKeyHelper`, "The organization credential helper" for `helper-script`). One root-owned
# install, one refresher daemon and one profile serve:
#   run 1, the organization sign-in: the document names /opt/claude-key-helper/bin/
#          claude-key-helper --profile default --caller-ttl <ttlSec>; the gateway request
#          carries the published token as `Authorization: Bearer` only;
#   run 2, the classic contract: no sign-in (its credentials file moved aside), the same
#          binary registered as `apiKeyHelper` in ~/.claude/settings.json by the project's
#          own registration code (install/claude-code-settings.py, run as the user), the
#          gateway as ANTHROPIC_BASE_URL: the request carries the same token as x-api-key
#          and as Bearer, and the client did not fetch the organization's document;
#   run 3, both at once (the sign-in back, apiKeyHelper still registered): the organization's
#          contract wins (Bearer only). The client then runs BOTH helpers at start, about
#          0.5 s apart, from the same process (apiKeyHelper without CLAUDE_HELPER_CONTEXT,
#          then the helper-script with `background`): the second must be served from the
#          cache, not taken for a 401 re-run.
# All runs exit 0 and print the gateway's reply; the backend ran once (for `once`): the
# helper served the cache under both contracts; no token leaks into the client's output.
#   org_api_key_helper.sh [PIN]   PIN: '' = the client pinned in tests/e2e, `newest` = tests/e2e/newest
# Exit 77 ("skipped: …") only without root / namespaces (or node, npm registry).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib_org.sh
source "$here/lib_org.sh"
org_enter both "${1:-}"

prefix="gw-e2e-both-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
token="$prefix-1"
org_mock_set reply_text '"both contracts reply from the organization gateway"'
org_backend "$prefix" --lifetime 900
org_sign_in_and_start --ttl 300

# Run 1: the organization's helper-script.
org_claude 1 "say hi"
t1=$(org_now_ms)
# Run 2: the classic apiKeyHelper, registered by the project's own code, as the user.
mv "$ORG_HOME/.claude/.credentials.json" "$ORG_RUNS/credentials.json.aside"
(cd "$ORG_HOME" && org_as_user python3 "$E2E_SRC/install/claude-code-settings.py" register \
   --helper-command "$ORG_BIN/claude-key-helper --profile default" \
   --config-dir "$ORG_HOME/.claude" --manifest "$ORG_E2E/registration-manifest.json") \
  >"$ORG_RUNS/register.out" 2>&1 || org_fail "registration failed: $(head -c 400 "$ORG_RUNS/register.out")"
org_claude 2 "say hi" ANTHROPIC_BASE_URL="https://$ORG_GATEWAY_HOST"
t2=$(org_now_ms)
# Run 3: the sign-in back, apiKeyHelper still registered.
install -o "$ORG_UID" -g "$ORG_UID" -m 0600 "$ORG_RUNS/credentials.json.aside" "$ORG_HOME/.claude/.credentials.json"
org_claude 3 "say hi"
org_collect
for i in 1 2 3; do org_run_summary "$i"; done
echo "[${CKH_ORG_CLIENT}] backend runs: $(e2e_backend_runs "$ORG_E2E"); daemon log: $(grep -F 'refresh:' "$ORG_RUNS/daemon.log" | sed 's/^[^ ]* //' | tr '\n' ';')"

for i in 1 2 3; do
  [[ $(cat "$ORG_RUNS/run-$i.rc") == 0 ]] \
    || org_fail "run $i: claude -p exited $(cat "$ORG_RUNS/run-$i.rc"): $(head -c 500 "$ORG_RUNS/run-$i.err") $(head -c 300 "$ORG_RUNS/run-$i.out")"
  grep -qF "both contracts reply from the organization gateway" "$ORG_RUNS/run-$i.out" \
    || org_fail "run $i: claude -p did not print the gateway's reply"
done
org_ok "all three runs succeeded and printed the gateway's reply"

rows1=$(org_gateway_rows | awk -F'\t' -v t="$t1" '$1 < t')
rows2=$(org_gateway_rows | awk -F'\t' -v t="$t1" -v u="$t2" '$1 >= t && $1 < u')
rows3=$(org_gateway_rows | awk -F'\t' -v u="$t2" '$1 >= u')
[[ -n $rows1 && -n $rows2 ]] || org_fail "a run made no gateway request (run 1: $(grep -c . <<<"$rows1"), run 2: $(grep -c . <<<"$rows2"))"
(( $(awk -F'\t' -v b="Bearer $token" '$6 != b || $5 != "-" || $4 != 200' <<<"$rows1" | wc -l) == 0 )) \
  || org_fail "run 1 (helper-script): a request did not carry 'Authorization: Bearer <token>' only"
org_ok "run 1 (helper-script): every request carried 'Authorization: Bearer <token>' only"
(( $(awk -F'\t' -v b="Bearer $token" -v k="$token" '$6 != b || $5 != k || $4 != 200' <<<"$rows2" | wc -l) == 0 )) \
  || org_fail "run 2 (apiKeyHelper): a request did not carry the token as both x-api-key and Bearer"
(( $(org_bootstrap_rows | awk -F'\t' -v t="$t1" -v u="$t2" '$1 >= t && $1 < u' | wc -l) == 0 )) \
  || org_fail "run 2 (apiKeyHelper, no sign-in) fetched the organization's document"
org_ok "run 2 (apiKeyHelper): every request carried the token as x-api-key and Bearer; no document fetched"
[[ -n $rows3 ]] || org_fail "run 3 made no gateway request"
(( $(awk -F'\t' '$5 != "-" || $4 != 200' <<<"$rows3" | wc -l) == 0 )) \
  || org_fail "run 3 (both configured): a request carried an x-api-key or was refused (the organization's contract should win)"
(( $(awk -F'\t' -v b="Bearer $token" '$6 != b' <<<"$rows3" | wc -l) == 0 )) \
  || org_fail "run 3 (both configured): the requests carried a token other than the published one: the helper took the client's second helper run at start for a 401 and forced a refresh"
org_ok "run 3 (both configured): the organization's contract won; every request carried 'Authorization: Bearer <token>' only"

(( $(e2e_backend_runs "$ORG_E2E") == 1 )) || org_fail "the backend ran $(e2e_backend_runs "$ORG_E2E") times (expected 1: once)"
org_assert_no_leak "claude -p output" "$ORG_RUNS"/run-*.out "$ORG_RUNS"/run-*.err
org_assert_no_leak "refresher daemon log" "$ORG_RUNS/daemon.log"
org_ok "one backend run for all three runs; no token in the client's output or the daemon log"
echo "PASS[${CKH_ORG_CLIENT}]: one installed helper serves helper-script and apiKeyHelper"
