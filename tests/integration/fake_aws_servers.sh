#!/bin/bash
# The fake AWS endpoints (tests/fakes/aws/) behave as tests/fakes/aws_fixtures/ documents:
#  - secretsmanager.js verifies SigV4 with AWS's own signer (@smithy/signature-v4, installed by
#    tests/fakes/aws/setup.sh): it accepts a GetSecretValue signed by smithy itself and the two
#    requests of signed-get-secret-value.json verbatim (clock pinned to their date), and rejects
#    the same request with one body byte changed, with a wrong secret key, unsigned session
#    token, stale or future X-Amz-Date (skew; both auth_errors styles), unknown key, missing /
#    wrong / expired session token, wrong scope service, no Authorization; it serves
#    SecretString / SecretBinary / AWSPREVIOUS / VersionId and every documented error through
#    state and controls (ResourceNotFoundException body verbatim, AccessDeniedException,
#    DecryptionFailure, InvalidRequestException, InvalidParameterException,
#    InternalServiceError 500, ThrottlingException, ValidationException), fail_next, hang_next,
#    X-Amzn-Errortype; stats count it all.
#  - imds.js: the IMDSv2 PUT-token / list-role / credentials flow in the recorded layout, 401
#    without or with a bad/expired token, TTL limits, X-Forwarded-For and version-path 403, no
#    role (recorded 404 page), IMDS disabled (403 text/xml), the recorded 503-retry sequence.
#  - container_credentials.js: credentials with the right Authorization token, 401 without,
#    403 with a wrong one, the recorded and documented body layouts.
#  - credentials served by the IMDS and container fakes sign requests the SM fake accepts.
#  - no secret key, session token, secret value or Authorization signature reaches any fake's
#    log or output.
# Needs node, npm (first run: the npm registry; later runs reuse $CKH_BUILD_DIR/aws-fakes-cache)
# and curl; exits 77 "skipped: <reason>" without them. Prints fingerprints, never a secret.
set -euo pipefail

command -v node >/dev/null 2>&1 || { echo "skipped: node is not installed"; exit 77; }
command -v npm >/dev/null 2>&1 || { echo "skipped: npm is not installed"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "skipped: curl is not installed"; exit 77; }
command -v sha256sum >/dev/null 2>&1 || { echo "skipped: sha256sum is not installed"; exit 77; }

