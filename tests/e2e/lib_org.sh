#!/usr/bin/env bash
# Shared by the organization-helper scenarios (org_*.sh; sourced, not a test by itself).
# Follows /work/shared/CLAUDE_CODE.md, "The organization credential helper (`helper-script`)":
# the REAL Claude Code client, signed in to an organization (~/.claude/.credentials.json
# `hybridOauth`), fetches the organization's document from https://api.anthropic.com and
# runs OUR installed helper as the document's `helper-script` credential command, sending
# what it prints to the organization's gateway as `Authorization: Bearer`.
#
# Guarantees of the arrangement (nothing outside the test's namespaces is touched):
#   - every scenario runs inside ONE private network, mount (and, where possible, PID)
#     namespace: loopback only (checked: no route out), a COPY of /etc bind-mounted over
#     /etc (hosts: api.anthropic.com and the gateway -> 127.0.0.1; a passwd/group entry for
#     the test user; /etc/claude-key-helper/config.toml), tmpfs over /opt and /home; the
#     machine's /etc, /opt and /home are never written;
#   - a throw-away CA (openssl, ECDSA P-256) and one server certificate for both hosts,
#     trusted by the client through NODE_EXTRA_CA_CERTS only;
#   - mock_org.js (root) on 127.0.0.1:443: the bootstrap document and the gateway, logging
#     every request (time, host, path, status, Authorization);
#   - our two binaries installed root-owned 0755 in /opt/claude-key-helper/bin (tmpfs /opt,
#     every directory above root-owned 0755), as `install/install.sh --system` would;
#   - the client, the helper it runs and the refresher daemon run as the unprivileged user
#     ckhe2e (uid 64980, HOME /home/ckhe2e, 0700: a bind mount of a directory of the test's
#     temp root), never as root (the client refuses to run helpers as root).
#
#   org_enter NAME [PIN]  at the top of a scenario. Outside the namespace: checks the
#                      prerequisites (skip 77 only when root or the namespaces are missing),
#                      installs the pinned client (setup.sh PIN; PIN '' = tests/e2e's 2.1.330,
#                      `newest` = tests/e2e/newest), makes the temp root, runs the scenario
#                      script again inside the namespaces (bounded), removes the temp root
#                      (kept with CKH_KEEP_TMP=1) and exits with the scenario's status.
#                      Inside: builds the arrangement above and returns.
#   org_backend PREFIX [e2e_backend options] [--profile-line 'key = value']...
#                      the rotating command backend (lib.sh), its profile (plus the given
#                      [profile.default] keys) written to /etc/claude-key-helper/config.toml
#                      (root 0644)
#   org_mock_set KEY JSON        sets one key of the mock's config (re-read per request)
#   org_signin                   the user's ~/.claude/.credentials.json (hybridOauth)
#   org_document [--ttl S] [--timeout S] [--command PATH] [--silent-refresh true|false]
#                                the organization's document (helper-script, bearer)
#   org_start_mock / org_start_daemon / org_stop_daemon
#   org_refresher ARGS...        claude-key-refresher ARGS as the user (stdout/stderr as is)
#   org_claude I PROMPT [VAR=VALUE...]  `claude -p PROMPT` as the user, bounded; leaves
#                      $ORG_RUNS/run-I.{out,err,rc,ms}
#   org_collect                  $ORG_RUNS/requests.tsv (lib.sh e2e_requests; column 11 host)
#   org_gateway_rows             the rows of requests to the gateway's /v1/messages
#   org_daemon_count TEXT        daemon log lines holding TEXT
#   org_assert_no_leak WHAT FILE...  fails when a minted token appears in any FILE
#   org_assert_no_leak_dir WHAT DIR  fails when a minted gateway token is anywhere under DIR
#   org_fail MESSAGE             "FAIL[client]: MESSAGE", exit 1
# Requires CKH_HELPER and CKH_REFRESHER (set by ctest).
# Development knob: CKH_E2E_ORG_NO_CALLER_TTL=1 leaves `--caller-ttl` out of the document's
# args (for a helper that predates it); the tests as registered always pass it.

# shellcheck source=tests/e2e/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

