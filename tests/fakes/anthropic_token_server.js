#!/usr/bin/env node
// A fake of Anthropic's OAuth server (Claude Pro/Max subscriptions) for the integration tests
// of claude-key-refresher (node standard library only, plain HTTP on 127.0.0.1).
//
// It follows ../shared/ANTHROPIC_OAUTH.md (in the checkout: /work/shared/ANTHROPIC_OAUTH.md)
// strictly; what that document does not settle is marked "(fake's choice)" below.
//   - "Endpoints and client": the client id, the authorize query (code=true, client_id,
//     response_type=code, redirect_uri, scope space-joined, code_challenge,
//     code_challenge_method=S256, state), the manual redirect page showing `<code>#<state>`,
//     the automatic redirect to http://localhost:<port>/callback, the scopes, the profile.
//   - "Token requests": JSON body only (Content-Type: application/json), never form-encoded;
//     the authorization_code and refresh_token parameters; client_id required, without it
//     400 "Invalid request format"; optional expires_in only with scope `user:inference`
//     (31536000 = the one-year setup-token kind); the edge filters by User-Agent.
//   - "Responses": the success body (sk-ant-oat01-… access, sk-ant-ort01-… refresh token,
//     expires_in, scope, token_type, account{uuid,email_address}, organization{uuid}); the
//     refresh token is rotated on every refresh and single-use, and reuse revokes the whole
//     family; the error bodies (invalid_grant, invalid_request_error, 429 + Retry-After,
//     403 from the edge, 500); lifetimes come from expires_in (default 28800), never assumed.
//
// Usage:
//   node anthropic_token_server.js --port-file F [--log F] [--client-id ID]
//        [--manual-redirect-uri URI] [--expires-in N]
// Listens on 127.0.0.1, port 0 (the OS picks); once listening writes the port to F
// atomically (F.tmp, then rename). Defaults: client id 9d1c250a-e61b-44d9-88ed-5944d1962f5e,
// manual redirect URI https://platform.claude.com/oauth/code/callback, expires_in 28800.
// SIGTERM/SIGINT: closes the listener, destroys every open socket (hung requests included)
// and exits 0.
//
// Endpoints (the real API's):
//   GET  /oauth/authorize?code=true&client_id&response_type=code&redirect_uri&scope
//        &code_challenge&code_challenge_method=S256&state
//        The browser consent page. Every parameter is validated (each exactly once; client_id
//        known, response_type=code, code=true, method S256, challenge 43 chars base64url,
//        state non-empty, scope non-empty and made of the documented scopes); bad: 400 text.
//        Issues a single-use code (base64url of 24 random bytes) bound to client_id,
//        redirect_uri, code_challenge, scope and state, valid for code_ttl (600 s).
//        redirect_uri http://localhost:<port>/callback or http://127.0.0.1:<port>/callback:
//          302, Location: <redirect_uri>?code=<code>&state=<state>
//        redirect_uri == the manual redirect URI: 200 text/plain, exactly `<code>#<state>`
//        anything else: 400.
//   POST /v1/oauth/token  (JSON body only)
//        Not application/json, unparsable, not an object, client_id missing or wrong, a
//        required parameter missing or not a string, an unknown grant_type, a misplaced or
//        bad expires_in: 400 {"type":"error","error":{"type":"invalid_request_error",
//        "message":"Invalid request format"}}.
//        grant_type=authorization_code: code, redirect_uri (identical), client_id,
//          code_verifier (43-128 of [A-Za-z0-9-._~], base64url(SHA-256) == challenge), state
//          (equal), code unused and unexpired; optional expires_in (integer 1..31536000) only
//          when the code's scope is exactly "user:inference" (it then holds for the family's
//          later refreshes too). Failure: 400 {"error":"invalid_grant","error_description":
//          "Invalid authorization code"}; a failed attempt does not use the code up (fake's
//          choice); a reused code is only refused, its family is not revoked (fake's choice).
//          Success starts a new token family.
//        grant_type=refresh_token: refresh_token, client_id, optional scope (a non-empty subset
//          of the family's scopes: the new access token gets that scope, the family keeps its
//          own; otherwise 400 {"error":"invalid_scope",...} (RFC 6749 5.2; fake's choice),
//          nothing rotated). The family's current refresh token rotates: new access + refresh
//          token, the old refresh token is spent, old access tokens stay valid until expiry.
//          A spent refresh token is REUSE: the whole family is revoked (every token of it
//          invalid from then on). Spent, revoked or unknown: 400 {"error":"invalid_grant",
//          "error_description":"Refresh token not found or invalid"}.
//        Success: {"token_type":"Bearer","access_token":"sk-ant-oat01-…","refresh_token":
//          "sk-ant-ort01-…","expires_in":N,"scope":"…","account":{"uuid","email_address"},
//          "organization":{"uuid"}} plus control extra_response_fields.
//   GET  /api/oauth/profile  (Authorization: Bearer <access token>, anthropic-beta containing
//        oauth-2025-04-20) 200 {"account":{"uuid","email","display_name"},"organization":
//        {"uuid","organization_type":"claude_max","rate_limit_tier":"default_claude_max_20x"}}
//        for a valid, unexpired, unrevoked access token; 401 authentication_error otherwise.
//   anything else (any other path or method): 404 {"type":"error","error":{"type":
//        "not_found_error","message":"Not found"}}. Any body over 64 KiB: 413.
//
// Test controls (not part of the real API):
//   POST /__control  JSON merged into the control state (reset first, when given); answers
//        the new state. Unknown fields or wrong types: 400. GET /__control: the state.
//        expires_in        integer >= 0, expires_in of newly issued tokens (default --expires-in)
//        delay_ms, delay_jitter_ms   every token request is answered after delay_ms + a
//                          uniform random 0..delay_jitter_ms; the grant is decided after it
//        fail_next         [{status, body (string), headers (object)}, ...]: answered in order
//                          to the next token requests instead of processing them (replaces the
//                          queue); content-type defaults to application/json
//        rate_limit_next   N: the next N token requests get 429, Retry-After: <retry_after>,
//                          {"type":"error","error":{"type":"rate_limit_error","message":
//                          "Rate limited"}}
//        retry_after       seconds for Retry-After (default 7)
//        garbage_next      N: 200 application/json with a body that is not JSON
//        huge_next         N: 200 with a 5 MB JSON-looking body (no tokens in it)
//        hang_next         N: never answered; the socket stays open until the server stops
//        required_user_agent  regex string (JS syntax, unanchored) or null: a token request
//                          whose User-Agent does not match gets the edge's 403 HTML page
//        code_ttl          seconds an authorization code lives (default 600)
//        extra_response_fields  object merged into every successful token body (e.g. a
//                          refresh-token expiry field), or null
//        reset: true       back to defaults, and forget all codes, tokens, stats and the log of
//                          issued tokens
//        A token request is checked in this order, each at most one per request: the edge's
//        User-Agent filter (consumes nothing), fail_next, rate_limit_next, garbage_next,
//        huge_next, hang_next, then the grant. Injected answers process no grant.
//   POST /__seed  {"scope": "...", "expires_in": N} (both optional; default the full login
//        scopes and the control expires_in): a new family as if a login happened; answers the
//        token response body.
//   GET  /__stats  {"token_requests","refreshes_ok","codes_exchanged","codes_issued",
//        "reuse_events" (each presentation of a spent refresh token, also after revocation),
//        "families_revoked","families" (created, revoked ones included),"invalid_grant",
//        "rejected_format","rate_limited","edge_403","injected","garbage","huge","hung",
//        "too_large","profile_ok","profile_denied"}
//   GET  /__token_status?refresh_token=<t>  {"state":"current"|"spent"|"revoked"|"unknown",
//        "family":"<id>"|null}  (revoked wins over spent)
//   GET  /__token_status?access_token=<t>   {"state":"valid"|"expired"|"revoked"|"unknown",
//        "family":"<id>"|null}
//   GET  /__issued?since=<n>  {"next": <count>, "issued": [{"index","fingerprint","family",
//        "via":"login"|"seed"|"refresh","access_fingerprint"}, ...]} — every refresh token
//        issued, in order, from index n on (default 0). fingerprint = first 12 hex chars of
//        sha256(token), as the client computes over what it holds.
//
// Logging (--log F): one JSON line per request: ts_ms, method, path (never the query),
// status, grant_type, outcome ("rotated", "reuse_revoked", "reuse", "invalid_grant",
// "code_exchanged", "code_issued", "format", "invalid_scope", "rate_limited", "edge_403",
// "injected", "garbage", "huge", "hang", "too_large", "seeded", "profile_ok",
// "profile_denied", ...), reason, family, user_agent, and fingerprints (presented_fp,
// issued_fp, code_fp). Never a token or a code: at most its fingerprint. Nothing with a token
// goes to stdout or stderr either.
'use strict';
const http = require('http');
const crypto = require('crypto');
const {fingerprint: fp, parseArgs, jsonLogger, bodyBytes, writeReply, serve} = require('./fake_server_lib');

