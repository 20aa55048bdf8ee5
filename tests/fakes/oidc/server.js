#!/usr/bin/env node
// The OpenID Provider test peer of claude-key-refresher's oauth2 backend: the REAL, OpenID
// certified authorization server oidc-provider (panva/node-oidc-provider, pinned in
// package.json: 9.13.3; installed by setup.sh), configured for the tests. It is not a fake of
// OAuth: every OAuth/OIDC answer below (discovery, client authentication, client_credentials,
// RFC 8628 device flow and its HTML pages, refresh-token rotation and reuse detection, RFC 8707
// resource indicators, revocation, introspection, error codes and statuses) is oidc-provider's
// own implementation, unchanged. What this file adds:
//   - RFC 8693 token exchange, which oidc-provider does not implement, as a grant registered
//     with provider.registerGrantType() (section "token exchange");
//   - the test hooks under /test/ and the discovery failure modes (section "test hooks"),
//     which are NOT part of oidc-provider;
//   - an events log of ids, never token or secret values (section "events").
//
// usage: node server.js --node-modules DIR --port-file F --events F --tls-cert server.pem
//          --tls-key server.key --jwks-dir DIR [--at-ttl 60] [--rt-ttl 86400]
//          [--exchange-aud gateway-exchange]
//   DIR from tests/fakes/oidc/setup.sh; server.pem/server.key from tests/fakes/make_test_ca.sh.
//   Listens on https://127.0.0.1:<port 0>; issuer = https://127.0.0.1:PORT (no trailing slash);
//   writes PORT to --port-file (temp file, then rename) once the provider can answer.
//   SIGTERM/SIGINT: exit 0. Exit 64: bad usage; 2: oidc-provider/jose do not load from DIR.
//
// Clients (client_secret values are fixed test strings starting with "canary-client-secret-"):
//   machine-basic        client_credentials, client_secret_basic
//   machine-post         client_credentials, client_secret_post
//   machine-jwt          client_credentials, private_key_jwt (any of RS256/PS256/ES256), jwks
//                        from --jwks-dir/machine-jwt.jwks.json (read at every lookup: a test may
//                        write it after start; while it is missing the client does not exist)
//   person               public (auth none): device_code + refresh_token
//   person-confidential  client_secret_basic: device_code + refresh_token
//   workload             client_secret_post: urn:ietf:params:oauth:grant-type:token-exchange
// Tokens: opaque. Access tokens (all grants) live --at-ttl s, refresh tokens --rt-ttl s and
// rotate on every use (rotateRefreshToken: true); a refresh token is issued to a device-flow
// client when offline_access was granted. RFC 8707 `resource`: any URI under
// https://gateway.example/ (scope gateway:invoke, opaque, --at-ttl); any other: invalid_target.
// An `audience` parameter on the other grants is dropped by oidc-provider, without an error.
// ID tokens (device flow with openid) are RS256, signed with oidc-provider's development key.
//
// Token exchange: subject_token_type urn:ietf:params:oauth:token-type:jwt or :id_token (else
// invalid_request); subject_token = a JWT signed RS256/ES256 by a key of
// --jwks-dir/subject-issuer.jwks.json (public JWKS, read per request), exp in the future,
// aud = --exchange-aud (default gateway-exchange), sub present; else invalid_grant. Answer:
// {access_token, issued_token_type: urn:ietf:params:oauth:token-type:access_token,
//  token_type: Bearer, expires_in[, scope]}; `resource` (one) as for client_credentials,
// `audience` (one) recorded as the token's aud (seen by introspection), `scope` kept.
//
// Test hooks (only from 127.0.0.1; JSON answers):
//   POST /test/revoke-client?client_id=X   X is gone at once: its next request gets 401
//                                          invalid_client (clients come from a custom adapter)
//   POST /test/restore-client?client_id=X
//   POST /test/token-fault?status=503&count=N[&retry_after=S][&error=CODE]
//   POST /test/token-delay?ms=N   hold every token answer N ms after the provider acted
//                                          the next N POST /token answer STATUS with
//                                          {"error":CODE (temporarily_unavailable)} and
//                                          Retry-After: S, without reaching oidc-provider
//   POST /test/discovery?mode=normal|404|garbage|wrong-issuer|rfc8414-only|slow
//                                          how /.well-known/openid-configuration answers (404;
//                                          200 "not json <html>"; issuer https://evil.example;
//                                          404; 40 s late). /.well-known/oauth-authorization-
//                                          server is always oidc-provider's own document.
//   GET  /test/events                      the events file
//   GET  /test/stats                       counters (see Stats below)
//
// Events (--events F: JSON lines, appended and flushed per line): {"t": unix ms, "event", ...}
//   grant.success / grant.error   every POST /token: grant_type, client_id, status; on errors
//                                 error (the OAuth code), error_description, error_detail
//                                 (oidc-provider's server-side reason, e.g. "refresh token
//                                 already used"), reuse_detected; refresh_token_id (the refresh
//                                 token presented), rotated_to (its successor),
//                                 refresh_token_issued (device flow), device_code_id, grant_id,
//                                 account, subject (token exchange: the subject token's sub),
//                                 expires_in, scope; injected: true (a /test/token-fault answer
//                                 that never reached oidc-provider)
//   refresh_token.consumed / .destroyed, grant.revoked (grant_id, refresh_token_id),
//   server_error, device_code.issued / .approved / .denied, discovery, test.client_revoked /
//   test.client_restored
// Stats (GET /test/stats) count the token requests that reached oidc-provider by grant type,
// successes, errors by code, injected faults, distinct refresh tokens presented and those
// presented more than once, reuse detections, grants revoked, device codes.
// A refresh_token_id (rotated_to, device_code_id ...) is the first 12 hex digits of the SHA-256
// of the token string: in oidc-provider's opaque format the token value IS its jti, so no jti
// is ever logged. Nothing here prints a token, code or secret value.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const https = require('https');
const path = require('path');
const {pathToFileURL} = require('url');
const {fingerprint: fp, parseArgs, jsonLogger, readBody} = require('../fake_server_lib');