SRC=${CKH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
FAKES="$SRC/tests/fakes/aws"
FIX="$SRC/tests/fakes/aws_fixtures"

# shellcheck source=tests/integration/lib_checks.sh
source "$(dirname "$0")/lib_checks.sh"
private_tmp ckh-fake-aws

# shellcheck source=tests/integration/lib_aws.sh
source "$(dirname "$0")/lib_aws.sh"

# ---- AWS's signer --------------------------------------------------------------------------
install_aws_signer
pass "setup.sh: @smithy/signature-v4 $(jget version < "$NM/@smithy/signature-v4/package.json") in $NM"

# The test's client: signs GetSecretValue with @smithy/signature-v4 exactly as a botocore-style
# client would (host, content-type, x-amz-target, x-amz-date [+ x-amz-security-token]) and sends
# it. Settings come from the environment (never argv): SM_PORT, C_AKID, C_SECRET, C_TOKEN,
# C_REGION, C_SERVICE, C_BODY, C_TARGET, C_CONTENT_TYPE, C_OFFSET_S (sign as of now+N s),
# C_TAMPER=body (flip one bit of one body byte after signing), C_CHECKSUM=1 (add
# x-amz-content-sha256), C_UNSIGNED_TOKEN=1 (add the token after signing), C_NO_AUTH=1,
# C_REPLAY=<i> (send signed-get-secret-value.json case i verbatim), C_TIMEOUT_MS.
# Prints the status (or "timeout"); body to $C_OUT, response headers as JSON to $C_OUT.hdr, the
# error's __type and message (or Message) as two lines to $C_OUT.err.
cat > "$T/client.js" <<'EOF'
'use strict';
const http = require('http'), fs = require('fs'), path = require('path');
const e = process.env;
const {SignatureV4} = require(path.join(e.NM, '@smithy', 'signature-v4'));
const {Sha256} = require(path.join(e.NM, '@aws-crypto', 'sha256-js'));
(async () => {
  let headers, body;
  if (e.C_REPLAY !== undefined) {
    const c = JSON.parse(fs.readFileSync(e.C_FIXTURE, 'utf8')).cases[Number(e.C_REPLAY)];
    headers = Object.fromEntries(c.request.headers);
    headers.authorization = c.authorization;
    body = Buffer.from(c.request.body);
  } else {
    body = Buffer.from(e.C_BODY !== undefined ? e.C_BODY : '{"SecretId":"claude/api-key"}');
    const req = {method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port: Number(e.SM_PORT), path: '/', query: {},
      headers: {host: `127.0.0.1:${e.SM_PORT}`, 'content-type': e.C_CONTENT_TYPE || 'application/x-amz-json-1.1',
        'x-amz-target': e.C_TARGET || 'secretsmanager.GetSecretValue'}, body};
    const signer = new SignatureV4({credentials: {accessKeyId: e.C_AKID, secretAccessKey: e.C_SECRET,
      sessionToken: e.C_TOKEN && !e.C_UNSIGNED_TOKEN ? e.C_TOKEN : undefined}, region: e.C_REGION || 'us-east-1',
      service: e.C_SERVICE || 'secretsmanager', sha256: Sha256, applyChecksum: e.C_CHECKSUM === '1'});
    const signed = await signer.sign(req, {signingDate: new Date(Date.now() + Number(e.C_OFFSET_S || 0) * 1000)});
    headers = signed.headers;
    if (e.C_UNSIGNED_TOKEN) headers['x-amz-security-token'] = e.C_TOKEN;
    if (e.C_NO_AUTH) delete headers.authorization;
    if (e.C_TAMPER === 'body') {
      const i = body.indexOf('"SecretId":"') + '"SecretId":"'.length;
      body = Buffer.from(body); body[i] ^= 0x01;
    }
  }
  const r = http.request({host: '127.0.0.1', port: Number(e.SM_PORT), method: 'POST', path: '/', headers,
    timeout: Number(e.C_TIMEOUT_MS || 10000)}, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      fs.writeFileSync(e.C_OUT, Buffer.concat(chunks));
      fs.writeFileSync(e.C_OUT + '.hdr', JSON.stringify(res.headers));
      let t = '', m = '';
      try { const j = JSON.parse(Buffer.concat(chunks)); t = j.__type || ''; m = j.message || j.Message || ''; } catch (err) { /* not JSON */ }
      fs.writeFileSync(e.C_OUT + '.err', `${t}\n${m}\n`);
      process.stdout.write(String(res.statusCode));
    });
  });
  r.on('timeout', () => {
    fs.writeFileSync(e.C_OUT, ''); fs.writeFileSync(e.C_OUT + '.hdr', '{}'); fs.writeFileSync(e.C_OUT + '.err', '\n\n');
    process.stdout.write('timeout'); r.destroy();
  });
  r.on('error', (err) => { if (!r.destroyed || err.code !== 'ECONNRESET') process.stderr.write(`client: ${err.code || err.message}\n`); });
  r.end(body);
})().catch((err) => { process.stderr.write(`client: ${err.message}\n`); process.exit(1); });
EOF

start_fake sm "$FAKES/secretsmanager.js" --node-modules "$NM"
start_fake imds "$FAKES/imds.js"
start_fake ecs "$FAKES/container_credentials.js"
SM="http://127.0.0.1:$PORT_sm"; IMDS="http://127.0.0.1:$PORT_imds"; ECS="http://127.0.0.1:$PORT_ecs"
pass "three fakes listening (port files written)"

