#!/usr/bin/env node
// A fake AWS Secrets Manager endpoint (GetSecretValue only) for the integration tests of
// claude-key-refresher's AWS backend. Plain HTTP on 127.0.0.1.
//
// EVERY request's SigV4 signature is verified with AWS's OWN signer: the request is re-signed
// with @smithy/signature-v4 (+ @aws-crypto/sha256-js), pinned in ./package-lock.json and
// installed by ./setup.sh, using the secret key the fake knows for the request's access key id,
// the region and service of the request's credential scope, the request's own X-Amz-Date as
// the signing date and exactly the request's SignedHeaders (with their received values); the
// Credential, SignedHeaders and Signature of the result must equal the request's
// Authorization header. No SigV4 code of our own decides acceptance.
//
// It follows tests/fakes/aws_fixtures/aws-secretsmanager/ (a byte-exact copy of
// ../shared/testdata/aws-secretsmanager/; its README.md cites every source with commit/URL).
// The fixture files are read at start-up; the fake refuses to start without them.
//   README.md "The request", model-subset.json (botocore service-2.json): POST / only, no
//       query; Content-Type application/x-amz-json-1.1; X-Amz-Target = targetPrefix
//       "secretsmanager" + ".GetSecretValue"; signing name "secretsmanager"; body a JSON
//       object with SecretId (required; name, full ARN or partial ARN), optional VersionId,
//       VersionStage; neither -> the AWSCURRENT version. Length constraints are read from the
//       model's shapes (SecretIdType 1..2048, SecretVersionIdType 32..64,
//       SecretVersionStageType 1..256). README note 1: the docs sample body with its trailing
//       comma is NOT accepted.
//   get-secret-value.response.json / .docs-sample-response.http / model-examples.json: the
//       success body, members in the documented order ARN, CreatedDate (epoch-seconds JSON
//       number; a state value given as a number literal string such as "1.523477145713E9" is
//       sent verbatim), Name, SecretString | SecretBinary (base64), VersionId, VersionStages;
//       Content-Type application/x-amz-json-1.1 and x-amzn-RequestId as in the sample response.
//       The default state serves these documented values (see "State").
//   errors.json: every error's HTTP status (GetSecretValue errors: all 400 except
//       InternalServiceError 500; common errors such as AccessDeniedException 400,
//       InvalidClientTokenId 403, RequestExpired 400, ThrottlingException 400,
//       ServiceUnavailable 503) and the awsJson1_1 body {"__type": T, "Message": "..."}.
//   error-ResourceNotFoundException.response.json: the missing-secret body, verbatim.
//   error-InvalidSignatureException.observed.json: a bad signature answers 400 with exactly
//       that body (note the lower-case "message" of the authentication layer).
//   signed-get-secret-value.json: the default credentials (AKIDEXAMPLE, the SigV4 test suite's
//       key) and the signed headers a client sends (content-type;host;x-amz-date;x-amz-target
//       [+ x-amz-security-token]); its two requests are accepted verbatim when the fake's clock
//       is set to their date (control clock_offset_s).
//
// Authentication errors (all with a lower-case "message", as the observed one):
//   no Authorization / not AWS4-HMAC-SHA256 / missing Credential, SignedHeaders or Signature /
//       no or malformed X-Amz-Date: 400 IncompleteSignature (errors.json).
//   host not among SignedHeaders, scope service not secretsmanager, scope terminator not
//       aws4_request, scope date != X-Amz-Date's date, scope region not the state's region
//       (when one is set): 400 InvalidSignatureException with AWS's own texts for these.
//   X-Amz-Date more than skew_window_s (default 300) from the fake's clock:
//       auth_errors "documented" (default): 400 RequestExpired (errors.json, the only
//       documented error for a stale/future date stamp; its doc says 15 min, the fake's window
//       is 5 min by default as the real service enforces, and settable);
//       auth_errors "observed": 400 InvalidSignatureException "Signature expired: <date> is now
//       earlier than <t> (<now> - 5 min.)" / "Signature not yet current: ..." (the real
//       service's wording; NOT in the fixtures).
//   unknown access key id: "documented": 403 InvalidClientTokenId with its documented text;
//       "observed": 400 UnrecognizedClientException "The security token included in the request
//       is invalid." (what the real JSON services answer; NOT in the fixtures).
//   credentials with a session_token: X-Amz-Security-Token missing or different -> 400
//       UnrecognizedClientException "The security token included in the request is invalid.";
//       past the credentials' expiration (fake's clock) -> 400 ExpiredTokenException "The
//       security token included in the request is expired" (AWS's wording; not in the
//       fixtures). A token sent for credentials that have none: UnrecognizedClientException.
//       The token must be signed (it is in both signed fixture requests): the re-signing adds
//       it, so an unsigned token gives InvalidSignatureException.
//   x-amz-content-sha256, when sent, must be the body's SHA-256 (smithy takes the header's
//       value as the payload hash, so the fake checks it first): else InvalidSignatureException.
//   signature mismatch (any byte of method, path, signed header or body changed, wrong secret
//       key, different SignedHeaders): 400 InvalidSignatureException, the observed body.
//
// Service errors (after authentication; "Message", status from errors.json; texts are the
// fake's unless marked):
//   state.denied holds the secret (name/ARN) or the requested id: 400 AccessDeniedException
//       "User: <principal> is not authorized to perform: secretsmanager:GetSecretValue on
//       resource: <SecretId> because no identity-based policy allows the
//       secretsmanager:GetSecretValue action" (checked before existence, as IAM is).
//   no such secret: 400 ResourceNotFoundException, the fixture body verbatim.
//   VersionId / VersionStage matching no version: 400 ResourceNotFoundException "Secrets
//       Manager can't find the specified secret value for VersionId: X" / "... for staging
//       label: X"; both given but on different versions: 400 InvalidRequestException.
//   secret "deleted": true (scheduled for deletion): 400 InvalidRequestException "You can't
//       perform this operation on the secret because it was marked for deletion."
//   state.kms_fail holds the secret: 400 DecryptionFailure (the documented description).
//   secret "error": "<Type>" | {type, message}: that documented error, for this secret only.
//   control error_next: the next requests answer the named documented errors
//       (InternalServiceError 500, InvalidParameterException 400, ServiceUnavailable 503, ...).
//   control throttle_next N: 400 ThrottlingException "Rate exceeded".
//   wrong X-Amz-Target or Content-Type (media type other than application/x-amz-json-1.1;
//       parameters such as charset are ignored): 400 UnknownOperationException (fake's choice:
//       not in the fixtures); a body that is not a JSON object: 400 SerializationException (fake's
//       choice); a model constraint violated (SecretId missing/not a string/length, VersionId
//       or VersionStage length): 400 ValidationException (errors.json) "1 validation error
//       detected: Value ... at 'secretId' failed to satisfy constraint: ..." (Coral's wording).
//   any other path or method: 404 UnknownOperationException; body over 64 KiB: 413.
//   Optional, for testing a client's error-type parsing (awsjson11-error-type-parsing.json):
//   control error_type_header true | "uri" adds X-Amzn-Errortype: <T> | <T>:http://internal.
//   amazon.com/coral/com.amazon.coral.service/; error_type_namespace "ns" sends __type "ns#T".
//
// Usage:
//   node secretsmanager.js --port-file F [--log F] --node-modules DIR
// DIR is the node_modules directory printed by ./setup.sh (or env CKH_AWS_FAKES_NODE_MODULES).
// Listens on 127.0.0.1, port 0; once listening writes the port to F atomically (F.tmp, then
// rename). SIGTERM/SIGINT: closes the listener, destroys every open socket (hung requests
// included), exits 0. Exit 2 when the signer cannot be loaded, 64 on bad arguments, 1 when a
// fixture is missing.
//
// State (what AWS would know). POST /__state replaces each top-level member it names (the
// others are kept) and answers the redacted view; GET /__state answers the redacted view
// (secret keys, tokens and secret values only as fingerprints: first 12 hex of sha256).
//   {"credentials": {"<AKID>": {"secret": "<secret access key>", "session_token": "..."?,
//                    "expiration": "<ISO 8601>" | <epoch s>?, "principal": "arn:..."?}},
//    "secrets": {"<name>": {
//        "ARN"?: "arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 chars>",
//                (default: built from the request's scope region, "account" and a random
//                 6-character suffix fixed when the state is set)
//        "SecretString"? | "SecretBinary"? (base64), "VersionId"?, "CreatedDate"?,
//                (shorthand for one version staged AWSCURRENT)
//        "versions"?: [{"VersionId"?, "VersionStages": ["AWSCURRENT", ...],
//                       "SecretString"? | "SecretBinary"?, "CreatedDate"?}],
//        "deleted"?: true, "error"?: "<documented type>" | {"type", "message"?}}},
//    "denied": ["<name, ARN or requested SecretId>", ...],
//    "kms_fail": ["<name, ARN or requested SecretId>", ...],
//    "region": "<region>" | null   (null: any scope region is accepted),
//    "account": "123456789012"}
//   Default state: credentials AKIDEXAMPLE (signed-get-secret-value.json); secret
//   MyTestDatabaseSecret with the documented ARN, CreatedDate 1.523477145713E9, version
//   EXAMPLE1-90ab-cdef-fedc-ba987SECRET1 staged AWSCURRENT with the documented SecretString
//   (get-secret-value.response.json), and version EXAMPLE2-90ab-cdef-fedc-ba987SECRET2 (id:
//   fake's choice) staged AWSPREVIOUS with the SecretString of the 2020 model example.
//
// Controls. POST /__control merges (reset first, when given) and answers the control state;
// unknown members or wrong types: 400. GET /__control answers it.
//   {"reset": true          defaults for control, state and stats,
//    "throttle_next": N,    next N authenticated requests: ThrottlingException
//    "error_next": ["InternalServiceError", {"type": "ServiceUnavailable", "message": "..."}],
//                           next authenticated requests: these documented errors, in order
//    "fail_next": [{"status": 502, "body": "..." | {...}, "headers": {...}}],
//                           next requests (before authentication): these raw answers
//    "hang_next": N,        next N requests are never answered (socket open until shutdown)
//    "delay_ms": N,         every GetSecretValue request is answered after N ms
//    "clock_offset_s": N,   the fake's clock = real clock + N s (skew, credential expiry)
//    "skew_window_s": 300,  allowed |X-Amz-Date - fake clock|
//    "auth_errors": "documented" | "observed",
//    "error_type_header": false | true | "uri", "error_type_namespace": null | "ns"}
//   Order per request: fail_next, hang_next, delay, authentication, throttle_next, error_next,
//   protocol (target, content type, body), then the secret.
// GET /__stats: {"requests", "ok", "signature_failures" (InvalidSignatureException),
//   "auth_failures" (every authentication error), "clock_skew", "throttled", "injected"
//   (fail_next), "hung", "errors": {"<__type>": n}, "by_access_key": {"<AKID>": n},
//   "last": {access_key_id, region, service, signed_headers, x_amz_date, has_security_token,
//            has_content_sha256, target, content_type, user_agent, secret_id, version_id,
//            version_stage, status, outcome} of the last GetSecretValue request}
//
// Logging (--log F): one JSON line per request: ts_ms, method, path, status, outcome, error,
// reason, access_key_id, region, signed_headers, secret_id, version_stage, version_id,
// has_security_token, ms. Never the Authorization value, a session token, a secret key or a
// secret value; nothing of them reaches stdout or stderr either.
'use strict';
const http = require('http');
const path = require('path');
const crypto = require('crypto');
const {fingerprint: fp, parseArgs, fixtureReader, jsonLogger, bodyBytes, writeReply, readBody, serve} =
  require('../fake_server_lib');