const PROG = 'oidc-server';

// ---- command line -------------------------------------------------------------------------
const USAGE = 'usage: server.js --node-modules DIR --port-file F --events F --tls-cert server.pem ' +
  '--tls-key server.key --jwks-dir DIR [--at-ttl 60] [--rt-ttl 86400] [--exchange-aud AUD]\n';
const opts = parseArgs(PROG, USAGE, {
  '--node-modules': 'nodeModules', '--events': 'events', '--tls-cert': 'tlsCert', '--tls-key': 'tlsKey',
  '--jwks-dir': 'jwksDir', '--at-ttl': 'atTtl', '--rt-ttl': 'rtTtl', '--exchange-aud': 'exchangeAud',
}, {atTtl: '60', rtTtl: '86400', exchangeAud: 'gateway-exchange'});
for (const k of ['nodeModules', 'events', 'tlsCert', 'tlsKey', 'jwksDir']) {
  if (!opts[k]) { process.stderr.write(USAGE); process.exit(64); }
}
const positive = (name, v) => {
  if (!/^[1-9][0-9]*$/.test(v)) { process.stderr.write(`${PROG}: ${name} must be a positive integer\n${USAGE}`); process.exit(64); }
  return Number(v);
};
const AT_TTL = positive('--at-ttl', opts.atTtl);
const RT_TTL = positive('--rt-ttl', opts.rtTtl);
const NM = path.resolve(opts.nodeModules);
const JWKS_DIR = path.resolve(opts.jwksDir);

// ---- constants ----------------------------------------------------------------------------
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';
const SUBJECT_TOKEN_TYPES = new Set(['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token']);
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const GATEWAY_PREFIX = 'https://gateway.example/';
const DISCOVERY_MODES = new Set(['normal', '404', 'garbage', 'wrong-issuer', 'rfc8414-only', 'slow']);
const COOKIE_KEYS = ['ckh-oidc-test-peer-cookie-key-1-not-a-secret'];

