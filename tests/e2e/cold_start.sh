#!/usr/bin/env bash
# Scenario a, cold start, with the REAL Claude Code client (pinned in package-lock.json):
# a command-backend profile publishes a fake key with `claude-key-refresher once`; Claude
# Code, registered by install/claude-code-settings.py, runs claude-key-helper, and
#   - `claude -p "say hi"` prints the mock API's reply and exits 0;
#   - the first /v1/messages request carries exactly that key in x-api-key and as
#     Authorization: Bearer, and so does every later request (a conversation of several
#     requests: the mock answers the first tool_turns turns with a read-only tool_use);
#   - the helper runs exactly once per `claude -p` (the cache hit path; no backend call is
#     made by the helper: the backend ran once, for `once`);
#   - no request carries any other key, and nothing is answered 401.
# Prints the figures: helper runs and requests per `claude -p`, wall time per run.
# Exit 77 ("skipped: …") without npm registry / network namespace / node.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
RUNS=${CKH_E2E_RUNS:-2}
TOOL_TURNS=${CKH_E2E_TOOL_TURNS:-2}

e2e_begin cold
tmp=$E2E_ROOT
e2e_profile "$tmp"
fail() { echo "FAIL: $*"; exit 1; }

# A rotating backend (fake keys, never a real secret); `once` publishes its first key.
prefix="sk-ant-e2e-cold-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
e2e_backend "$tmp" "$prefix"
key="$prefix-1"
"$CKH_REFRESHER" once --profile default --quiet || fail "claude-key-refresher once exited $?"
[[ $(e2e_backend_runs "$tmp") -eq 1 ]] || fail "once: expected 1 backend call"

printf '{"tool_turns": %d, "reply_text": "cold start reply from the mock"}\n' "$TOOL_TURNS" >"$tmp/mock-config.json"
e2e_claude "$tmp" --runs "$RUNS" --prompt "say hi"

# --- assertions -------------------------------------------------------------------------
e2e_requests "$tmp"

helper_runs_total=$(wc -l <"$tmp/helper-runs.log")
msg_requests=$(awk -F'\t' '$3 == "/v1/messages"' "$tmp/requests.tsv" | wc -l)
echo "claude -p runs: $RUNS; helper runs: $helper_runs_total; requests: $(wc -l <"$tmp/requests.tsv") ($msg_requests to /v1/messages)"

for ((i = 1; i <= RUNS; i++)); do
  run_rc=$(cat "$tmp/run-$i.rc")
  out=$(cat "$tmp/run-$i.out")
  [[ $run_rc == 0 ]] || fail "run $i: claude -p exited $run_rc: $(head -c 500 "$tmp/run-$i.err") $(head -c 300 "$tmp/run-$i.out")"
  [[ $out == *"cold start reply from the mock"* ]] || fail "run $i: claude -p printed [$out], not the mock's reply"
done
echo "ok: every claude -p exited 0 and printed the mock's reply"

# Per run: the runs are sequential, so split the helper log and the requests by the runs'
# helper start times (each run starts with its helper run).
mapfile -t starts < <(awk '{print $1}' "$tmp/helper-runs.log")
(( ${#starts[@]} == RUNS )) || fail "helper runs: expected exactly 1 per claude -p ($RUNS), got ${#starts[@]}"
for ((i = 0; i < RUNS; i++)); do
  lo=${starts[i]} hi=${starts[i + 1]:-99999999999999}
  n=$(awk -F'\t' -v lo="$lo" -v hi="$hi" '$1 >= lo && $1 < hi' "$tmp/requests.tsv" | wc -l)
  first_delay=$(awk -F'\t' -v lo="$lo" -v hi="$hi" '$1 >= lo && $1 < hi && $3 == "/v1/messages" {print $1 - lo; exit}' "$tmp/requests.tsv")
  echo "run $((i + 1)): 1 helper run, $n requests, first request ${first_delay:-?} ms after the helper started, wall time $(cat "$tmp/run-$((i + 1)).ms") ms"
  (( n >= 1 + TOOL_TURNS )) || fail "run $((i + 1)): expected at least $((1 + TOOL_TURNS)) requests (tool_turns $TOOL_TURNS), got $n"
done
echo "ok: exactly one helper run per claude -p"

first=$(awk -F'\t' '$3 == "/v1/messages" {print; exit}' "$tmp/requests.tsv")
[[ -n $first ]] || fail "the mock saw no /v1/messages request"
[[ $(cut -f5 <<<"$first") == "$key" ]] || fail "first /v1/messages request: x-api-key is not the published key"
[[ $(cut -f6 <<<"$first") == "Bearer $key" ]] || fail "first /v1/messages request: Authorization is not 'Bearer <published key>'"
echo "ok: the first /v1/messages request carried the published key (x-api-key and Authorization: Bearer)"

bad=$(awk -F'\t' -v k="$key" '$3 ~ /^\/v1\// && ($5 != k || $6 != "Bearer " k)' "$tmp/requests.tsv" | wc -l)
(( bad == 0 )) || fail "$bad /v1 request(s) carried another key or none"
(( $(awk -F'\t' '$4 == 401' "$tmp/requests.tsv" | wc -l) == 0 )) || fail "some request was answered 401"
echo "ok: every /v1 request carried the published key; no 401"

tool_ok=$(awk -F'\t' '$8 == "ok"' "$tmp/requests.tsv" | wc -l)
(( tool_ok >= TOOL_TURNS )) || echo "note: only $tool_ok tool_result(s) reported ok (the tool turns still made requests)"

(( $(e2e_backend_runs "$tmp") == 1 )) || fail "the backend ran $(e2e_backend_runs "$tmp") times; expected once (the helper must serve the cache)"
echo "ok: the backend ran once (for once); the helper served the cache"
others=$(awk -F'\t' '$3 != "/v1/messages"' "$tmp/requests.tsv" | cut -f2,3,4 | sort | uniq -c | tr '\n' ';')
[[ -z $others ]] || echo "note: other endpoints hit: $others"
echo "PASS: cold start"