ORG_USER=ckhe2e
ORG_UID=64980
ORG_HOME=/home/ckhe2e
ORG_E2E=$ORG_HOME/e2e                      # the user's: backend state, mock config, logs
ORG_PREFIX=/opt/claude-key-helper
ORG_BIN=$ORG_PREFIX/bin
ORG_SHARE=/opt/ckh-e2e                     # root-owned: the CA certificate, the context wrapper
ORG_CONFIG=/etc/claude-key-helper/config.toml
ORG_GATEWAY_HOST=gateway.example.test
ORG_STATE=$ORG_HOME/.local/state/claude-key-helper
ORG_DAEMON_PID=
ORG_MOCK_PID=
ORG_HYBRID_TOKENS=()
ORG_PREFIX_TOKENS=
ORG_ARGS=()

org_fail() { echo "FAIL[${CKH_ORG_CLIENT:-?}]: $*"; exit 1; }
org_ok() { echo "ok[${CKH_ORG_CLIENT:-?}]: $*"; }
org_now_ms() { date +%s%3N; }
org_uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }

# ---- outside the namespace --------------------------------------------------------------

org_unshare_cmd() {
  # A PID namespace as well where possible: when the scenario ends, nothing it started lives on.
  if unshare -n -m -p -f --kill-child --mount-proc true 2>/dev/null; then
    ORG_UNSHARE=(unshare -n -m -p -f --kill-child --mount-proc)
  elif unshare -n -m true 2>/dev/null; then
    ORG_UNSHARE=(unshare -n -m)
  else
    return 1
  fi
}

org_prerequisites() {
  local c
  for c in node openssl setpriv unshare ip python3 mount; do
    command -v "$c" >/dev/null || { echo "skipped: $c is not installed"; exit 77; }
  done
  # The client must run as an unprivileged user while the helper, every directory above it
  # and /etc/claude-key-helper are root-owned: that takes root in the initial user
  # namespace (in a user namespace the real root's / shows as nobody's).
  if (( EUID != 0 )); then
    echo "skipped: needs root for a mount namespace with root-owned /opt and /etc and an unprivileged client user (user namespaces map only one uid)"
    exit 77
  fi
  org_unshare_cmd || { echo "skipped: cannot create network and mount namespaces (unshare -n -m is not permitted)"; exit 77; }
}

org_enter() {
  local name=$1 pin=${2:-}
  if [[ ${CKH_ORG_INSIDE:-} == 1 ]]; then
    org_inside_setup
    return 0
  fi
  org_prerequisites
  local claude rc=0 script
  script=$(readlink -f "$0")
  if [[ -n ${CKH_CLAUDE:-} && -z $pin ]]; then
    claude=$CKH_CLAUDE
  else
    claude=$("$E2E_HERE/setup.sh" ${pin:+"$pin"}) || rc=$?
    if (( rc != 0 )); then echo "$claude" | tail -n 1; exit "$rc"; fi
  fi
  [[ -x $claude ]] || { echo "FAIL: claude binary $claude is not executable"; exit 1; }
  local client
  client=$("$claude" --version 2>/dev/null | awk '{print $1; exit}')
  [[ -n $client ]] || { echo "FAIL: $claude --version printed nothing"; exit 1; }
  E2E_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/ckh-e2e-org-$name-XXXXXX")
  chmod 700 "$E2E_ROOT"
  echo "client: Claude Code $client ($claude)"
  timeout -k 10 "${CKH_ORG_LIMIT_S:-540}" "${ORG_UNSHARE[@]}" env CKH_ORG_INSIDE=1 \
    CKH_ORG_ROOT="$E2E_ROOT" CKH_ORG_CLAUDE="$claude" CKH_ORG_CLIENT="$client" \
    bash "$script" ${pin:+"$pin"} || rc=$?
  (( rc != 124 && rc != 137 )) || echo "FAIL[$client]: the scenario did not end within ${CKH_ORG_LIMIT_S:-540} s"
  if [[ ${CKH_KEEP_TMP:-} == 1 ]]; then echo "kept $E2E_ROOT"; else rm -rf "$E2E_ROOT"; fi
  exit "$rc"
}

# ---- inside the namespace ---------------------------------------------------------------

org_cleanup() {
  org_stop_daemon
  if [[ -n $ORG_MOCK_PID ]]; then kill "$ORG_MOCK_PID" 2>/dev/null || true; wait "$ORG_MOCK_PID" 2>/dev/null || true; fi
}