const SECRETS = {
  'machine-basic': 'canary-client-secret-machine-basic-4f1c9a7e2b',
  'machine-post': 'canary-client-secret-machine-post-8d2e6b0c5a',
  'person-confidential': 'canary-client-secret-person-confidential-3b7d1f9e',
  'workload': 'canary-client-secret-workload-6a0c4e8f2d1b',
};
const noRedirects = {response_types: [], redirect_uris: []};
const CLIENTS = {
  'machine-basic': {grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic'},
  'machine-post': {grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_post'},
  'machine-jwt': {grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt'},
  'person': {grant_types: [DEVICE_CODE, 'refresh_token'], token_endpoint_auth_method: 'none'},
  'person-confidential': {grant_types: [DEVICE_CODE, 'refresh_token'], token_endpoint_auth_method: 'client_secret_basic'},
  'workload': {grant_types: [TOKEN_EXCHANGE], token_endpoint_auth_method: 'client_secret_post'},
};

// ---- events and stats ---------------------------------------------------------------------
const writeEvent = jsonLogger(PROG, opts.events);
const stats = {
  token_requests: {total: 0, by_grant_type: {}}, // that reached oidc-provider
  token_success: {by_grant_type: {}},
  token_errors: {by_error: {}},
  injected_faults: 0,
  refresh_tokens_presented: 0, // distinct refresh tokens presented to oidc-provider
  refresh_tokens_presented_more_than_once: 0,
  refresh_token_reuse_detected: 0,
  grants_revoked: 0,
  device_codes: {issued: 0, approved: 0, denied: 0},
};
const presented = new Map(); // refresh_token_id -> times presented to oidc-provider
const userCodes = new Map(); // device_code_id -> the user_code as displayed (XXXX-XXXX)
const bump = (obj, key) => { obj[key] = (obj[key] || 0) + 1; };

function record(entry) {
  const e = Object.assign({t: Date.now()}, entry);
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  writeEvent(e);
  if (e.event === 'grant.success' || e.event === 'grant.error') {
    if (e.injected) {
      stats.injected_faults++;
    } else {
      stats.token_requests.total++;
      bump(stats.token_requests.by_grant_type, e.grant_type || '(none)');
      if (e.event === 'grant.success') bump(stats.token_success.by_grant_type, e.grant_type);
      else bump(stats.token_errors.by_error, e.error);
      if (e.reuse_detected) stats.refresh_token_reuse_detected++;
      if (e.refresh_token_id) {
        const n = (presented.get(e.refresh_token_id) || 0) + 1;
        presented.set(e.refresh_token_id, n);
        if (n === 1) stats.refresh_tokens_presented++;
        if (n === 2) stats.refresh_tokens_presented_more_than_once++;
      }
    }
  } else if (e.event === 'grant.revoked') {
    stats.grants_revoked++;
  } else if (e.event.startsWith('device_code.')) {
    bump(stats.device_codes, e.event.slice('device_code.'.length));
  }
}

// The client id of a token request, without its secret: authenticated client, else the
// client_id parameter, else the user part of HTTP Basic.
function clientIdOf(ctx, params) {
  try {
    if (ctx.oidc.client) return ctx.oidc.client.clientId;
  } catch { /* no oidc context */ }
  if (params && typeof params.client_id === 'string') return params.client_id;
  const m = /^Basic\s+(\S+)/i.exec(ctx.get ? ctx.get('authorization') : '');
  if (m) {
    const user = Buffer.from(m[1], 'base64').toString('utf8').split(':')[0];
    try { return decodeURIComponent(user.replace(/\+/g, ' ')); } catch { return user; }
  }
  return undefined;
}

function paramsOf(ctx) {
  try { return ctx.oidc.params || {}; } catch { return {}; }
}

function tokenEvent(ctx, err) {
  const p = paramsOf(ctx);
  let entities = {};
  try { entities = ctx.oidc.entities || {}; } catch { /* none */ }
  const gt = typeof p.grant_type === 'string' ? p.grant_type : undefined;
  const e = {
    event: err ? 'grant.error' : 'grant.success',
    grant_type: gt,
    client_id: clientIdOf(ctx, p),
    status: err ? (err.statusCode || ctx.status) : ctx.status,
  };
  if (err) {
    e.error = err.error || 'server_error';
    e.error_description = err.error_description;
    e.error_detail = err.error_detail; // oidc-provider's server-side reason, e.g. "client not found"
    if (err.error_detail === 'refresh token already used') e.reuse_detected = true;
  }
  if (gt === 'refresh_token' && typeof p.refresh_token === 'string') e.refresh_token_id = fp(p.refresh_token);
  if (gt === DEVICE_CODE && typeof p.device_code === 'string') e.device_code_id = fp(p.device_code);
  if (!err && entities.RefreshToken && entities.RefreshToken.jti) {
    if (entities.RotatedRefreshToken) e.rotated_to = fp(entities.RefreshToken.jti);
    else if (gt !== 'refresh_token') e.refresh_token_issued = fp(entities.RefreshToken.jti);
  }
  if (entities.Grant) e.grant_id = entities.Grant.jti;
  if (entities.Account) e.account = entities.Account.accountId;
  if (ctx.ckhExchange) e.subject = ctx.ckhExchange.sub;
  if (!err && ctx.body && typeof ctx.body === 'object') {
    e.expires_in = ctx.body.expires_in;
    e.scope = ctx.body.scope;
  }
  record(e);
}

// ---- clients: a custom adapter, so that revoke/restore take effect at once -----------------
// oidc-provider caches statically configured clients forever; clients found through the
// adapter are looked up on every request (cached only by a hash of their metadata).
const revokedClients = new Set();

function readJwks(file) {
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8'));
    return j && Array.isArray(j.keys) ? j : null;
  } catch {
    return null;
  }
}

function clientMetadata(id) {
  if (!Object.prototype.hasOwnProperty.call(CLIENTS, id) || revokedClients.has(id)) return undefined;
  const m = Object.assign({client_id: id}, noRedirects, structuredClone(CLIENTS[id]));
  if (SECRETS[id]) m.client_secret = SECRETS[id];
  if (id === 'machine-jwt') {
    const jwks = readJwks(path.join(JWKS_DIR, 'machine-jwt.jwks.json'));
    if (!jwks) return undefined;
    m.jwks = jwks;
  }
  return m;
}

const clientAdapter = {
  async find(id) { return clientMetadata(id); },
  async upsert() {}, async destroy() {}, async consume() {},
  async findByUid() { return undefined; }, async findByUserCode() { return undefined; },
  async revokeByGrantId() {},
};

// The other models use oidc-provider's own in-memory adapter over one Map-based store with
// expiry (its default store is an LRU of 1000 entries, which a long test could overflow).
class ExpiringStore {
  constructor() { this.map = new Map(); }
  get(key) {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expiry !== undefined && e.expiry <= Date.now()) { this.map.delete(key); return undefined; }
    return e.value;
  }
  set(key, value, options) {
    const expiry = options && typeof options.maxAge === 'number' ? Date.now() + options.maxAge : undefined;
    this.map.set(key, {value, expiry});
  }
  delete(key) { this.map.delete(key); }
}

// ---- token exchange (RFC 8693; not built into oidc-provider) -------------------------------
function makeTokenExchange(provider, errors, jose, getResourceServerInfo) {
  return async function tokenExchangeHandler(ctx) {
    const p = ctx.oidc.params;
    for (const name of ['subject_token', 'subject_token_type']) {
      if (!p[name]) throw new errors.InvalidRequest(`missing required parameter '${name}'`);
    }
    if (!SUBJECT_TOKEN_TYPES.has(p.subject_token_type)) {
      throw new errors.InvalidRequest('unsupported subject_token_type');
    }
    if (p.requested_token_type !== undefined && p.requested_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest('unsupported requested_token_type');
    }
    const jwks = readJwks(path.join(JWKS_DIR, 'subject-issuer.jwks.json'));
    if (!jwks) throw new errors.InvalidGrant('no subject token issuer keys are configured');
    let claims;
    try {
      ({payload: claims} = await jose.jwtVerify(p.subject_token, jose.createLocalJWKSet(jwks), {
        algorithms: ['RS256', 'ES256'], audience: opts.exchangeAud, requiredClaims: ['exp', 'sub'],
      }));
    } catch (e) {
      throw new errors.InvalidGrant(`subject_token is invalid (${e.code || 'malformed'}${e.claim ? ` ${e.claim}` : ''})`);
    }

    const resources = [].concat(p.resource === undefined ? [] : p.resource);
    const audiences = [].concat(p.audience === undefined ? [] : p.audience);
    if (resources.length > 1) throw new errors.InvalidTarget('only a single resource indicator value is supported for this grant type');
    if (audiences.length > 1) throw new errors.InvalidTarget('only a single audience value is supported');
    const requested = p.scope ? p.scope.split(' ') : [];

    const token = new provider.ClientCredentials({client: ctx.oidc.client});
    if (resources.length) {
      token.resourceServer = new provider.ResourceServer(resources[0],
        await getResourceServerInfo(ctx, resources[0], ctx.oidc.client));
      token.scope = requested.filter((s) => token.resourceServer.scopes.has(s)).join(' ') || undefined;
    } else {
      token.scope = requested.join(' ') || undefined;
    }
    if (audiences.length) token.setAudience(audiences[0]);
    ctx.ckhExchange = {sub: claims.sub, iss: claims.iss}; // for extraTokenClaims and the events
    ctx.oidc.entity('ClientCredentials', token);
    const value = await token.save();
    ctx.body = {
      access_token: value,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: token.tokenType,
      expires_in: token.expiration,
    };
    if (token.scope) ctx.body.scope = token.scope;
  };
}

// ---- the provider -------------------------------------------------------------------------
function makeProvider(issuer, {Provider, errors, MemoryAdapter, jose}) {
  const store = new ExpiringStore();
  const adapter = (name) => (name === 'Client' ? clientAdapter : new MemoryAdapter(name, store));

  async function getResourceServerInfo(ctx, resource) {
    if (typeof resource === 'string' && resource.startsWith(GATEWAY_PREFIX)) {
      return {scope: 'gateway:invoke', accessTokenTTL: AT_TTL, accessTokenFormat: 'opaque'};
    }
    throw new errors.InvalidTarget();
  }

  const provider = new Provider(issuer, {
    adapter,
    // No `jwks`: ID tokens are signed (RS256) with oidc-provider's own published development
    // keystore; generating an RSA key here would cost 0.3-1.5 s of every start.
    cookies: {keys: COOKIE_KEYS},
    findAccount: async (ctx, sub) => ({accountId: sub, claims: async () => ({sub})}),
    features: {
      devInteractions: {enabled: true},
      deviceFlow: {enabled: true},
      clientCredentials: {enabled: true},
      revocation: {enabled: true},
      introspection: {enabled: true},
      resourceIndicators: {enabled: true, getResourceServerInfo},
    },
    rotateRefreshToken: true,
    issueRefreshToken: async (ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    extraTokenClaims: async (ctx, token) =>
      (ctx && ctx.ckhExchange && token.kind === 'ClientCredentials'
        ? {sub: ctx.ckhExchange.sub, subject_token_iss: ctx.ckhExchange.iss} : undefined),
    ttl: {
      AccessToken: AT_TTL,
      ClientCredentials: AT_TTL,
      RefreshToken: RT_TTL,
      DeviceCode: 600,
      IdToken: 3600,
      Interaction: 600,
      Session: 86400,
      Grant: Math.max(RT_TTL * 4, 14 * 86400),
    },
  });
  provider.registerGrantType(TOKEN_EXCHANGE,
    makeTokenExchange(provider, errors, jose, getResourceServerInfo),
    ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type',
      'resource', 'audience', 'scope'],
    ['resource', 'audience']);

  // -- events from oidc-provider
  provider.on('grant.success', (ctx) => tokenEvent(ctx, null));
  provider.on('grant.error', (ctx, err) => tokenEvent(ctx, err));
  provider.on('server_error', (ctx, err) => {
    let route;
    try { route = ctx.oidc.route; } catch { /* none */ }
    process.stderr.write(`${PROG}: server_error on ${ctx.method} ${ctx.path}: ${err && err.message}\n`);
    record({event: 'server_error', route, path: ctx.path, message: err && err.message});
    if (route === 'token') tokenEvent(ctx, {error: 'server_error', statusCode: ctx.status || 500});
  });
  provider.on('grant.revoked', (ctx, grantId) => {
    const p = paramsOf(ctx);
    let route;
    try { route = ctx.oidc.route; } catch { /* none */ }
    record({
      event: 'grant.revoked', grant_id: grantId, client_id: clientIdOf(ctx, p), route,
      refresh_token_id: typeof p.refresh_token === 'string' ? fp(p.refresh_token) : undefined,
    });
  });
  for (const what of ['consumed', 'destroyed']) {
    provider.on(`refresh_token.${what}`, (token) => record({
      event: `refresh_token.${what}`, refresh_token_id: fp(token.jti), grant_id: token.grantId, client_id: token.clientId,
    }));
  }
  provider.on('device_authorization.success', (ctx, body) => {
    userCodes.set(fp(body.device_code), body.user_code);
    record({
      event: 'device_code.issued', client_id: clientIdOf(ctx, paramsOf(ctx)), device_code_id: fp(body.device_code),
      user_code: body.user_code, scope: paramsOf(ctx).scope, expires_in: body.expires_in,
    });
  });
  // The user step ends by saving the device code with the account (approved) or an error
  // (access_denied when the user aborted); the re-rendered pages themselves emit no event.
  provider.on('device_code.saved', (code) => {
    const id = fp(code.jti);
    if (code.error) {
      record({event: code.error === 'access_denied' ? 'device_code.denied' : 'device_code.error',
        client_id: code.clientId, device_code_id: id, user_code: userCodes.get(id), error: code.error,
        error_description: code.errorDescription});
    } else if (code.accountId) {
      record({event: 'device_code.approved', client_id: code.clientId, device_code_id: id,
        user_code: userCodes.get(id), account: code.accountId, scope: code.scope});
    }
  });
  return provider;
}

// ---- test hooks (not part of oidc-provider) ------------------------------------------------
const fault = {remaining: 0, status: 503, retryAfter: null, error: 'temporarily_unavailable'};
// /test/token-delay: every token endpoint answer is held this long AFTER oidc-provider acted
// on the request (a rotation is done, its answer not yet sent): widens the window in which a
// client killed mid-request loses the answer, for the crash-safety test.
const tokenDelay = {ms: 0};
let discoveryMode = 'normal';

function sendJson(res, status, obj, headers) {
  const data = Buffer.from(JSON.stringify(obj) + '\n');
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, Object.assign({'content-type': 'application/json', 'cache-control': 'no-store',
    'content-length': data.length}, headers));
  res.end(data);
}

