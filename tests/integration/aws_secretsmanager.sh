#!/bin/bash
# The aws-secretsmanager backend end to end against the fake AWS endpoints (tests/fakes/aws/:
# secretsmanager.js verifies every SigV4 signature with AWS's own signer, imds.js,
# container_credentials.js), driven through `claude-key-refresher once --force --profile P`,
# `status --profile P` and `claude-key-helper --profile P`:
#  1. environment credentials (with a session token): the fake accepts the signature; the
#     helper prints the SecretString; `key` picks one member of a JSON SecretString;
#     version_stage AWSPREVIOUS; the endpoint from AWS_ENDPOINT_URL_SECRETS_MANAGER.
#  2. shared files: static keys in AWS_SHARED_CREDENTIALS_FILE for AWS_PROFILE;
#     credential_process in AWS_CONFIG_FILE (Version 1 JSON with a session token) for
#     aws_profile = "x"; the region from that profile's config when neither the profile nor
#     AWS_REGION gives one.
#  3. container credentials (FULL_URI on loopback + AUTHORIZATION_TOKEN_FILE); a wrong token is
#     a clear, permanent error in status.
#  4. IMDSv2 through AWS_EC2_METADATA_SERVICE_ENDPOINT (token PUT, role list, credentials);
#     AWS_EC2_METADATA_DISABLED=true with nothing else: a "no AWS credentials" config error.
#  5. errors: ResourceNotFound, AccessDenied, DecryptionFailure, a wrong secret key (signature
#     rejected) -> permanent, exit 77, status names problem and fix; throttling and 500 ->
#     transient (69, then 75 once something is published), then success; SecretBinary refused;
#     clock skew reported as such; a hung request with timeout = "2s" -> transient, bounded.
#  6. no secret access key, session token, container token or secret value in any output,
#     status, log, fake log or the refresher's argv; P.cred is 0600 and holds the value.
# Needs node, npm (first run: the registry; later runs reuse $CKH_BUILD_DIR/aws-fakes-cache),
# curl and sha256sum; exits 77 "skipped: <reason>" without them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v node >/dev/null 2>&1 || { echo "skipped: node is not installed"; exit 77; }
command -v npm >/dev/null 2>&1 || { echo "skipped: npm is not installed"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "skipped: curl is not installed"; exit 77; }
command -v sha256sum >/dev/null 2>&1 || { echo "skipped: sha256sum is not installed"; exit 77; }
export no_proxy='*' NO_PROXY='*'
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy || true
# Nothing of the caller's AWS set-up may leak in; each run below names what it uses.
for v in $(compgen -e | grep -E '^AWS_' || true); do unset "$v"; done