org_inside_setup() {
  E2E_ROOT=${CKH_ORG_ROOT:?}
  ORG_CLAUDE=${CKH_ORG_CLAUDE:?}
  ORG_RUNS=$E2E_ROOT/runs
  trap org_cleanup EXIT
  unset ANTHROPIC_API_KEY ANTHROPIC_AUTH_TOKEN ANTHROPIC_BASE_URL CLAUDE_CODE_API_KEY_HELPER_TTL_MS \
    CLAUDE_KEY_HELPER_PROFILE CLAUDE_KEY_HELPER_STATE_DIR CLAUDE_KEY_HELPER_CONFIG XDG_CONFIG_HOME \
    XDG_STATE_HOME || true
  mkdir -m 700 "$ORG_RUNS"
  ip link set lo up
  if ip route get 1.1.1.1 >/dev/null 2>&1; then org_fail "the namespace has a route out"; fi
  mount --make-rprivate / 2>/dev/null || true
  org_etc
  org_tls
  org_install
  org_user_home
}

# A copy of /etc over /etc: hosts, the test user, the system-wide refresher config dir.
org_etc() {
  local etc=$E2E_ROOT/etc
  cp -a /etc "$etc"
  printf '127.0.0.1 api.anthropic.com %s\n' "$ORG_GATEWAY_HOST" >>"$etc/hosts"
  grep -q "^$ORG_USER:" "$etc/passwd" \
    || echo "$ORG_USER:x:$ORG_UID:$ORG_UID:ckh e2e:$ORG_HOME:/bin/sh" >>"$etc/passwd"
  grep -q "^$ORG_USER:" "$etc/group" || echo "$ORG_USER:x:$ORG_UID:" >>"$etc/group"
  install -d -o root -g root -m 0755 "$etc/claude-key-helper"
  chown root:root "$etc"
  chmod 0755 "$etc"
  mount --bind "$etc" /etc
  [[ $(getent hosts api.anthropic.com | awk '{print $1}') == 127.0.0.1 ]] \
    || org_fail "api.anthropic.com does not resolve to 127.0.0.1 inside the namespace"
}

# The throw-away CA and the server certificate for both names.
org_tls() {
  local d=$E2E_ROOT/tls
  mkdir -m 700 "$d"
  (
    cd "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj "/CN=ckh e2e throw-away CA" -keyout ca.key -out ca.pem \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=api.anthropic.com" \
      -keyout server.key -out server.csr
    printf 'subjectAltName=DNS:api.anthropic.com,DNS:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
      "$ORG_GATEWAY_HOST" >ext.cnf
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
      -extfile ext.cnf -out server.pem
  ) >"$d/openssl.log" 2>&1 || org_fail "openssl: $(tail -c 400 "$d/openssl.log")"
}

# Root-owned install on a tmpfs /opt (every directory above the helper root-owned 0755);
# the context-logging wrapper (scenario 1) beside it, root-owned too, `#!/bin/sh`.
org_install() {
  mount -t tmpfs -o mode=0755,size=256m tmpfs /opt
  install -d -o root -g root -m 0755 "$ORG_BIN" "$ORG_SHARE"
  install -o root -g root -m 0755 "$CKH_HELPER" "$ORG_BIN/claude-key-helper"
  install -o root -g root -m 0755 "$CKH_REFRESHER" "$ORG_BIN/claude-key-refresher"
  install -o root -g root -m 0644 "$E2E_ROOT/tls/ca.pem" "$ORG_SHARE/ca.pem"
  cat >"$ORG_SHARE/context-wrapper" <<EOF
#!/bin/sh
# Records how the client ran the helper (CLAUDE_HELPER_CONTEXT, arguments), then execs it.
printf '%s context=%s args=%s\n' "\$(date +%s%3N)" "\${CLAUDE_HELPER_CONTEXT-<unset>}" "\$*" >>$ORG_E2E/helper-context.log
exec $ORG_BIN/claude-key-helper "\$@"
EOF
  chown root:root "$ORG_SHARE/context-wrapper"
  chmod 0755 "$ORG_SHARE/context-wrapper"
}

# The user's home (0700, theirs): a directory of the temp root bind-mounted on a tmpfs /home.
org_user_home() {
  local home=$E2E_ROOT/home
  mkdir -p "$home/.claude" "$home/project" "$home/e2e"
  echo "A file for the mock's read-only tool_use turns." >"$home/project/README.txt"
  : >"$home/e2e/helper-context.log"
  chown -R "$ORG_UID:$ORG_UID" "$home"
  chmod 700 "$home" "$home/.claude"
  mount -t tmpfs -o mode=0755,size=16m tmpfs /home
  mkdir -m 0755 "$ORG_HOME"
  mount --bind "$home" "$ORG_HOME"
}