const isLoopback = (a) => a === '127.0.0.1' || a === '::ffff:127.0.0.1' || a === '::1';

async function testHook(req, res, url) {
  if (!isLoopback(req.socket.remoteAddress)) return sendJson(res, 403, {error: 'forbidden'});
  if (req.method === 'POST') await readBody(req, 65536);
  const q = url.searchParams;
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'POST /test/revoke-client':
    case 'POST /test/restore-client': {
      const id = q.get('client_id');
      if (!id || !Object.prototype.hasOwnProperty.call(CLIENTS, id)) return sendJson(res, 404, {error: 'unknown client_id'});
      if (route.endsWith('revoke-client')) revokedClients.add(id); else revokedClients.delete(id);
      record({event: route.endsWith('revoke-client') ? 'test.client_revoked' : 'test.client_restored', client_id: id});
      return sendJson(res, 200, {client_id: id, revoked: revokedClients.has(id)});
    }
    case 'POST /test/token-fault': {
      const status = Number(q.get('status') || 503);
      const count = Number(q.get('count') || 1);
      const ra = q.get('retry_after');
      if (!Number.isInteger(status) || status < 400 || status > 599 || !Number.isInteger(count) || count < 0 ||
          (ra !== null && !/^[0-9]+$/.test(ra))) {
        return sendJson(res, 400, {error: 'status must be 400..599, count >= 0, retry_after seconds'});
      }
      Object.assign(fault, {remaining: count, status, retryAfter: ra, error: q.get('error') || 'temporarily_unavailable'});
      return sendJson(res, 200, {remaining: count, status, retry_after: ra, error: fault.error});
    }
    case 'POST /test/token-delay': {
      const ms = Number(q.get('ms') || 0);
      if (!Number.isInteger(ms) || ms < 0 || ms > 5000) return sendJson(res, 400, {error: 'ms must be 0..5000'});
      tokenDelay.ms = ms;
      return sendJson(res, 200, {ms});
    }
    case 'POST /test/discovery': {
      const mode = q.get('mode');
      if (!DISCOVERY_MODES.has(mode)) return sendJson(res, 400, {error: `mode must be one of ${[...DISCOVERY_MODES].join(', ')}`});
      discoveryMode = mode;
      return sendJson(res, 200, {mode});
    }
    case 'GET /test/events': {
      let text = '';
      try { text = fs.readFileSync(opts.events, 'utf8'); } catch { /* none yet */ }
      res.writeHead(200, {'content-type': 'application/x-ndjson', 'content-length': Buffer.byteLength(text)});
      return res.end(text);
    }
    case 'GET /test/stats':
      return sendJson(res, 200, Object.assign({}, stats, {
        injected_faults_pending: fault.remaining, discovery_mode: discoveryMode, revoked_clients: [...revokedClients],
      }));
    default:
      return sendJson(res, 404, {error: 'unknown test hook'});
  }
}

