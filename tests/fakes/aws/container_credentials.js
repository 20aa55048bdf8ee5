#!/usr/bin/env node
// A fake container credential endpoint (ECS task role / EKS Pod Identity agent) for the
// integration tests of claude-key-refresher's AWS credential chain. Node standard library only;
// plain HTTP on 127.0.0.1, which is one of the loopback hosts a client must accept in
// AWS_CONTAINER_CREDENTIALS_FULL_URI (point the client at http://127.0.0.1:P/<path>).
//
// It follows tests/fakes/aws_fixtures/aws-credentials/ (a byte-exact copy of
// ../shared/testdata/aws-credentials/; its README.md cites the ECS Developer Guide, the SDK
// reference guide and the smithy-rs / aws-sdk-php commits). Fixture files are read at start-up
// (the fake refuses to start without them):
//   ecs/container-credentials-endpoint.json (ECS Developer Guide "Task IAM role"; SDK reference
//     "Container credential provider"): GET <path>; the value of
//     AWS_CONTAINER_AUTHORIZATION_TOKEN (or the content of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)
//     arrives verbatim as the Authorization header; 200 application/json with AccessKeyId,
//     SecretAccessKey, Token, Expiration (ISO 8601 UTC), RoleArn, and AccountId in newer answers.
//   ecs/container-credentials.recorded.json and smithy-rs ... /ecs_credentials and
//     /eks_pod_identity_credentials http-traffic.json (recorded): the default body layout
//     (style "recorded"): compact JSON, members RoleArn, AccessKeyId, SecretAccessKey, Token,
//     AccountId, Expiration in that order, written '"Expiration" : "..."' exactly as recorded;
//     default values ASIARCORRECT / secretkeycorrect / tokencorrect, RoleArn
//     arn:aws:iam::123456789:role/ecs-task-role, AccountId 012345678901 (Expiration: now +
//     expires_in_s, since the recorded one is 2009); response headers content-type
//     application/json, x-rate-limit-duration 1, x-rate-limit-limit 40 as recorded. The
//     recorded requests carry Accept: application/json (recorded in stats, never required).
//   ecs/container-credentials.docs-example.json: style "docs" — the documented layout
//     (4-space indent, members AccessKeyId, Expiration, RoleArn, SecretAccessKey, Token).
//   aws-sdk-php/ecs-uri-token-resolution.json "auth token from file/env": the header is the
//     token verbatim (e.g. "Basic static%20token"), not "Bearer ..."; the fake compares it
//     byte for byte with the configured token(s).
//   smithy-rs .../eks_pod_identity_credentials/fs/token.jwt: "sometoken" is the recorded EKS
//     token value (a test may configure it).
// NOT in the fixtures (fake's choices): the status for a missing Authorization header (401)
// and for a wrong one (403), with body {"code": "...", "message": "..."}; 404 for a path other
// than the configured one; 405 for a method other than GET/HEAD; throttle_next answers 429
// with the recorded x-rate-limit headers.
//
// Usage: node container_credentials.js --port-file F [--log F]
// Listens on 127.0.0.1, port 0; once listening writes the port to F atomically (F.tmp, then
// rename). SIGTERM/SIGINT: closes the listener, destroys open sockets (hung requests too),
// exits 0.
//
// Controls. POST /__control merges (reset first, when given) and answers the control view
// (secrets as fingerprints); unknown members or wrong types: 400. GET /__control.
//   {"reset": true,
//    "credentials": {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"? (ISO 8601),
//                    "RoleArn"? (null: omitted), "AccountId"? (null: omitted)},
//                                             (replaces the whole document)
//    "expires_in_s": 21600,                   (used when credentials have no Expiration)
//    "token": null | "<token>" | ["<token>", ...],   (null: no Authorization required)
//    "path": null | "/v1/credentials",        (null: any path; else path+query must equal it)
//    "style": "recorded" | "docs",
//    "fail_next": [{"status"?, "body"?, "headers"?, "hang"?: true}],
//    "throttle_next": N, "hang_next": N, "delay_ms": N}
// GET /__stats: {"requests", "ok", "unauthorized" (401), "forbidden" (403), "not_found",
//   "throttled", "injected", "hung", "by_status": {..}, "last_path", "last_authorization_fp"
//   (fingerprint of the Authorization value presented, or null), "last_accept",
//   "last_user_agent"}
//
// Logging (--log F): one JSON line per request: ts_ms, method, path (with the query), status,
// outcome, reason, authorization_fp, user_agent. Never an Authorization value, a secret access
// key or a session token.
'use strict';
const http = require('http');
const path = require('path');
const {fingerprint: fp, parseArgs, fixtureReader, jsonLogger, bodyBytes, writeReply, serve} =
  require('../fake_server_lib');