SRC=${CKH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
FAKES="$SRC/tests/fakes/aws"
OUTS="$T/outputs"  # every output of the refresher and the helper, checked for secrets at the end
mkdir -p "$OUTS"
: >"$T/secrets"
# shellcheck source=tests/integration/lib_aws.sh
source "$(dirname "$0")/lib_aws.sh"

# ---- AWS's signer and the fakes ----------------------------------------------------------------
install_aws_signer
start_fake sm "$FAKES/secretsmanager.js" --node-modules "$NM"
start_fake imds "$FAKES/imds.js"
start_fake ecs "$FAKES/container_credentials.js"
# shellcheck disable=SC2154  # PORT_* are set by start_fake (printf -v)
{ SM="http://127.0.0.1:$PORT_sm"; IMDS="http://127.0.0.1:$PORT_imds"; ECS="http://127.0.0.1:$PORT_ecs"; }
post() { # BASE PATH JSON (JSON through stdin, never argv)
  local code
  code=$(printf '%s' "$3" | curl -sS -o "$T/post.body" -w '%{http_code}' --max-time 10 \
    -H 'Content-Type: application/json' --data-binary @- "$1$2" || true)
  [ "$code" = 200 ] || fail "POST $2 to the fake: $code $(head -c 300 "$T/post.body")"
}
stat_of() { local base=$1; shift; curl -sS --max-time 10 "$base/__stats" | jget "$@"; }
sm_stats() { curl -sS --max-time 10 "$SM/__stats" | jget "$@" | paste -sd' '; }

# ---- what AWS knows --------------------------------------------------------------------------
ENV_AKID=ASIAENVFAKE0001; ENV_SECRET=$(rand 30); ENV_TOKEN=$(rand 90)
FILE_AKID=AKIAFILEFAKE002; FILE_SECRET=$(rand 30)
PROC_AKID=ASIAPROCFAKE003; PROC_SECRET=$(rand 30); PROC_TOKEN=$(rand 90)
ECS_AKID=ASIAECSFAKE0004; ECS_SECRET=$(rand 30); ECS_TOKEN=$(rand 90); ECS_AUTH="Basic $(rand 18)"
IMDS_AKID=ASIAIMDSFAKE005; IMDS_SECRET=$(rand 30); IMDS_TOKEN=$(rand 90)
KEY_PLAIN="sk-ant-api03-$(rand 40)"; KEY_JSON="sk-ant-api03-$(rand 40)"
KEY_PREV="sk-ant-api03-$(rand 40)"; KEY_CUR="sk-ant-api03-$(rand 40)"; KEY_OTHER="other-$(rand 20)"
for s in "$ENV_SECRET" "$ENV_TOKEN" "$FILE_SECRET" "$PROC_SECRET" "$PROC_TOKEN" "$ECS_SECRET" \
  "$ECS_TOKEN" "$ECS_AUTH" "$IMDS_SECRET" "$IMDS_TOKEN" "$KEY_PLAIN" "$KEY_JSON" "$KEY_PREV" \
  "$KEY_CUR" "$KEY_OTHER"; do secret "$s"; done
BINARY_B64=$(printf 'binary-%s' "$(rand 12)" | base64 -w0)

# (values through the environment, never argv)
SM_STATE=$(ENV_AKID="$ENV_AKID" ENV_SECRET="$ENV_SECRET" ENV_TOKEN="$ENV_TOKEN" FILE_AKID="$FILE_AKID" \
  FILE_SECRET="$FILE_SECRET" PROC_AKID="$PROC_AKID" PROC_SECRET="$PROC_SECRET" PROC_TOKEN="$PROC_TOKEN" \
  ECS_AKID="$ECS_AKID" ECS_SECRET="$ECS_SECRET" ECS_TOKEN="$ECS_TOKEN" IMDS_AKID="$IMDS_AKID" \
  IMDS_SECRET="$IMDS_SECRET" IMDS_TOKEN="$IMDS_TOKEN" KEY_PLAIN="$KEY_PLAIN" KEY_JSON="$KEY_JSON" \
  KEY_CUR="$KEY_CUR" KEY_PREV="$KEY_PREV" KEY_OTHER="$KEY_OTHER" BINARY_B64="$BINARY_B64" \
  node -e 'const e=process.env; const later=new Date(Date.now()+6*3600e3).toISOString();
  process.stdout.write(JSON.stringify({region:"us-east-1", account:"123456789012",
   credentials:{
    [e.ENV_AKID]:{secret:e.ENV_SECRET, session_token:e.ENV_TOKEN, expiration:later},
    [e.FILE_AKID]:{secret:e.FILE_SECRET},
    [e.PROC_AKID]:{secret:e.PROC_SECRET, session_token:e.PROC_TOKEN, expiration:later},
    [e.ECS_AKID]:{secret:e.ECS_SECRET, session_token:e.ECS_TOKEN},
    [e.IMDS_AKID]:{secret:e.IMDS_SECRET, session_token:e.IMDS_TOKEN}},
   secrets:{
    "claude/plain":{SecretString:e.KEY_PLAIN},
    "claude/json":{SecretString:JSON.stringify({api_key:e.KEY_JSON, other:e.KEY_OTHER})},
    "claude/staged":{versions:[
      {VersionId:"11111111-1111-1111-1111-111111111111", VersionStages:["AWSCURRENT"], SecretString:e.KEY_CUR},
      {VersionId:"22222222-2222-2222-2222-222222222222", VersionStages:["AWSPREVIOUS"], SecretString:e.KEY_PREV}]},
    "claude/denied":{SecretString:e.KEY_OTHER},
    "claude/kms":{SecretString:e.KEY_OTHER},
    "claude/binary":{SecretBinary:e.BINARY_B64}},
   denied:["claude/denied"], kms_fail:["claude/kms"]}))')
post "$SM" /__state "$SM_STATE"
post "$ECS" /__control "$(printf '{"credentials":{"AccessKeyId":"%s","SecretAccessKey":"%s","Token":"%s"},"token":"%s","path":"/v1/credentials"}' \
  "$ECS_AKID" "$ECS_SECRET" "$ECS_TOKEN" "$ECS_AUTH")"
post "$IMDS" /__control "$(printf '{"credentials":{"AccessKeyId":"%s","SecretAccessKey":"%s","Token":"%s"}}' \
  "$IMDS_AKID" "$IMDS_SECRET" "$IMDS_TOKEN")"
pass "three fakes listening and seeded (state region us-east-1)"

# ---- the AWS client set-up on disk -----------------------------------------------------------
AWSD="$T/aws"
mkdir -m 700 "$AWSD"
( umask 077
  printf '[default]\naws_access_key_id = AKIANOTTHISONE99\naws_secret_access_key = not-this-one\n\n[team]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
    "$FILE_AKID" "$FILE_SECRET" >"$AWSD/credentials"
  # credential_process: prints Version 1 JSON; records its parent's argv (the refresher's).
  cat >"$AWSD/cred-proc.sh" <<EOF
#!/bin/bash
tr '\\0' ' ' </proc/\$PPID/cmdline >"$OUTS/argv.credential-process-parent"
echo "\$*" >"$T/cred-proc.args"
cat "$AWSD/proc.json"
EOF
  chmod 700 "$AWSD/cred-proc.sh"
  printf '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s", "SessionToken": "%s", "Expiration": "%s"}\n' \
    "$PROC_AKID" "$PROC_SECRET" "$PROC_TOKEN" "$(date -u -d '+6 hours' +%Y-%m-%dT%H:%M:%SZ)" >"$AWSD/proc.json"
  printf '[default]\nregion = eu-west-3\n\n[profile x]\nregion = us-east-1\ncredential_process = "%s" --profile x\n' \
    "$AWSD/cred-proc.sh" >"$AWSD/config"
  printf '%s' "$ECS_AUTH" >"$AWSD/ecs-token"
  printf 'Basic %s' "$(rand 18)" >"$AWSD/ecs-token-wrong"
)
secret "$(cat "$AWSD/ecs-token-wrong")"

# ---- profiles --------------------------------------------------------------------------------
# profile NAME SECRET_ID [lines for the aws-secretsmanager section...]: region us-east-1 and the
# fake's endpoint unless a line says "-region" / "-endpoint".
: >"$CLAUDE_KEY_HELPER_CONFIG"
profile() {
  local name=$1 id=$2 region=1 endpoint=1 line; shift 2
  {
    printf '[profile.%s]\nbackend = "aws-secretsmanager"\nbackoff_min = "1s"\n[profile.%s.aws-secretsmanager]\nsecret_id = "%s"\n' \
      "$name" "$name" "$id"
    for line in "$@"; do
      case "$line" in -region) region=0 ;; -endpoint) endpoint=0 ;; *) echo "$line" ;; esac
    done
    [ "$region" = 1 ] && echo 'region = "us-east-1"'
    [ "$endpoint" = 1 ] && echo "endpoint = \"$SM\""
    echo
  } >>"$CLAUDE_KEY_HELPER_CONFIG"
}
profile envplain claude/plain -endpoint
profile envjson claude/json 'key = "api_key"'
profile envprev claude/staged 'version_stage = "AWSPREVIOUS"'
profile files claude/plain
profile proc claude/json 'key = "api_key"' 'aws_profile = "x"' -region
profile ecs claude/plain
profile ecsbad claude/plain
profile imds claude/plain
profile nocreds claude/plain
profile notfound claude/missing
profile denied claude/denied
profile kms claude/kms
profile throttle claude/plain
profile e500 claude/plain
profile binary claude/binary
profile badkey claude/plain
profile skew claude/plain
profile hang claude/plain 'timeout = "2s"'