// ---- command line -------------------------------------------------------------------------
const USAGE = 'usage: anthropic_token_server.js --port-file F [--log F] [--client-id ID] ' +
  '[--manual-redirect-uri URI] [--expires-in N]\n';
const opts = parseArgs('anthropic_token_server', USAGE, {'--client-id': 'clientId',
    '--manual-redirect-uri': 'manualRedirectUri', '--expires-in': 'expiresIn'}, {
  clientId: '9d1c250a-e61b-44d9-88ed-5944d1962f5e',
  manualRedirectUri: 'https://platform.claude.com/oauth/code/callback', expiresIn: 28800,
});
{
  if (!/^\d+$/.test(String(opts.expiresIn))) {
    process.stderr.write('anthropic_token_server: --expires-in must be a non-negative integer\n');
    process.exit(64);
  }
  opts.expiresIn = Number(opts.expiresIn);
}

// ---- constants from the facts document ------------------------------------------------------
const FULL_SCOPES = ['org:create_api_key', 'user:profile', 'user:inference',
  'user:sessions:claude_code', 'user:mcp_servers', 'user:file_upload'];
const KNOWN_SCOPES = new Set(FULL_SCOPES);
const MAX_BODY = 64 * 1024;
const SETUP_TOKEN_MAX_EXPIRES = 31536000;
const FORMAT_ERROR = {type: 'error', error: {type: 'invalid_request_error', message: 'Invalid request format'}};
const GRANT_ERROR_REFRESH = {error: 'invalid_grant', error_description: 'Refresh token not found or invalid'};
const GRANT_ERROR_CODE = {error: 'invalid_grant', error_description: 'Invalid authorization code'};
const RATE_LIMIT_BODY = {type: 'error', error: {type: 'rate_limit_error', message: 'Rate limited'}};
const EDGE_403_HTML = '<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head>' +
  '<body><center><h1>403 Forbidden</h1></center><hr><center>edge</center></body></html>\n';
