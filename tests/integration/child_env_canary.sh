#!/usr/bin/env bash
# The environment of every kind of child the refresher starts holds no secret of its own
# environment (refresher/child_env.h), read from /proc/<child>/environ by the child itself:
#   - the command backend's command (`once`);
#   - an AWS profile's credential_process (`once` of an aws-secretsmanager profile): it keeps
#     the AWS variables (it is the AWS credential source) but nothing else secret;
#   - the browser opener (xdg-open, found in PATH, during `login` with a display).
# The macOS Keychain tool (security) cannot run here: its environment is checked by the unit
# test "child_env: the Keychain tool (security) gets no credential variable".
# Canaries sharing one random R are planted in ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN,
# VAULT_TOKEN, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ACCESS_KEY_ID,
# CLAUDE_CODE_OAUTH_TOKEN, CLAUDE_CODE_MESSAGING_TOKEN and CKH_TEAM_KEY (another profile's
# static key); every captured environment and every output is searched for R.
# Also (item 8): a running refresher has no core file limit left (/proc/<pid>/limits).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v od >/dev/null || { echo "skipped: od not installed"; exit 77; }
for v in $(compgen -e | grep -E '^AWS_' || true); do unset "$v"; done
export no_proxy='*' NO_PROXY='*'

R=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
R_SOURCE=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')  # passes to the AWS source by design
# Never on a command line (ps would show it): builtins only.
export ANTHROPIC_API_KEY="sk-ant-api03-CANARY-$R-api"
export ANTHROPIC_AUTH_TOKEN="CANARY-$R-auth"
export VAULT_TOKEN="hvs.CANARY-$R-vault"
export AWS_ACCESS_KEY_ID="AKIACANARY$R"
export AWS_SECRET_ACCESS_KEY="CANARY-$R-aws-secret"
export AWS_SESSION_TOKEN="CANARY-$R-aws-session"
export CLAUDE_CODE_OAUTH_TOKEN="sk-ant-oat01-CANARY-$R-oauth"
export CLAUDE_CODE_MESSAGING_TOKEN="CANARY-$R-messaging"
export CKH_TEAM_KEY="sk-ant-api03-CANARY-$R-team"
export CKH_CHILD_VISIBLE=yes  # positive control: the capture really happened

ENVS="$T/envs"    # one file per child: its /proc/<pid>/environ, NUL-separated
OUTS="$T/outputs" # the refresher's own stdout/stderr
mkdir -p "$ENVS" "$OUTS" "$T/bin" "$T/aws"

# make_child NAME BODY: $T/bin/NAME copies its own environment to $ENVS/NAME.<pid>, then runs BODY.
make_child() {
  printf '#!/bin/sh\ncp /proc/$$/environ "%s/%s.$$"\n%s\n' "$ENVS" "$1" "$2" >"$T/bin/$1"
  chmod 700 "$T/bin/$1"
}
make_child command 'echo "key-from-command-$$"'
make_child credproc "printf '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"s3cr3t-proc\"}\\n'"
make_child xdg-open 'exit 0'
printf '[profile ckh]\nregion = us-east-1\ncredential_process = %s\n' "$T/bin/credproc" >"$T/aws/config"
chmod 600 "$T/aws/config"

cat >"$CLAUDE_KEY_HELPER_CONFIG" <<EOF
[profile.cmd]
backend = "command"
[profile.cmd.command]
argv = ["$T/bin/command"]

[profile.team]
backend = "static"
[profile.team.static]
env = "CKH_TEAM_KEY"

[profile.aws]
backend = "aws-secretsmanager"
[profile.aws.aws-secretsmanager]
secret_id = "claude/key"
aws_profile = "ckh"
region = "us-east-1"
endpoint = "http://127.0.0.1:9"
timeout = "2s"

[profile.max]
backend = "anthropic-oauth"
[profile.max.anthropic-oauth]
token_url = "http://127.0.0.1:9/v1/oauth/token"
authorize_url = "http://127.0.0.1:9/oauth/authorize"
EOF