// ---- command line -------------------------------------------------------------------------
const USAGE = 'usage: secretsmanager.js --port-file F [--log F] --node-modules DIR\n';
const opts = parseArgs('secretsmanager', USAGE, {'--node-modules': 'nodeModules'},
  {nodeModules: process.env.CKH_AWS_FAKES_NODE_MODULES || null});
if (!opts.nodeModules) { process.stderr.write(USAGE); process.exit(64); }

// ---- AWS's signer ---------------------------------------------------------------------------
let SignatureV4, Sha256;
try {
  ({SignatureV4} = require(path.join(path.resolve(opts.nodeModules), '@smithy', 'signature-v4')));
  ({Sha256} = require(path.join(path.resolve(opts.nodeModules), '@aws-crypto', 'sha256-js')));
  if (typeof SignatureV4 !== 'function' || typeof Sha256 !== 'function') throw new Error('unexpected exports');
} catch (e) {
  process.stderr.write(`secretsmanager: cannot load @smithy/signature-v4 and @aws-crypto/sha256-js from ` +
    `${opts.nodeModules} (run tests/fakes/aws/setup.sh): ${e.message}\n`);
  process.exit(2);
}

// ---- fixtures -------------------------------------------------------------------------------
const fixtureText = fixtureReader('secretsmanager', path.join(__dirname, '..', 'aws_fixtures', 'aws-secretsmanager'));
const fixtureJson = (name) => JSON.parse(fixtureText(name));