// ---- command line -------------------------------------------------------------------------
const USAGE = 'usage: container_credentials.js --port-file F [--log F]\n';
const opts = parseArgs('container_credentials', USAGE, {}, {});

// ---- fixtures -------------------------------------------------------------------------------
const fixture = fixtureReader('container_credentials', path.join(__dirname, '..', 'aws_fixtures', 'aws-credentials'));
const ENDPOINT_DOC = JSON.parse(fixture('ecs/container-credentials-endpoint.json'));
const RECORDED_TEXT = fixture('ecs/container-credentials.recorded.json');
const RECORDED = JSON.parse(RECORDED_TEXT);
const RECORDED_KEYS = Object.keys(RECORDED);
const DOCS_KEYS = Object.keys(JSON.parse(fixture('ecs/container-credentials.docs-example.json')));
const RECORDED_HEADERS = (() => {
  const ev = JSON.parse(fixture('smithy-rs-aws-config-test-data/default-credential-provider-chain/ecs_credentials/http-traffic.json')).events;
  const r = ev.map((e) => e.action.Response).find(Boolean);
  return r ? r.response.Ok.headers : null;
})();
if (RECORDED_KEYS.join() !== 'RoleArn,AccessKeyId,SecretAccessKey,Token,AccountId,Expiration' ||
    !/"Expiration" : "/.test(RECORDED_TEXT) || DOCS_KEYS.join() !== 'AccessKeyId,Expiration,RoleArn,SecretAccessKey,Token' ||
    !RECORDED_HEADERS || !ENDPOINT_DOC.response || ENDPOINT_DOC.response.content_type !== 'application/json') {
  process.stderr.write('container_credentials: fixtures not as expected\n');
  process.exit(70);
}
const RESPONSE_HEADERS = {
  'content-type': 'application/json',
  'x-rate-limit-duration': RECORDED_HEADERS['x-rate-limit-duration'][0],
  'x-rate-limit-limit': RECORDED_HEADERS['x-rate-limit-limit'][0],
};

// ---- helpers --------------------------------------------------------------------------------
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isCount = (v) => Number.isInteger(v) && v >= 0;
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const log = jsonLogger('container_credentials', opts.log);
const controlAnswer = new WeakSet(); // log entries of /__ requests: not counted in stats
function send(res, entry, status, body, headers) {
  if (!controlAnswer.has(entry)) {
    stats.by_status[status] = (stats.by_status[status] || 0) + 1;
    if (status === 401) stats.unauthorized += 1;
    if (status === 403) stats.forbidden += 1;
    if (status === 404) stats.not_found += 1;
  }
  writeReply(res, entry, log, status, bodyBytes(body), Object.assign({'content-type': 'application/json'}, headers));
}

