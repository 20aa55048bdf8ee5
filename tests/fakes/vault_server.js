#!/usr/bin/env node
// A fake HashiCorp Vault server for the integration tests of claude-key-refresher's Vault
// backend (node standard library only; 127.0.0.1; HTTPS with --tls-cert/--tls-key, else HTTP).
//
// It implements exactly the documented endpoints of tests/fakes/vault_fixtures/ (a byte-exact
// copy of ../shared/testdata/vault/, whose README.md and index.json cite HashiCorp's api-docs,
// hashicorp/vault website/content/api-docs/..., with commits), and answers in the fixtures'
// shapes. The fixture files are loaded at start-up and used as the templates of the answers
// (key sets and key order come from them; the fake refuses to start without them):
//   kv-v2-read         GET  /v1/<mount>/data/<path>[?version=N]   (api-docs/secret/kv/kv-v2.mdx)
//                      secret at .data.data, .data.metadata {created_time, custom_metadata,
//                      deletion_time, destroyed, version}, in the full envelope of
//                      observed/kv-v2-read-full-envelope (request_id, lease_id, renewable,
//                      lease_duration 0, data, wrap_info, warnings, auth).
//                      missing path or version: 404 observed/kv-v2-read-missing `{"errors":[]}`;
//                      soft-deleted version (deletion_time <= now): 404 with the normal body,
//                      data.data null, metadata.deletion_time set (observed/...soft-deleted);
//                      destroyed version: the same 404 body with metadata.destroyed true.
//   kv-v1-read         GET  /v1/<mount>/<path>                    (api-docs/secret/kv/kv-v1.mdx)
//                      secret at .data; lease_duration from the secret's `ttl` key ("1h",
//                      "90m", "3600", 3600...), renewable false, lease_id "".
//   approle-login      POST /v1/auth/approle/login {role_id, secret_id}, no token needed
//                      (api-docs/auth/approle.mdx): .auth {client_token, accessor, policies,
//                      token_policies, metadata, lease_duration = the role's token_ttl,
//                      renewable}; wrong or unknown ids: 400 {"errors":["invalid role or secret
//                      ID"]} (the text of hashicorp/vault builtin/credential/approle/
//                      path_login.go); empty ids: 400 "missing role_id" / "missing secret_id".
//   token-lookup-self  GET  /v1/auth/token/lookup-self (api-docs/auth/token.mdx): .data with
//                      exactly the fixture's keys; ttl = remaining seconds; expire_time RFC 3339
//                      with nanoseconds and an offset (null for a token that never expires).
//   token-renew-self   POST /v1/auth/token/renew-self, body optional {"increment":"1h"}
//                      (api-docs/auth/token.mdx): .auth as in approle-login.
//   error              any status >= 400: {"errors":[...]} (api-docs/index.mdx); a bad,
//                      unknown or expired token or a missing policy: 403 observed/
//                      permission-denied `{"errors":["permission denied"]}`.
//   common             /v1/ prefix; token in X-Vault-Token or Authorization: Bearer (the former
//                      wins); namespace from X-Vault-Namespace and/or the path prefix
//                      (`X-Vault-Namespace: ns1/ns2/` + /v1/secret/foo == /v1/ns1/ns2/secret/foo,
//                      also split between both); X-Vault-Request: true is recorded, never
//                      required. Every answer is application/json with Cache-Control: no-store.
//
// Endpoints that are NOT among the fixtures (shapes from HashiCorp's api-docs pages as named,
// which the fixtures do not cover, and from Vault's source for the error texts; the fake's own
// reading of them):
//   GET  /v1/sys/internal/ui/mounts/<path>  (api-docs/system/internal-ui-mounts.mdx, "Get single
//        mount details"; mount auto-detection as the vault CLI does): data {accessor, config
//        {default_lease_ttl, force_no_cache, max_lease_ttl}, description, external_entropy_access,
//        local, options {"version":"2"|"1"} (or null), path "secret/", seal_wrap, type "kv",
//        uuid} in the envelope; <path> may go below the mount (longest matching mount wins).
//        Needs a valid token; an unknown mount or one the token's policies do not reach: 403
//        "preflight capability check returned 403, please ensure client's policies grant access
//        to path \"<path>/\"" (Vault's text; it does not reveal which mounts exist).
//   GET  /v1/sys/internal/ui/mounts  (same page, "Get available visible mounts"): data {auth
//        {"approle/": {description, type}}, secret {"secret/": {description, options, type}}};
//        unauthenticated: without a valid token both maps are empty (no mount is
//        listing_visibility "unauth" in the fake), with one they list what its policies reach.
//   POST /v1/sys/wrapping/unwrap  (api-docs/system/wrapping-unwrap.mdx) with the wrapping token
//        in X-Vault-Token/Bearer or as {"token": ...} in the body: the wrapped response
//        (e.g. {"data":{"secret_id","secret_id_accessor","secret_id_ttl","secret_id_num_uses"}}),
//        single use; used, expired, unknown or other-namespace wrapping token: 400
//        {"errors":["wrapping token is not valid or does not exist"]}; no token at all: 403.
//   POST /v1/auth/kubernetes/login {role, jwt}  (api-docs/auth/kubernetes.mdx): like approle
//        login; metadata {role, service_account_name, service_account_namespace,
//        service_account_secret_name, service_account_uid}; empty field: 400 "missing role" /
//        "missing jwt"; unknown role: 400 "invalid role name \"<role>\""; a JWT that is not the
//        role's (or whose claims do not match, or whose exp has passed): 403 permission denied
//        (texts of hashicorp/vault-plugin-auth-kubernetes path_login.go).
//   Auth methods may be mounted elsewhere (state auth_mounts): POST /v1/auth/<mount>/login.
//
// The fake's own choices (where fixtures and docs are silent):
//   - KV v1 without a `ttl` key: lease_duration 2764800 (Vault's default 32-day lease TTL).
//     An unparsable ttl also gives 2764800.
//   - ?version= absent or 0 = latest; non-digits: 400 {"errors":["error converting input for
//     field \"version\""]}; a version above the current one: 404 {"errors":[]}.
//   - A deletion_time in the future (delete_version_after) still reads 200 with it set.
//   - GET /v1/<v2 mount>/<path> without data/ (and any other path of a v2 mount): 404
//     {"errors":["1 error occurred:\n\t* unsupported path\n\n"]} (Vault's text); no mount
//     matches: 404 {"errors":["no handler for route \"<path>\". route entry not found."]}
//     (checked after the token and policy, as Vault does); unknown sys/ or auth/ paths: 404
//     unsupported path; a known path with another method (KV writes included; the fake is
//     read-only through /v1): 405 {"errors":[]}.
//   - Namespaces: one namespace besides the root may exist (state namespace, e.g. "team-a/").
//     A request in any other non-root namespace: 403 permission denied. A token belongs to one
//     namespace and works only there (no inheritance into children): used in another one it
//     is 403 permission denied. Secrets and roles belong to a namespace (default root); mounts
//     exist in every namespace. A token of the right namespace reading a secret of another
//     namespace: 404 {"errors":[]}.
//   - Policies: token.policies name entries of state policies, each a list of API path
//     patterns (Vault globs: a trailing * = prefix, + = one segment), matched against the KV
//     API path without namespace ("secret/data/app/claude", "kv1/app/claude"). "root" grants
//     everything. Defaults: policies {"default":[], "claude":["*"]}, token/role policies
//     ["default","claude"]. lookup-self, renew-self and unwrap need no policy (Vault's default
//     policy grants them). Missing policy: 403 permission denied.
//   - Tokens: "hvs." + 24 base62 characters, accessors 24 base62; ttl 0 = never expires (like a
//     root token; renew-self then says "lease is not renewable"). They expire in real time.
//     renew-self: new TTL = the increment (duration string or seconds) if given and > 0, else
//     the token's own ttl (its role's token_ttl), capped by max_ttl counted from the token's
//     creation (default 2764800); when capped, warnings ["TTL of \"1h0m0s\" exceeded the
//     effective max_ttl of \"7s\"; TTL value is capped accordingly"] (Vault's wording).
//     Not renewable: 400 {"errors":["lease is not renewable"]}. Bad increment: 400.
//   - Login tokens are orphan service tokens; display_name "approle" or
//     "kubernetes-<sa namespace>-<sa name>"; metadata {"role_name": ...} for AppRole (modern
//     Vault; the 2018 fixture shows null); login endpoints ignore any token header.
//   - Default AppRole token_ttl 1200 (the fixture's value), token_max_ttl 2764800.
//   - Sealed: 503 {"errors":["Vault is sealed"]} for every /v1 request. Standby (an HA node
//     that cannot find the active node): 500 {"errors":["local node not active but active
//     cluster node not found"]} (Vault's status and text).
//   - Bodies over 1 MiB: 413 {"errors":["http: request body too large"]}; an unparsable JSON
//     body on a POST endpoint: 400 {"errors":["failed to parse JSON input: ..."]}.
//   - Anything outside /v1/ and /__: 404 {"errors":[]}.
//
// Usage: node vault_server.js --port-file F [--log F] [--tls-cert F --tls-key F]
// Listens on 127.0.0.1 port 0; once listening writes the port to F atomically (F.tmp, then
// rename). SIGTERM/SIGINT: closes the listener, destroys every socket (hung requests too) and
// exits 0.
//
// Test controls (not part of Vault; answers {"errors":[msg]} with 400 when a field is wrong):
//   POST /__control  JSON merged into the control state; GET /__control: the control state.
//     {"reset": true}           everything back to defaults: control, state, stats (applied
//                               first; the other fields of the same body then apply)
//     {"sealed": bool}          503 Vault is sealed            {"standby": bool}  500 standby
//     {"delay_ms": N}           every /v1 answer is sent N ms late (the decision is taken
//                               after the delay, so a token can expire meanwhile)
//     {"hang_next": N}          the next N /v1 requests are never answered
//     {"fail_next": [{"status": 502, "body": "text" | any JSON, "headers": {"Retry-After":"1"}}]}
//                               answered in order instead of processing (replaces the queue;
//                               body default {"errors":[]}, content-type application/json)
//     {"status_next": {"status": 500, "count": 2, "errors": ["..."], "headers": {...}}} or null:
//                               the next count answers are that status with {"errors": errors}
//                               (default errors: the reason phrase, lower case)
//     {"garbage_next": N}       200 application/json whose body is not JSON
//     {"huge_next": N}          200 application/json, a 5 MB JSON body holding no secret
//     {"inject_path": "regex" | null}  delay/hang/fail/status/garbage/huge apply only to /v1
//                               requests whose path (no query) matches (default: all)
//     {"time_offset_minutes": N}  the UTC offset of lookup-self's issue_time/expire_time
//                               (default 0, rendered "Z"; -240 gives "-04:00" like the fixture)
//     {"freeze_clock": bool}    stop the fake's clock at its current time (true), or let it run
//                               on from there (false). The clock decides token, wrapping-token
//                               and JWT expiry, ttl, and the times in answers (not delay_ms).
//     {"advance_clock_ms": N}   move the fake's clock N ms forward (frozen or not; applied
//                               after freeze_clock): expiry without sleeping. GET /__control
//                               shows clock {frozenAtMs, offsetMs}; reset: the real clock.
//     Each /v1 request takes at most one injection, in this order: fail_next, status_next,
//     garbage_next, huge_next, hang_next; then sealed, standby; then the real endpoint.
//   POST /__state  JSON merged into the server state (per key; null deletes an entry):
//     {"reset": true,                       back to the default state first (control and stats
//                                           are kept; /__control reset clears everything)
//      "namespace": "team-a/" | "" | null,  the one non-root namespace that exists
//      "mounts": {"secret": 2, "kv1": 1, "legacy": {"version": 1, "options": null}, "x": null},
//      "auth_mounts": {"approle": "approle", "k8s-prod": "kubernetes", "old": null},
//      "policies": {"claude": ["secret/data/app/*", "kv1/+/claude"], "gone": null},
//      "secrets": {
//        "secret/app/claude": {"namespace": "", "custom_metadata": {"owner": "me"} | null,
//          "versions": [{"data": {"api_key": "sk-..."}, "created_time": "2024-...Z"},
//                       {"data": null, "deleted": true},
//                       {"data": {...}, "deletion_time": "2030-01-01T00:00:00Z"},
//                       {"data": {...}, "destroyed": true}]},
//        "kv1/app/claude": {"data": {"api_key": "sk-...", "ttl": "1h"}},   (= one version)
//        "secret/old": null},
//        The key is "<mount>/<path>"; the mount is resolved at read time, so one secret may be
//        read through a v1 or v2 mount (v1 reads the newest version; deleted/destroyed: 404).
//      "tokens": {"s.abc": {"ttl": 30, "renewable": true, "policies": ["default","claude"],
//                 "namespace": "", "max_ttl": 3600, "expire_at": <unix s>, "meta": {} | null,
//                 "display_name": "token"}, "s.old": null},
//        Defaults: ttl 3600 (0 = never expires), renewable = ttl > 0, max_ttl 2764800; an
//        expire_at in the past gives an expired token.
//      "approle": {"role_id": "...", "role_name": "claude", "secret_id": "..." | "secret_ids": [...],
//                  "bind_secret_id": true, "secret_id_num_uses": 0, "token_ttl": 5,
//                  "token_max_ttl": 60, "renewable": true, "policies": [...], "namespace": "",
//                  "wrapped_secret_id": {"token": "w.xyz", "secret_id": "...", "ttl": 300,
//                                        "secret_id_ttl": 0}}
//                 | [ {...}, ... ] | null,
//        Roles are keyed by role_id (a new definition replaces the old one; null removes all).
//        wrapped_secret_id registers a wrapping token whose unwrap gives that secret_id (default
//        the role's first) with a fresh secret_id_accessor; the secret_id is added to the role.
//        secret_id_num_uses N > 0: each secret_id works N times.
//      "kubernetes": {"role": "claude", "jwt": "<exact jwt>" | "jwt_claims": {"sub": "..."},
//                     "token_ttl": 60, "token_max_ttl": ..., "renewable": true, "policies": [...],
//                     "namespace": "", "service_account_name": "...",
//                     "service_account_namespace": "...", "service_account_uid": "..."}
//                    | [ ... ] | null,
//        keyed by role; jwt = exact string match; jwt_claims = every listed claim of the JWT
//        payload must be equal (and an exp claim must lie in the future).
//      "wrapped": {"w.xyz": {"data": {...}, "ttl": 300, "namespace": ""}, "w.old": null}}
//     Answers the secret-free summary of GET /__state.
//   GET /__state   summary without any token, id or secret value: mounts, auth_mounts,
//     namespace, policies, secrets {key: {namespace, versions, current_version}}, tokens
//     [{fp, via, namespace, policies, ttl, ttl_remaining, renewable, renewals, valid}],
//     approle [{role_id_fp, role_name, secret_ids, token_ttl, namespace}], kubernetes
//     [{role, token_ttl, namespace}], wrapped [{fp, expired}], sealed, standby.
//   GET /__stats   {"requests", "by_endpoint": {endpoint: {outcome: n}}, "by_status":
//     {status: n}, "kv2_reads", "kv1_reads", "reads_ok", "reads_not_found", "reads_deleted",
//     "reads_destroyed", "mounts_lookups", "logins": {"approle", "kubernetes"},
//     "login_failures": {"approle", "kubernetes"}, "lookups", "renewals", "renew_refused",
//     "unwraps", "unwrap_failures", "forbidden_403", "sealed_503", "standby_500", "injected",
//     "garbage", "huge", "hung", "delayed", "tokens_issued", "valid_tokens",
//     "token_header": {"x-vault-token", "bearer", "none"},
//     "x_vault_namespace": {value | "<absent>": n}, "x_vault_request": {value | "<absent>": n}}
//     (header values truncated to 100 characters, at most 20 distinct ones; never a token).
//     Outcomes: ok, not_found, deleted, destroyed, unsupported_path, no_handler, no_mount,
//     bad_version, no_token, bad_token, expired_token, namespace_mismatch, unknown_namespace,
//     no_policy, invalid_credentials, missing_field, bad_json, not_renewable, bad_increment,
//     bad_wrapping_token, injected, status_next, garbage, huge, hang, sealed, standby,
//     method_not_allowed, too_large, internal. Endpoints: kv2_read, kv1_read, kv (refused
//     before the mount was known), mounts, approle_login, kubernetes_login, lookup_self,
//     renew_self, unwrap, other, unknown.
//
// Log (--log F): one JSON line per request: ts_ms, method, path (no query; token-looking
// segments redacted), version (digits of ?version= only), status, endpoint, outcome, reason,
// namespace_header, namespace (resolved), token_sent (bool), token_via, token_fp (first 12 hex
// of sha256, never the token), x_vault_request; where they apply issued_fp (a login's new
// token), wrapping_fp, token_ttl (after renewal). Never a token, secret_id, role_id, JWT or
// secret value, nor a /__state body; nothing of them on stdout/stderr either.
'use strict';
const http = require('http');
const https = require('https');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const {fingerprint: fp, parseArgs, fixtureReader, jsonLogger, bodyBytes, writeReply, serve} =
  require('./fake_server_lib');