const MODEL = fixtureJson('model-subset.json');
const TARGET = `${MODEL.metadata.targetPrefix}.GetSecretValue`;
const SERVICE = MODEL.metadata.signingName;
const CONTENT_TYPE = `application/x-amz-json-${MODEL.metadata.jsonVersion}`;
const LIMITS = {
  SecretId: MODEL.shapes.SecretIdType, VersionId: MODEL.shapes.SecretVersionIdType,
  VersionStage: MODEL.shapes.SecretVersionStageType,
};
const ERRORS_DOC = fixtureJson('errors.json');
const ERROR_STATUS = {};
for (const e of ERRORS_DOC.common_errors.errors.concat(ERRORS_DOC.get_secret_value_errors.errors)) {
  ERROR_STATUS[e.type] = e.http_status;
}
const ERROR_DESCRIPTION = {};
for (const e of ERRORS_DOC.get_secret_value_errors.errors.concat(ERRORS_DOC.common_errors.errors)) {
  if (!ERROR_DESCRIPTION[e.type]) ERROR_DESCRIPTION[e.type] = e.description;
}
// Errors outside errors.json that the fake sends (see the header comment).
Object.assign(ERROR_STATUS, {
  InvalidSignatureException: 400, UnrecognizedClientException: 400, ExpiredTokenException: 400,
  UnknownOperationException: 400, SerializationException: 400,
});
const NOT_FOUND_BODY = fixtureText('error-ResourceNotFoundException.response.json');
const NOT_FOUND_MESSAGE = JSON.parse(NOT_FOUND_BODY).Message;
const BAD_SIGNATURE_BODY = fixtureText('error-InvalidSignatureException.observed.json');
const BAD_SIGNATURE_MESSAGE = JSON.parse(BAD_SIGNATURE_BODY).message;
const SIGNED = fixtureJson('signed-get-secret-value.json');
const DOC_RESPONSE_TEXT = fixtureText('get-secret-value.response.json');
const DOC_RESPONSE = JSON.parse(DOC_RESPONSE_TEXT);
const DOC_CREATED_LITERAL = (/"CreatedDate"\s*:\s*([-+0-9.eE]+)/.exec(DOC_RESPONSE_TEXT) || [])[1];
const MODEL_EXAMPLES = fixtureJson('model-examples.json');
const HISTORICAL = MODEL_EXAMPLES.historical.examples[0];
for (const [what, ok] of [['ResourceNotFoundException message', typeof NOT_FOUND_MESSAGE === 'string'],
  ['InvalidSignatureException message', typeof BAD_SIGNATURE_MESSAGE === 'string'],
  ['documented CreatedDate', !!DOC_CREATED_LITERAL], ['error statuses', ERROR_STATUS.InternalServiceError === 500],
  ['signed requests', SIGNED.cases && SIGNED.cases[0] && SIGNED.cases[0].credentials]]) {
  if (!ok) { process.stderr.write(`secretsmanager: fixture ${what} not as expected\n`); process.exit(70); }
}
const CORAL_URI = 'http://internal.amazon.com/coral/com.amazon.coral.service/';
const MAX_BODY = 64 * 1024;

// ---- helpers --------------------------------------------------------------------------------
const sha256hex = (b) => crypto.createHash('sha256').update(b).digest('hex');
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isCount = (v) => Number.isInteger(v) && v >= 0;
const fakeNow = () => Date.now() + control.clock_offset_s * 1000;
const amzDate = (ms) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
const randomSuffix = () => {
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (const b of crypto.randomBytes(6)) s += a[b % a.length];
  return s;
};

const log = jsonLogger('secretsmanager', opts.log);

function send(res, entry, status, body, headers) {
  entry.ms = Date.now() - entry.ts_ms;
  writeReply(res, entry, log, status, bodyBytes(body),
    Object.assign({'content-type': CONTENT_TYPE, 'x-amzn-requestid': crypto.randomUUID()}, headers));
}

// ---- state ----------------------------------------------------------------------------------
function defaultControl() {
  return {
    throttle_next: 0, error_next: [], fail_next: [], hang_next: 0, delay_ms: 0, clock_offset_s: 0,
    skew_window_s: 300, auth_errors: 'documented', error_type_header: false, error_type_namespace: null,
  };
}
function zeroStats() {
  return {
    requests: 0, ok: 0, signature_failures: 0, auth_failures: 0, clock_skew: 0, throttled: 0,
    injected: 0, hung: 0, errors: {}, by_access_key: {}, last: null,
  };
}
function defaultStateInput() {
  const c = SIGNED.cases[0].credentials;
  return {
    credentials: {[c.access_key_id]: {secret: c.secret_access_key}},
    secrets: {
      [DOC_RESPONSE.Name]: {
        ARN: DOC_RESPONSE.ARN,
        versions: [
          {VersionId: DOC_RESPONSE.VersionId, VersionStages: ['AWSCURRENT'],
            SecretString: DOC_RESPONSE.SecretString, CreatedDate: DOC_CREATED_LITERAL},
          {VersionId: 'EXAMPLE2-90ab-cdef-fedc-ba987SECRET2', VersionStages: HISTORICAL.output.VersionStages,
            SecretString: HISTORICAL.output.SecretString, CreatedDate: HISTORICAL.output.CreatedDate},
        ],
      },
    },
    denied: [], kms_fail: [], region: null, account: DOC_RESPONSE.ARN.split(':')[4],
  };
}