const GARBAGE_BODY = Buffer.from('<html>\x00\xff upstream garbage {{{ "token_type": [ not json ]]] \n', 'latin1');
let hugeBody = null; // built on first use: 5 MB of JSON-looking text without any token in it
function getHugeBody() {
  if (!hugeBody) {
    hugeBody = Buffer.from('{"token_type":"Bearer","expires_in":28800,"padding":"' +
      'x'.repeat(5 * 1024 * 1024) + '"}');
  }
  return hugeBody;
}
const ACCOUNT = {uuid: crypto.randomUUID(), email: 'user@example.com', display_name: 'Test User'};
const ORGANIZATION_UUID = crypto.randomUUID();

// ---- state ----------------------------------------------------------------------------------
function defaultControl() {
  return {
    expires_in: opts.expiresIn, delay_ms: 0, delay_jitter_ms: 0, fail_next: [],
    rate_limit_next: 0, retry_after: 7, garbage_next: 0, huge_next: 0, hang_next: 0,
    required_user_agent: null, code_ttl: 600, extra_response_fields: null,
  };
}
function zeroStats() {
  return {
    token_requests: 0, refreshes_ok: 0, codes_exchanged: 0, codes_issued: 0, reuse_events: 0,
    families_revoked: 0, families: 0, invalid_grant: 0, rejected_format: 0, rate_limited: 0,
    edge_403: 0, injected: 0, garbage: 0, huge: 0, hung: 0, too_large: 0, profile_ok: 0,
    profile_denied: 0,
  };
}
let control, stats, codes, families, refreshTokens, accessTokens, issued, familySeq, uaRegex;
function resetAll() {
  control = defaultControl();
  uaRegex = null;
  stats = zeroStats();
  codes = new Map();         // code -> {clientId, redirectUri, challenge, scope, state, expiresAt, used}
  families = new Map();      // id -> {id, scopes, revoked, current (refresh token), expiresIn}
  refreshTokens = new Map(); // token -> {family, spent}
  accessTokens = new Map();  // token -> {family, expiresAt}
  issued = [];               // {index, fingerprint, family, via, access_fingerprint}
  familySeq = 0;
}
resetAll();