# post BASE PATH JSON: CODE, BODY.  get BASE PATH [curl args]: CODE, BODY, $T/hdrs.
post() {
  CODE=$(printf '%s' "$3" | curl -sS -o "$T/body" -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' \
    --data-binary @- "$1$2" || true)
  BODY=$(cat "$T/body")
}
control() { post "$1" /__control "$2"; [ "$CODE" = 200 ] || fail "control $2: $CODE $BODY"; }
sm_state() { post "$SM" /__state "$1"; [ "$CODE" = 200 ] || fail "state: $CODE $BODY"; }
get() {
  local base=$1 p=$2; shift 2
  CODE=$(curl -sS -o "$T/body" -D "$T/hdrs" -w '%{http_code}' --max-time 10 "$@" "$base$p" || true)
  BODY=$(cat "$T/body")
}
header() { tr -d '\r' < "$T/hdrs" | sed -n "s/^$1: //Ip" | head -1; }
stat_of() { curl -sS --max-time 10 "$1/__stats" | jget "$2"; }
# sm: one signed GetSecretValue through the client; CODE, BODY, ETYPE (__type), EMSG.
sm() {
  CODE=$(SM_PORT=$PORT_sm NM=$NM C_OUT="$T/sm.body" C_FIXTURE="$FIX/aws-secretsmanager/signed-get-secret-value.json" \
    node "$T/client.js" 2>>"$T/client.err" || true)
  BODY=$(cat "$T/sm.body")
  ETYPE= EMSG=
  { IFS= read -r ETYPE || true; IFS= read -r EMSG || true; } < "$T/sm.body.err"
}
sm_header() { jget "$1" < "$T/sm.body.hdr"; }
expect_error() { # expect_error WHAT STATUS TYPE
  expect_eq "$1" "$2 $3" "$CODE $ETYPE"
}

# ---- Secrets Manager: the fixture's AWS-signed requests, verbatim ----------------------------
FIXREQ="$FIX/aws-secretsmanager/signed-get-secret-value.json"
FIX_SECRET=$(jget cases.0.credentials.secret_access_key < "$FIXREQ"); secret "$FIX_SECRET"
FIX_TOKEN=$(jget cases.1.credentials.session_token < "$FIXREQ"); secret "$FIX_TOKEN"
FIX_DATE_S=$(date -u -d "2015-08-30T12:36:00Z" +%s)
control "$SM" "{\"clock_offset_s\":$(( FIX_DATE_S - $(date +%s) ))}"
C_REPLAY=0 sm
expect_eq "fixture request 'long-term-credentials' (signed by @smithy/signature-v4 5.7.5) accepted verbatim" 200 "$CODE"
expect_eq "default state serves the documented AWSPREVIOUS example" \
  "MyTestDatabaseSecret EXAMPLE2-90ab-cdef-fedc-ba987SECRET2 [\"AWSPREVIOUS\"]" "$(jget Name VersionId VersionStages <<<"$BODY" | paste -sd' ')"
expect_eq "content-type application/x-amz-json-1.1, x-amzn-requestid set" "application/x-amz-json-1.1 yes" \
  "$(sm_header content-type) $([ -n "$(sm_header x-amzn-requestid)" ] && echo yes)"
sm_state "{\"credentials\":{\"AKIDEXAMPLE\":{\"secret\":\"$FIX_SECRET\",\"session_token\":\"$FIX_TOKEN\"}}}"
C_REPLAY=1 sm
expect_eq "fixture request 'session-token-signed' accepted verbatim" 200 "$CODE"
C_REPLAY=0 sm
expect_error "the long-term request now lacks the required session token" 400 UnrecognizedClientException
control "$SM" '{"reset":true}'
C_REPLAY=0 sm
expect_error "same fixture request at today's clock: skew" 400 RequestExpired

# ---- Secrets Manager: our own smithy-signed requests -----------------------------------------
AKID=AKIDTESTFAKE01; SECRET=$(rand 30); secret "$SECRET"
TMP_AKID=ASIATESTFAKE02; TMP_SECRET=$(rand 30); TMP_TOKEN=$(rand 120); secret "$TMP_SECRET"; secret "$TMP_TOKEN"
OLD_AKID=ASIATESTFAKE03; OLD_SECRET=$(rand 30); OLD_TOKEN=$(rand 60); secret "$OLD_SECRET"; secret "$OLD_TOKEN"
API_KEY="sk-ant-api03-$(rand 60)"; secret "$API_KEY"
PREV_KEY="sk-ant-api03-$(rand 60)"; secret "$PREV_KEY"
BIN=$(head -c 48 /dev/urandom | base64 -w0); secret "$BIN"
EXPIRED=$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ)
sm_state "$(cat <<JSON
{"credentials": {"$AKID": {"secret": "$SECRET"},
                 "$TMP_AKID": {"secret": "$TMP_SECRET", "session_token": "$TMP_TOKEN"},
                 "$OLD_AKID": {"secret": "$OLD_SECRET", "session_token": "$OLD_TOKEN", "expiration": "$EXPIRED"}},
 "secrets": {"claude/api-key": {"versions": [
                 {"VersionId": "11111111-2222-3333-4444-555555555555", "VersionStages": ["AWSCURRENT"],
                  "SecretString": "$API_KEY", "CreatedDate": 1700000000.5},
                 {"VersionId": "66666666-7777-8888-9999-000000000000", "VersionStages": ["AWSPREVIOUS"],
                  "SecretString": "$PREV_KEY"}]},
             "claude/binary": {"SecretBinary": "$BIN"},
             "claude/denied": {"SecretString": "x"},
             "claude/kms": {"SecretString": "x"},
             "claude/deleted": {"SecretString": "x", "deleted": true},
             "claude/badparam": {"SecretString": "x", "error": "InvalidParameterException"}},
 "denied": ["claude/denied", "claude/missing-but-denied"], "kms_fail": ["claude/kms"], "region": null}