// ---- command line -------------------------------------------------------------------------
const USAGE = 'usage: vault_server.js --port-file F [--log F] [--tls-cert F --tls-key F]\n';
const opts = parseArgs('vault_server', USAGE, {'--tls-cert': 'tlsCert', '--tls-key': 'tlsKey'},
  {tlsCert: null, tlsKey: null});
if ((opts.tlsCert === null) !== (opts.tlsKey === null)) {
  process.stderr.write(USAGE);
  process.exit(64);
}

// ---- fixtures (the templates of every answer) ------------------------------------------------
const fixtureText = fixtureReader('vault_server', path.join(__dirname, 'vault_fixtures'));
const fixture = (name) => JSON.parse(fixtureText(name));
const FX = {
  kv2: fixture('kv-v2-read.response.json'),
  kv2Full: fixture('observed/kv-v2-read-full-envelope.response.json'),
  kv2Missing: fixture('observed/kv-v2-read-missing.404.response.json'),
  kv2SoftDeleted: fixture('observed/kv-v2-read-soft-deleted.404.response.json'),
  denied: fixture('observed/permission-denied.403.response.json'),
  kv1: fixture('kv-v1-read.response.json'),
  approle: fixture('approle-login.response.json'),
  lookup: fixture('token-lookup-self.response.json'),
  renew: fixture('token-renew-self.response.json'),
  error: fixture('error.response.json'),
};
const union = (...lists) => [...new Set([].concat(...lists))];
const ENVELOPE_KEYS = Object.keys(FX.kv2Full);
const KV2_DATA_KEYS = Object.keys(FX.kv2.data);
const KV2_METADATA_KEYS = union(Object.keys(FX.kv2.data.metadata), Object.keys(FX.kv2SoftDeleted.data.metadata));
const AUTH_KEYS = union(Object.keys(FX.approle.auth), Object.keys(FX.renew.auth));
const LOOKUP_KEYS = Object.keys(FX.lookup.data);
const PERMISSION_DENIED = FX.denied.errors[0];
{ // The short documented forms must fit in the observed envelope, or the templates are wrong.
  for (const f of [FX.kv2, FX.kv1, FX.approle, FX.lookup, FX.renew, FX.kv2SoftDeleted]) {
    for (const k of Object.keys(f)) {
      if (!ENVELOPE_KEYS.includes(k)) {
        process.stderr.write(`vault_server: fixture key ${k} is not in the observed envelope\n`);
        process.exit(70);
      }
    }
  }
  if (!Array.isArray(FX.error.errors) || !Array.isArray(FX.kv2Missing.errors) || typeof PERMISSION_DENIED !== 'string') {
    process.stderr.write('vault_server: the error fixtures are not {"errors":[...]}\n');
    process.exit(70);
  }
}
const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