# ---- runners ---------------------------------------------------------------------------------
# ref NAME PROFILE [VAR=VALUE...] -- ARGS...: runs the refresher with exactly these AWS_*
# variables (assignments in the environment, never in argv); sets RC, OUT (stdout+stderr).
# IMDS is off unless the caller points it at the fake.
N=0
ref() {
  local name=$1; shift
  local assigns=()
  while [ "$1" != -- ]; do assigns+=("$1"); shift; done
  shift
  N=$((N + 1))
  set +e
  ( for a in "${assigns[@]}"; do export "${a?}"; done
    exec timeout 60 "$CKH_REFRESHER" "$@" ) >"$OUTS/$N.$name.out" 2>&1 </dev/null
  RC=$?
  set -e
  OUT=$(cat "$OUTS/$N.$name.out")
}
once() { # PROFILE [VAR=VALUE...]
  local p=$1; shift
  ref "once-$p" "$p" "$@" -- once --force --profile "$p"
}
status_of() { # PROFILE: STATUS
  ref "status-$1" "$1" -- status --profile "$1"
  STATUS=$OUT
}
helper_of() { # PROFILE: OUT, RC of the helper
  run_helper --profile "$1"
  N=$((N + 1))
  printf '%s\n' "$ERR" >"$OUTS/$N.helper-$1.err"  # its stdout is the key: compared by fingerprint
}
has() { # WHAT TEXT NEEDLE...: every needle (fixed string, case-insensitive) is in TEXT
  local what=$1 text=$2 n; shift 2
  for n in "$@"; do
    if ! grep -qiF -- "$n" <<<"$text"; then fail "$what: [$n] not in: $(head -c 700 <<<"$text")"; return; fi
  done
  pass "$what"
}
expect_helper() { # WHAT PROFILE EXPECTED-VALUE (compared by fingerprint)
  helper_of "$2"
  expect_eq "$1" "0 $(fp "$3")" "$RC $(fp "$OUT")"
}
ENV_CREDS=(AWS_ACCESS_KEY_ID="$ENV_AKID" AWS_SECRET_ACCESS_KEY="$ENV_SECRET" AWS_SESSION_TOKEN="$ENV_TOKEN"
  AWS_EC2_METADATA_DISABLED=true)

