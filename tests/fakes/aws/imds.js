#!/usr/bin/env node
// A fake EC2 Instance Metadata Service (IMDSv2 credential flow only) for the integration tests
// of claude-key-refresher's AWS credential chain. Node standard library only; plain HTTP on
// 127.0.0.1 (point the client at it with AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:P,
// the override of aws_fixtures/aws-credentials/smithy-rs-aws-config-test-data/imds-config/).
//
// It follows tests/fakes/aws_fixtures/aws-credentials/ (a byte-exact copy of
// ../shared/testdata/aws-credentials/; its README.md cites the EC2 User Guide pages and the
// smithy-rs / aws-sdk-php commits). Fixture files are read at start-up (the fake refuses to
// start without them):
//   imds/imdsv2-flow.json (EC2 User Guide) — the three steps and their documented errors:
//     1. PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds (integer 1..21600,
//        read from the document's TTL rule) -> 200 text/plain token, echoing the TTL in
//        x-aws-ec2-metadata-token-ttl-seconds. Missing/invalid TTL: 400. A PUT carrying
//        X-Forwarded-For: rejected (403). PUT to a version path (/2021-03-23/api/token, any
//        path but /latest/api/token ending in /api/token): 403. IMDS turned off: 403.
//     2. GET /latest/meta-data/iam/security-credentials/ with X-aws-ec2-metadata-token -> the
//        role name(s), one per line (LF). No role: 404. Missing (IMDSv2 required), invalid or
//        expired token: 401.
//     3. GET /latest/meta-data/iam/security-credentials/<role> -> the credentials document,
//        served as text/plain. Other role: 404; bad token: 401.
//     Only GET and HEAD are metadata methods (other methods on metadata paths: 405, fake's
//     choice); the token path only takes PUT (others 405, fake's choice).
//   imds/security-credentials-role.recorded.json (recorded from a real instance, via
//     smithy-rs): the credentials document's exact layout — members Code, LastUpdated, Type,
//     AccessKeyId, SecretAccessKey, Token, Expiration, in that order, '"Key" : value' spacing,
//     two-space indent, no final newline. Default values ASIARTEST / testsecret / testtoken,
//     Code Success, Type AWS-HMAC; Expiration default now + 6 h (the recording's is in 2021),
//     LastUpdated now.
//   smithy-rs-aws-config-test-data/default-credential-provider-chain/ (recorded traffic):
//     imds_default_chain_success: token "AQAEA..."-style opaque text; role
//       "imds-assume-role-test" (the default role name); response headers content-type
//       text/plain, server EC2ws, connection close, x-aws-ec2-metadata-token-ttl-seconds
//       (the token's remaining TTL on metadata answers).
//     imds_no_iam_role / imds_default_chain_error: role null -> the listing answers 404
//       text/html with the recorded "404 - Not Found" page, byte for byte.
//     imds_token_fail: disabled -> the token PUT answers 403, content-type text/xml, no body.
//     imds_default_chain_retries: one 503 (no headers, no body) on each of the three steps
//       before success -> control fail_next with endpoint "token" / "list" / "credentials".
//   imds/imdsv2-flow.json other_rules "in containers with hop limit 1 the PUT response never
//     arrives" -> control put_unreachable (every token PUT is left unanswered).
//   The 401 body (not recorded) is the 404 page with "401 - Unauthorized" (fake's choice).
//   With imdsv1 true (fake's choice; IMDSv1 fallback), metadata GETs without a token header
//     are answered; a token header that is present must still be valid.
//
// Usage: node imds.js --port-file F [--log F]
// Listens on 127.0.0.1, port 0; once listening writes the port to F atomically (F.tmp, then
// rename). SIGTERM/SIGINT: closes the listener, destroys open sockets (hung requests too),
// exits 0.
//
// Controls. POST /__control merges (reset first, when given) and answers the control view
// (credentials redacted to fingerprints); unknown members or wrong types: 400. GET /__control.
//   {"reset": true,
//    "role": "imds-assume-role-test" | null            (null: no IAM role -> 404),
//    "credentials": {"AccessKeyId", "SecretAccessKey", "Token",
//                    "Expiration"? (ISO 8601; default now + expires_in_s at each answer),
//                    "LastUpdated"?, "Code"? ("Success"), "Type"? ("AWS-HMAC")},
//                                                      (replaces the whole document)
//    "expires_in_s": 21600,                            (used when credentials have no Expiration)
//    "disabled": false,                                (IMDS off: token PUT -> 403 text/xml)
//    "imdsv1": false,                                  (allow tokenless metadata GETs)
//    "put_unreachable": false,                         (token PUTs never answered)
//    "max_token_ttl_s": null | N,                      (cap on the TTL granted; for expiry tests)
//    "fail_next": [{"endpoint"?: "token"|"list"|"credentials"|"any", "status"?, "body"?,
//                   "headers"?, "hang"?: true}],       (each answers the first request of its
//                                                       endpoint instead of processing it)
//    "hang_next": N, "delay_ms": N,
//    "expire_tokens": true}                            (one-shot: every issued token invalid)
// GET /__stats: {"requests", "token_puts", "tokens_issued", "list_requests",
//   "credentials_requests", "credentials_served", "unauthorized" (401), "not_found" (404),
//   "forbidden" (403), "bad_request" (400), "injected", "hung", "by_status": {..},
//   "last_token_ttl_requested", "last_user_agent"}
//
// Logging (--log F): one JSON line per request: ts_ms, method, path, status, endpoint, outcome,
// reason, ttl, token_fp (fingerprint of the presented token), user_agent. Never a token, a
// secret access key or a session token.
'use strict';
const http = require('http');
const path = require('path');
const crypto = require('crypto');
const {fingerprint: fp, parseArgs, fixtureReader, jsonLogger, bodyBytes, writeReply, serve} =
  require('../fake_server_lib');