// ---- helpers --------------------------------------------------------------------------------
const rand = (n) => crypto.randomBytes(n).toString('base64url');
const s256 = (v) => crypto.createHash('sha256').update(v, 'ascii').digest('base64url');

const log = jsonLogger('anthropic_token_server', opts.log);

function send(res, entry, status, body, headers) {
  writeReply(res, entry, log, status, bodyBytes(body), Object.assign({'content-type': 'application/json'}, headers));
}

const notFound = (res, entry) =>
  send(res, entry, 404, {type: 'error', error: {type: 'not_found_error', message: 'Not found'}});

function isJsonContentType(ct) {
  return /^\s*application\/json\s*(;.*)?$/i.test(ct || '');
}

function parseScopes(s) {
  if (typeof s !== 'string' || s === '') return null;
  const list = s.split(' ');
  const seen = new Set();
  for (const x of list) {
    if (!KNOWN_SCOPES.has(x) || seen.has(x)) return null;
    seen.add(x);
  }
  return list;
}

// Creates a family and its first tokens; returns the success body.
function newFamily(scopes, expiresIn, via) {
  familySeq += 1;
  const fam = {id: `fam-${familySeq}`, scopes, revoked: false, current: null, expiresIn};
  families.set(fam.id, fam);
  stats.families += 1;
  return issueTokens(fam, scopes, via);
}

function issueTokens(fam, scopes, via) {
  const expiresIn = fam.expiresIn != null ? fam.expiresIn : control.expires_in;
  const access = 'sk-ant-oat01-' + rand(48);
  const refresh = 'sk-ant-ort01-' + rand(48);
  accessTokens.set(access, {family: fam.id, expiresAt: Date.now() + expiresIn * 1000});
  refreshTokens.set(refresh, {family: fam.id, spent: false});
  fam.current = refresh;
  const rec = {index: issued.length, fingerprint: fp(refresh), family: fam.id, via,
    access_fingerprint: fp(access)};
  issued.push(rec);
  const body = {
    token_type: 'Bearer', access_token: access, refresh_token: refresh, expires_in: expiresIn,
    scope: scopes.join(' '), account: {uuid: ACCOUNT.uuid, email_address: ACCOUNT.email},
    organization: {uuid: ORGANIZATION_UUID},
  };
  if (control.extra_response_fields) Object.assign(body, control.extra_response_fields);
  return {body, rec};
}

function revokeFamily(fam) {
  if (fam.revoked) return false;
  fam.revoked = true;
  stats.families_revoked += 1;
  return true;
}

// ---- /oauth/authorize -----------------------------------------------------------------------
function authorize(res, entry, url) {
  const q = url.searchParams;
  const bad = (msg) => { entry.outcome = 'bad_authorize'; entry.reason = msg;
    send(res, entry, 400, `Invalid authorization request: ${msg}\n`, {'content-type': 'text/plain; charset=utf-8'}); };
  const names = ['code', 'client_id', 'response_type', 'redirect_uri', 'scope', 'code_challenge',
    'code_challenge_method', 'state'];
  for (const n of names) {
    const all = q.getAll(n);
    if (all.length === 0) return bad(`missing ${n}`);
    if (all.length > 1) return bad(`${n} given more than once`);
  }
  if (q.get('code') !== 'true') return bad('code must be true');
  if (q.get('client_id') !== opts.clientId) return bad('unknown client_id');
  if (q.get('response_type') !== 'code') return bad('response_type must be code');
  if (q.get('code_challenge_method') !== 'S256') return bad('code_challenge_method must be S256');
  const challenge = q.get('code_challenge');
  if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) return bad('code_challenge must be 43 base64url characters');
  const state = q.get('state');
  if (state === '') return bad('empty state');
  const scopes = parseScopes(q.get('scope'));
  if (!scopes) return bad('scope must be a space-joined list of known scopes');
  const redirectUri = q.get('redirect_uri');
  const loop = /^http:\/\/(localhost|127\.0\.0\.1):(\d{1,5})\/callback$/.exec(redirectUri);
  const loopback = loop && Number(loop[2]) >= 1 && Number(loop[2]) <= 65535;
  if (!loopback && redirectUri !== opts.manualRedirectUri) return bad('redirect_uri not allowed');

  const code = rand(24);
  codes.set(code, {clientId: q.get('client_id'), redirectUri, challenge, scopes, state,
    expiresAt: Date.now() + control.code_ttl * 1000, used: false});
  stats.codes_issued += 1;
  entry.outcome = 'code_issued';
  entry.code_fp = fp(code);
  if (loopback) {
    const location = `${redirectUri}?code=${encodeURIComponent(code)}&state=${encodeURIComponent(state)}`;
    send(res, entry, 302, 'Redirecting\n', {'content-type': 'text/plain; charset=utf-8', location});
  } else {
    send(res, entry, 200, `${code}#${state}`, {'content-type': 'text/plain; charset=utf-8'});
  }
}