// The next N token requests: the configured error, without reaching oidc-provider.
async function injectTokenFault(req, res) {
  fault.remaining--;
  const body = await readBody(req, 65536);
  const p = new URLSearchParams(body ? body.toString('utf8') : '');
  let client = p.get('client_id') || undefined;
  const m = /^Basic\s+(\S+)/i.exec(req.headers.authorization || '');
  if (!client && m) client = decodeURIComponent(Buffer.from(m[1], 'base64').toString('utf8').split(':')[0]);
  record({
    event: 'grant.error', injected: true, grant_type: p.get('grant_type') || undefined, client_id: client,
    status: fault.status, error: fault.error,
    refresh_token_id: p.get('grant_type') === 'refresh_token' && p.get('refresh_token') ? fp(p.get('refresh_token')) : undefined,
  });
  sendJson(res, fault.status, {error: fault.error}, fault.retryAfter !== null ? {'retry-after': fault.retryAfter} : {});
}

// Discovery modes, as Koa middleware in front of oidc-provider's own discovery route.
function discoveryMiddleware() {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' || !ctx.path.startsWith('/.well-known/')) return next();
    const openid = ctx.path === '/.well-known/openid-configuration';
    const mode = openid ? discoveryMode : 'normal';
    if (mode === '404' || mode === 'rfc8414-only') {
      ctx.status = 404;
      ctx.type = 'text/plain';
      ctx.body = 'Not Found\n';
    } else if (mode === 'garbage') {
      ctx.status = 200;
      ctx.type = 'application/json';
      ctx.body = 'not json <html>';
    } else {
      if (mode === 'slow') await new Promise((r) => setTimeout(r, 40000));
      await next();
      if (mode === 'wrong-issuer' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
        ctx.body = Object.assign({}, ctx.body, {issuer: 'https://evil.example'});
      }
    }
    record({event: 'discovery', path: ctx.path, mode, status: ctx.status});
  };
}