JSON
)"
expect_eq "state view shows fingerprints only" "$(fp "$SECRET")" "$(jget "credentials.$AKID.secret_fp" <<<"$BODY")"
grep -q -F "$SECRET" "$T/body" && fail "state view leaks a secret key" || pass "state view holds no secret key"

export C_AKID=$AKID C_SECRET=$SECRET
sm
expect_eq "smithy-signed GetSecretValue: 200" 200 "$CODE"
expect_eq "SecretString is the AWSCURRENT value (fp $(fp "$API_KEY"))" "$(fp "$API_KEY")" "$(fp "$(jget SecretString <<<"$BODY")")"
expect_eq "Name, VersionId, VersionStages, CreatedDate" \
  'claude/api-key 11111111-2222-3333-4444-555555555555 ["AWSCURRENT"] 1700000000.5' \
  "$(jget Name VersionId VersionStages CreatedDate <<<"$BODY" | paste -sd' ')"
ARN=$(jget ARN <<<"$BODY")
[[ $ARN =~ ^arn:aws:secretsmanager:us-east-1:123456789012:secret:claude/api-key-[A-Za-z0-9]{6}$ ]] \
  && pass "ARN built from the scope region: $ARN" || fail "ARN $ARN"
expect_eq "members in the documented order" "ARN,CreatedDate,Name,SecretString,VersionId,VersionStages" \
  "$(node -e 'process.stdout.write(Object.keys(JSON.parse(require("fs").readFileSync(process.argv[1]))).join())' "$T/sm.body")"
C_BODY="{\"SecretId\":\"$ARN\"}" sm
expect_eq "SecretId as the full ARN" "200 claude/api-key" "$CODE $(jget Name <<<"$BODY")"
C_BODY="{\"SecretId\":\"${ARN%-*}\"}" sm
expect_eq "SecretId as a partial ARN" "200 claude/api-key" "$CODE $(jget Name <<<"$BODY")"
C_REGION=eu-west-3 sm
expect_eq "any region is accepted when state.region is null" 200 "$CODE"

C_TAMPER=body sm
expect_error "same request with one body byte changed" 400 InvalidSignatureException
expect_eq "bad signature answers the observed body verbatim" "$(cat "$FIX/aws-secretsmanager/error-InvalidSignatureException.observed.json")" "$BODY"
C_SECRET="${SECRET}x" sm
expect_error "wrong secret key" 400 InvalidSignatureException
C_SERVICE=s3 sm
expect_error "scope service s3" 400 InvalidSignatureException
C_CHECKSUM=1 sm
expect_eq "with x-amz-content-sha256 (the JS SDK v3 style): 200" 200 "$CODE"
C_NO_AUTH=1 sm
expect_error "no Authorization header" 400 IncompleteSignature
C_TARGET=secretsmanager.ListSecrets sm
expect_error "other X-Amz-Target" 400 UnknownOperationException

C_OFFSET_S=-600 sm
expect_error "X-Amz-Date 10 min old (documented style)" 400 RequestExpired
C_OFFSET_S=600 sm
expect_error "X-Amz-Date 10 min ahead" 400 RequestExpired
C_OFFSET_S=-240 sm
expect_eq "X-Amz-Date 4 min old: inside the 5 min window" 200 "$CODE"
control "$SM" '{"auth_errors":"observed"}'
C_OFFSET_S=-600 sm
expect_error "X-Amz-Date 10 min old (observed style)" 400 InvalidSignatureException
[[ $EMSG == "Signature expired: "*" is now earlier than "*" - 5 min.)" ]] && pass "message: $EMSG" || fail "message: $EMSG"
C_AKID=AKIDNOTKNOWN sm
expect_error "unknown access key (observed style)" 400 UnrecognizedClientException
control "$SM" '{"auth_errors":"documented","clock_offset_s":900}'
sm
expect_error "fresh signature but the fake's clock 15 min ahead" 400 RequestExpired
control "$SM" '{"clock_offset_s":0}'
C_AKID=AKIDNOTKNOWN sm
expect_error "unknown access key (documented style)" 403 InvalidClientTokenId