# ---- 1. environment credentials ---------------------------------------------------------------
ok_before=$(sm_stats ok)
once envplain "${ENV_CREDS[@]}" AWS_ENDPOINT_URL_SECRETS_MANAGER="$SM"
expect_eq "env credentials (+ endpoint from AWS_ENDPOINT_URL_SECRETS_MANAGER): once exits 0" 0 "$RC"
expect_eq "the fake verified the signature: one more ok, by $ENV_AKID, session token signed, us-east-1" \
  "$((ok_before + 1)) $ENV_AKID true us-east-1 secretsmanager claude/plain" \
  "$(sm_stats ok last.access_key_id last.has_security_token last.region last.service last.secret_id)"
expect_helper "the helper prints the SecretString" envplain "$KEY_PLAIN"
[ "$(stat -c %a "$STATE/envplain.cred")" = 600 ] && pass "envplain.cred is 0600" \
  || fail "envplain.cred mode $(stat -c %a "$STATE/envplain.cred" 2>&1)"
grep -qF -- "$KEY_PLAIN" "$STATE/envplain.cred" && pass "envplain.cred holds the value" || fail "envplain.cred lacks the value"

once envjson "${ENV_CREDS[@]}"
expect_eq "key = \"api_key\": once exits 0" 0 "$RC"
expect_helper "key = \"api_key\": the helper prints that member of the JSON SecretString" envjson "$KEY_JSON"
grep -qF -- "$KEY_OTHER" "$STATE/envjson.cred" && fail "the other JSON member reached envjson.cred" \
  || pass "the other JSON member is not published"