// ---- command line -------------------------------------------------------------------------
const USAGE = 'usage: imds.js --port-file F [--log F]\n';
const opts = parseArgs('imds', USAGE, {}, {});

// ---- fixtures -------------------------------------------------------------------------------
const fixture = fixtureReader('imds', path.join(__dirname, '..', 'aws_fixtures', 'aws-credentials'));
const FLOW = JSON.parse(fixture('imds/imdsv2-flow.json'));
const RECORDED_DOC_TEXT = fixture('imds/security-credentials-role.recorded.json');
const RECORDED_DOC = JSON.parse(RECORDED_DOC_TEXT);
const DOC_KEYS = Object.keys(RECORDED_DOC);
const CHAIN = 'smithy-rs-aws-config-test-data/default-credential-provider-chain';
function recordedEvents(name) {
  return JSON.parse(fixture(`${CHAIN}/${name}/http-traffic.json`)).events.map((e) => e.action);
}
// The 404 page of imds_no_iam_role, and the role name / token shape of imds_default_chain_success.
let NOT_FOUND_PAGE = null, DEFAULT_ROLE = null;
{
  const ev = recordedEvents('imds_no_iam_role');
  for (let i = 0; i < ev.length; i++) {
    if (ev[i].Response && ev[i].Response.response.Ok && ev[i].Response.response.Ok.status === 404) {
      for (let j = i + 1; j < ev.length; j++) if (ev[j].Data) { NOT_FOUND_PAGE = ev[j].Data.data.Utf8; break; }
    }
  }
  const ok = recordedEvents('imds_default_chain_success');
  for (let i = 0; i < ok.length; i++) {
    const rq = ok[i].Request && ok[i].Request.request;
    if (rq && rq.method === 'GET' && /\/security-credentials\/$/.test(rq.uri)) {
      for (let j = i + 1; j < ok.length; j++) if (ok[j].Data) { DEFAULT_ROLE = ok[j].Data.data.Utf8.trim(); break; }
    }
  }
}
const TOKEN_STEP = FLOW.steps.find((s) => s.name === 'get-session-token');
const TTL_MAX = Number((/maximum (\d+)/.exec(TOKEN_STEP.request_rules.join(' ')) || [])[1]);
const TTL_MIN = Number((/minimum (\d+)/.exec(TOKEN_STEP.request_rules.join(' ')) || [])[1]);
const TOKEN_PATH = TOKEN_STEP.path;
const LIST_PATH = FLOW.steps.find((s) => s.name === 'list-role').path;
if (!NOT_FOUND_PAGE || !DEFAULT_ROLE || !(TTL_MAX > 0) || !(TTL_MIN > 0) || TOKEN_PATH !== '/latest/api/token' ||
    LIST_PATH !== '/latest/meta-data/iam/security-credentials/' || DOC_KEYS.join() !==
    'Code,LastUpdated,Type,AccessKeyId,SecretAccessKey,Token,Expiration') {
  process.stderr.write('imds: fixtures not as expected\n');
  process.exit(70);
}
const UNAUTHORIZED_PAGE = NOT_FOUND_PAGE.replace(/404 - Not Found/g, '401 - Unauthorized');
const BASE_HEADERS = {server: 'EC2ws', connection: 'close'};