// ---- /v1/oauth/token ------------------------------------------------------------------------
function tokenRequest(req, res, entry, raw) {
  stats.token_requests += 1;
  let delay = control.delay_ms;
  if (control.delay_jitter_ms > 0) delay += Math.random() * control.delay_jitter_ms;
  if (delay > 0) setTimeout(() => tokenDecide(req, res, entry, raw), delay);
  else tokenDecide(req, res, entry, raw);
}

// One synchronous step: injected answers, then check-and-rotate. Concurrent requests cannot
// interleave inside it (node runs it to completion), so one current refresh token presented
// twice gives exactly one rotation and one reuse.
function tokenDecide(req, res, entry, raw) {
  // A client that went away meanwhile is still processed (the real server does not know
  // either): a crash test then sees, through /__issued, a rotation the client never saved.
  const ua = req.headers['user-agent'] || '';
  if (uaRegex && !uaRegex.test(ua)) {
    stats.edge_403 += 1;
    entry.outcome = 'edge_403';
    return send(res, entry, 403, EDGE_403_HTML, {'content-type': 'text/html'});
  }
  if (control.fail_next.length) {
    const f = control.fail_next.shift();
    stats.injected += 1;
    entry.outcome = 'injected';
    return send(res, entry, f.status, f.body, Object.assign({'content-type': 'application/json'}, f.headers));
  }
  if (control.rate_limit_next > 0) {
    control.rate_limit_next -= 1;
    stats.rate_limited += 1;
    entry.outcome = 'rate_limited';
    return send(res, entry, 429, RATE_LIMIT_BODY, {'retry-after': String(control.retry_after)});
  }
  if (control.garbage_next > 0) {
    control.garbage_next -= 1;
    stats.garbage += 1;
    entry.outcome = 'garbage';
    return send(res, entry, 200, GARBAGE_BODY);
  }
  if (control.huge_next > 0) {
    control.huge_next -= 1;
    stats.huge += 1;
    entry.outcome = 'huge';
    return send(res, entry, 200, getHugeBody());
  }
  if (control.hang_next > 0) {
    control.hang_next -= 1;
    stats.hung += 1;
    entry.outcome = 'hang';
    log(entry);
    return; // never answered; destroyed at shutdown
  }

  const format = (reason) => {
    stats.rejected_format += 1;
    entry.outcome = 'format';
    entry.reason = reason;
    send(res, entry, 400, FORMAT_ERROR);
  };
  if (!isJsonContentType(req.headers['content-type'])) return format('content_type');
  let body;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    return format('unparsable');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return format('not_object');
  if (typeof body.grant_type === 'string') entry.grant_type = body.grant_type.slice(0, 40);
  if (body.client_id !== opts.clientId) return format(body.client_id === undefined ? 'no_client_id' : 'wrong_client_id');
  const str = (k) => typeof body[k] === 'string' && body[k] !== '';

  if (body.grant_type === 'refresh_token') {
    if (!str('refresh_token')) return format('no_refresh_token');
    if (body.scope !== undefined && typeof body.scope !== 'string') return format('bad_scope');
    const token = body.refresh_token;
    entry.presented_fp = fp(token);
    const rt = refreshTokens.get(token);
    const fam = rt && families.get(rt.family);
    const grantError = (outcome, reason) => {
      stats.invalid_grant += 1;
      entry.outcome = outcome;
      if (reason) entry.reason = reason;
      send(res, entry, 400, GRANT_ERROR_REFRESH);
    };
    if (!fam) return grantError('invalid_grant', 'unknown');
    entry.family = fam.id;
    if (rt.spent) {
      stats.reuse_events += 1;
      const revokedNow = revokeFamily(fam);
      return grantError(revokedNow ? 'reuse_revoked' : 'reuse', revokedNow ? null : 'family_already_revoked');
    }
    if (fam.revoked) return grantError('invalid_grant', 'revoked');
    let scopes = fam.scopes;
    if (body.scope !== undefined) {
      const asked = parseScopes(body.scope);
      if (!asked || !asked.every((s) => fam.scopes.includes(s))) {
        entry.outcome = 'invalid_scope';
        return send(res, entry, 400, {error: 'invalid_scope',
          error_description: 'The requested scope is invalid, unknown, or exceeds the granted scope'});
      }
      scopes = asked;
    }
    rt.spent = true;
    const {body: out, rec} = issueTokens(fam, scopes, 'refresh');
    stats.refreshes_ok += 1;
    entry.outcome = 'rotated';
    entry.issued_fp = rec.fingerprint;
    entry.issued_index = rec.index;
    return send(res, entry, 200, out);
  }

  if (body.grant_type === 'authorization_code') {
    for (const k of ['code', 'redirect_uri', 'code_verifier', 'state']) if (!str(k)) return format(`no_${k}`);
    entry.code_fp = fp(body.code);
    const c = codes.get(body.code);
    let expiresIn = null;
    if (body.expires_in !== undefined) {
      if (!Number.isInteger(body.expires_in) || body.expires_in < 1 || body.expires_in > SETUP_TOKEN_MAX_EXPIRES)
        return format('bad_expires_in');
      if (c && !(c.scopes.length === 1 && c.scopes[0] === 'user:inference'))
        return format('expires_in_needs_inference_scope');
      expiresIn = body.expires_in;
    }
    const grantError = (reason) => {
      stats.invalid_grant += 1;
      entry.outcome = 'invalid_grant';
      entry.reason = reason;
      send(res, entry, 400, GRANT_ERROR_CODE);
    };
    if (!c) return grantError('unknown_code');
    if (c.used) return grantError('code_reused');
    if (Date.now() > c.expiresAt) return grantError('code_expired');
    if (c.clientId !== body.client_id) return grantError('client_mismatch');
    if (c.redirectUri !== body.redirect_uri) return grantError('redirect_uri_mismatch');
    if (c.state !== body.state) return grantError('state_mismatch');
    if (!/^[A-Za-z0-9._~-]{43,128}$/.test(body.code_verifier)) return grantError('bad_verifier_format');
    if (s256(body.code_verifier) !== c.challenge) return grantError('verifier_mismatch');
    c.used = true;
    const {body: out, rec} = newFamily(c.scopes, expiresIn, 'login');
    stats.codes_exchanged += 1;
    entry.outcome = 'code_exchanged';
    entry.family = rec.family;
    entry.issued_fp = rec.fingerprint;
    entry.issued_index = rec.index;
    return send(res, entry, 200, out);
  }
  return format('grant_type');
}