let control, stats, state;

class BadInput extends Error {}
const need = (cond, msg) => { if (!cond) throw new BadInput(msg); };

function parseExpiration(v, where) {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' && Number.isFinite(v)) return v * 1000;
  need(typeof v === 'string' && !Number.isNaN(Date.parse(v)), `${where}.expiration must be ISO 8601 or epoch seconds`);
  return Date.parse(v);
}

function checkCreatedDate(v, where) {
  if (v === undefined) return;
  need((typeof v === 'number' && Number.isFinite(v)) ||
    (typeof v === 'string' && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v)),
    `${where}.CreatedDate must be a number or a JSON number literal string`);
}

function checkValue(v, where) {
  const hasS = v.SecretString !== undefined, hasB = v.SecretBinary !== undefined;
  need(hasS !== hasB, `${where} needs exactly one of SecretString, SecretBinary`);
  if (hasS) need(typeof v.SecretString === 'string' && v.SecretString.length >= 1, `${where}.SecretString must be a non-empty string`);
  if (hasB) {
    need(typeof v.SecretBinary === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(v.SecretBinary) &&
      v.SecretBinary.length % 4 === 0, `${where}.SecretBinary must be base64`);
  }
}

function buildSecrets(input, old) {
  need(isObject(input), 'secrets must be an object');
  const out = new Map();
  for (const [name, s] of Object.entries(input)) {
    const where = `secrets[${JSON.stringify(name)}]`;
    need(name.length >= 1 && name.length <= 512, `${where}: bad name`);
    need(isObject(s), `${where} must be an object`);
    for (const k of Object.keys(s)) {
      need(['ARN', 'SecretString', 'SecretBinary', 'VersionId', 'CreatedDate', 'versions', 'deleted', 'error'].includes(k),
        `${where}: unknown member ${k}`);
    }
    if (s.ARN !== undefined) need(typeof s.ARN === 'string' && /^arn:aws[-a-z]*:secretsmanager:/.test(s.ARN), `${where}.ARN must be a secretsmanager ARN`);
    let versions;
    if (s.versions !== undefined) {
      need(Array.isArray(s.versions) && s.versions.length >= 1, `${where}.versions must be a non-empty array`);
      need(s.SecretString === undefined && s.SecretBinary === undefined && s.VersionId === undefined &&
        s.CreatedDate === undefined, `${where}: give either versions or the one-version shorthand`);
      versions = s.versions.map((v, i) => {
        const vw = `${where}.versions[${i}]`;
        need(isObject(v), `${vw} must be an object`);
        for (const k of Object.keys(v)) {
          need(['VersionId', 'VersionStages', 'SecretString', 'SecretBinary', 'CreatedDate'].includes(k), `${vw}: unknown member ${k}`);
        }
        checkValue(v, vw);
        checkCreatedDate(v.CreatedDate, vw);
        need(Array.isArray(v.VersionStages) && v.VersionStages.every((x) => typeof x === 'string' && x.length >= 1),
          `${vw}.VersionStages must be an array of strings`);
        if (v.VersionId !== undefined) need(typeof v.VersionId === 'string' && v.VersionId.length >= 1, `${vw}.VersionId must be a string`);
        return Object.assign({}, v);
      });
    } else {
      checkValue(s, where);
      checkCreatedDate(s.CreatedDate, where);
      if (s.VersionId !== undefined) need(typeof s.VersionId === 'string' && s.VersionId.length >= 1, `${where}.VersionId must be a string`);
      versions = [{VersionId: s.VersionId, VersionStages: ['AWSCURRENT'], SecretString: s.SecretString,
        SecretBinary: s.SecretBinary, CreatedDate: s.CreatedDate}];
    }
    const ids = new Set(), stages = new Set();
    for (const v of versions) {
      if (v.VersionId === undefined) v.VersionId = crypto.randomUUID();
      if (v.CreatedDate === undefined) v.CreatedDate = Math.floor(Date.now() / 1000);
      need(!ids.has(v.VersionId), `${where}: VersionId ${v.VersionId} given twice`);
      ids.add(v.VersionId);
      for (const st of v.VersionStages) {
        need(!stages.has(st), `${where}: stage ${st} on two versions`);
        stages.add(st);
      }
    }
    let error = null;
    if (s.error !== undefined && s.error !== null) {
      error = typeof s.error === 'string' ? {type: s.error} : s.error;
      need(isObject(error) && typeof error.type === 'string' && ERROR_STATUS[error.type] !== undefined &&
        (error.message === undefined || typeof error.message === 'string'), `${where}.error must name a documented error type`);
    }
    if (s.deleted !== undefined) need(typeof s.deleted === 'boolean', `${where}.deleted must be a boolean`);
    const prev = old && old.get(name);
    out.set(name, {name, arn: s.ARN || null, suffix: prev ? prev.suffix : randomSuffix(), versions,
      deleted: !!s.deleted, error});
  }
  return out;
}

function buildCredentials(input) {
  need(isObject(input), 'credentials must be an object');
  const out = new Map();
  for (const [akid, c] of Object.entries(input)) {
    const where = `credentials[${JSON.stringify(akid)}]`;
    need(/^[A-Za-z0-9]{3,128}$/.test(akid), `${where}: access key ids are alphanumeric`);
    need(isObject(c), `${where} must be an object`);
    for (const k of Object.keys(c)) need(['secret', 'session_token', 'expiration', 'principal'].includes(k), `${where}: unknown member ${k}`);
    need(typeof c.secret === 'string' && c.secret.length >= 1, `${where}.secret must be a non-empty string`);
    if (c.session_token !== undefined && c.session_token !== null) need(typeof c.session_token === 'string' && c.session_token.length >= 1, `${where}.session_token must be a string`);
    if (c.principal !== undefined) need(typeof c.principal === 'string', `${where}.principal must be a string`);
    out.set(akid, {secret: c.secret, sessionToken: c.session_token || null,
      expiresAt: parseExpiration(c.expiration, where), principal: c.principal || null});
  }
  return out;
}