// An object with exactly `keys`, in that order; every key must have a value (null allowed).
function pick(keys, values) {
  const o = {};
  for (const k of keys) {
    if (values[k] === undefined) throw new Error(`internal: no value for documented key ${k}`);
    o[k] = values[k];
  }
  return o;
}
function envelope(fields) {
  return pick(ENVELOPE_KEYS, Object.assign({
    request_id: crypto.randomUUID(), lease_id: '', renewable: false, lease_duration: 0,
    data: null, wrap_info: null, warnings: null, auth: null,
  }, fields));
}

// ---- constants ------------------------------------------------------------------------------
const DEFAULT_LEASE_TTL = 2764800;      // Vault's default (and default max) lease TTL: 32 days
const DEFAULT_APPROLE_TTL = 1200;       // the approle-login fixture's lease_duration
const DEFAULT_POLICIES = ['default', 'claude'];
const MAX_BODY = 1024 * 1024;
const UNSUPPORTED_PATH = '1 error occurred:\n\t* unsupported path\n\n';
const SEALED = 'Vault is sealed';
const STANDBY = 'local node not active but active cluster node not found';
const BAD_WRAPPING = 'wrapping token is not valid or does not exist';
const BAD_APPROLE = 'invalid role or secret ID';
const GARBAGE_BODY = Buffer.from('<html>\x00\xff upstream garbage {{{ "data": [ not json ]]] \n', 'latin1');
let hugeBody = null;
function getHugeBody() {
  if (!hugeBody) {
    hugeBody = Buffer.from('{"request_id":"00000000-0000-0000-0000-000000000000","warnings":null,' +
      '"data":{"padding":"' + 'x'.repeat(5 * 1024 * 1024) + '"}}\n');
  }
  return hugeBody;
}

// ---- helpers --------------------------------------------------------------------------------
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function base62(n) {
  let s = '';
  while (s.length < n) {
    for (const b of crypto.randomBytes(n * 2)) {
      if (b < 248 && s.length < n) s += BASE62[b % 62];
    }
  }
  return s;
}
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isCount = (v) => Number.isInteger(v) && v >= 0;
// The fake's clock: token, wrapping and JWT expiry, lookup-self's times, created_time. Real
// time by default; /__control's freeze_clock and advance_clock_ms make it a test's clock, so
// an expiry is tested without sleeping and without a window a loaded machine can miss.
const nowMs = () => (control.clock.frozenAtMs !== null ? control.clock.frozenAtMs : Date.now()) +
  control.clock.offsetMs;
const subMs = () => String(crypto.randomInt(0, 1000000)).padStart(6, '0');