# What the user's processes get besides HOME, PATH and the like: CLAUDE_KEY_HELPER_CONFIG
# while the refresher does not find /etc/claude-key-helper/config.toml by itself (org_backend).
ORG_USER_ENV=()

org_as_user() {
  setpriv --reuid="$ORG_UID" --regid="$ORG_UID" --clear-groups \
    env -i HOME="$ORG_HOME" USER="$ORG_USER" LOGNAME="$ORG_USER" SHELL=/bin/sh \
    PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 "${ORG_USER_ENV[@]}" "$@"
}

org_refresher() { (cd "$ORG_HOME" && org_as_user "$ORG_BIN/claude-key-refresher" "$@"); }

org_backend() {
  local prefix=$1 opts=() lines=()
  shift
  while (($#)); do
    case $1 in
      --profile-line) lines+=("$2"); shift 2 ;;
      *) opts+=("$1"); shift ;;
    esac
  done
  ORG_PREFIX_TOKENS=$prefix
  [[ -f $ORG_E2E/mock-config.json ]] || echo '{}' >"$ORG_E2E/mock-config.json"
  e2e_backend "$ORG_E2E" "$prefix" --mock-config "$ORG_E2E/mock-config.json" "${opts[@]}"
  if ((${#lines[@]})); then
    # More keys of [profile.default], after its `backend = ...` line.
    awk -v extra="$(printf '%s\n' "${lines[@]}")" '{print} /^backend = / {print extra}' \
      "$ORG_E2E/config.toml" >"$ORG_E2E/config.toml.new"
    mv "$ORG_E2E/config.toml.new" "$ORG_E2E/config.toml"
  fi
  chown -R "$ORG_UID:$ORG_UID" "$ORG_E2E"
  install -o root -g root -m 0644 "$ORG_E2E/config.toml" "$ORG_CONFIG"
  rm -f "$ORG_E2E/config.toml"
  ORG_USER_ENV=()
  # The user has no config of their own: the refresher must find the administrator's file
  # by itself, and say so.
  org_refresher check-config >"$ORG_RUNS/check-config.out" 2>&1 ||
    org_fail "check-config did not take the system-wide $ORG_CONFIG: $(head -c 400 "$ORG_RUNS/check-config.out")"
  grep -q "^$ORG_CONFIG: OK" "$ORG_RUNS/check-config.out" && grep -q "the system-wide config" "$ORG_RUNS/check-config.out" ||
    org_fail "check-config did not say it used the system-wide $ORG_CONFIG: $(head -c 400 "$ORG_RUNS/check-config.out")"
  echo "refresher config: $ORG_CONFIG (found by the refresher itself, reported as system-wide)"
}

org_mock_set() {
  python3 - "$ORG_E2E/mock-config.json" "$1" "$2" <<'PY'
import json, os, sys
path, key, value = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
try:
    cfg = json.load(open(path))
except (OSError, ValueError):
    cfg = {}
cfg[key] = value
with open(path + ".tmp", "w") as f:
    json.dump(cfg, f)
os.rename(path + ".tmp", path)
PY
  chown "$ORG_UID:$ORG_UID" "$ORG_E2E/mock-config.json"
}

ORG_UUID=
org_signin() {
  ORG_UUID=$(org_uuid)
  local account token refresh
  account=$(org_uuid)
  token="hybrid-access-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  refresh="hybrid-refresh-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  ORG_HYBRID_TOKENS=("$token" "$refresh")
  org_mock_set bootstrap_token "\"$token\""
  python3 - "$ORG_HOME/.claude/.credentials.json" "$token" "$refresh" "$ORG_UUID" "$account" <<'PY'
import json, os, sys, time
path, token, refresh, org, account = sys.argv[1:]
doc = {"hybridOauth": {
    "accessToken": token, "refreshToken": refresh,
    "expiresAt": int((time.time() + 24 * 3600) * 1000),
    "scopes": ["user:profile", "org:desktop_config"],
    "clientId": "9d1c250a-e61b-44d9-88ed-5944d1962f5e", "oauthEnvironment": "",
    "organizationUuid": org, "accountUuid": account}}
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    json.dump(doc, f)
PY
  chown "$ORG_UID:$ORG_UID" "$ORG_HOME/.claude/.credentials.json"
}

ORG_TTL=
org_document() {
  local ttl=300 timeout=30 command=$ORG_BIN/claude-key-helper silent=true
  while (($#)); do
    case $1 in
      --ttl) ttl=$2; shift 2 ;;
      --timeout) timeout=$2; shift 2 ;;
      --command) command=$2; shift 2 ;;
      --silent-refresh) silent=$2; shift 2 ;;
      *) echo "org_document: unknown option $1" >&2; return 64 ;;
    esac
  done
  export ORG_TTL=$ttl  # for the scenarios' own checks
  ORG_ARGS=(--profile default --caller-ttl "$ttl")
  local args='["--profile", "default", "--caller-ttl", "'"$ttl"'"]'
  if [[ ${CKH_E2E_ORG_NO_CALLER_TTL:-} == 1 ]]; then
    ORG_ARGS=(--profile default)
    args='["--profile", "default"]'
    echo "NOTE: CKH_E2E_ORG_NO_CALLER_TTL=1: the document's args leave out --caller-ttl (development only)"
  fi
  cat >"$ORG_RUNS/document.json" <<EOF
{
  "\$schemaVersion": 2,
  "deploymentOrganizationUuid": "$ORG_UUID",
  "claudeCode": {"signInEnabled": true},
  "inference": {
    "provider": "gateway",
    "baseUrl": "https://$ORG_GATEWAY_HOST",
    "credential": {
      "kind": "helper-script",
      "command": "$command",
      "args": $args,
      "ttlSec": $ttl,
      "timeoutSec": $timeout,
      "silentRefreshEnabled": $silent,
      "authScheme": "bearer"
    }
  }
}
EOF
}