once envprev "${ENV_CREDS[@]}"
expect_eq "version_stage AWSPREVIOUS: once exits 0, the request named the stage" "0 AWSPREVIOUS" "$RC $(sm_stats last.version_stage)"
expect_helper "version_stage AWSPREVIOUS: the helper prints the previous version" envprev "$KEY_PREV"

# ---- 2. shared files ---------------------------------------------------------------------------
FILES_ENV=(AWS_SHARED_CREDENTIALS_FILE="$AWSD/credentials" AWS_CONFIG_FILE="$AWSD/config" AWS_EC2_METADATA_DISABLED=true)
once files "${FILES_ENV[@]}" AWS_PROFILE=team
expect_eq "static keys of AWS_PROFILE=team in AWS_SHARED_CREDENTIALS_FILE: exit 0, signed by its key, no token" \
  "0 $FILE_AKID false" "$RC $(sm_stats last.access_key_id last.has_security_token)"
expect_helper "shared credentials file: the helper prints the secret" files "$KEY_PLAIN"

once proc "${FILES_ENV[@]}"
expect_eq "credential_process of aws_profile x: exit 0, signed by its key with its session token" \
  "0 $PROC_AKID true" "$RC $(sm_stats last.access_key_id last.has_security_token)"
expect_eq "region from profile x's config (no region in the profile, no AWS_REGION)" us-east-1 "$(sm_stats last.region)"
expect_eq "credential_process ran without a shell, with its quoted path and arguments" "--profile x" "$(cat "$T/cred-proc.args" 2>/dev/null)"
expect_helper "credential_process: the helper prints the JSON member" proc "$KEY_JSON"

# ---- 3. container credentials --------------------------------------------------------------------
ECS_ENV=(AWS_CONTAINER_CREDENTIALS_FULL_URI="$ECS/v1/credentials" AWS_EC2_METADATA_DISABLED=true)
once ecs "${ECS_ENV[@]}" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$AWSD/ecs-token"
expect_eq "container FULL_URI + AUTHORIZATION_TOKEN_FILE: exit 0, signed by the container's key" \
  "0 $ECS_AKID true" "$RC $(sm_stats last.access_key_id last.has_security_token)"
expect_eq "the container endpoint saw the file's token" "$(fp "$ECS_AUTH")" "$(stat_of "$ECS" last_authorization_fp)"
expect_helper "container credentials: the helper prints the secret" ecs "$KEY_PLAIN"
once ecsbad "${ECS_ENV[@]}" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$AWSD/ecs-token-wrong"
expect_eq "a wrong container token: permanent, exit 77" 77 "$RC"
status_of ecsbad
has "a wrong container token: status names the container endpoint and its 403" "$STATUS" \
  "container credentials endpoint 127.0.0.1" "403"

# ---- 4. IMDSv2 ---------------------------------------------------------------------------------
i_before=$(stat_of "$IMDS" token_puts list_requests credentials_served | paste -sd' ')
once imds AWS_EC2_METADATA_SERVICE_ENDPOINT="$IMDS"
i_after=$(stat_of "$IMDS" token_puts list_requests credentials_served | paste -sd' ')
expect_eq "IMDSv2: exit 0, signed with the instance role's key and token" "0 $IMDS_AKID true" \
  "$RC $(sm_stats last.access_key_id last.has_security_token)"
read -r a b c <<<"$i_before"; read -r x y z <<<"$i_after"
expect_eq "IMDSv2 stats: one token PUT, one role list, one credentials document" "1 1 1" "$((x - a)) $((y - b)) $((z - c))"
expect_helper "IMDSv2: the helper prints the secret" imds "$KEY_PLAIN"
once nocreds AWS_EC2_METADATA_DISABLED=true
expect_eq "AWS_EC2_METADATA_DISABLED=true and nothing else: config error, exit 78" 78 "$RC"
status_of nocreds
has "no credentials: once and status say 'no AWS credentials' and that IMDS is disabled" "$OUT
$STATUS" "no AWS credentials" "AWS_EC2_METADATA_DISABLED"