// ---- state ----------------------------------------------------------------------------------
function defaultControl() {
  return {
    credentials: {AccessKeyId: RECORDED.AccessKeyId, SecretAccessKey: RECORDED.SecretAccessKey, Token: RECORDED.Token,
      RoleArn: RECORDED.RoleArn, AccountId: RECORDED.AccountId},
    expires_in_s: 21600, token: null, path: null, style: 'recorded', fail_next: [], throttle_next: 0,
    hang_next: 0, delay_ms: 0,
  };
}
function zeroStats() {
  return {
    requests: 0, ok: 0, unauthorized: 0, forbidden: 0, not_found: 0, throttled: 0, injected: 0, hung: 0,
    by_status: {}, last_path: null, last_authorization_fp: null, last_accept: null, last_user_agent: null,
  };
}
let control, stats;
function resetAll() {
  control = defaultControl();
  stats = zeroStats();
}
resetAll();

class BadInput extends Error {}
const need = (c, m) => { if (!c) throw new BadInput(m); };

function applyControl(c) {
  need(isObject(c), 'body must be a JSON object');
  const known = Object.keys(defaultControl()).concat(['reset']);
  for (const k of Object.keys(c)) need(known.includes(k), `unknown control member ${k}`);
  if (c.reset !== undefined) need(c.reset === true, 'reset must be true');
  if (c.credentials !== undefined) {
    const k = c.credentials;
    need(isObject(k), 'credentials must be an object');
    for (const n of Object.keys(k)) need(RECORDED_KEYS.includes(n), `credentials: unknown member ${n}`);
    for (const n of ['AccessKeyId', 'SecretAccessKey', 'Token']) need(typeof k[n] === 'string' && k[n] !== '', `credentials.${n} must be a non-empty string`);
    for (const n of ['Expiration', 'RoleArn', 'AccountId']) need(k[n] === undefined || k[n] === null || typeof k[n] === 'string', `credentials.${n} must be a string or null`);
  }
  for (const k of ['expires_in_s', 'throttle_next', 'hang_next', 'delay_ms']) if (c[k] !== undefined) need(isCount(c[k]), `${k} must be a non-negative integer`);
  if (c.token !== undefined) {
    need(c.token === null || (typeof c.token === 'string' && c.token !== '') ||
      (Array.isArray(c.token) && c.token.length > 0 && c.token.every((t) => typeof t === 'string' && t !== '')),
    'token must be null, a non-empty string or an array of them');
  }
  if (c.path !== undefined) need(c.path === null || (typeof c.path === 'string' && c.path.startsWith('/')), 'path must be null or start with /');
  if (c.style !== undefined) need(['recorded', 'docs'].includes(c.style), 'style must be "recorded" or "docs"');
  if (c.fail_next !== undefined) {
    need(Array.isArray(c.fail_next), 'fail_next must be an array');
    for (const f of c.fail_next) {
      need(isObject(f), 'fail_next items must be objects');
      need(f.hang === true || (Number.isInteger(f.status) && f.status >= 100 && f.status <= 599), 'fail_next items need a status (or hang: true)');
      need(f.body === undefined || typeof f.body === 'string', 'fail_next body must be a string');
      need(f.headers === undefined || (isObject(f.headers) && Object.values(f.headers).every((v) => typeof v === 'string')), 'fail_next headers must map names to strings');
    }
  }
  if (c.reset) resetAll();
  for (const k of Object.keys(c)) {
    if (k === 'reset') continue;
    control[k] = k === 'credentials' ? Object.assign({}, c[k]) : k === 'fail_next' ? c[k].map((f) => Object.assign({}, f)) : c[k];
  }
  return controlView();
}
function controlView() {
  const k = control.credentials;
  const tokens = control.token === null ? null : [].concat(control.token).map(fp);
  return Object.assign({}, control, {
    credentials: {AccessKeyId: k.AccessKeyId, SecretAccessKey_fp: fp(k.SecretAccessKey), Token_fp: fp(k.Token),
      Expiration: k.Expiration || null, RoleArn: k.RoleArn === undefined ? null : k.RoleArn,
      AccountId: k.AccountId === undefined ? null : k.AccountId},
    token: undefined, token_fps: tokens,
  });
}