org_start_mock() {
  rm -f "$ORG_RUNS/mock.ready"
  (cd "$ORG_HOME/project" && exec node "$E2E_HERE/mock_org.js" --cert "$E2E_ROOT/tls/server.pem" \
     --key "$E2E_ROOT/tls/server.key" --log "$ORG_RUNS/mock.log" --config "$ORG_E2E/mock-config.json" \
     --document "$ORG_RUNS/document.json" --gateway-host "$ORG_GATEWAY_HOST" \
     --ready-file "$ORG_RUNS/mock.ready") 2>"$ORG_RUNS/mock.err" &
  ORG_MOCK_PID=$!
  local _
  for _ in $(seq 600); do [[ -s $ORG_RUNS/mock.ready ]] && return 0; sleep 0.05; done
  org_fail "the mock did not start: $(head -c 400 "$ORG_RUNS/mock.err")"
}

org_start_daemon() {
  (cd "$ORG_HOME" && exec setpriv --reuid="$ORG_UID" --regid="$ORG_UID" --clear-groups \
     env -i HOME="$ORG_HOME" USER="$ORG_USER" LOGNAME="$ORG_USER" PATH=/usr/local/bin:/usr/bin:/bin \
     LANG=C.UTF-8 "${ORG_USER_ENV[@]}" "$ORG_BIN/claude-key-refresher" run --profile default) \
    2>"$ORG_RUNS/daemon.log" &
  ORG_DAEMON_PID=$!
  local _
  for _ in $(seq 600); do [[ -S $ORG_STATE/default.sock ]] && return 0; sleep 0.05; done
  org_fail "the refresher daemon did not start: $(head -c 400 "$ORG_RUNS/daemon.log")"
}

org_stop_daemon() {
  if [[ -n $ORG_DAEMON_PID ]]; then
    kill "$ORG_DAEMON_PID" 2>/dev/null || true
    wait "$ORG_DAEMON_PID" 2>/dev/null || true
    ORG_DAEMON_PID=
  fi
}

# org_claude I PROMPT [VAR=VALUE...]: one `claude -p` as the user, from ~/project.
org_claude() {
  local i=$1 prompt=$2 start rc=0
  shift 2
  start=$(org_now_ms)
  (cd "$ORG_HOME/project" && org_as_user NODE_EXTRA_CA_CERTS="$ORG_SHARE/ca.pem" \
     CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 \
     DISABLE_ERROR_REPORTING=1 "$@" timeout -k 5 "${CKH_ORG_CLAUDE_LIMIT_S:-150}" "$ORG_CLAUDE" -p "$prompt" \
     </dev/null >"$ORG_RUNS/run-$i.out" 2>"$ORG_RUNS/run-$i.err") || rc=$?
  echo "$rc" >"$ORG_RUNS/run-$i.rc"
  echo $(( $(org_now_ms) - start )) >"$ORG_RUNS/run-$i.ms"
}