function applyState(input, base) {
  need(isObject(input), 'body must be a JSON object');
  for (const k of Object.keys(input)) {
    need(['credentials', 'secrets', 'denied', 'kms_fail', 'region', 'account'].includes(k), `unknown state member ${k}`);
  }
  const next = Object.assign({}, base);
  if (input.credentials !== undefined) next.credentials = buildCredentials(input.credentials);
  if (input.secrets !== undefined) next.secrets = buildSecrets(input.secrets, base.secrets);
  for (const k of ['denied', 'kms_fail']) {
    if (input[k] !== undefined) {
      need(Array.isArray(input[k]) && input[k].every((x) => typeof x === 'string'), `${k} must be an array of strings`);
      next[k] = new Set(input[k]);
    }
  }
  if (input.region !== undefined) {
    need(input.region === null || (typeof input.region === 'string' && /^[a-z0-9-]+$/.test(input.region)), 'region must be a region name or null');
    next.region = input.region;
  }
  if (input.account !== undefined) {
    need(typeof input.account === 'string' && /^\d{12}$/.test(input.account), 'account must be 12 digits');
    next.account = input.account;
  }
  return next;
}

function resetAll() {
  control = defaultControl();
  stats = zeroStats();
  state = applyState(defaultStateInput(), {credentials: new Map(), secrets: new Map(), denied: new Set(),
    kms_fail: new Set(), region: null, account: '123456789012'});
}
resetAll();

function stateView() {
  const creds = {};
  for (const [akid, c] of state.credentials) {
    creds[akid] = {secret_fp: fp(c.secret), session_token_fp: c.sessionToken ? fp(c.sessionToken) : null,
      expiration: c.expiresAt === null ? null : new Date(c.expiresAt).toISOString(), principal: c.principal};
  }
  const secrets = {};
  for (const [name, s] of state.secrets) {
    secrets[name] = {ARN: s.arn, arn_suffix: s.suffix, deleted: s.deleted, error: s.error,
      versions: s.versions.map((v) => ({VersionId: v.VersionId, VersionStages: v.VersionStages,
        kind: v.SecretString !== undefined ? 'SecretString' : 'SecretBinary',
        value_fp: fp(v.SecretString !== undefined ? v.SecretString : v.SecretBinary)}))};
  }
  return {credentials: creds, secrets, denied: [...state.denied], kms_fail: [...state.kms_fail],
    region: state.region, account: state.account};
}

function applyControl(c) {
  need(isObject(c), 'body must be a JSON object');
  const known = Object.keys(defaultControl()).concat(['reset']);
  for (const k of Object.keys(c)) need(known.includes(k), `unknown control member ${k}`);
  if (c.reset !== undefined) need(c.reset === true, 'reset must be true');
  for (const k of ['throttle_next', 'hang_next', 'delay_ms', 'skew_window_s']) {
    if (c[k] !== undefined) need(isCount(c[k]), `${k} must be a non-negative integer`);
  }
  if (c.clock_offset_s !== undefined) need(typeof c.clock_offset_s === 'number' && Number.isFinite(c.clock_offset_s), 'clock_offset_s must be a number');
  if (c.auth_errors !== undefined) need(['documented', 'observed'].includes(c.auth_errors), 'auth_errors must be "documented" or "observed"');
  if (c.error_type_header !== undefined) need([true, false, 'uri'].includes(c.error_type_header), 'error_type_header must be true, false or "uri"');
  if (c.error_type_namespace !== undefined) need(c.error_type_namespace === null || (typeof c.error_type_namespace === 'string' && /^[A-Za-z0-9_.]+$/.test(c.error_type_namespace)), 'error_type_namespace must be a namespace or null');
  let errorNext;
  if (c.error_next !== undefined) {
    need(Array.isArray(c.error_next), 'error_next must be an array');
    errorNext = c.error_next.map((e) => {
      const x = typeof e === 'string' ? {type: e} : e;
      need(isObject(x) && typeof x.type === 'string' && ERROR_STATUS[x.type] !== undefined &&
        (x.message === undefined || typeof x.message === 'string'), `error_next: ${JSON.stringify(e)} is not a documented error type`);
      return {type: x.type, message: x.message};
    });
  }
  let failNext;
  if (c.fail_next !== undefined) {
    need(Array.isArray(c.fail_next), 'fail_next must be an array');
    failNext = c.fail_next.map((f) => {
      need(isObject(f) && Number.isInteger(f.status) && f.status >= 100 && f.status <= 599, 'fail_next items need an HTTP status');
      need(f.body === undefined || typeof f.body === 'string' || isObject(f.body), 'fail_next body must be a string or an object');
      need(f.headers === undefined || (isObject(f.headers) && Object.values(f.headers).every((v) => typeof v === 'string')), 'fail_next headers must map names to strings');
      return {status: f.status, body: f.body === undefined ? '' : f.body, headers: f.headers || {}};
    });
  }
  if (c.reset) resetAll();
  for (const k of Object.keys(c)) {
    if (k === 'reset') continue;
    control[k] = k === 'error_next' ? errorNext : k === 'fail_next' ? failNext : c[k];
  }
  return control;
}

// ---- errors -------------------------------------------------------------------------------------
function sendError(res, entry, type, message, opt) {
  const o = opt || {};
  const status = o.status || ERROR_STATUS[type] || 400;
  const t = control.error_type_namespace ? `${control.error_type_namespace}#${type}` : type;
  // The fixtures' verbatim bodies (o.raw) unless a namespace is asked for.
  const body = o.raw && !control.error_type_namespace ? o.raw
    : JSON.stringify(message == null ? {__type: t} : {__type: t, [o.lower ? 'message' : 'Message']: message});
  const headers = {};
  if (control.error_type_header === true) headers['x-amzn-errortype'] = type;
  if (control.error_type_header === 'uri') headers['x-amzn-errortype'] = `${type}:${CORAL_URI}`;
  stats.errors[type] = (stats.errors[type] || 0) + 1;
  entry.error = type;
  if (!entry.outcome) entry.outcome = 'error';
  send(res, entry, status, body, headers);
}