// RFC 3339 with nanoseconds; offset in minutes (0 gives "Z").
function rfc3339(ms, tail, offsetMin) {
  const off = offsetMin || 0;
  const iso = new Date(ms + off * 60000).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  let zone = 'Z';
  if (off !== 0) {
    const a = Math.abs(off);
    zone = `${off < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
  }
  return `${iso.slice(0, 23)}${tail || '000000'}${zone}`;
}
// Go's time.Duration.String() for whole seconds ("1h0m0s", "2m5s", "7s", "0s").
function goDuration(sec) {
  sec = Math.max(0, Math.floor(sec));
  const h = Math.floor(sec / 3600), m = Math.floor((sec % 3600) / 60), s = sec % 60;
  if (h) return `${h}h${m}m${s}s`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}
// Vault's parseutil.ParseDurationSecond: an integer (seconds) or a Go-like duration with d.
function parseDurationSec(v) {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.floor(v) : null;
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (s === '') return null;
  if (/^\d+$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)(ms|d|h|m|s)/gy;
  let total = 0, m, pos = 0;
  const unit = {d: 86400, h: 3600, m: 60, s: 1, ms: 0.001};
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * unit[m[2]];
    pos = re.lastIndex;
  }
  if (pos !== s.length) return null;
  return Math.floor(total);
}
function normNs(s) {
  const parts = String(s || '').split('/').filter(Boolean);
  return parts.length ? parts.join('/') + '/' : '';
}
const normKey = (s) => String(s).split('/').filter(Boolean).join('/');
function globMatch(pattern, p) {
  if (pattern === '*') return true;
  let body = pattern, prefix = false;
  if (body.endsWith('*')) { prefix = true; body = body.slice(0, -1); }
  const re = body.split('+').map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]+');
  return new RegExp(`^${re}${prefix ? '.*' : ''}$`).test(p);
}
function redactPath(p) {
  return String(p).split('?')[0].slice(0, 300)
    .replace(/\b(hv[sbr]|[sbr]|w)\.[A-Za-z0-9_-]{6,}/g, '<redacted>');
}

// ---- state ----------------------------------------------------------------------------------
function newMount(version, options) {
  return {version, options: options === undefined ? {version: String(version)} : options,
    accessor: `kv_${crypto.randomBytes(4).toString('hex')}`, uuid: crypto.randomUUID()};
}
function defaultState() {
  return {
    namespace: '',
    mounts: new Map([['secret', newMount(2)], ['kv1', newMount(1)]]),
    authMounts: new Map([['approle', 'approle'], ['kubernetes', 'kubernetes']]),
    policies: new Map([['default', []], ['claude', ['*']]]),
    secrets: new Map(),   // ns + "\0" + "mount/path" -> {namespace, key, custom_metadata, versions}
    tokens: new Map(),    // token -> record
    approle: new Map(),   // role_id -> role
    kubernetes: new Map(),// role -> role
    wrapped: new Map(),   // wrapping token -> {data, expireAtMs, namespace}
  };
}
function defaultControl() {
  return {sealed: false, standby: false, delay_ms: 0, hang_next: 0, fail_next: [], status_next: null,
    garbage_next: 0, huge_next: 0, inject_path: null, time_offset_minutes: 0,
    clock: {frozenAtMs: null, offsetMs: 0}};
}
function zeroStats() {
  return {
    requests: 0, by_endpoint: {}, by_status: {}, kv2_reads: 0, kv1_reads: 0, reads_ok: 0,
    reads_not_found: 0, reads_deleted: 0, reads_destroyed: 0, mounts_lookups: 0,
    logins: {approle: 0, kubernetes: 0}, login_failures: {approle: 0, kubernetes: 0}, lookups: 0,
    renewals: 0, renew_refused: 0, unwraps: 0, unwrap_failures: 0, forbidden_403: 0,
    sealed_503: 0, standby_500: 0, injected: 0, garbage: 0, huge: 0, hung: 0, delayed: 0,
    tokens_issued: 0, token_header: {'x-vault-token': 0, bearer: 0, none: 0},
    x_vault_namespace: {}, x_vault_request: {},
  };
}
let state, control, stats, injectRe;
function resetAll() {
  state = defaultState();
  control = defaultControl();
  stats = zeroStats();
  injectRe = null;
}
resetAll();

function tokenValid(t, now) {
  return t.expireAtMs === null || now < t.expireAtMs;
}
function issueToken(spec) {
  const now = nowMs();
  let token;
  do token = `hvs.${base62(24)}`; while (state.tokens.has(token));
  const ttl = spec.ttl;
  const maxTtl = spec.max_ttl;
  let expireAtMs = ttl > 0 ? now + Math.min(ttl, maxTtl || ttl) * 1000 : null;
  const t = {
    token, accessor: base62(24), fp: fp(token), policies: spec.policies.slice(),
    namespace: spec.namespace, ttl, creationTtl: ttl, maxTtl, renewable: spec.renewable && ttl > 0,
    createdMs: now, createdTail: subMs(), expireAtMs, expireTail: subMs(), renewals: 0,
    via: spec.via, path: spec.path, displayName: spec.display_name, meta: spec.meta,
  };
  state.tokens.set(token, t);
  return t;
}
function authBlock(t, leaseDuration) {
  return pick(AUTH_KEYS, {
    client_token: t.token, accessor: t.accessor, policies: t.policies.slice(),
    token_policies: t.policies.slice(), metadata: t.meta === null ? null : clone(t.meta),
    lease_duration: leaseDuration, renewable: t.renewable,
  });
}

// ---- state parsing (POST /__state) ----------------------------------------------------------
function need(cond, msg) { if (!cond) throw new Error(msg); }
function optStringList(v, name) {
  need(Array.isArray(v) && v.every((x) => typeof x === 'string'), `${name} must be an array of strings`);
  return v.slice();
}
function parseTokenOptions(s, name, defaults) {
  const o = Object.assign({}, defaults);
  if (s.ttl !== undefined) { need(isCount(s.ttl), `${name}.ttl must be a non-negative integer`); o.ttl = s.ttl; }
  if (s.token_ttl !== undefined) { need(isCount(s.token_ttl), `${name}.token_ttl must be a non-negative integer`); o.ttl = s.token_ttl; }
  if (s.max_ttl !== undefined) { need(isCount(s.max_ttl), `${name}.max_ttl must be a non-negative integer`); o.max_ttl = s.max_ttl; }
  if (s.token_max_ttl !== undefined) { need(isCount(s.token_max_ttl), `${name}.token_max_ttl must be a non-negative integer`); o.max_ttl = s.token_max_ttl; }
  o.renewable = o.ttl > 0;
  if (s.renewable !== undefined) { need(typeof s.renewable === 'boolean', `${name}.renewable must be a boolean`); o.renewable = s.renewable; }
  if (s.policies !== undefined) o.policies = optStringList(s.policies, `${name}.policies`);
  if (s.namespace !== undefined) { need(s.namespace === null || typeof s.namespace === 'string', `${name}.namespace must be a string`); o.namespace = normNs(s.namespace); }
  if (o.max_ttl === 0) o.max_ttl = DEFAULT_LEASE_TTL;
  return o;
}

function parseVersion(v, i, key, now) {
  need(isObject(v), `secrets[${key}].versions[${i}] must be an object`);
  for (const k of Object.keys(v)) {
    need(['data', 'created_time', 'deleted', 'deletion_time', 'destroyed'].includes(k), `secrets[${key}].versions[${i}]: unknown field ${k}`);
  }
  need(v.data === undefined || v.data === null || isObject(v.data), `secrets[${key}].versions[${i}].data must be an object or null`);
  const out = {data: v.data === undefined ? null : clone(v.data), created_time: rfc3339(now, subMs()),
    deletion_time: '', deletion_ms: null, destroyed: false};
  if (v.created_time !== undefined) {
    need(typeof v.created_time === 'string' && !Number.isNaN(Date.parse(v.created_time)), `secrets[${key}].versions[${i}].created_time must be RFC 3339`);
    out.created_time = v.created_time;
  }
  if (v.deleted !== undefined) {
    need(typeof v.deleted === 'boolean', `secrets[${key}].versions[${i}].deleted must be a boolean`);
    if (v.deleted) { out.deletion_ms = now; out.deletion_time = rfc3339(now, subMs()); }
  }
  if (v.deletion_time !== undefined && v.deletion_time !== null && v.deletion_time !== '') {
    need(typeof v.deletion_time === 'string' && !Number.isNaN(Date.parse(v.deletion_time)), `secrets[${key}].versions[${i}].deletion_time must be RFC 3339`);
    out.deletion_time = v.deletion_time;
    out.deletion_ms = Date.parse(v.deletion_time);
  }
  if (v.destroyed !== undefined) {
    need(typeof v.destroyed === 'boolean', `secrets[${key}].versions[${i}].destroyed must be a boolean`);
    out.destroyed = v.destroyed;
  }
  return out;
}

function applyState(body) {
  need(isObject(body), 'body must be a JSON object');
  const known = ['reset', 'namespace', 'mounts', 'auth_mounts', 'policies', 'secrets', 'tokens', 'approle', 'kubernetes', 'wrapped'];
  for (const k of Object.keys(body)) need(known.includes(k), `unknown state field ${JSON.stringify(k)}`);
  if (body.reset !== undefined) need(typeof body.reset === 'boolean', 'reset must be a boolean');
  // Validate everything into a copy first: a bad body changes nothing.
  const base = body.reset === true ? defaultState() : state;
  const next = {
    namespace: base.namespace, mounts: new Map(base.mounts), authMounts: new Map(base.authMounts),
    policies: new Map(base.policies), secrets: new Map(base.secrets), tokens: new Map(base.tokens),
    approle: new Map(base.approle), kubernetes: new Map(base.kubernetes), wrapped: new Map(base.wrapped),
  };
  const now = nowMs();

  if (body.namespace !== undefined) {
    need(body.namespace === null || typeof body.namespace === 'string', 'namespace must be a string or null');
    next.namespace = normNs(body.namespace);
  }
  if (body.mounts !== undefined) {
    need(isObject(body.mounts), 'mounts must be an object');
    for (const [name0, v] of Object.entries(body.mounts)) {
      const name = normKey(name0);
      need(name !== '' && !name.startsWith('sys') && !name.startsWith('auth') && !name.startsWith('__'), `mount name ${JSON.stringify(name0)} is not allowed`);
      if (v === null) { next.mounts.delete(name); continue; }
      if (v === 1 || v === 2) { next.mounts.set(name, newMount(v)); continue; }
      need(isObject(v) && (v.version === 1 || v.version === 2), `mounts[${name}] must be 1, 2, {"version":1|2,"options":...} or null`);
      need(v.options === undefined || v.options === null || isObject(v.options), `mounts[${name}].options must be an object or null`);
      next.mounts.set(name, newMount(v.version, v.options === undefined ? undefined : clone(v.options)));
    }
  }
  if (body.auth_mounts !== undefined) {
    need(isObject(body.auth_mounts), 'auth_mounts must be an object');
    for (const [name0, v] of Object.entries(body.auth_mounts)) {
      const name = normKey(name0);
      need(name !== '' && name !== 'token', `auth mount ${JSON.stringify(name0)} is not allowed`);
      if (v === null) { next.authMounts.delete(name); continue; }
      need(v === 'approle' || v === 'kubernetes', `auth_mounts[${name}] must be "approle", "kubernetes" or null`);
      next.authMounts.set(name, v);
    }
  }
  if (body.policies !== undefined) {
    need(isObject(body.policies), 'policies must be an object');
    for (const [name, v] of Object.entries(body.policies)) {
      if (v === null) { next.policies.delete(name); continue; }
      next.policies.set(name, optStringList(v, `policies[${name}]`));
    }
  }
  if (body.secrets !== undefined) {
    need(isObject(body.secrets), 'secrets must be an object');
    for (const [key0, s] of Object.entries(body.secrets)) {
      const key = normKey(key0);
      need(key.includes('/'), `secrets key ${JSON.stringify(key0)} must be "<mount>/<path>"`);
      if (s === null) {
        for (const k of [...next.secrets.keys()]) if (next.secrets.get(k).key === key) next.secrets.delete(k);
        continue;
      }
      need(isObject(s), `secrets[${key}] must be an object or null`);
      for (const k of Object.keys(s)) need(['namespace', 'custom_metadata', 'versions', 'data'].includes(k), `secrets[${key}]: unknown field ${k}`);
      need((s.versions === undefined) !== (s.data === undefined), `secrets[${key}] needs exactly one of versions, data`);
      let versions;
      if (s.data !== undefined) {
        versions = [parseVersion({data: s.data}, 0, key, now)];
      } else {
        need(Array.isArray(s.versions), `secrets[${key}].versions must be an array`);
        versions = s.versions.map((v, i) => parseVersion(v, i, key, now));
      }
      need(s.namespace === undefined || typeof s.namespace === 'string', `secrets[${key}].namespace must be a string`);
      need(s.custom_metadata === undefined || s.custom_metadata === null || isObject(s.custom_metadata), `secrets[${key}].custom_metadata must be an object or null`);
      const ns = normNs(s.namespace);
      next.secrets.set(`${ns}\0${key}`, {namespace: ns, key, versions,
        custom_metadata: s.custom_metadata === undefined ? null : clone(s.custom_metadata)});
    }
  }
  if (body.tokens !== undefined) {
    need(isObject(body.tokens), 'tokens must be an object');
    for (const [tok, s] of Object.entries(body.tokens)) {
      need(tok !== '', 'a token must not be empty');
      if (s === null) { next.tokens.delete(tok); continue; }
      need(isObject(s), `tokens[${fp(tok)}] must be an object or null`);
      for (const k of Object.keys(s)) need(['ttl', 'renewable', 'policies', 'namespace', 'max_ttl', 'expire_at', 'meta', 'display_name'].includes(k), `tokens[${fp(tok)}]: unknown field ${k}`);
      const o = parseTokenOptions(s, `tokens[${fp(tok)}]`, {ttl: 3600, max_ttl: DEFAULT_LEASE_TTL, policies: DEFAULT_POLICIES, namespace: ''});
      need(s.meta === undefined || s.meta === null || isObject(s.meta), `tokens[${fp(tok)}].meta must be an object or null`);
      need(s.display_name === undefined || typeof s.display_name === 'string', `tokens[${fp(tok)}].display_name must be a string`);
      let expireAtMs = o.ttl > 0 ? now + Math.min(o.ttl, o.max_ttl) * 1000 : null;
      if (s.expire_at !== undefined) {
        need(typeof s.expire_at === 'number' && Number.isFinite(s.expire_at), `tokens[${fp(tok)}].expire_at must be unix seconds`);
        expireAtMs = Math.round(s.expire_at * 1000);
      }
      next.tokens.set(tok, {
        token: tok, accessor: base62(24), fp: fp(tok), policies: o.policies.slice(), namespace: o.namespace,
        ttl: o.ttl, creationTtl: o.ttl, maxTtl: o.max_ttl, renewable: o.renewable && o.ttl > 0,
        createdMs: now, createdTail: subMs(), expireAtMs, expireTail: subMs(), renewals: 0, via: 'state',
        path: 'auth/token/create', displayName: s.display_name === undefined ? 'token' : s.display_name,
        meta: s.meta === undefined ? null : clone(s.meta),
      });
    }
  }
  if (body.wrapped !== undefined) {
    need(isObject(body.wrapped), 'wrapped must be an object');
    for (const [tok, w] of Object.entries(body.wrapped)) {
      need(tok !== '', 'a wrapping token must not be empty');
      if (w === null) { next.wrapped.delete(tok); continue; }
      need(isObject(w) && isObject(w.data), `wrapped[${fp(tok)}] must be {"data":{...}}`);
      for (const k of Object.keys(w)) need(['data', 'ttl', 'namespace'].includes(k), `wrapped[${fp(tok)}]: unknown field ${k}`);
      need(w.ttl === undefined || isCount(w.ttl), `wrapped[${fp(tok)}].ttl must be a non-negative integer`);
      need(w.namespace === undefined || typeof w.namespace === 'string', `wrapped[${fp(tok)}].namespace must be a string`);
      next.wrapped.set(tok, {data: clone(w.data), expireAtMs: now + (w.ttl === undefined ? 300 : w.ttl) * 1000, namespace: normNs(w.namespace)});
    }
  }
  if (body.approle !== undefined) {
    if (body.approle === null) next.approle.clear();
    else {
      const list = Array.isArray(body.approle) ? body.approle : [body.approle];
      list.forEach((r, i) => {
        const name = `approle[${i}]`;
        need(isObject(r), `${name} must be an object`);
        for (const k of Object.keys(r)) {
          need(['role_id', 'role_name', 'secret_id', 'secret_ids', 'bind_secret_id', 'secret_id_num_uses', 'token_ttl', 'token_max_ttl',
            'renewable', 'policies', 'namespace', 'wrapped_secret_id'].includes(k), `${name}: unknown field ${k}`);
        }
        need(typeof r.role_id === 'string' && r.role_id.trim() !== '', `${name}.role_id must be a non-empty string`);
        need(r.role_name === undefined || typeof r.role_name === 'string', `${name}.role_name must be a string`);
        need(r.secret_id === undefined || r.secret_ids === undefined, `${name}: give secret_id or secret_ids, not both`);
        const ids = r.secret_ids !== undefined ? optStringList(r.secret_ids, `${name}.secret_ids`)
          : r.secret_id !== undefined ? optStringList([r.secret_id], `${name}.secret_id`) : [];
        need(r.bind_secret_id === undefined || typeof r.bind_secret_id === 'boolean', `${name}.bind_secret_id must be a boolean`);
        need(r.secret_id_num_uses === undefined || isCount(r.secret_id_num_uses), `${name}.secret_id_num_uses must be a non-negative integer`);
        const o = parseTokenOptions(r, name, {ttl: DEFAULT_APPROLE_TTL, max_ttl: DEFAULT_LEASE_TTL, policies: DEFAULT_POLICIES, namespace: ''});
        if (r.renewable === undefined) o.renewable = true;
        const uses = r.secret_id_num_uses || 0;
        const role = {role_id: r.role_id.trim(), role_name: r.role_name || 'claude', bind_secret_id: r.bind_secret_id !== false,
          uses, secretIds: new Map(ids.map((id) => [id, {usesLeft: uses || null}])), token: o};
        if (r.wrapped_secret_id !== undefined) {
          const w = r.wrapped_secret_id;
          need(isObject(w) && typeof w.token === 'string' && w.token !== '', `${name}.wrapped_secret_id must be {"token": "..."}`);
          need(w.secret_id === undefined || (typeof w.secret_id === 'string' && w.secret_id !== ''), `${name}.wrapped_secret_id.secret_id must be a string`);
          need(w.ttl === undefined || isCount(w.ttl), `${name}.wrapped_secret_id.ttl must be a non-negative integer`);
          need(w.secret_id_ttl === undefined || isCount(w.secret_id_ttl), `${name}.wrapped_secret_id.secret_id_ttl must be a non-negative integer`);
          const sid = w.secret_id || ids[0];
          need(sid, `${name}.wrapped_secret_id needs a secret_id (or the role's secret_id)`);
          if (!role.secretIds.has(sid)) role.secretIds.set(sid, {usesLeft: uses || null});
          next.wrapped.set(w.token, {
            data: {secret_id: sid, secret_id_accessor: crypto.randomUUID(), secret_id_ttl: w.secret_id_ttl || 0, secret_id_num_uses: uses},
            expireAtMs: now + (w.ttl === undefined ? 300 : w.ttl) * 1000, namespace: o.namespace,
          });
        }
        next.approle.set(role.role_id, role);
      });
    }
  }
  if (body.kubernetes !== undefined) {
    if (body.kubernetes === null) next.kubernetes.clear();
    else {
      const list = Array.isArray(body.kubernetes) ? body.kubernetes : [body.kubernetes];
      list.forEach((r, i) => {
        const name = `kubernetes[${i}]`;
        need(isObject(r), `${name} must be an object`);
        for (const k of Object.keys(r)) {
          need(['role', 'jwt', 'jwt_claims', 'token_ttl', 'token_max_ttl', 'renewable', 'policies', 'namespace',
            'service_account_name', 'service_account_namespace', 'service_account_uid'].includes(k), `${name}: unknown field ${k}`);
        }
        need(typeof r.role === 'string' && r.role !== '', `${name}.role must be a non-empty string`);
        need((r.jwt === undefined) !== (r.jwt_claims === undefined), `${name} needs exactly one of jwt, jwt_claims`);
        need(r.jwt === undefined || (typeof r.jwt === 'string' && r.jwt !== ''), `${name}.jwt must be a non-empty string`);
        need(r.jwt_claims === undefined || isObject(r.jwt_claims), `${name}.jwt_claims must be an object`);
        for (const k of ['service_account_name', 'service_account_namespace', 'service_account_uid']) {
          need(r[k] === undefined || typeof r[k] === 'string', `${name}.${k} must be a string`);
        }
        const o = parseTokenOptions(r, name, {ttl: DEFAULT_APPROLE_TTL, max_ttl: DEFAULT_LEASE_TTL, policies: DEFAULT_POLICIES, namespace: ''});
        if (r.renewable === undefined) o.renewable = true;
        next.kubernetes.set(r.role, {role: r.role, jwt: r.jwt || null, jwt_claims: clone(r.jwt_claims) || null, token: o,
          sa: {name: r.service_account_name, namespace: r.service_account_namespace, uid: r.service_account_uid}});
      });
    }
  }
  state = next;
}