C_AKID=$TMP_AKID C_SECRET=$TMP_SECRET C_TOKEN=$TMP_TOKEN sm
expect_eq "temporary credentials with a signed X-Amz-Security-Token: 200" 200 "$CODE"
C_AKID=$TMP_AKID C_SECRET=$TMP_SECRET sm
expect_error "temporary credentials without the token" 400 UnrecognizedClientException
C_AKID=$TMP_AKID C_SECRET=$TMP_SECRET C_TOKEN="${TMP_TOKEN}x" sm
expect_error "temporary credentials with a wrong token" 400 UnrecognizedClientException
C_AKID=$TMP_AKID C_SECRET=$TMP_SECRET C_TOKEN=$TMP_TOKEN C_UNSIGNED_TOKEN=1 sm
expect_error "token sent but not signed" 400 InvalidSignatureException
C_AKID=$OLD_AKID C_SECRET=$OLD_SECRET C_TOKEN=$OLD_TOKEN sm
expect_error "expired temporary credentials" 400 ExpiredTokenException

# ---- versions and documented errors ---------------------------------------------------------------
C_BODY='{"SecretId":"claude/api-key","VersionStage":"AWSPREVIOUS"}' sm
expect_eq "VersionStage AWSPREVIOUS (fp $(fp "$PREV_KEY"))" "200 $(fp "$PREV_KEY")" "$CODE $(fp "$(jget SecretString <<<"$BODY")")"
C_BODY='{"SecretId":"claude/api-key","VersionId":"11111111-2222-3333-4444-555555555555"}' sm
expect_eq "VersionId" "200 $(fp "$API_KEY")" "$CODE $(fp "$(jget SecretString <<<"$BODY")")"
C_BODY='{"SecretId":"claude/api-key","VersionId":"11111111-2222-3333-4444-555555555555","VersionStage":"AWSPREVIOUS"}' sm
expect_error "VersionId and VersionStage on different versions" 400 InvalidRequestException
C_BODY='{"SecretId":"claude/api-key","VersionStage":"AWSPENDING"}' sm
expect_error "unknown staging label" 400 ResourceNotFoundException
C_BODY='{"SecretId":"claude/binary"}' sm
expect_eq "SecretBinary comes back base64 (fp $(fp "$BIN")), no SecretString" "200 $(fp "$BIN") " \
  "$CODE $(fp "$(jget SecretBinary <<<"$BODY")") $(jget SecretString <<<"$BODY")"
C_BODY='{"SecretId":"claude/nope"}' sm
expect_error "missing secret" 400 ResourceNotFoundException
expect_eq "missing secret answers the fixture body verbatim" "$(cat "$FIX/aws-secretsmanager/error-ResourceNotFoundException.response.json")" "$BODY"
C_BODY='{"SecretId":"claude/denied"}' sm
expect_error "denied secret" 400 AccessDeniedException
[[ $EMSG == *"is not authorized to perform: secretsmanager:GetSecretValue on resource: claude/denied"* ]] && pass "AccessDenied message names the action and resource" || fail "message: $EMSG"
C_BODY='{"SecretId":"claude/missing-but-denied"}' sm
expect_error "denied before existence" 400 AccessDeniedException
C_BODY='{"SecretId":"claude/kms"}' sm
expect_error "kms_fail" 400 DecryptionFailure
C_BODY='{"SecretId":"claude/deleted"}' sm
expect_error "secret scheduled for deletion" 400 InvalidRequestException
C_BODY='{"SecretId":"claude/badparam"}' sm
expect_error "per-secret error InvalidParameterException" 400 InvalidParameterException
C_BODY='{"VersionStage":"AWSCURRENT"}' sm
expect_error "no SecretId" 400 ValidationException
C_BODY='{"SecretId":"claude/api-key","VersionId":"short"}' sm
expect_error "VersionId shorter than the model's 32" 400 ValidationException
C_BODY="$(cat "$FIX/aws-secretsmanager/get-secret-value.docs-sample-request.http" | sed -n '/^{/,$p')" sm
expect_error "the docs sample body with its trailing comma (README note 1)" 400 SerializationException
control "$SM" '{"error_next":["InternalServiceError",{"type":"ServiceUnavailable","message":"try later"}]}'
sm
expect_error "error_next InternalServiceError" 500 InternalServiceError
sm
expect_eq "error_next ServiceUnavailable 503 with its message" "503 ServiceUnavailable try later" "$CODE $ETYPE $EMSG"
control "$SM" '{"throttle_next":2}'
sm; expect_error "throttle_next 1/2" 400 ThrottlingException
sm; expect_error "throttle_next 2/2" 400 ThrottlingException
sm; expect_eq "after throttling: 200" 200 "$CODE"
expect_eq "stats throttled" 2 "$(stat_of "$SM" throttled)"
control "$SM" '{"error_type_header":"uri","error_type_namespace":"com.amazonaws.secretsmanager"}'
C_BODY='{"SecretId":"claude/nope"}' sm
expect_eq "X-Amzn-Errortype with the Coral URI, namespaced __type" \
  "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazon.coral.service/ com.amazonaws.secretsmanager#ResourceNotFoundException" \
  "$(sm_header x-amzn-errortype) $ETYPE"