// Authentication-layer error (lower-case "message", as the observed InvalidSignatureException).
function authError(res, entry, type, message, reason, opt) {
  stats.auth_failures += 1;
  if (type === 'InvalidSignatureException' && reason === 'signature_mismatch') stats.signature_failures += 1;
  entry.outcome = 'auth_failed';
  entry.reason = reason;
  sendError(res, entry, type, message, Object.assign({lower: true}, opt || {}));
}

// ---- SigV4 verification ---------------------------------------------------------------------
function parseAuthorization(h) {
  const m = /^AWS4-HMAC-SHA256\s+(.+)$/.exec(h || '');
  if (!m) return null;
  const out = {};
  for (const part of m[1].split(',')) {
    const kv = /^\s*([A-Za-z]+)=(.*?)\s*$/.exec(part);
    if (!kv) return null;
    out[kv[1]] = kv[2];
  }
  if (!out.Credential || !out.SignedHeaders || !out.Signature) return null;
  const c = out.Credential.split('/');
  if (c.length !== 5) return null;
  return {credential: out.Credential, akid: c[0], date: c[1], region: c[2], service: c[3], terminator: c[4],
    signedHeaders: out.SignedHeaders, signature: out.Signature};
}

function parseAmzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
  if (!m) return null;
  const t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return Number.isNaN(t) || amzDate(t) !== s ? null : t;
}

// Header values as received, duplicates joined with ',' (SigV4's rule), keyed by lower-case name.
function receivedHeaders(req) {
  const out = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const n = req.rawHeaders[i].toLowerCase();
    out[n] = n in out ? `${out[n]},${req.rawHeaders[i + 1]}` : req.rawHeaders[i + 1];
  }
  return out;
}

// Returns true when authenticated; otherwise has answered the error.
async function authenticate(req, res, entry, raw, last) {
  const headers = receivedHeaders(req);
  const authz = headers['authorization'];
  const dateHeader = headers['x-amz-date'];
  last.has_security_token = headers['x-amz-security-token'] !== undefined;
  last.has_content_sha256 = headers['x-amz-content-sha256'] !== undefined;
  entry.has_security_token = last.has_security_token;
  last.x_amz_date = dateHeader || null;
  if (!authz) return authError(res, entry, 'IncompleteSignature', 'Authorization header is missing.', 'no_authorization'), false;
  const a = parseAuthorization(authz);
  if (!a) {
    return authError(res, entry, 'IncompleteSignature', "Authorization header requires 'Credential', 'SignedHeaders' and " +
      "'Signature' parameters of the AWS4-HMAC-SHA256 algorithm.", 'malformed_authorization'), false;
  }
  Object.assign(last, {access_key_id: a.akid, region: a.region, service: a.service, signed_headers: a.signedHeaders});
  Object.assign(entry, {access_key_id: a.akid, region: a.region, signed_headers: a.signedHeaders});
  stats.by_access_key[a.akid] = (stats.by_access_key[a.akid] || 0) + 1;
  const signedTime = parseAmzDate(dateHeader);
  if (signedTime === null) {
    return authError(res, entry, 'IncompleteSignature', dateHeader === undefined ? 'X-Amz-Date header is missing.'
      : `Date must be in ISO-8601 'basic format'. Got '${String(dateHeader).slice(0, 40)}'.`, 'bad_x_amz_date'), false;
  }
  const signed = a.signedHeaders.split(';');
  if (!signed.includes('host')) {
    return authError(res, entry, 'InvalidSignatureException', "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.", 'host_not_signed'), false;
  }
  if (a.service !== SERVICE) {
    return authError(res, entry, 'InvalidSignatureException', `Credential should be scoped to correct service: '${SERVICE}'. `, 'wrong_service'), false;
  }
  if (a.terminator !== 'aws4_request') {
    return authError(res, entry, 'InvalidSignatureException', "Credential should be scoped with a valid terminator: 'aws4_request', not '" +
      `${a.terminator}'. `, 'wrong_terminator'), false;
  }
  if (state.region !== null && a.region !== state.region) {
    return authError(res, entry, 'InvalidSignatureException', 'Credential should be scoped to a valid region. ', 'wrong_region'), false;
  }
  if (a.date !== dateHeader.slice(0, 8)) {
    return authError(res, entry, 'InvalidSignatureException', 'Date in Credential scope does not match YYYYMMDD from ISO-8601 ' +
      `version of date from HTTP: '${a.date}' != '${dateHeader.slice(0, 8)}', from '${dateHeader}'.`, 'scope_date'), false;
  }
  const now = fakeNow();
  const skew = signedTime - now;
  if (Math.abs(skew) > control.skew_window_s * 1000) {
    stats.clock_skew += 1;
    entry.skew_s = Math.round(skew / 1000);
    if (control.auth_errors === 'observed') {
      const w = control.skew_window_s / 60;
      const msg = skew < 0
        ? `Signature expired: ${dateHeader} is now earlier than ${amzDate(now - control.skew_window_s * 1000)} (${amzDate(now)} - ${w} min.)`
        : `Signature not yet current: ${dateHeader} is still later than ${amzDate(now + control.skew_window_s * 1000)} (${amzDate(now)} + ${w} min.)`;
      return authError(res, entry, 'InvalidSignatureException', msg, 'clock_skew'), false;
    }
    return authError(res, entry, 'RequestExpired', 'Request has expired.', 'clock_skew'), false;
  }
  const cred = state.credentials.get(a.akid);
  if (!cred) {
    if (control.auth_errors === 'observed') {
      return authError(res, entry, 'UnrecognizedClientException', 'The security token included in the request is invalid.', 'unknown_access_key'), false;
    }
    return authError(res, entry, 'InvalidClientTokenId', ERROR_DESCRIPTION.InvalidClientTokenId, 'unknown_access_key'), false;
  }
  const token = headers['x-amz-security-token'];
  if ((cred.sessionToken || token !== undefined) && token !== cred.sessionToken) {
    return authError(res, entry, 'UnrecognizedClientException', 'The security token included in the request is invalid.',
      token === undefined ? 'missing_security_token' : 'wrong_security_token'), false;
  }
  if (cred.expiresAt !== null && now >= cred.expiresAt) {
    return authError(res, entry, 'ExpiredTokenException', 'The security token included in the request is expired', 'credentials_expired'), false;
  }
  const contentSha = headers['x-amz-content-sha256'];
  if (contentSha !== undefined && contentSha !== sha256hex(raw)) {
    return authError(res, entry, 'InvalidSignatureException', "The provided 'x-amz-content-sha256' header does not match what was computed.",
      'content_sha256_mismatch'), false;
  }

  // Re-sign with AWS's signer: the same method, path, query, the request's signed headers with
  // their received values, the same body, the scope's region, the request's own X-Amz-Date.
  const url = new URL(req.url, 'http://fake.invalid');
  const query = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? [].concat(query[k], v) : v;
  const toSign = {};
  for (const n of signed) if (headers[n] !== undefined) toSign[n] = headers[n];
  const signer = new SignatureV4({
    credentials: {accessKeyId: a.akid, secretAccessKey: cred.secret, sessionToken: cred.sessionToken || undefined},
    region: a.region, service: SERVICE, sha256: Sha256, applyChecksum: false,
  });
  let ours;
  try {
    const out = await signer.sign({method: req.method, protocol: 'http:', hostname: String(headers.host || '').replace(/:\d+$/, ''),
      path: decodeURIComponent(url.pathname), query, headers: toSign, body: raw},
    {signingDate: new Date(signedTime), signableHeaders: new Set(signed)});
    ours = parseAuthorization(out.headers.authorization);
  } catch (e) {
    ours = null;
    entry.signer_error = e.message;
  }
  if (!ours || ours.credential !== a.credential || ours.signedHeaders !== a.signedHeaders || ours.signature !== a.signature) {
    if (ours && ours.signedHeaders !== a.signedHeaders) entry.expected_signed_headers = ours.signedHeaders;
    return authError(res, entry, 'InvalidSignatureException', BAD_SIGNATURE_MESSAGE, 'signature_mismatch', {raw: BAD_SIGNATURE_BODY}), false;
  }
  return true;
}