org_collect() {
  org_stop_daemon
  [[ -f $ORG_RUNS/mock.log ]] || : >"$ORG_RUNS/mock.log"
  e2e_requests "$ORG_RUNS"
}

# Requests the gateway's /v1/messages saw, in arrival order (requests.tsv rows).
org_gateway_rows() { awk -F'\t' -v h="$ORG_GATEWAY_HOST" '$11 == h && $3 == "/v1/messages"' "$ORG_RUNS/requests.tsv"; }
org_bootstrap_rows() { awk -F'\t' '$11 == "api.anthropic.com" && $3 ~ /\/claude_code\/bootstrap$/' "$ORG_RUNS/requests.tsv"; }

org_daemon_count() { grep -cF -- "$1" "$ORG_RUNS/daemon.log" || true; }

# Every token the backend minted (PREFIX-1..N) and the sign-in's tokens.
org_minted_tokens() {
  local n
  n=$(cat "$ORG_E2E/counter" 2>/dev/null || echo 0)
  for ((i = 1; i <= n; i++)); do echo "$ORG_PREFIX_TOKENS-$i"; done
  printf '%s\n' "${ORG_HYBRID_TOKENS[@]}"
}

# org_assert_no_leak WHAT FILE...: none of the minted tokens (nor the sign-in's) in FILE.
org_assert_no_leak() {
  local what=$1 f t
  shift
  for f in "$@"; do
    [[ -f $f ]] || continue
    while IFS= read -r t; do
      [[ -n $t ]] || continue
      if grep -qF -- "$t" "$f"; then org_fail "$what: $(basename "$f") holds a secret (a token minted for this test)"; fi
    done < <(org_minted_tokens)
  done
}

# org_assert_no_leak_dir WHAT DIR: no gateway token minted for this test anywhere under DIR
# (the sign-in's own tokens live in DIR/.credentials.json by design).
org_assert_no_leak_dir() {
  local what=$1 dir=$2 t hits
  while IFS= read -r t; do
    [[ $t == "$ORG_PREFIX_TOKENS"-* ]] || continue
    hits=$(grep -rlF -- "$t" "$dir" 2>/dev/null | head -n 3 | tr '\n' ' ' || true)
    [[ -z $hits ]] || org_fail "$what: $hits hold a gateway token minted for this test"
  done < <(org_minted_tokens)
}

org_run_summary() {
  local i=$1
  echo "[${CKH_ORG_CLIENT}] run $i: exit $(cat "$ORG_RUNS/run-$i.rc"), $(cat "$ORG_RUNS/run-$i.ms") ms;" \
    "stdout: $(head -c 300 "$ORG_RUNS/run-$i.out" | tr '\n' ' ')"
  if grep -qF "credential helper didn't give a credential" "$ORG_RUNS/run-$i.out" "$ORG_RUNS/run-$i.err"; then
    org_diagnose_helper
  fi
}

# The client hides the helper's stderr: run it as the client does (the user, the document's
# args, context background) and show its exit status and stderr (never its stdout).
org_diagnose_helper() {
  local rc=0
  (cd / && org_as_user CLAUDE_HELPER_CONTEXT=background "$ORG_BIN/claude-key-helper" "${ORG_ARGS[@]}") \
    </dev/null >/dev/null 2>"$ORG_RUNS/helper-diagnosis.err" || rc=$?
  echo "[${CKH_ORG_CLIENT}] the helper run by hand as the client runs it (${ORG_ARGS[*]}): exit $rc: $(head -c 300 "$ORG_RUNS/helper-diagnosis.err" | tr '\n' ' ')"
}

# org_sign_in_and_start DOCUMENT-ARGS...: after org_backend, what every scenario sets up the
# same way: the sign-in, the organization's document (org_document's arguments), a first
# `once` (the cold cache filled), the refresher daemon and the mock.
org_sign_in_and_start() {
  org_signin
  org_document "$@"
  org_refresher once --profile default --quiet || org_fail "claude-key-refresher once exited $?"
  org_start_daemon
  org_start_mock
}