function stateSummary() {
  const now = nowMs();
  const mounts = {};
  for (const [n, m] of state.mounts) mounts[n] = {version: m.version, options: m.options};
  const secrets = {};
  for (const s of state.secrets.values()) {
    secrets[(s.namespace ? s.namespace : '') + s.key] = {namespace: s.namespace, versions: s.versions.length, current_version: s.versions.length};
  }
  return {
    namespace: state.namespace, sealed: control.sealed, standby: control.standby, mounts,
    auth_mounts: Object.fromEntries(state.authMounts), policies: Object.fromEntries(state.policies), secrets,
    tokens: [...state.tokens.values()].map((t) => ({
      fp: t.fp, via: t.via, namespace: t.namespace, policies: t.policies, ttl: t.ttl,
      ttl_remaining: t.expireAtMs === null ? null : Math.max(0, Math.floor((t.expireAtMs - now) / 1000)),
      renewable: t.renewable, renewals: t.renewals, valid: tokenValid(t, now)})),
    approle: [...state.approle.values()].map((r) => ({role_id_fp: fp(r.role_id), role_name: r.role_name,
      secret_ids: r.secretIds.size, token_ttl: r.token.ttl, namespace: r.token.namespace})),
    kubernetes: [...state.kubernetes.values()].map((r) => ({role: r.role, token_ttl: r.token.ttl, namespace: r.token.namespace})),
    wrapped: [...state.wrapped.entries()].map(([t, w]) => ({fp: fp(t), expired: now >= w.expireAtMs})),
  };
}