control "$SM" '{"error_type_header":false,"error_type_namespace":null,"fail_next":[{"status":502,"body":"bad gateway","headers":{"content-type":"text/html"}}]}'
sm
expect_eq "fail_next raw 502" "502 bad gateway text/html" "$CODE $BODY $(sm_header content-type)"
control "$SM" '{"hang_next":1}'
C_TIMEOUT_MS=700 sm
expect_eq "hang_next: no answer" timeout "$CODE"
sm_state '{"region":"us-west-2"}'
sm; expect_error "scope region us-east-1 when state.region is us-west-2" 400 InvalidSignatureException
C_REGION=us-west-2 sm; expect_eq "scope region us-west-2: 200" 200 "$CODE"
sm_state '{"region":null}'
STATS=$(curl -sS "$SM/__stats")
expect_eq "stats: signature_failures (one byte changed, wrong key, unsigned token)" 3 "$(jget signature_failures <<<"$STATS")"
expect_eq "stats: clock_skew" 5 "$(jget clock_skew <<<"$STATS")"
expect_eq "stats: last request's signed headers" "content-type;host;x-amz-date;x-amz-target us-west-2" \
  "$(jget last.signed_headers last.region <<<"$STATS" | paste -sd' ')"
N_OK=$(jget ok <<<"$STATS"); N_REQ=$(jget requests <<<"$STATS")
pass "stats: $N_REQ requests, $N_OK ok, errors $(jget errors <<<"$STATS")"

# ---- IMDSv2 -----------------------------------------------------------------------------------
I_AKID=ASIAIMDSFAKE04; I_SECRET=$(rand 30); I_TOKEN=$(rand 100); secret "$I_SECRET"; secret "$I_TOKEN"
control "$IMDS" "{\"credentials\":{\"AccessKeyId\":\"$I_AKID\",\"SecretAccessKey\":\"$I_SECRET\",\"Token\":\"$I_TOKEN\"}}"
get "$IMDS" /latest/api/token -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600'
TOK=$BODY; secret "$TOK"
expect_eq "PUT /latest/api/token: 200 text/plain, TTL echoed" "200 text/plain 21600" "$CODE $(header content-type) $(header x-aws-ec2-metadata-token-ttl-seconds)"
printf 'header = "X-aws-ec2-metadata-token: %s"\n' "$TOK" > "$T/imds.curlrc"   # token out of argv
get "$IMDS" /latest/meta-data/iam/security-credentials/ -K "$T/imds.curlrc"
expect_eq "list role with the token" "200 imds-assume-role-test" "$CODE $BODY"
get "$IMDS" /latest/meta-data/iam/security-credentials/imds-assume-role-test -K "$T/imds.curlrc"
expect_eq "credentials document: 200 text/plain" "200 text/plain" "$CODE $(header content-type)"
expect_eq "document members and values (fps)" "Success AWS-HMAC $I_AKID $(fp "$I_SECRET") $(fp "$I_TOKEN")" \
  "$(jget Code Type AccessKeyId <<<"$BODY" | paste -sd' ') $(fp "$(jget SecretAccessKey <<<"$BODY")") $(fp "$(jget Token <<<"$BODY")")"
expect_eq "document in the recorded layout" "$(head -1 "$FIX/aws-credentials/imds/security-credentials-role.recorded.json")|  \"Code\" : \"Success\"," \
  "$(sed -n 1p "$T/body")|$(sed -n 2p "$T/body")"