// ---- GetSecretValue -----------------------------------------------------------------------------
function lookup(secretId) {
  if (state.secrets.has(secretId)) return state.secrets.get(secretId);
  for (const s of state.secrets.values()) {
    if (s.arn && (secretId === s.arn || secretId === s.arn.replace(/-[A-Za-z0-9]{6}$/, ''))) return s;
    if (!s.arn) {
      const m = /^arn:aws[-a-z]*:secretsmanager:[a-z0-9-]+:(\d{12}):secret:(.+)$/.exec(secretId);
      if (m && m[1] === state.account && (m[2] === s.name || m[2] === `${s.name}-${s.suffix}`)) return s;
    }
  }
  return null;
}
const arnOf = (s, region) => s.arn || `arn:aws:secretsmanager:${region}:${state.account}:secret:${s.name}-${s.suffix}`;
const listed = (set, s, id, region) => set.has(id) || (s && (set.has(s.name) || set.has(arnOf(s, region))));

function validationMessage(body) {
  const errs = [];
  const check = (k, member, required) => {
    const v = body[k], lim = LIMITS[k];
    if (v === undefined || v === null) {
      if (required) errs.push(`Value null at '${member}' failed to satisfy constraint: Member must not be null`);
    } else if (typeof v !== 'string') {
      errs.push(`Value at '${member}' failed to satisfy constraint: Member must be a string`);
    } else if (v.length < lim.min || v.length > lim.max) {
      errs.push(`Value '${v.length > 64 ? v.slice(0, 64) + '...' : v}' at '${member}' failed to satisfy constraint: ` +
        `Member must have length ${v.length < lim.min ? 'greater than or equal to ' + lim.min : 'less than or equal to ' + lim.max}`);
    }
  };
  check('SecretId', 'secretId', true);
  check('VersionId', 'versionId', false);
  check('VersionStage', 'versionStage', false);
  if (!errs.length) return null;
  return `${errs.length} validation error${errs.length > 1 ? 's' : ''} detected: ${errs.join('; ')}`;
}

function successBody(s, v, region) {
  const parts = [`"ARN":${JSON.stringify(arnOf(s, region))}`,
    `"CreatedDate":${typeof v.CreatedDate === 'string' ? v.CreatedDate : JSON.stringify(v.CreatedDate)}`,
    `"Name":${JSON.stringify(s.name)}`];
  if (v.SecretString !== undefined) parts.push(`"SecretString":${JSON.stringify(v.SecretString)}`);
  else parts.push(`"SecretBinary":${JSON.stringify(v.SecretBinary)}`);
  parts.push(`"VersionId":${JSON.stringify(v.VersionId)}`, `"VersionStages":${JSON.stringify(v.VersionStages)}`);
  return `{${parts.join(',')}}`;
}