// ---- helpers --------------------------------------------------------------------------------
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isCount = (v) => Number.isInteger(v) && v >= 0;
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const log = jsonLogger('imds', opts.log);
const control_answer = new WeakSet(); // log entries of /__ requests: not counted in stats
function send(res, entry, status, body, headers) {
  if (!control_answer.has(entry)) {
    stats.by_status[status] = (stats.by_status[status] || 0) + 1;
    if (status === 401) stats.unauthorized += 1;
    if (status === 403) stats.forbidden += 1;
    if (status === 404) stats.not_found += 1;
    if (status === 400) stats.bad_request += 1;
  }
  writeReply(res, entry, log, status, bodyBytes(body), Object.assign({}, BASE_HEADERS, headers));
}

// ---- state ----------------------------------------------------------------------------------
function defaultControl() {
  return {
    role: DEFAULT_ROLE,
    credentials: {AccessKeyId: RECORDED_DOC.AccessKeyId, SecretAccessKey: RECORDED_DOC.SecretAccessKey,
      Token: RECORDED_DOC.Token},
    expires_in_s: 21600, disabled: false, imdsv1: false, put_unreachable: false, max_token_ttl_s: null,
    fail_next: [], hang_next: 0, delay_ms: 0,
  };
}
function zeroStats() {
  return {
    requests: 0, token_puts: 0, tokens_issued: 0, list_requests: 0, credentials_requests: 0,
    credentials_served: 0, unauthorized: 0, not_found: 0, forbidden: 0, bad_request: 0, injected: 0,
    hung: 0, by_status: {}, last_token_ttl_requested: null, last_user_agent: null,
  };
}
let control, stats, tokens;
function resetAll() {
  control = defaultControl();
  stats = zeroStats();
  tokens = new Map(); // token -> expiresAt (ms)
}
resetAll();

class BadInput extends Error {}
const need = (c, m) => { if (!c) throw new BadInput(m); };

function applyControl(c) {
  need(isObject(c), 'body must be a JSON object');
  const known = Object.keys(defaultControl()).concat(['reset', 'expire_tokens']);
  for (const k of Object.keys(c)) need(known.includes(k), `unknown control member ${k}`);
  if (c.reset !== undefined) need(c.reset === true, 'reset must be true');
  if (c.expire_tokens !== undefined) need(c.expire_tokens === true, 'expire_tokens must be true');
  if (c.role !== undefined) need(c.role === null || (typeof c.role === 'string' && /^[\w+=,.@-]{1,64}$/.test(c.role)), 'role must be a role name or null');
  if (c.credentials !== undefined) {
    const k = c.credentials;
    need(isObject(k), 'credentials must be an object');
    for (const n of Object.keys(k)) need(DOC_KEYS.includes(n), `credentials: unknown member ${n}`);
    for (const n of ['AccessKeyId', 'SecretAccessKey', 'Token']) need(typeof k[n] === 'string' && k[n] !== '', `credentials.${n} must be a non-empty string`);
    for (const n of ['Expiration', 'LastUpdated', 'Code', 'Type']) need(k[n] === undefined || typeof k[n] === 'string', `credentials.${n} must be a string`);
  }
  for (const k of ['expires_in_s', 'hang_next', 'delay_ms']) if (c[k] !== undefined) need(isCount(c[k]), `${k} must be a non-negative integer`);
  if (c.max_token_ttl_s !== undefined) need(c.max_token_ttl_s === null || (isCount(c.max_token_ttl_s) && c.max_token_ttl_s >= 1), 'max_token_ttl_s must be null or >= 1');
  for (const k of ['disabled', 'imdsv1', 'put_unreachable']) if (c[k] !== undefined) need(typeof c[k] === 'boolean', `${k} must be a boolean`);
  if (c.fail_next !== undefined) {
    need(Array.isArray(c.fail_next), 'fail_next must be an array');
    for (const f of c.fail_next) {
      need(isObject(f), 'fail_next items must be objects');
      need(f.endpoint === undefined || ['token', 'list', 'credentials', 'any'].includes(f.endpoint), 'fail_next endpoint must be token, list, credentials or any');
      need(f.hang === true || (Number.isInteger(f.status) && f.status >= 100 && f.status <= 599), 'fail_next items need a status (or hang: true)');
      need(f.body === undefined || typeof f.body === 'string', 'fail_next body must be a string');
      need(f.headers === undefined || (isObject(f.headers) && Object.values(f.headers).every((v) => typeof v === 'string')), 'fail_next headers must map names to strings');
    }
  }
  if (c.reset) resetAll();
  if (c.expire_tokens) tokens.clear();
  for (const k of Object.keys(c)) {
    if (k === 'reset' || k === 'expire_tokens') continue;
    control[k] = k === 'credentials' ? Object.assign({}, c[k])
      : k === 'fail_next' ? c[k].map((f) => Object.assign({endpoint: 'any'}, f)) : c[k];
  }
  return controlView();
}
function controlView() {
  const k = control.credentials;
  return Object.assign({}, control, {credentials: {AccessKeyId: k.AccessKeyId, SecretAccessKey_fp: fp(k.SecretAccessKey),
    Token_fp: fp(k.Token), Expiration: k.Expiration || null, LastUpdated: k.LastUpdated || null,
    Code: k.Code || null, Type: k.Type || null}, live_tokens: tokens.size});
}