// ---- /api/oauth/profile ---------------------------------------------------------------------
function profile(req, res, entry) {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers['authorization'] || '');
  const betas = String(req.headers['anthropic-beta'] || '').split(',').map((s) => s.trim());
  const deny = (reason) => {
    stats.profile_denied += 1;
    entry.outcome = 'profile_denied';
    entry.reason = reason;
    send(res, entry, 401, {type: 'error', error: {type: 'authentication_error', message: 'Invalid bearer token'}});
  };
  if (!m) return deny('no_bearer');
  entry.presented_fp = fp(m[1]);
  if (!betas.includes('oauth-2025-04-20')) return deny('no_beta');
  const at = accessTokens.get(m[1]);
  const fam = at && families.get(at.family);
  if (!fam) return deny('unknown');
  entry.family = fam.id;
  if (fam.revoked) return deny('revoked');
  if (Date.now() >= at.expiresAt) return deny('expired');
  stats.profile_ok += 1;
  entry.outcome = 'profile_ok';
  send(res, entry, 200, {
    account: {uuid: ACCOUNT.uuid, email: ACCOUNT.email, display_name: ACCOUNT.display_name},
    organization: {uuid: ORGANIZATION_UUID, organization_type: 'claude_max',
      rate_limit_tier: 'default_claude_max_20x'},
  });
}