# --- the command backend -------------------------------------------------------------------
rc=0
"$CKH_REFRESHER" once --force --profile cmd >"$OUTS/once-cmd.out" 2>"$OUTS/once-cmd.err" </dev/null || rc=$?
expect_eq "once with the command backend succeeds" 0 "$rc"

# --- credential_process ----------------------------------------------------------------------
# With AWS keys in the environment the chain would not reach the profile: they go, the session
# token stays (it alone is no credential) and must reach the AWS source, which keeps AWS_*.
rc=0
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN="aws-source-$R_SOURCE" \
  AWS_CONFIG_FILE="$T/aws/config" AWS_SHARED_CREDENTIALS_FILE="$T/aws/none" AWS_EC2_METADATA_DISABLED=true \
  "$CKH_REFRESHER" once --force --profile aws >"$OUTS/once-aws.out" 2>"$OUTS/once-aws.err" </dev/null || rc=$?
# The endpoint is a closed port: the fetch fails after the credentials were resolved.
[ "$rc" != 0 ] && pass "once with the AWS profile ran (and failed at the closed endpoint: exit $rc)" \
  || fail "once with the AWS profile succeeded against a closed port"

# --- the browser opener during login ---------------------------------------------------------
DISPLAY=:99 PATH="$T/bin:$PATH" "$CKH_REFRESHER" login --profile max --timeout 30s \
  </dev/null >"$OUTS/login.out" 2>"$OUTS/login.err" &
login_pid=$!
BG_PIDS+=("$login_pid")
for _ in $(seq 100); do compgen -G "$ENVS/xdg-open.*" >/dev/null && break; sleep 0.1; done
# Item 8: the refresher runs without a core file limit to raise (soft and hard 0).
if [ -r "/proc/$login_pid/limits" ]; then
  core=$(awk '/^Max core file size/ {print $5, $6}' "/proc/$login_pid/limits")
  expect_eq "the running refresher may write no core file (soft hard)" "0 0" "$core"
else
  fail "cannot read /proc/$login_pid/limits of the running login"
fi
kill "$login_pid" 2>/dev/null || true
wait "$login_pid" 2>/dev/null || true

# --- what each child saw -----------------------------------------------------------------------
for kind in command credproc xdg-open; do
  shopt -s nullglob
  files=("$ENVS/$kind".*)
  shopt -u nullglob
  if [ "${#files[@]}" -eq 0 ]; then
    fail "the $kind child never ran: its environment was not captured"
    continue
  fi
  for f in "${files[@]}"; do
    tr '\0' '\n' <"$f" >"$f.txt"
    grep -qx 'CKH_CHILD_VISIBLE=yes' "$f.txt" || fail "$kind: the capture misses CKH_CHILD_VISIBLE (not the child's environment?)"
    if grep -qF "$R" "$f.txt"; then
      fail "$kind child inherited a canary, in: $(grep -F "$R" "$f.txt" | cut -d= -f1 | paste -sd' ')"
    else
      pass "$kind child's environment holds no canary ($(wc -l <"$f.txt") variables)"
    fi
  done
done
if compgen -G "$ENVS/credproc.*.txt" >/dev/null; then
  grep -qx "AWS_SESSION_TOKEN=aws-source-$R_SOURCE" "$ENVS"/credproc.*.txt \
    && pass "the AWS credential source keeps the AWS variables" \
    || fail "credential_process lost AWS_SESSION_TOKEN (it is the AWS source: it keeps them)"
fi

# --- nor did the refresher print one ------------------------------------------------------------
if grep -rlF "$R" "$OUTS" >"$T/hits" 2>/dev/null; then
  fail "a canary is in the refresher's output: $(sed "s|^$OUTS/||" "$T/hits" | paste -sd' ')"
else
  pass "no canary in the refresher's outputs"
fi
finish