# ---- 4b. the recorded failure cases of IMDS and the container endpoint ------------------------
# aws_fixtures/aws-credentials (smithy-rs recorded traffic and the EC2/ECS docs), through the
# fakes' controls, against the refresher's chain.
# imds_default_chain_retries: one 503 on each of the three steps, then success.
i_before=$(stat_of "$IMDS" token_puts list_requests credentials_served | paste -sd' ')
post "$IMDS" /__control '{"fail_next":[{"endpoint":"token","status":503},{"endpoint":"list","status":503},{"endpoint":"credentials","status":503}]}'
once imds AWS_EC2_METADATA_SERVICE_ENDPOINT="$IMDS"
i_after=$(stat_of "$IMDS" token_puts list_requests credentials_served | paste -sd' ')
read -r a b c <<<"$i_before"; read -r x y z <<<"$i_after"
expect_eq "IMDS 503 once at each step (imds_default_chain_retries): retried, exit 0; 2 PUTs, 2 lists, 1 document" \
  "0 2 2 1" "$RC $((x - a)) $((y - b)) $((z - c))"
# imds_token_fail: IMDS turned off, the token PUT answers 403.
post "$IMDS" /__control '{"disabled":true}'
once imds AWS_EC2_METADATA_SERVICE_ENDPOINT="$IMDS"
expect_eq "IMDS token PUT 403 (imds_token_fail): exit 75, the last key still valid" 75 "$RC"
status_of imds
has "IMDS token PUT 403: status classes it config (the operator must act)" "$STATUS" "(config;"
has "IMDS token PUT 403: the message says IMDSv2 must be enabled or disabled explicitly" "$OUT" \
  "refused a session token (HTTP 403)" "AWS_EC2_METADATA_DISABLED"
post "$IMDS" /__control '{"disabled":false,"role":null}'
# imds_no_iam_role: the role listing answers 404.
once imds AWS_EC2_METADATA_SERVICE_ENDPOINT="$IMDS"
expect_eq "IMDS without an IAM role (imds_no_iam_role): exit 75, the last key still valid" 75 "$RC"
status_of imds
has "IMDS without an IAM role: status classes it config" "$STATUS" "(config;"
has "IMDS without an IAM role: the message says the instance has no IAM role" "$OUT" "no IAM role"
post "$IMDS" /__control '{"role":"imds-assume-role-test","put_unreachable":true}'
# In a container with hop limit 1 the PUT's answer never arrives: bounded, then a clear error.
t0=$(date +%s)
once imds AWS_EC2_METADATA_SERVICE_ENDPOINT="$IMDS"
waited=$(( $(date +%s) - t0 ))
expect_eq "IMDS PUT never answered (hop limit 1): exit 75, the last key still valid" 75 "$RC"
[ "$waited" -le 15 ] && pass "IMDS PUT never answered: once gave up after ${waited} s (bounded)" \
  || fail "IMDS PUT never answered: once took ${waited} s"
has "IMDS PUT never answered: the message says no credentials were found and why" "$OUT" \
  "no AWS credentials found" "instance metadata"
post "$IMDS" /__control '{"put_unreachable":false}'
once imds AWS_EC2_METADATA_SERVICE_ENDPOINT="$IMDS"
expect_eq "IMDS answers again: exit 0" 0 "$RC"
# The container agent's rate limit (x-rate-limit-* headers): 429 is transient.
post "$ECS" /__control '{"throttle_next":1}'
once ecs "${ECS_ENV[@]}" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$AWSD/ecs-token"
expect_eq "container endpoint 429 (throttled): exit 75, the last key still valid" 75 "$RC"
status_of ecs
has "container endpoint 429: status classes it transient (retried with backoff)" "$STATUS" "(transient;"
once ecs "${ECS_ENV[@]}" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$AWSD/ecs-token"
expect_eq "container endpoint after the throttle: exit 0" 0 "$RC"