// ---- controls -------------------------------------------------------------------------------
function parseLenientJson(raw) {
  const s = raw.toString('utf8').trim();
  if (s === '') return {};
  const v = JSON.parse(s);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('body must be a JSON object');
  return v;
}

const isCount = (v) => Number.isInteger(v) && v >= 0;
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function applyControl(c) {
  const next = c.reset === true ? defaultControl() : Object.assign({}, control);
  let nextRegex = c.reset === true ? null : uaRegex;
  for (const [k, v] of Object.entries(c)) {
    switch (k) {
      case 'reset':
        if (typeof v !== 'boolean') throw new Error('reset must be a boolean');
        break;
      case 'expires_in': case 'delay_ms': case 'delay_jitter_ms': case 'rate_limit_next':
      case 'retry_after': case 'garbage_next': case 'huge_next': case 'hang_next': case 'code_ttl':
        if (!isCount(v)) throw new Error(`${k} must be a non-negative integer`);
        next[k] = v;
        break;
      case 'fail_next':
        if (!Array.isArray(v)) throw new Error('fail_next must be an array');
        next.fail_next = v.map((f, i) => {
          if (!isObject(f) || !Number.isInteger(f.status) || f.status < 100 || f.status > 599)
            throw new Error(`fail_next[${i}].status must be an HTTP status`);
          if (f.body !== undefined && typeof f.body !== 'string') throw new Error(`fail_next[${i}].body must be a string`);
          if (f.headers !== undefined && (!isObject(f.headers) || Object.values(f.headers).some((h) => typeof h !== 'string' && typeof h !== 'number')))
            throw new Error(`fail_next[${i}].headers must be an object of strings`);
          const headers = {};
          for (const [hk, hv] of Object.entries(f.headers || {})) headers[hk.toLowerCase()] = String(hv);
          return {status: f.status, body: f.body || '', headers};
        });
        break;
      case 'required_user_agent':
        if (v !== null && typeof v !== 'string') throw new Error('required_user_agent must be a string or null');
        nextRegex = v === null ? null : new RegExp(v); // throws on a bad pattern
        next.required_user_agent = v;
        break;
      case 'extra_response_fields':
        if (v !== null && !isObject(v)) throw new Error('extra_response_fields must be an object or null');
        next.extra_response_fields = v;
        break;
      default:
        throw new Error(`unknown control field ${JSON.stringify(k)}`);
    }
  }
  if (c.reset === true) {
    resetAll();
  }
  control = next;
  uaRegex = nextRegex;
}

function controlEndpoint(req, res, entry, raw) {
  if (req.method === 'GET') return send(res, entry, 200, control);
  let c;
  try {
    c = parseLenientJson(raw);
    applyControl(c);
  } catch (e) {
    entry.outcome = 'bad_control';
    return send(res, entry, 400, {error: 'bad_control', message: e.message});
  }
  entry.outcome = c.reset === true ? 'reset' : 'control';
  send(res, entry, 200, control);
}

function seedEndpoint(res, entry, raw) {
  let c;
  try {
    c = parseLenientJson(raw);
    for (const k of Object.keys(c)) if (k !== 'scope' && k !== 'expires_in') throw new Error(`unknown field ${JSON.stringify(k)}`);
    if (c.expires_in !== undefined && !isCount(c.expires_in)) throw new Error('expires_in must be a non-negative integer');
  } catch (e) {
    entry.outcome = 'bad_seed';
    return send(res, entry, 400, {error: 'bad_seed', message: e.message});
  }
  const scopes = c.scope === undefined ? FULL_SCOPES.slice() : parseScopes(c.scope);
  if (!scopes) {
    entry.outcome = 'bad_seed';
    return send(res, entry, 400, {error: 'bad_seed', message: 'scope must be a space-joined list of known scopes'});
  }
  const {body, rec} = newFamily(scopes, c.expires_in === undefined ? null : c.expires_in, 'seed');
  entry.outcome = 'seeded';
  entry.family = rec.family;
  entry.issued_fp = rec.fingerprint;
  entry.issued_index = rec.index;
  send(res, entry, 200, body);
}