function credentialsBody() {
  const k = control.credentials;
  const v = {RoleArn: k.RoleArn, AccessKeyId: k.AccessKeyId, SecretAccessKey: k.SecretAccessKey, Token: k.Token,
    AccountId: k.AccountId, Expiration: k.Expiration || iso(Date.now() + control.expires_in_s * 1000)};
  if (control.style === 'docs') {
    const o = {};
    for (const n of DOCS_KEYS) if (v[n] != null) o[n] = v[n];
    return JSON.stringify(o, null, 4);
  }
  const parts = [];
  for (const n of RECORDED_KEYS) {
    if (v[n] == null) continue;
    parts.push(n === 'Expiration' ? `"Expiration" : ${JSON.stringify(v[n])}` : `${JSON.stringify(n)}:${JSON.stringify(v[n])}`);
  }
  return `{${parts.join(',')}}`;
}

// ---- request handling -----------------------------------------------------------------------
function handle(req, res, entry, url) {
  const f = control.fail_next.length ? control.fail_next.shift() : null;
  if (f || control.hang_next > 0) {
    if (!f) control.hang_next -= 1;
    if (f) stats.injected += 1;
    if (!f || f.hang) {
      stats.hung += 1;
      entry.outcome = 'hang';
      log(entry);
      return; // never answered; destroyed at shutdown
    }
    entry.outcome = 'injected';
    return send(res, entry, f.status, f.body || '', f.headers || {});
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    entry.outcome = 'method';
    return send(res, entry, 405, {code: 'MethodNotAllowed', message: 'Only GET is supported'});
  }
  if (control.path !== null && url.pathname + url.search !== control.path) {
    entry.outcome = 'not_found';
    return send(res, entry, 404, {code: 'NotFound', message: 'No credentials at this path'});
  }
  if (control.token !== null) {
    const auth = req.headers['authorization'];
    if (auth === undefined) {
      entry.outcome = 'unauthorized';
      return send(res, entry, 401, {code: 'Unauthorized', message: 'Authorization header is missing'});
    }
    if (![].concat(control.token).includes(auth)) {
      entry.outcome = 'forbidden';
      return send(res, entry, 403, {code: 'AccessDenied', message: 'Authorization token is not valid'});
    }
  }
  if (control.throttle_next > 0) {
    control.throttle_next -= 1;
    stats.throttled += 1;
    entry.outcome = 'throttled';
    return send(res, entry, 429, {code: 'TooManyRequests', message: 'Rate exceeded'},
      {'x-rate-limit-duration': RESPONSE_HEADERS['x-rate-limit-duration'], 'x-rate-limit-limit': RESPONSE_HEADERS['x-rate-limit-limit']});
  }
  stats.ok += 1;
  entry.outcome = 'credentials';
  return send(res, entry, 200, credentialsBody(), RESPONSE_HEADERS);
}

function controlRequest(req, res, entry, raw, url) {
  const json = (status, body) => send(res, entry, status, body);
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
  const entry = {ts_ms: Date.now(), method: req.method, path: url.pathname + url.search};
  const chunks = [];
  let size = 0;
  req.on('data', (c) => { size += c.length; if (size <= 65536) chunks.push(c); });
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    if (url.pathname.startsWith('/__')) {
      controlAnswer.add(entry);
      return controlRequest(req, res, entry, raw, url);
    }
    stats.requests += 1;
    const auth = req.headers['authorization'];
    stats.last_path = entry.path;
    stats.last_authorization_fp = auth === undefined ? null : fp(auth);
    stats.last_accept = req.headers['accept'] || null;
    stats.last_user_agent = req.headers['user-agent'] ? String(req.headers['user-agent']).slice(0, 200) : null;
    if (auth !== undefined) entry.authorization_fp = fp(auth);
    if (stats.last_user_agent) entry.user_agent = stats.last_user_agent;
    const go = () => handle(req, res, entry, url);
    if (control.delay_ms > 0) setTimeout(go, control.delay_ms);
    else go();
  });
});
serve(server, 'container_credentials', opts.portFile);