// ---- control parsing ------------------------------------------------------------------------
function applyControl(c) {
  need(isObject(c), 'body must be a JSON object');
  if (c.reset !== undefined) need(typeof c.reset === 'boolean', 'reset must be a boolean');
  const next = c.reset === true ? defaultControl() : Object.assign({}, control);
  next.clock = Object.assign({}, next.clock);
  let nextRe = c.reset === true ? null : injectRe;
  let freeze, advanceMs = 0;
  for (const [k, v] of Object.entries(c)) {
    switch (k) {
      case 'reset': break;
      case 'freeze_clock':
        need(typeof v === 'boolean', 'freeze_clock must be a boolean');
        freeze = v;
        break;
      case 'advance_clock_ms':
        need(isCount(v), 'advance_clock_ms must be a non-negative integer');
        advanceMs = v;
        break;
      case 'sealed': case 'standby':
        need(typeof v === 'boolean', `${k} must be a boolean`);
        next[k] = v;
        break;
      case 'delay_ms': case 'hang_next': case 'garbage_next': case 'huge_next':
        need(isCount(v), `${k} must be a non-negative integer`);
        next[k] = v;
        break;
      case 'time_offset_minutes':
        need(Number.isInteger(v) && v >= -720 && v <= 840, 'time_offset_minutes must be an integer in -720..840');
        next[k] = v;
        break;
      case 'fail_next':
        need(Array.isArray(v), 'fail_next must be an array');
        next.fail_next = v.map((f, i) => {
          need(isObject(f) && Number.isInteger(f.status) && f.status >= 100 && f.status <= 599, `fail_next[${i}].status must be an HTTP status`);
          need(f.headers === undefined || (isObject(f.headers) && Object.values(f.headers).every((h) => typeof h === 'string' || typeof h === 'number')),
            `fail_next[${i}].headers must be an object of strings`);
          const headers = {};
          for (const [hk, hv] of Object.entries(f.headers || {})) headers[hk.toLowerCase()] = String(hv);
          const body = f.body === undefined ? '{"errors":[]}\n' : typeof f.body === 'string' ? f.body : JSON.stringify(f.body) + '\n';
          return {status: f.status, body, headers};
        });
        break;
      case 'status_next':
        if (v === null) { next.status_next = null; break; }
        need(isObject(v) && Number.isInteger(v.status) && v.status >= 100 && v.status <= 599, 'status_next.status must be an HTTP status');
        need(v.count === undefined || isCount(v.count), 'status_next.count must be a non-negative integer');
        need(v.errors === undefined || (Array.isArray(v.errors) && v.errors.every((x) => typeof x === 'string')), 'status_next.errors must be an array of strings');
        need(v.headers === undefined || isObject(v.headers), 'status_next.headers must be an object');
        next.status_next = {status: v.status, count: v.count === undefined ? 1 : v.count,
          errors: v.errors ? v.errors.slice() : [String(http.STATUS_CODES[v.status] || 'error').toLowerCase()],
          headers: Object.fromEntries(Object.entries(v.headers || {}).map(([hk, hv]) => [hk.toLowerCase(), String(hv)]))};
        break;
      case 'inject_path':
        need(v === null || typeof v === 'string', 'inject_path must be a string or null');
        nextRe = v === null ? null : new RegExp(v); // throws on a bad pattern
        next.inject_path = v;
        break;
      default:
        throw new Error(`unknown control field ${JSON.stringify(k)}`);
    }
  }
  // Freezing keeps the fake's current time (offset included); thawing goes on from it.
  const real = Date.now();
  if (freeze === true && next.clock.frozenAtMs === null) {
    next.clock.frozenAtMs = real + next.clock.offsetMs;
    next.clock.offsetMs = 0;
  } else if (freeze === false && next.clock.frozenAtMs !== null) {
    next.clock.offsetMs = next.clock.frozenAtMs - real;
    next.clock.frozenAtMs = null;
  }
  if (next.clock.frozenAtMs !== null) next.clock.frozenAtMs += advanceMs;
  else next.clock.offsetMs += advanceMs;
  if (c.reset === true) {
    const keep = next;
    resetAll();
    control = keep;
  } else {
    control = next;
  }
  injectRe = nextRe;
}

// ---- responses and log ----------------------------------------------------------------------
const log = jsonLogger('vault_server', opts.log);
function count(entry, status) {
  if (!entry.endpoint.startsWith('__')) {
    stats.by_status[status] = (stats.by_status[status] || 0) + 1;
    const ep = stats.by_endpoint[entry.endpoint] || (stats.by_endpoint[entry.endpoint] = {});
    const o = entry.outcome || 'none';
    ep[o] = (ep[o] || 0) + 1;
    if (status === 403) stats.forbidden_403 += 1;
  }
}
function send(res, entry, status, body, headers) {
  count(entry, status);
  writeReply(res, entry, log, status, bodyBytes(body, '\n'),
    Object.assign({'content-type': 'application/json', 'cache-control': 'no-store'}, headers));
}
function fail(res, entry, status, errors, outcome, reason, headers) {
  entry.outcome = outcome;
  if (reason) entry.reason = reason;
  send(res, entry, status, {errors}, headers);
}
const denied = (res, entry, outcome, reason) => fail(res, entry, 403, [PERMISSION_DENIED], outcome, reason);
const methodNotAllowed = (res, entry) => fail(res, entry, 405, [], 'method_not_allowed');

// ---- request context ------------------------------------------------------------------------
function presentedToken(req) {
  const x = req.headers['x-vault-token'];
  if (typeof x === 'string' && x !== '') return {token: x, via: 'x-vault-token'};
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers['authorization'] || '');
  if (m) return {token: m[1], via: 'bearer'};
  return {token: null, via: null};
}
// Splits the API path (after /v1/) into the request's namespace and the path inside it.
function resolveNamespace(rest, headerNs) {
  let segs = rest.split('/');
  const hns = normNs(headerNs);
  let ns = hns;
  const allowed = state.namespace;
  if (allowed && allowed !== hns && allowed.startsWith(hns)) {
    const extra = allowed.slice(hns.length).split('/').filter(Boolean);
    if (segs.length > extra.length && extra.every((p, i) => segs[i] === p)) {
      ns = allowed;
      segs = segs.slice(extra.length);
    }
  }
  return {ns, path: segs.filter(Boolean).join('/')};
}
// The valid token of this request, or answers 403 and returns null.
function requireToken(res, entry, ctx) {
  if (!ctx.token) { denied(res, entry, 'no_token'); return null; }
  const t = state.tokens.get(ctx.token);
  if (!t) { denied(res, entry, 'bad_token'); return null; }
  if (!tokenValid(t, nowMs())) { denied(res, entry, 'expired_token'); return null; }
  if (t.namespace !== ctx.ns) { denied(res, entry, 'namespace_mismatch', `token in ${t.namespace || 'root'}`); return null; }
  return t;
}
function policyAllows(t, apiPath) {
  for (const name of t.policies) {
    if (name === 'root') return true;
    for (const pattern of state.policies.get(name) || []) if (globMatch(pattern, apiPath)) return true;
  }
  return false;
}
// Whether any of the token's patterns can reach a path under the mount.
function policyReachesMount(t, mount) {
  const m = mount + '/';
  for (const name of t.policies) {
    if (name === 'root') return true;
    for (const pattern of state.policies.get(name) || []) {
      const lit = pattern.split(/[*+]/)[0];
      if (lit.startsWith(m) || m.startsWith(lit) || globMatch(pattern, mount)) return true;
    }
  }
  return false;
}
function mountFor(p) {
  let best = null;
  for (const name of state.mounts.keys()) {
    if ((p === name || p.startsWith(name + '/')) && (!best || name.length > best.length)) best = name;
  }
  return best;
}
function parseBody(res, entry, raw) {
  const s = raw.toString('utf8');
  if (s.trim() === '') return {};
  try {
    const v = JSON.parse(s);
    if (isObject(v)) return v;
    fail(res, entry, 400, ['failed to parse JSON input: body must be a JSON object'], 'bad_json');
  } catch (e) {
    fail(res, entry, 400, [`failed to parse JSON input: ${e.message}`], 'bad_json');
  }
  return null;
}

// ---- endpoints ------------------------------------------------------------------------------
function kvRead(req, res, entry, ctx, url) {
  const t = requireToken(res, entry, ctx);
  if (!t) return;
  if (!policyAllows(t, ctx.path)) return denied(res, entry, 'no_policy');
  const mount = mountFor(ctx.path);
  if (!mount) return fail(res, entry, 404, [`no handler for route "${ctx.path}". route entry not found.`], 'no_handler');
  if (req.method !== 'GET') return methodNotAllowed(res, entry);
  const m = state.mounts.get(mount);
  const rest = ctx.path.slice(mount.length + 1);
  const now = nowMs();
  if (m.version === 2) {
    entry.endpoint = 'kv2_read';
    stats.kv2_reads += 1;
    if (!rest.startsWith('data/') || rest.length <= 5) return fail(res, entry, 404, [UNSUPPORTED_PATH], 'unsupported_path');
    const key = `${mount}/${rest.slice(5)}`;
    const vq = url.searchParams.get('version');
    let want = 0;
    if (vq !== null && vq !== '') {
      if (!/^\d{1,9}$/.test(vq)) return fail(res, entry, 400, ['error converting input for field "version"'], 'bad_version');
      want = Number(vq);
      entry.version = vq;
    }
    const sec = state.secrets.get(`${ctx.ns}\0${key}`);
    if (!sec || sec.versions.length === 0 || want > sec.versions.length) {
      stats.reads_not_found += 1;
      entry.outcome = 'not_found';
      return send(res, entry, 404, clone(FX.kv2Missing));
    }
    const n = want || sec.versions.length;
    const ver = sec.versions[n - 1];
    const metadata = pick(KV2_METADATA_KEYS, {created_time: ver.created_time, custom_metadata: clone(sec.custom_metadata),
      deletion_time: ver.deletion_time, destroyed: ver.destroyed, version: n});
    const deleted = ver.deletion_ms !== null && ver.deletion_ms <= now;
    if (ver.destroyed || deleted || ver.data === null) {
      const outcome = ver.destroyed ? 'destroyed' : deleted ? 'deleted' : 'not_found';
      stats[ver.destroyed ? 'reads_destroyed' : deleted ? 'reads_deleted' : 'reads_not_found'] += 1;
      entry.outcome = outcome;
      return send(res, entry, 404, envelope({data: pick(KV2_DATA_KEYS, {data: null, metadata})}));
    }
    stats.reads_ok += 1;
    entry.outcome = 'ok';
    return send(res, entry, 200, envelope({data: pick(KV2_DATA_KEYS, {data: clone(ver.data), metadata})}));
  }
  entry.endpoint = 'kv1_read';
  stats.kv1_reads += 1;
  if (rest === '') return fail(res, entry, 404, [UNSUPPORTED_PATH], 'unsupported_path');
  const sec = state.secrets.get(`${ctx.ns}\0${mount}/${rest}`);
  const ver = sec && sec.versions[sec.versions.length - 1];
  if (!ver || ver.data === null || ver.destroyed || (ver.deletion_ms !== null && ver.deletion_ms <= now)) {
    stats.reads_not_found += 1;
    entry.outcome = 'not_found';
    return send(res, entry, 404, clone(FX.kv2Missing));
  }
  let lease = DEFAULT_LEASE_TTL;
  if (Object.prototype.hasOwnProperty.call(ver.data, 'ttl')) {
    const ttl = parseDurationSec(ver.data.ttl);
    if (ttl !== null) lease = ttl;
    else entry.reason = 'bad_ttl';
  }
  stats.reads_ok += 1;
  entry.outcome = 'ok';
  send(res, entry, 200, envelope({data: clone(ver.data), lease_duration: lease}));
}