// The credentials document in the recorded layout.
function credentialsDocument() {
  const k = control.credentials;
  const now = Date.now();
  const v = {Code: k.Code || 'Success', LastUpdated: k.LastUpdated || iso(now), Type: k.Type || 'AWS-HMAC',
    AccessKeyId: k.AccessKeyId, SecretAccessKey: k.SecretAccessKey, Token: k.Token,
    Expiration: k.Expiration || iso(now + control.expires_in_s * 1000)};
  return '{\n' + DOC_KEYS.map((n) => `  ${JSON.stringify(n)} : ${JSON.stringify(v[n])}`).join(',\n') + '\n}';
}

// ---- request handling -----------------------------------------------------------------------
function takeFailure(endpoint) {
  const i = control.fail_next.findIndex((f) => f.endpoint === 'any' || f.endpoint === endpoint);
  return i < 0 ? null : control.fail_next.splice(i, 1)[0];
}

// Returns the token's remaining seconds, or null (answered 401 / allowed tokenless as null-ok).
function checkToken(req, res, entry) {
  const t = req.headers['x-aws-ec2-metadata-token'];
  if (t === undefined) {
    if (control.imdsv1) return {ttl: null};
    entry.reason = 'no_token';
    send(res, entry, 401, UNAUTHORIZED_PAGE, {'content-type': 'text/html'});
    return null;
  }
  entry.token_fp = fp(t);
  const exp = tokens.get(t);
  if (exp === undefined || Date.now() >= exp) {
    entry.reason = exp === undefined ? 'unknown_token' : 'expired_token';
    send(res, entry, 401, UNAUTHORIZED_PAGE, {'content-type': 'text/html'});
    return null;
  }
  return {ttl: Math.max(0, Math.floor((exp - Date.now()) / 1000))};
}