async function getSecretValue(req, res, entry, raw) {
  stats.requests += 1;
  const last = {target: req.headers['x-amz-target'] || null, content_type: req.headers['content-type'] || null,
    user_agent: req.headers['user-agent'] || null};
  stats.last = last;
  const done = () => { last.status = entry.status; last.outcome = entry.outcome; last.error = entry.error || null; };
  res.on('close', done);

  if (control.fail_next.length) {
    const f = control.fail_next.shift();
    stats.injected += 1;
    entry.outcome = 'injected';
    return send(res, entry, f.status, typeof f.body === 'string' ? f.body : JSON.stringify(f.body),
      Object.assign({'content-type': CONTENT_TYPE}, f.headers));
  }
  if (control.hang_next > 0) {
    control.hang_next -= 1;
    stats.hung += 1;
    entry.outcome = 'hang';
    last.outcome = 'hang';
    log(entry);
    return; // never answered; destroyed at shutdown
  }
  if (control.delay_ms > 0) await new Promise((r) => setTimeout(r, control.delay_ms));

  if (!(await authenticate(req, res, entry, raw, last))) return;

  if (control.throttle_next > 0) {
    control.throttle_next -= 1;
    stats.throttled += 1;
    entry.outcome = 'throttled';
    return sendError(res, entry, 'ThrottlingException', 'Rate exceeded');
  }
  if (control.error_next.length) {
    const e = control.error_next.shift();
    entry.outcome = 'injected_error';
    return sendError(res, entry, e.type, e.message !== undefined ? e.message : ERROR_DESCRIPTION[e.type] || e.type);
  }
  if (req.headers['x-amz-target'] !== TARGET) {
    entry.reason = 'target';
    return sendError(res, entry, 'UnknownOperationException', null);
  }
  if ((req.headers['content-type'] || '').split(';')[0].trim().toLowerCase() !== CONTENT_TYPE) {
    entry.reason = 'content_type';
    return sendError(res, entry, 'UnknownOperationException', null);
  }
  let body;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    body = undefined;
  }
  if (!isObject(body)) {
    entry.reason = 'not_a_json_object';
    return sendError(res, entry, 'SerializationException', 'The request body is not a JSON object.');
  }
  const bad = validationMessage(body);
  if (bad) return sendError(res, entry, 'ValidationException', bad);
  const {SecretId: id, VersionId: vid, VersionStage: vstage} = body;
  Object.assign(entry, {secret_id: id, version_id: vid, version_stage: vstage});
  Object.assign(last, {secret_id: id, version_id: vid || null, version_stage: vstage || null});
  const region = entry.region;
  const s = lookup(id);
  if (listed(state.denied, s, id, region)) {
    const cred = state.credentials.get(entry.access_key_id);
    const principal = (cred && cred.principal) || `arn:aws:iam::${state.account}:user/${entry.access_key_id}`;
    return sendError(res, entry, 'AccessDeniedException', `User: ${principal} is not authorized to perform: ` +
      `secretsmanager:GetSecretValue on resource: ${id} because no identity-based policy allows the ` +
      'secretsmanager:GetSecretValue action');
  }
  if (!s) return sendError(res, entry, 'ResourceNotFoundException', NOT_FOUND_MESSAGE, {raw: NOT_FOUND_BODY});
  if (s.deleted) {
    return sendError(res, entry, 'InvalidRequestException',
      "You can't perform this operation on the secret because it was marked for deletion.");
  }
  if (s.error) return sendError(res, entry, s.error.type, s.error.message !== undefined ? s.error.message : ERROR_DESCRIPTION[s.error.type] || s.error.type);
  let v;
  if (vid !== undefined && vid !== null) {
    v = s.versions.find((x) => x.VersionId === vid);
    if (!v) return sendError(res, entry, 'ResourceNotFoundException', `Secrets Manager can't find the specified secret value for VersionId: ${vid}`);
    if (vstage !== undefined && vstage !== null && !v.VersionStages.includes(vstage)) {
      return sendError(res, entry, 'InvalidRequestException', 'You provided a VersionStage that is not associated to the provided VersionId.');
    }
  } else {
    const stage = vstage !== undefined && vstage !== null ? vstage : 'AWSCURRENT';
    v = s.versions.find((x) => x.VersionStages.includes(stage));
    if (!v) return sendError(res, entry, 'ResourceNotFoundException', `Secrets Manager can't find the specified secret value for staging label: ${stage}`);
  }
  if (listed(state.kms_fail, s, id, region)) {
    return sendError(res, entry, 'DecryptionFailure', ERROR_DESCRIPTION.DecryptionFailure);
  }
  stats.ok += 1;
  entry.outcome = 'ok';
  entry.served_version_id = v.VersionId;
  return send(res, entry, 200, successBody(s, v, region));
}

// ---- server ---------------------------------------------------------------------------------------
function controlRequest(req, res, entry, raw, url) {
  const json = (status, body) => send(res, entry, status, body, {'content-type': 'application/json'});
  const parse = () => {
    const s = raw.toString('utf8').trim();
    return s === '' ? {} : JSON.parse(s);
  };
  try {
    if (url.pathname === '/__control' && req.method === 'POST') return json(200, applyControl(parse()));
    if (url.pathname === '/__control' && req.method === 'GET') return json(200, control);
    if (url.pathname === '/__state' && req.method === 'POST') {
      state = applyState(parse(), state);
      return json(200, stateView());
    }
    if (url.pathname === '/__state' && req.method === 'GET') return json(200, stateView());
    if (url.pathname === '/__stats' && req.method === 'GET') return json(200, stats);
  } catch (e) {
    entry.reason = e.message;
    return json(400, {error: e instanceof BadInput || e instanceof SyntaxError ? e.message : 'bad request'});
  }
  return json(404, {error: 'unknown control'});
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://fake.invalid');
  const entry = {ts_ms: Date.now(), method: req.method, path: url.pathname};
  const raw = await readBody(req, MAX_BODY);
  if (raw === null) {
    entry.outcome = 'too_large';
    return send(res, entry, 413, {__type: 'SerializationException', Message: 'Request body too large'});
  }
  if (url.pathname.startsWith('/__')) return controlRequest(req, res, entry, raw, url);
  if (req.method !== 'POST' || url.pathname !== '/' || url.search !== '') {
    entry.outcome = 'unknown_path';
    return send(res, entry, 404, {__type: 'UnknownOperationException'});
  }
  try {
    await getSecretValue(req, res, entry, raw);
  } catch (e) {
    process.stderr.write(`secretsmanager: internal error: ${e.message}\n`);
    entry.outcome = 'fake_internal_error';
    if (!res.headersSent) send(res, entry, 500, {__type: 'InternalFailure', Message: 'fake internal error'});
  }
});
serve(server, 'secretsmanager', opts.portFile);