EXP=$(jget Expiration <<<"$BODY")
[[ $EXP =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] && (( $(date -d "$EXP" +%s) > $(date +%s) + 3600 )) \
  && pass "Expiration $EXP is ISO 8601 UTC, hours ahead" || fail "Expiration $EXP"
sm_state "{\"credentials\":{\"$I_AKID\":{\"secret\":\"$I_SECRET\",\"session_token\":\"$I_TOKEN\",\"expiration\":\"$EXP\"}}}"
C_AKID=$I_AKID C_SECRET=$I_SECRET C_TOKEN=$I_TOKEN sm
expect_eq "IMDS credentials sign a GetSecretValue the SM fake accepts" "200 $(fp "$API_KEY")" "$CODE $(fp "$(jget SecretString <<<"$BODY")")"
get "$IMDS" /latest/meta-data/iam/security-credentials/
expect_eq "list without a token: 401" 401 "$CODE"
get "$IMDS" /latest/meta-data/iam/security-credentials/imds-assume-role-test -H 'X-aws-ec2-metadata-token: not-a-token'
expect_eq "credentials with a bad token: 401" 401 "$CODE"
get "$IMDS" /latest/meta-data/iam/security-credentials/other-role -K "$T/imds.curlrc"
expect_eq "other role: 404" 404 "$CODE"
get "$IMDS" /latest/api/token -X PUT
expect_eq "PUT without TTL: 400" 400 "$CODE"
get "$IMDS" /latest/api/token -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21601'
expect_eq "PUT with TTL 21601: 400" 400 "$CODE"
get "$IMDS" /latest/api/token -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' -H 'X-Forwarded-For: 10.0.0.1'
expect_eq "PUT with X-Forwarded-For: 403" 403 "$CODE"
get "$IMDS" /2021-03-23/api/token -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60'
expect_eq "PUT to a version path: 403" 403 "$CODE"
control "$IMDS" '{"role":null}'
get "$IMDS" /latest/meta-data/iam/security-credentials/ -K "$T/imds.curlrc"
expect_eq "no IAM role: 404 text/html, the recorded page" "404 text/html 404 - Not Found" "$CODE $(header content-type) $(grep -o '<title>[^<]*' "$T/body" | cut -c8-)"
control "$IMDS" '{"role":"imds-assume-role-test","disabled":true}'
get "$IMDS" /latest/api/token -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600'
expect_eq "IMDS disabled: PUT 403 text/xml (imds_token_fail)" "403 text/xml" "$CODE $(header content-type)"
control "$IMDS" '{"disabled":false,"fail_next":[{"endpoint":"token","status":503},{"endpoint":"list","status":503},{"endpoint":"credentials","status":503}]}'
RETRY=""
for step in token token list list creds creds; do
  case $step in
    token) get "$IMDS" /latest/api/token -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600'
           [ "$CODE" = 200 ] && { TOK=$BODY; secret "$TOK"; printf 'header = "X-aws-ec2-metadata-token: %s"\n' "$TOK" > "$T/imds.curlrc"; } ;;
    list) get "$IMDS" /latest/meta-data/iam/security-credentials/ -K "$T/imds.curlrc" ;;
    creds) get "$IMDS" /latest/meta-data/iam/security-credentials/imds-assume-role-test -K "$T/imds.curlrc" ;;
  esac
  RETRY+="$CODE "
done
expect_eq "imds_default_chain_retries: 503 then 200 on each step" "503 200 503 200 503 200 " "$RETRY"
control "$IMDS" '{"max_token_ttl_s":1}'
get "$IMDS" /latest/api/token -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600'
TOK=$BODY; secret "$TOK"; printf 'header = "X-aws-ec2-metadata-token: %s"\n' "$TOK" > "$T/imds.curlrc"
expect_eq "capped token TTL" "200 1" "$CODE $(header x-aws-ec2-metadata-token-ttl-seconds)"
sleep 1.2
get "$IMDS" /latest/meta-data/iam/security-credentials/ -K "$T/imds.curlrc"
expect_eq "expired token: 401" 401 "$CODE"
ISTATS=$(curl -sS "$IMDS/__stats")
expect_eq "IMDS stats: token_puts tokens_issued credentials_served unauthorized" "8 3 2 3" \
  "$(jget token_puts tokens_issued credentials_served unauthorized <<<"$ISTATS" | paste -sd' ')"

# ---- container credentials ----------------------------------------------------------------------
E_AKID=ASIAECSFAKE05; E_SECRET=$(rand 30); E_TOKEN=$(rand 100); secret "$E_SECRET"; secret "$E_TOKEN"
AUTH_TOKEN="Basic static%20token-$(rand 12)"; secret "$AUTH_TOKEN"
control "$ECS" "{\"credentials\":{\"AccessKeyId\":\"$E_AKID\",\"SecretAccessKey\":\"$E_SECRET\",\"Token\":\"$E_TOKEN\",\"RoleArn\":\"arn:aws:iam::123456789012:role/claude\",\"AccountId\":\"123456789012\"},\"token\":\"$AUTH_TOKEN\",\"path\":\"/v1/credentials\"}"
printf 'header = "Authorization: %s"\n' "$AUTH_TOKEN" > "$T/ecs.curlrc"
get "$ECS" /v1/credentials -K "$T/ecs.curlrc" -H 'Accept: application/json'
expect_eq "container credentials with the token: 200 application/json" "200 application/json" "$CODE $(header content-type)"
expect_eq "members as recorded; values (fps)" "RoleArn,AccessKeyId,SecretAccessKey,Token,AccountId,Expiration $E_AKID $(fp "$E_SECRET") $(fp "$E_TOKEN")" \
  "$(node -e 'process.stdout.write(Object.keys(JSON.parse(require("fs").readFileSync(process.argv[1]))).join())' "$T/body") $(jget AccessKeyId <<<"$BODY") $(fp "$(jget SecretAccessKey <<<"$BODY")") $(fp "$(jget Token <<<"$BODY")")"