function handle(req, res, entry, url) {
  const p = url.pathname;
  const endpoint = p === TOKEN_PATH ? 'token' : p === LIST_PATH ? 'list'
    : p.startsWith(LIST_PATH) ? 'credentials' : /\/api\/token$/.test(p) ? 'versioned_token' : 'other';
  entry.endpoint = endpoint;
  if (endpoint === 'token') stats.token_puts += req.method === 'PUT' ? 1 : 0;
  if (endpoint === 'list') stats.list_requests += 1;
  if (endpoint === 'credentials') stats.credentials_requests += 1;

  const f = takeFailure(endpoint);
  if (f || control.hang_next > 0 || (endpoint === 'token' && req.method === 'PUT' && control.put_unreachable)) {
    if (!f && control.hang_next > 0) control.hang_next -= 1;
    if (!f || f.hang) {
      stats.hung += 1;
      entry.outcome = f ? 'injected_hang' : control.put_unreachable && endpoint === 'token' ? 'put_unreachable' : 'hang';
      if (f) stats.injected += 1;
      log(entry);
      return; // never answered; destroyed at shutdown
    }
    stats.injected += 1;
    entry.outcome = 'injected';
    return send(res, entry, f.status, f.body || '', f.headers || {});
  }

  if (endpoint === 'token' || endpoint === 'versioned_token') {
    if (req.method !== 'PUT') return send(res, entry, 405, '', {'content-type': 'text/plain'});
    if (endpoint === 'versioned_token') { entry.reason = 'version_path'; return send(res, entry, 403, '', {'content-type': 'text/plain'}); }
    if (control.disabled) { entry.reason = 'disabled'; return send(res, entry, 403, '', {'content-type': 'text/xml'}); }
    if (req.headers['x-forwarded-for'] !== undefined) { entry.reason = 'x_forwarded_for'; return send(res, entry, 403, '', {'content-type': 'text/plain'}); }
    const raw = req.headers['x-aws-ec2-metadata-token-ttl-seconds'];
    stats.last_token_ttl_requested = raw === undefined ? null : String(raw);
    entry.ttl = raw;
    if (raw === undefined || !/^\d+$/.test(raw) || Number(raw) < TTL_MIN || Number(raw) > TTL_MAX) {
      entry.reason = raw === undefined ? 'no_ttl' : 'bad_ttl';
      return send(res, entry, 400, '', {'content-type': 'text/plain'});
    }
    const ttl = control.max_token_ttl_s ? Math.min(Number(raw), control.max_token_ttl_s) : Number(raw);
    const token = 'AQAEA' + crypto.randomBytes(38).toString('base64url') + '==';
    tokens.set(token, Date.now() + ttl * 1000);
    stats.tokens_issued += 1;
    entry.outcome = 'token_issued';
    entry.token_fp = fp(token);
    return send(res, entry, 200, token, {'content-type': 'text/plain', 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl)});
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, entry, 405, '', {'content-type': 'text/plain'});
  const t = checkToken(req, res, entry);
  if (!t) { entry.outcome = 'unauthorized'; return; }
  const ttlHeader = t.ttl === null ? {} : {'x-aws-ec2-metadata-token-ttl-seconds': String(t.ttl)};
  const notFound = () => send(res, entry, 404, NOT_FOUND_PAGE, Object.assign({'content-type': 'text/html'}, ttlHeader));
  if (endpoint === 'list') {
    if (control.role === null) { entry.outcome = 'no_role'; return notFound(); }
    entry.outcome = 'role_listed';
    return send(res, entry, 200, control.role, Object.assign({'content-type': 'text/plain', 'accept-ranges': 'none'}, ttlHeader));
  }
  if (endpoint === 'credentials') {
    const role = decodeURIComponent(p.slice(LIST_PATH.length));
    if (control.role === null || role !== control.role) { entry.outcome = 'unknown_role'; return notFound(); }
    stats.credentials_served += 1;
    entry.outcome = 'credentials';
    return send(res, entry, 200, credentialsDocument(), Object.assign({'content-type': 'text/plain', 'accept-ranges': 'none'}, ttlHeader));
  }
  entry.outcome = 'other_path';
  return notFound();
}

function controlRequest(req, res, entry, raw, url) {
  const json = (status, body) => send(res, entry, status, body, {'content-type': 'application/json', connection: 'keep-alive'});
  try {
    if (url.pathname === '/__control' && req.method === 'POST') {
      const s = raw.toString('utf8').trim();
      return json(200, applyControl(s === '' ? {} : JSON.parse(s)));
    }
    if (url.pathname === '/__control' && req.method === 'GET') return json(200, controlView());
    if (url.pathname === '/__stats' && req.method === 'GET') return json(200, stats);
  } catch (e) {
    entry.reason = e.message;
    return json(400, {error: e instanceof BadInput || e instanceof SyntaxError ? e.message : 'bad request'});
  }
  return json(404, {error: 'unknown control'});
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://fake.invalid');
  const entry = {ts_ms: Date.now(), method: req.method, path: url.pathname};
  const ua = req.headers['user-agent'];
  if (ua) entry.user_agent = String(ua).slice(0, 200);
  const chunks = [];
  let size = 0;
  req.on('data', (c) => { size += c.length; if (size <= 65536) chunks.push(c); });
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    if (url.pathname.startsWith('/__')) {
      control_answer.add(entry);
      return controlRequest(req, res, entry, raw, url);
    }
    stats.requests += 1;
    if (ua) stats.last_user_agent = entry.user_agent;
    const go = () => handle(req, res, entry, url);
    if (control.delay_ms > 0) setTimeout(go, control.delay_ms);
    else go();
  });
});
serve(server, 'imds', opts.portFile);