function mountsList(req, res, entry, ctx) {
  entry.endpoint = 'mounts';
  if (req.method !== 'GET') return methodNotAllowed(res, entry);
  stats.mounts_lookups += 1;
  // Unauthenticated; without a valid token of this namespace no mount is listed (none has
  // listing_visibility "unauth" in the fake).
  const t = ctx.token && state.tokens.get(ctx.token);
  const ok = t && tokenValid(t, nowMs()) && t.namespace === ctx.ns;
  const secret = {}, auth = {};
  if (ok) {
    for (const [name, m] of state.mounts) {
      if (policyReachesMount(t, name)) secret[`${name}/`] = {description: 'key/value secret storage', options: clone(m.options), type: 'kv'};
    }
    for (const [name, kind] of state.authMounts) auth[`${name}/`] = {description: '', type: kind};
  }
  entry.outcome = 'ok';
  send(res, entry, 200, envelope({data: {auth, secret}}));
}

function mountsLookup(req, res, entry, ctx) {
  entry.endpoint = 'mounts';
  if (req.method !== 'GET') return methodNotAllowed(res, entry);
  if (ctx.path === 'sys/internal/ui/mounts') return mountsList(req, res, entry, ctx);
  const t = requireToken(res, entry, ctx);
  if (!t) return;
  stats.mounts_lookups += 1;
  const p = normKey(ctx.path.slice('sys/internal/ui/mounts'.length));
  const mount = mountFor(p);
  const preflight = `preflight capability check returned 403, please ensure client's policies grant access to path "${p}/"`;
  if (!mount) return fail(res, entry, 403, [preflight], 'no_mount');
  if (!policyReachesMount(t, mount)) return fail(res, entry, 403, [preflight], 'no_policy');
  const m = state.mounts.get(mount);
  entry.outcome = 'ok';
  send(res, entry, 200, envelope({data: {
    accessor: m.accessor, config: {default_lease_ttl: 0, force_no_cache: false, max_lease_ttl: 0},
    description: 'key/value secret storage', external_entropy_access: false, local: false,
    options: clone(m.options), path: `${mount}/`, seal_wrap: false, type: 'kv', uuid: m.uuid,
  }}));
}

function lookupSelf(req, res, entry, ctx) {
  entry.endpoint = 'lookup_self';
  if (req.method !== 'GET') return methodNotAllowed(res, entry);
  const t = requireToken(res, entry, ctx);
  if (!t) return;
  stats.lookups += 1;
  const now = nowMs();
  const off = control.time_offset_minutes;
  entry.outcome = 'ok';
  send(res, entry, 200, envelope({data: pick(LOOKUP_KEYS, {
    accessor: t.accessor, creation_time: Math.floor(t.createdMs / 1000), creation_ttl: t.creationTtl,
    display_name: t.displayName, entity_id: '',
    expire_time: t.expireAtMs === null ? null : rfc3339(t.expireAtMs, t.expireTail, off),
    explicit_max_ttl: 0, id: t.token, identity_policies: [], issue_time: rfc3339(t.createdMs, t.createdTail, off),
    meta: t.meta === null ? null : clone(t.meta), num_uses: 0, orphan: true, path: t.path,
    policies: t.policies.slice(), renewable: t.renewable,
    ttl: t.expireAtMs === null ? 0 : Math.max(0, Math.floor((t.expireAtMs - now) / 1000)),
  })}));
}

function renewSelf(req, res, entry, ctx, raw) {
  entry.endpoint = 'renew_self';
  if (req.method !== 'POST' && req.method !== 'PUT') return methodNotAllowed(res, entry);
  const t = requireToken(res, entry, ctx);
  if (!t) return;
  const body = parseBody(res, entry, raw);
  if (!body) return;
  let inc = 0;
  if (body.increment !== undefined && body.increment !== null && body.increment !== '') {
    const v = parseDurationSec(body.increment);
    if (v === null) return fail(res, entry, 400, ['invalid increment'], 'bad_increment');
    inc = v;
    entry.reason = `increment ${v}s`;
  }
  if (!t.renewable) {
    stats.renew_refused += 1;
    return fail(res, entry, 400, ['lease is not renewable'], 'not_renewable');
  }
  const now = nowMs();
  const want = inc > 0 ? inc : t.ttl;
  const cap = Math.floor((t.createdMs + t.maxTtl * 1000 - now) / 1000);
  let ttl = want;
  let warnings = null;
  if (want > cap) {
    ttl = Math.max(0, cap);
    warnings = [`TTL of "${goDuration(want)}" exceeded the effective max_ttl of "${goDuration(ttl)}"; TTL value is capped accordingly`];
  }
  t.expireAtMs = now + ttl * 1000;
  t.expireTail = subMs();
  t.renewals += 1;
  stats.renewals += 1;
  entry.outcome = 'ok';
  entry.token_ttl = ttl;
  send(res, entry, 200, envelope({auth: authBlock(t, ttl), warnings}));
}

function loginAppRole(req, res, entry, ctx, raw, mount) {
  entry.endpoint = 'approle_login';
  const body = parseBody(res, entry, raw);
  if (!body) return void (stats.login_failures.approle += 1);
  const failed = (status, msg, outcome) => { stats.login_failures.approle += 1; fail(res, entry, status, [msg], outcome); };
  const roleId = typeof body.role_id === 'string' ? body.role_id.trim() : '';
  if (roleId === '') return failed(400, 'missing role_id', 'missing_field');
  const role = state.approle.get(roleId);
  if (!role || role.token.namespace !== ctx.ns) return failed(400, BAD_APPROLE, 'invalid_credentials');
  if (role.bind_secret_id) {
    const sid = typeof body.secret_id === 'string' ? body.secret_id.trim() : '';
    if (sid === '') return failed(400, 'missing secret_id', 'missing_field');
    const e = role.secretIds.get(sid);
    if (!e) return failed(400, BAD_APPROLE, 'invalid_credentials');
    if (e.usesLeft !== null) {
      e.usesLeft -= 1;
      if (e.usesLeft <= 0) role.secretIds.delete(sid);
    }
  }
  const t = issueToken(Object.assign({}, role.token, {via: 'approle', path: `auth/${mount}/login`,
    display_name: mount === 'approle' ? 'approle' : mount, meta: {role_name: role.role_name}}));
  stats.logins.approle += 1;
  stats.tokens_issued += 1;
  entry.outcome = 'ok';
  entry.issued_fp = t.fp;
  send(res, entry, 200, envelope({auth: authBlock(t, t.ttl)}));
}

function jwtClaims(jwt) {
  const parts = jwt.split('.');
  if (parts.length !== 3) return null;
  try {
    const v = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return isObject(v) ? v : null;
  } catch (e) {
    return null;
  }
}
function loginKubernetes(req, res, entry, ctx, raw, mount) {
  entry.endpoint = 'kubernetes_login';
  const body = parseBody(res, entry, raw);
  if (!body) return void (stats.login_failures.kubernetes += 1);
  const failed = (status, msg, outcome, reason) => { stats.login_failures.kubernetes += 1; fail(res, entry, status, [msg], outcome, reason); };
  const roleName = typeof body.role === 'string' ? body.role : '';
  if (roleName === '') return failed(400, 'missing role', 'missing_field');
  const jwt = typeof body.jwt === 'string' ? body.jwt : '';
  if (jwt === '') return failed(400, 'missing jwt', 'missing_field');
  const role = state.kubernetes.get(roleName);
  if (!role || role.token.namespace !== ctx.ns) return failed(400, `invalid role name "${roleName}"`, 'invalid_credentials');
  const claims = jwtClaims(jwt) || {};
  if (role.jwt !== null) {
    const a = Buffer.from(jwt), b = Buffer.from(role.jwt);
    if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) return failed(403, PERMISSION_DENIED, 'invalid_credentials', 'jwt_mismatch');
  } else {
    for (const [k, v] of Object.entries(role.jwt_claims)) {
      if (JSON.stringify(claims[k]) !== JSON.stringify(v)) return failed(403, PERMISSION_DENIED, 'invalid_credentials', 'claim_mismatch');
    }
  }
  if (typeof claims.exp === 'number' && claims.exp * 1000 <= nowMs()) return failed(403, PERMISSION_DENIED, 'invalid_credentials', 'jwt_expired');
  const k8s = isObject(claims['kubernetes.io']) ? claims['kubernetes.io'] : {};
  const sa = isObject(k8s.serviceaccount) ? k8s.serviceaccount : {};
  const saName = role.sa.name || sa.name || claims['kubernetes.io/serviceaccount/service-account.name'] || 'default';
  const saNs = role.sa.namespace || k8s.namespace || claims['kubernetes.io/serviceaccount/namespace'] || 'default';
  const saUid = role.sa.uid || sa.uid || claims['kubernetes.io/serviceaccount/service-account.uid'] || crypto.randomUUID();
  const meta = {role: roleName, service_account_name: String(saName), service_account_namespace: String(saNs),
    service_account_secret_name: String(claims['kubernetes.io/serviceaccount/secret.name'] || ''), service_account_uid: String(saUid)};
  const t = issueToken(Object.assign({}, role.token, {via: 'kubernetes', path: `auth/${mount}/login`,
    display_name: `${mount}-${meta.service_account_namespace}-${meta.service_account_name}`, meta}));
  stats.logins.kubernetes += 1;
  stats.tokens_issued += 1;
  entry.outcome = 'ok';
  entry.issued_fp = t.fp;
  send(res, entry, 200, envelope({auth: authBlock(t, t.ttl)}));
}