# ---- 5. errors ---------------------------------------------------------------------------------
# permanent PROFILE WHAT PROBLEM FIX...: once exits 77; its output and status say PROBLEM and FIX.
# Status keeps 300 bytes (kMaxStatusMessageBytes): the backend puts its advice first and AWS's
# own words after it, cut short, so the advice always survives.
permanent() {
  local p=$1 what=$2; shift 2
  once "$p" "${ENV_CREDS[@]}"
  expect_eq "$what: permanent, exit 77 with nothing published" 77 "$RC"
  has "$what: once names the problem and the fix" "$OUT" "$@"
  status_of "$p"
  has "$what: status names the problem and the fix" "$STATUS" "$@" "permanent"
}
permanent notfound "ResourceNotFoundException" "ResourceNotFoundException" "check secret_id and region"
permanent denied "AccessDeniedException" "AccessDeniedException" \
  "needs secretsmanager:GetSecretValue on it" "kms:Decrypt"
permanent kms "DecryptionFailure" "DecryptionFailure" "kms:Decrypt"
permanent binary "SecretBinary" "holds SecretBinary" "store the key as SecretString"
sig_before=$(sm_stats signature_failures)
ENV_CREDS_SAVED=("${ENV_CREDS[@]}")
WRONG_SECRET=$(rand 30); secret "$WRONG_SECRET"
ENV_CREDS=(AWS_ACCESS_KEY_ID="$ENV_AKID" AWS_SECRET_ACCESS_KEY="$WRONG_SECRET" AWS_SESSION_TOKEN="$ENV_TOKEN"
  AWS_EC2_METADATA_DISABLED=true)
permanent badkey "a wrong secret key" "InvalidSignatureException" \
  "the credentials from environment are not accepted"
ENV_CREDS=("${ENV_CREDS_SAVED[@]}")
expect_eq "a wrong secret key: the fake's signer rejected the signature" "$((sig_before + 1))" "$(sm_stats signature_failures)"

post "$SM" /__control '{"throttle_next":1}'
once throttle "${ENV_CREDS[@]}"
expect_eq "ThrottlingException: transient, exit 69 with nothing published" 69 "$RC"
status_of throttle
has "throttling: status names it" "$STATUS" "ThrottlingException"
once throttle "${ENV_CREDS[@]}"
expect_eq "throttling over: the next once succeeds" 0 "$RC"
expect_helper "after throttling: the helper prints the secret" throttle "$KEY_PLAIN"
post "$SM" /__control '{"throttle_next":1}'
once throttle "${ENV_CREDS[@]}"
expect_eq "ThrottlingException with a valid key published: exit 75" 75 "$RC"
expect_helper "the published key is still served during throttling" throttle "$KEY_PLAIN"

post "$SM" /__control '{"error_next":["InternalServiceError"]}'
once e500 "${ENV_CREDS[@]}"
expect_eq "InternalServiceError (500): transient, exit 69" 69 "$RC"
status_of e500
has "500: status names the answer" "$STATUS" "500" "InternalServiceError"
once e500 "${ENV_CREDS[@]}"
expect_eq "500 over: the next once succeeds" 0 "$RC"
expect_helper "after the 500: the helper prints the secret" e500 "$KEY_PLAIN"

skew_before=$(sm_stats clock_skew)
post "$SM" /__control '{"clock_offset_s":1200}'
once skew "${ENV_CREDS[@]}"
post "$SM" /__control '{"clock_offset_s":0}'
expect_eq "a request 20 min off the fake's clock: the fake saw skew; transient exit 69" \
  "69 $((skew_before + 1))" "$RC $(sm_stats clock_skew)"
has "clock skew: once names RequestExpired, clock skew and NTP" "$OUT" "RequestExpired" "clock skew" "NTP"
status_of skew
has "clock skew: once and status say so" "$OUT
$STATUS" "clock skew"
# The fake's Date header follows the real clock (not clock_offset_s), so the measured offset is
# checked with a raw answer carrying AWS's Date 20 min ahead, as the real service would send.
post "$SM" /__control "$(printf '{"fail_next":[{"status":400,"body":{"__type":"RequestExpired","message":"Request has expired."},"headers":{"date":"%s"}}]}' \
  "$(date -u -d '+1200 seconds' '+%a, %d %b %Y %H:%M:%S GMT')")"