function tokenStatus(res, entry, url) {
  const q = url.searchParams;
  const r = q.get('refresh_token');
  const a = q.get('access_token');
  if ((r === null) === (a === null)) {
    return send(res, entry, 400, {error: 'bad_request', message: 'give exactly one of refresh_token, access_token'});
  }
  if (r !== null) {
    entry.presented_fp = fp(r);
    const rt = refreshTokens.get(r);
    const fam = rt && families.get(rt.family);
    if (!fam) return send(res, entry, 200, {state: 'unknown', family: null});
    return send(res, entry, 200, {state: fam.revoked ? 'revoked' : rt.spent ? 'spent' : 'current', family: fam.id});
  }
  entry.presented_fp = fp(a);
  const at = accessTokens.get(a);
  const fam = at && families.get(at.family);
  if (!fam) return send(res, entry, 200, {state: 'unknown', family: null});
  const state = fam.revoked ? 'revoked' : Date.now() >= at.expiresAt ? 'expired' : 'valid';
  send(res, entry, 200, {state, family: fam.id});
}

function issuedEndpoint(res, entry, url) {
  const s = url.searchParams.get('since');
  const since = s === null ? 0 : Number(s);
  if (!Number.isInteger(since) || since < 0) return send(res, entry, 400, {error: 'bad_request', message: 'since must be a non-negative integer'});
  send(res, entry, 200, {next: issued.length, issued: issued.slice(since)});
}

// ---- server ---------------------------------------------------------------------------------
function route(req, res, entry, raw) {
  let url;
  try {
    url = new URL(req.url, 'http://127.0.0.1');
  } catch (e) {
    return notFound(res, entry);
  }
  const p = url.pathname;
  const m = req.method;
  if (m === 'GET' && p === '/oauth/authorize') return authorize(res, entry, url);
  if (m === 'POST' && p === '/v1/oauth/token') return tokenRequest(req, res, entry, raw);
  if (m === 'GET' && p === '/api/oauth/profile') return profile(req, res, entry);
  if ((m === 'POST' || m === 'GET') && p === '/__control') return controlEndpoint(req, res, entry, raw);
  if (m === 'POST' && p === '/__seed') return seedEndpoint(res, entry, raw);
  if (m === 'GET' && p === '/__stats') return send(res, entry, 200, stats);
  if (m === 'GET' && p === '/__token_status') return tokenStatus(res, entry, url);
  if (m === 'GET' && p === '/__issued') return issuedEndpoint(res, entry, url);
  return notFound(res, entry);
}

function newEntry(req) {
  return {
    ts_ms: Date.now(), method: req.method, path: String(req.url || '/').split('?')[0].slice(0, 200),
    grant_type: null, outcome: null, family: null,
    user_agent: req.headers['user-agent'] === undefined ? null : String(req.headers['user-agent']).slice(0, 200),
  };
}

function tooLarge(req, res, entry) {
  stats.too_large += 1;
  entry.outcome = 'too_large';
  send(res, entry, 413, {type: 'error', error: {type: 'request_too_large', message: 'Request exceeds the maximum size'}},
    {connection: 'close'});
}

const server = http.createServer((req, res) => {
  const entry = newEntry(req);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY) {
    tooLarge(req, res, entry);
    req.resume();
    return;
  }
  const chunks = [];
  let size = 0;
  let over = false;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) { over = true; chunks.length = 0; }
    if (!over) chunks.push(c);
    if (size > 16 * MAX_BODY) req.destroy(); // a runaway body: stop reading
  });
  req.on('end', () => {
    if (over) return tooLarge(req, res, entry);
    route(req, res, entry, Buffer.concat(chunks));
  });
  req.on('error', () => {});
});
// Expect: 100-continue: refuse an oversized body before the client sends it.
server.on('checkContinue', (req, res) => {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY) {
    tooLarge(req, res, newEntry(req));
    return;
  }
  res.writeContinue();
  server.emit('request', req, res);
});
serve(server, 'anthropic_token_server', opts.portFile);