// ---- start: listen first (the issuer needs the port), then build the provider ------------
async function loadModules() {
  const imp = (file) => import(pathToFileURL(file).href);
  const lib = path.join(NM, 'oidc-provider', 'lib');
  const [oidc, adapterModule, jose] = await Promise.all([
    imp(path.join(lib, 'index.js')),
    imp(path.join(lib, 'adapters', 'memory_adapter.js')),
    imp(require.resolve('jose', {paths: [NM]})),
  ]);
  return {Provider: oidc.Provider, errors: oidc.errors, MemoryAdapter: adapterModule.default, jose};
}

async function main() {
  const tls = {cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey)};
  let mods;
  try {
    mods = await loadModules();
  } catch (e) {
    process.stderr.write(`${PROG}: cannot load oidc-provider and jose from ${NM} (run tests/fakes/oidc/setup.sh): ${e.message}\n`);
    process.exit(2);
  }

  const server = https.createServer(tls);
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.on('clientError', (err, socket) => socket.destroy());
  const shutdown = () => {
    server.close();
    for (const s of sockets) s.destroy();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve); });
  const port = server.address().port;
  const issuer = `https://127.0.0.1:${port}`;
  const provider = makeProvider(issuer, mods);
  provider.use(discoveryMiddleware());
  provider.use(async (ctx, next) => {
    await next();
    if (tokenDelay.ms > 0 && ctx.method === 'POST' && ctx.path === new URL(provider.urlFor('token')).pathname) {
      await new Promise((r) => setTimeout(r, tokenDelay.ms));
    }
  });
  provider.on('error', (err) => process.stderr.write(`${PROG}: koa error: ${err.message}\n`));
  const tokenPath = new URL(provider.urlFor('token')).pathname;
  const callback = provider.callback();

  server.on('request', (req, res) => {
    let url;
    try { url = new URL(req.url, issuer); } catch { return sendJson(res, 400, {error: 'invalid_request'}); }
    if (url.pathname.startsWith('/test/')) {
      return testHook(req, res, url).catch((e) => sendJson(res, 500, {error: e.message}));
    }
    if (req.method === 'POST' && url.pathname === tokenPath && fault.remaining > 0) {
      return injectTokenFault(req, res).catch(() => res.destroy());
    }
    return callback(req, res);
  });

  const tmp = `${opts.portFile}.tmp`;
  fs.writeFileSync(tmp, `${port}\n`);
  fs.renameSync(tmp, opts.portFile);
  process.stderr.write(`${PROG}: oidc-provider listening, issuer ${issuer}\n`);
}

main().catch((e) => {
  process.stderr.write(`${PROG}: ${e.message}\n`);
  process.exit(1);
});