function unwrap(req, res, entry, ctx, raw) {
  entry.endpoint = 'unwrap';
  if (req.method !== 'POST' && req.method !== 'PUT') return methodNotAllowed(res, entry);
  const body = parseBody(res, entry, raw);
  if (!body) return void (stats.unwrap_failures += 1);
  const wtok = typeof body.token === 'string' && body.token !== '' ? body.token : ctx.token;
  if (!wtok) {
    stats.unwrap_failures += 1;
    return denied(res, entry, 'no_token');
  }
  entry.wrapping_fp = fp(wtok);
  const w = state.wrapped.get(wtok);
  if (!w || nowMs() >= w.expireAtMs || w.namespace !== ctx.ns) {
    stats.unwrap_failures += 1;
    return fail(res, entry, 400, [BAD_WRAPPING], 'bad_wrapping_token', !w ? 'unknown_or_used' : w.namespace !== ctx.ns ? 'namespace' : 'expired');
  }
  state.wrapped.delete(wtok); // single use
  stats.unwraps += 1;
  entry.outcome = 'ok';
  send(res, entry, 200, envelope({data: clone(w.data)}));
}

// ---- /v1 dispatch -----------------------------------------------------------------------------
function vaultRequest(req, res, entry, raw, url) {
  const injectable = !injectRe || injectRe.test(url.pathname);
  if (injectable && control.delay_ms > 0) {
    stats.delayed += 1;
    setTimeout(() => vaultDecide(req, res, entry, raw, url, injectable), control.delay_ms);
  } else {
    vaultDecide(req, res, entry, raw, url, injectable);
  }
}
function vaultDecide(req, res, entry, raw, url, injectable) {
  if (injectable) {
    if (control.fail_next.length) {
      const f = control.fail_next.shift();
      stats.injected += 1;
      entry.outcome = 'injected';
      return send(res, entry, f.status, f.body, f.headers);
    }
    const sn = control.status_next;
    if (sn && sn.count > 0) {
      sn.count -= 1;
      if (sn.count === 0) control.status_next = null;
      stats.injected += 1;
      return fail(res, entry, sn.status, sn.errors.slice(), 'status_next', null, sn.headers);
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
      count(entry, 'hung');
      log(entry);
      return; // never answered; destroyed at shutdown
    }
  }
  if (control.sealed) {
    stats.sealed_503 += 1;
    return fail(res, entry, 503, [SEALED], 'sealed');
  }
  if (control.standby) {
    stats.standby_500 += 1;
    return fail(res, entry, 500, [STANDBY], 'standby');
  }

  const ctx = Object.assign(resolveNamespace(url.pathname.slice('/v1/'.length), req.headers['x-vault-namespace']), presentedToken(req));
  entry.namespace = ctx.ns;
  if (ctx.ns !== '' && ctx.ns !== state.namespace) return denied(res, entry, 'unknown_namespace');
  const p = ctx.path;
  const m = req.method;
  const post = m === 'POST' || m === 'PUT';
  if (p === 'sys/internal/ui/mounts' || p.startsWith('sys/internal/ui/mounts/')) return mountsLookup(req, res, entry, ctx);
  if (p === 'sys/wrapping/unwrap') return unwrap(req, res, entry, ctx, raw);
  if (p === 'auth/token/lookup-self') return lookupSelf(req, res, entry, ctx);
  if (p === 'auth/token/renew-self') return renewSelf(req, res, entry, ctx, raw);
  const login = /^auth\/(.+)\/login$/.exec(p);
  if (login && state.authMounts.has(login[1])) {
    const kind = state.authMounts.get(login[1]);
    if (!post) { entry.endpoint = `${kind}_login`; return methodNotAllowed(res, entry); }
    if (kind === 'approle') return loginAppRole(req, res, entry, ctx, raw, login[1]);
    return loginKubernetes(req, res, entry, ctx, raw, login[1]);
  }
  if (p === 'sys' || p.startsWith('sys/') || p === 'auth' || p.startsWith('auth/')) {
    entry.endpoint = 'other';
    const t = requireToken(res, entry, ctx);
    if (!t) return;
    return fail(res, entry, 404, [UNSUPPORTED_PATH], 'unsupported_path');
  }
  entry.endpoint = 'kv';
  return kvRead(req, res, entry, ctx, url);
}

// ---- server ---------------------------------------------------------------------------------
function headerStat(map, v) {
  const key = v === undefined ? '<absent>' : String(v).slice(0, 100);
  if (map[key] === undefined && Object.keys(map).length >= 20) return;
  map[key] = (map[key] || 0) + 1;
}
function newEntry(req) {
  const tok = presentedToken(req);
  const nsh = req.headers['x-vault-namespace'];
  const xvr = req.headers['x-vault-request'];
  return {
    ts_ms: Date.now(), method: req.method, path: redactPath(req.url || '/'), status: null, endpoint: 'unknown',
    outcome: null, namespace_header: nsh === undefined ? null : String(nsh).slice(0, 100), namespace: null,
    token_sent: tok.token !== null, token_via: tok.via, token_fp: tok.token === null ? null : fp(tok.token),
    x_vault_request: xvr === undefined ? null : String(xvr).slice(0, 100),
  };
}
function route(req, res, entry, raw) {
  let url;
  try {
    url = new URL(req.url, 'http://127.0.0.1');
  } catch (e) {
    return fail(res, entry, 404, [], 'no_handler');
  }
  const p = url.pathname;
  if (p.startsWith('/__')) {
    entry.endpoint = p.slice(1);
    const bad = (e) => { entry.outcome = 'bad_control'; send(res, entry, 400, {errors: [e.message]}); };
    if (p === '/__control' && req.method === 'GET') { entry.outcome = 'ok'; return send(res, entry, 200, control); }
    if (p === '/__control' && req.method === 'POST') {
      try { applyControl(JSON.parse(raw.toString('utf8') || '{}')); } catch (e) { return bad(e); }
      entry.outcome = 'ok';
      return send(res, entry, 200, control);
    }
    if (p === '/__state' && req.method === 'GET') { entry.outcome = 'ok'; return send(res, entry, 200, stateSummary()); }
    if (p === '/__state' && req.method === 'POST') {
      try { applyState(JSON.parse(raw.toString('utf8') || '{}')); } catch (e) { return bad(e); }
      entry.outcome = 'ok';
      return send(res, entry, 200, stateSummary());
    }
    if (p === '/__stats' && req.method === 'GET') {
      const now = nowMs();
      let valid = 0;
      for (const t of state.tokens.values()) if (tokenValid(t, now)) valid += 1;
      entry.outcome = 'ok';
      return send(res, entry, 200, Object.assign({}, stats, {valid_tokens: valid}));
    }
    return fail(res, entry, 404, [], 'no_handler');
  }
  if (!p.startsWith('/v1/')) return fail(res, entry, 404, [], 'no_handler');
  stats.requests += 1;
  const tok = presentedToken(req);
  stats.token_header[tok.via || 'none'] += 1;
  headerStat(stats.x_vault_namespace, req.headers['x-vault-namespace']);
  headerStat(stats.x_vault_request, req.headers['x-vault-request']);
  const vq = url.searchParams.get('version');
  if (vq !== null && /^\d{1,9}$/.test(vq)) entry.version = vq;
  return vaultRequest(req, res, entry, raw, url);
}

function tooLarge(res, entry) {
  fail(res, entry, 413, ['http: request body too large'], 'too_large', null, {connection: 'close'});
}
function onRequest(req, res) {
  const entry = newEntry(req);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY) {
    tooLarge(res, entry);
    req.resume();
    return;
  }
  const chunks = [];
  let size = 0, over = false;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) { over = true; chunks.length = 0; }
    if (!over) chunks.push(c);
    if (size > 16 * MAX_BODY) req.destroy();
  });
  req.on('end', () => {
    if (over) return tooLarge(res, entry);
    try {
      route(req, res, entry, Buffer.concat(chunks));
    } catch (e) {
      process.stderr.write(`vault_server: internal error: ${e.message}\n`);
      fail(res, entry, 500, ['internal error'], 'internal');
    }
  });
  req.on('error', () => {});
}

let server;
if (opts.tlsCert) {
  let cert, key;
  try {
    cert = fs.readFileSync(opts.tlsCert);
    key = fs.readFileSync(opts.tlsKey);
  } catch (e) {
    process.stderr.write(`vault_server: cannot read the TLS certificate or key: ${e.code || e.message}\n`);
    process.exit(66);
  }
  server = https.createServer({cert, key}, onRequest);
  server.on('tlsClientError', () => {}); // a client refusing our certificate: nothing to do
} else {
  server = http.createServer(onRequest);
}
server.requestTimeout = 0; // hung requests stay hung until the server stops
serve(server, 'vault_server', opts.portFile, opts.tlsCert ? 'https' : 'http');