grep -q '"Expiration" : "' "$T/body" && pass "Expiration written as recorded ('\"Expiration\" : ')" || fail "Expiration layout"
ECS_EXP=$(jget Expiration <<<"$BODY")
expect_eq "stats: Authorization fingerprint and Accept" "$(fp "$AUTH_TOKEN") application/json" "$(stat_of "$ECS" last_authorization_fp) $(stat_of "$ECS" last_accept)"
get "$ECS" /v1/credentials
expect_eq "without the Authorization token: 401" 401 "$CODE"
get "$ECS" /v1/credentials -H 'Authorization: Basic wrong'
expect_eq "with a wrong token: 403" 403 "$CODE"
get "$ECS" /v2/credentials/other -K "$T/ecs.curlrc"
expect_eq "other path: 404" 404 "$CODE"
control "$ECS" '{"style":"docs"}'
get "$ECS" /v1/credentials -K "$T/ecs.curlrc"
expect_eq "documented layout" "AccessKeyId,Expiration,RoleArn,SecretAccessKey,Token" \
  "$(node -e 'process.stdout.write(Object.keys(JSON.parse(require("fs").readFileSync(process.argv[1]))).join())' "$T/body")"
control "$ECS" '{"token":null,"path":null,"style":"recorded","throttle_next":1}'
get "$ECS" /v2/credentials/52b19262-e7aa-4f56-a1cd-b958dcde8f3b
expect_eq "throttle_next: 429" 429 "$CODE"
get "$ECS" /v2/credentials/52b19262-e7aa-4f56-a1cd-b958dcde8f3b
expect_eq "no token configured (ECS relative URI): 200" 200 "$CODE"
sm_state "{\"credentials\":{\"$E_AKID\":{\"secret\":\"$E_SECRET\",\"session_token\":\"$E_TOKEN\",\"expiration\":\"$ECS_EXP\"}}}"
C_AKID=$E_AKID C_SECRET=$E_SECRET C_TOKEN=$E_TOKEN sm
expect_eq "container credentials sign a GetSecretValue the SM fake accepts" 200 "$CODE"
expect_eq "container stats: requests ok unauthorized forbidden not_found throttled" "7 3 1 1 1 1" \
  "$(jget requests ok unauthorized forbidden not_found throttled < <(curl -sS "$ECS/__stats") | paste -sd' ')"

# ---- logs and output hold no secret ---------------------------------------------------------------
for n in sm imds ecs; do
  if node -e 'for (const l of require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n")) JSON.parse(l)' "$T/$n.log"; then
    pass "$n log is JSON lines ($(wc -l < "$T/$n.log") requests)"
  else
    fail "$n log is not JSON lines"
  fi
done
if grep -q -F -f "$T/secrets" "$T"/{sm,imds,ecs}.{log,out,err}; then
  fail "a secret key, session token, token, secret value or signature leaked into a fake's log or output"
else
  pass "none of the $(wc -l < "$T/secrets") secrets is in the fakes' logs, stdout or stderr"
fi
grep -q 'AWS4-HMAC\|Signature=' "$T/sm.log" && fail "Authorization in the SM log" || pass "no Authorization value in the SM log"

# ---- SIGTERM with a hung request open --------------------------------------------------------------
control "$SM" '{"hang_next":1}'
(C_TIMEOUT_MS=20000 sm >/dev/null 2>&1) &
HUNG=$!
for _ in $(seq 100); do grep -q '"outcome":"hang"' <(tail -1 "$T/sm.log") && break; sleep 0.05; done
start=$(date +%s%N)
kill -TERM "${BG_PIDS[0]}"
set +e; wait "${BG_PIDS[0]}"; src=$?; wait "$HUNG"; set -e
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "SIGTERM: the SM fake exits 0" 0 "$src"
[ "$ms" -lt 3000 ] && pass "SIGTERM ended it and the hung request in ${ms} ms" || fail "SIGTERM took ${ms} ms"
finish