once skew "${ENV_CREDS[@]}"
offset=$(sed -n 's/.*clock skew: the local clock is \([0-9]*\) s behind AWS.*/\1/p' <<<"$OUT" | head -n1)
if [ -n "$offset" ] && [ "$offset" -ge 1190 ] && [ "$offset" -le 1210 ]; then
  pass "clock skew: the message gives the measured offset from AWS's Date ($offset s behind) and says NTP"
else
  fail "clock skew: no measured offset of ~1200 s in: $OUT"
fi
expect_eq "clock skew with a Date header: transient, exit 69" 69 "$RC"
once skew "${ENV_CREDS[@]}"
expect_eq "clock back in step: the next once succeeds" 0 "$RC"

hung_before=$(sm_stats hung)
post "$SM" /__control '{"hang_next":5}'
( for a in "${ENV_CREDS[@]}"; do export "${a?}"; done
  exec timeout 60 "$CKH_REFRESHER" once --force --profile hang ) >"$OUTS/hang.out" 2>&1 </dev/null &
HANG_PID=$!
BG_PIDS+=("$HANG_PID")
sleep 0.7
# timeout's child is the refresher: its argv is what any local user could see.
for c in $(pgrep -P "$HANG_PID" || true); do tr '\0' ' ' </proc/"$c"/cmdline >"$OUTS/argv.hang.$c" 2>/dev/null || true; done
start=$(date +%s%N)
set +e; wait "$HANG_PID"; RC=$?; set -e
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 + 700 ))
post "$SM" /__control '{"hang_next":0}'
expect_eq "a hung request with timeout = \"2s\": transient, exit 69" 69 "$RC"
[ "$elapsed_ms" -lt 8000 ] && pass "the hung request was given up after ${elapsed_ms} ms (bound 2 s)" \
  || fail "once took ${elapsed_ms} ms with timeout = 2s"
[ "$(sm_stats hung)" -gt "$hung_before" ] && pass "the fake held the request open (hung counter)" || fail "the fake saw no hung request"
ls "$OUTS"/argv.hang.* >/dev/null 2>&1 && pass "captured the running refresher's argv" || fail "no refresher argv captured"
status_of hang
has "hung request: status says it timed out, transient" "$STATUS" "timed out" "transient"
once hang "${ENV_CREDS[@]}"
expect_eq "no more hangs: the next once succeeds" 0 "$RC"

# ---- 6. no secret anywhere --------------------------------------------------------------------
ref status-all -- status
ref status-all-json -- status --json
# Its exit code is the worst profile's health (some profiles here failed): 0/69/75/77/78.
expect_eq "status --json of every profile exits with a health code and is JSON" "health yes" \
  "$(case $RC in 0 | 69 | 75 | 77 | 78) echo health ;; *) echo "exit $RC" ;; esac) $([ "$(jget x <<<"$OUT")" != "<not json>" ] && echo yes)"
bad_modes=
for p in envplain envjson envprev files proc ecs imds throttle e500 skew hang; do
  m=$(stat -c %a "$STATE/$p.cred" 2>/dev/null || echo missing)
  [ "$m" = 600 ] || bad_modes+=" $p.cred:$m"
done
expect_eq "every published P.cred is 0600" "" "$bad_modes"
# What may hold a secret: P.cred (the value) and the files the test wrote as AWS would.
leaks=$( { grep -rlF -f "$T/secrets" "$OUTS" "$STATE" "$T"/*.log "$T"/*.out "$T"/*.err "$T/helper.err" 2>/dev/null || true; } \
  | grep -vE '\.cred$' || true)
[ -z "$leaks" ] && pass "no secret key, session token, container token or secret value in any output, status, log or argv ($(ls "$OUTS" | wc -l) outputs)" \
  || fail "a secret is in: $leaks"
grep -qF -- "--force --profile" "$OUTS/argv.credential-process-parent" 2>/dev/null \
  && pass "the credential_process parent's argv (the refresher's) was captured and checked" \
  || fail "credential_process parent argv not captured"

finish
