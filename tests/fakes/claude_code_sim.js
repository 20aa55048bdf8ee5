#!/usr/bin/env node
// A simulated Claude Code session for the integration tests of claude-key-refresher's
// `claude-code` sink (node standard library only). It refreshes the subscription tokens in
// Claude Code's own store the way ../shared/ANTHROPIC_OAUTH.md ("Claude Code's own credential
// store") says Claude Code does, in a loop, so a test can race it against the refresher:
//   1. read `.credentials.json` without the lock (a session starting up) and check that it is
//      a complete JSON document (never a torn write);
//   2. take Claude Code's lock: mkdir `<realpath(config dir)>.lock`; on EEXIST retry after a
//      short random sleep; a lock dir whose mtime is more than 10 s old is stale and removed
//      (rmdir) before retrying; while held, its mtime is touched every 2 s;
//   3. re-read the store under the lock; refresh only when the access token expires within
//      --window-ms (Claude Code's 5 minutes by default): POST {"grant_type":"refresh_token",
//      "refresh_token":<the store's>,"client_id":...} as JSON to --token-url;
//   4. write the store atomically (temp file 0600 in the same dir, fsync, rename, dir fsync)
//      keeping every other key, expiresAt = now + expires_in * 1000 (ms), scopes from the
//      answer's scope; then remove the lock dir.
// It never retries a refused refresh token: invalid_grant with the store's token counts as a
// lost token (the store held a spent refresh token — exactly what must never happen).
//
// Usage: node claude_code_sim.js --config-dir D --token-url URL --summary F
//          [--stop-file F] [--deadline-ms EPOCH_MS] [--name N] [--seen-tokens F]
//          [--pause-ms MIN,MAX] [--window-ms N] [--lock-give-up-ms N] [--user-agent UA]
// Runs until --stop-file exists or --deadline-ms passes, then writes a JSON summary to F:
//   {name, iterations, refreshes, skipped_fresh, invalid_grant, http_errors: {status: n},
//    network_errors, parse_errors (unlocked reads), store_missing, lock_timeouts,
//    stale_locks_removed, lock_compromised, lock_wait_ms_max, first_problem}
// Tokens it obtains are appended to --seen-tokens (a private file, for the test's leak check);
// nothing it prints (stdout/stderr/summary) holds a token: at most a 12-hex fingerprint.
'use strict';
const fs = require('fs');
const path = require('path');
const http = require('http');
const https = require('https');
const crypto = require('crypto');
const {fingerprint: fp} = require('./fake_server_lib');

const CLIENT_ID = '9d1c250a-e61b-44d9-88ed-5944d1962f5e';
const STALE_MS = 10000;
const TOUCH_MS = 2000;

const opts = {
  configDir: null, tokenUrl: null, summary: null, stopFile: null, deadlineMs: null,
  name: 'sim', seenTokens: null, pauseMs: '0,200', windowMs: '300000',
  lockGiveUpMs: '30000', userAgent: 'claude-code-sim/1.0',
};
{
  const names = {'--config-dir': 'configDir', '--token-url': 'tokenUrl', '--summary': 'summary',
    '--stop-file': 'stopFile', '--deadline-ms': 'deadlineMs', '--name': 'name',
    '--seen-tokens': 'seenTokens', '--pause-ms': 'pauseMs', '--window-ms': 'windowMs',
    '--lock-give-up-ms': 'lockGiveUpMs', '--user-agent': 'userAgent'};
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const key = names[a[i]];
    if (!key || i + 1 >= a.length) {
      process.stderr.write(`claude_code_sim: bad argument ${JSON.stringify(a[i])}\n`);
      process.exit(64);
    }
    opts[key] = a[++i];
  }
  if (!opts.configDir || !opts.tokenUrl || !opts.summary) {
    process.stderr.write('claude_code_sim: --config-dir, --token-url and --summary are required\n');
    process.exit(64);
  }
}
const [PAUSE_MIN, PAUSE_MAX] = opts.pauseMs.split(',').map(Number);
const WINDOW_MS = Number(opts.windowMs);
const LOCK_GIVE_UP_MS = Number(opts.lockGiveUpMs);
const DEADLINE = opts.deadlineMs ? Number(opts.deadlineMs) : Infinity;
const STORE = path.join(opts.configDir, '.credentials.json');
const LOCK = fs.realpathSync(opts.configDir) + '.lock';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rnd = (lo, hi) => lo + Math.random() * (hi - lo);

const summary = {
  name: opts.name, iterations: 0, refreshes: 0, skipped_fresh: 0, invalid_grant: 0,
  http_errors: {}, network_errors: 0, parse_errors: 0, store_missing: 0, lock_timeouts: 0,
  stale_locks_removed: 0, lock_compromised: 0, lock_wait_ms_max: 0, first_problem: null,
};
function problem(text) {
  if (!summary.first_problem) summary.first_problem = `${new Date().toISOString()} ${text}`;
  process.stderr.write(`claude_code_sim ${opts.name}: ${text}\n`);
}
function remember(token) {
  if (opts.seenTokens && token) fs.appendFileSync(opts.seenTokens, token + '\n', {mode: 0o600});
}
function stopping() {
  return Date.now() >= DEADLINE || (opts.stopFile && fs.existsSync(opts.stopFile));
}

// ---- the lock ---------------------------------------------------------------------------------
async function acquire() {
  const start = Date.now();
  for (;;) {
    try {
      fs.mkdirSync(LOCK, {mode: 0o700});
      const waited = Date.now() - start;
      if (waited > summary.lock_wait_ms_max) summary.lock_wait_ms_max = waited;
      return fs.statSync(LOCK).mtimeMs;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    let st = null;
    try { st = fs.statSync(LOCK); } catch (e) { if (e.code !== 'ENOENT') throw e; }
    if (st && Date.now() - st.mtimeMs > STALE_MS) {
      try { fs.rmdirSync(LOCK); summary.stale_locks_removed += 1; } catch (e) { /* raced */ }
      continue;
    }
    if (Date.now() - start > LOCK_GIVE_UP_MS || stopping()) return null;
    await sleep(rnd(20, 100));
  }
}

// ---- the store --------------------------------------------------------------------------------
function readStore() {
  let text;
  try { text = fs.readFileSync(STORE, 'utf8'); } catch (e) {
    if (e.code === 'ENOENT') return {missing: true};
    throw e;
  }
  try {
    const doc = JSON.parse(text);
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return {bad: 'not an object'};
    return {doc};
  } catch (e) {
    return {bad: `not JSON (${text.length} bytes)`};
  }
}

function writeStoreAtomically(doc) {
  const tmp = path.join(opts.configDir, `.credentials.json.sim-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(doc));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, STORE);
  const dfd = fs.openSync(opts.configDir, 'r');
  try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
}

// ---- the token request ------------------------------------------------------------------------
function refresh(refreshToken) {
  const body = JSON.stringify({grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLIENT_ID});
  const url = new URL(opts.tokenUrl);
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const req = lib.request(url, {
      method: 'POST', timeout: 10000,
      headers: {'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
        'accept': 'application/json, text/plain, */*', 'user-agent': opts.userAgent},
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({status: res.statusCode, text: Buffer.concat(chunks).toString('utf8')}));
      res.on('error', (e) => resolve({error: e.code || e.message}));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({error: e.code || e.message}));
    req.end(body);
  });
}

// ---- one session's turn -----------------------------------------------------------------------
async function turn() {
  summary.iterations += 1;
  // A session starting up reads the store without the lock: it must always be whole.
  const unlocked = readStore();
  if (unlocked.bad) {
    summary.parse_errors += 1;
    problem(`unlocked read of the store: ${unlocked.bad}`);
  }
  const mtime0 = await acquire();
  if (mtime0 === null) {
    if (!stopping()) {
      summary.lock_timeouts += 1;
      problem(`could not take ${LOCK} within ${LOCK_GIVE_UP_MS} ms`);
    }
    return;
  }
  let lastTouch = mtime0;
  let compromised = false;
  const toucher = setInterval(() => {
    try {
      const st = fs.statSync(LOCK);
      if (st.mtimeMs !== lastTouch) { compromised = true; return; }
      const now = new Date();
      fs.utimesSync(LOCK, now, now);
      lastTouch = fs.statSync(LOCK).mtimeMs;
    } catch (e) {
      compromised = true;
    }
  }, TOUCH_MS);
  try {
    const locked = readStore();
    if (locked.missing) { summary.store_missing += 1; problem('the store is missing'); return; }
    if (locked.bad) { summary.parse_errors += 1; problem(`locked read of the store: ${locked.bad}`); return; }
    const doc = locked.doc;
    const entry = doc.claudeAiOauth;
    if (!entry || typeof entry.refreshToken !== 'string' || !entry.refreshToken) {
      summary.store_missing += 1;
      problem('the store has no claudeAiOauth.refreshToken');
      return;
    }
    if (typeof entry.expiresAt === 'number' && entry.expiresAt - Date.now() > WINDOW_MS) {
      summary.skipped_fresh += 1;
      return;
    }
    const presented = entry.refreshToken;
    const answer = await refresh(presented);
    if (answer.error) { summary.network_errors += 1; problem(`token request failed: ${answer.error}`); return; }
    if (answer.status !== 200) {
      summary.http_errors[answer.status] = (summary.http_errors[answer.status] || 0) + 1;
      if (answer.status === 400 && /invalid_grant/.test(answer.text)) {
        summary.invalid_grant += 1;
        problem(`the store's refresh token ${fp(presented)} was refused (invalid_grant): a lost token`);
      } else {
        problem(`token request: HTTP ${answer.status}`);
      }
      return;
    }
    let grant;
    try { grant = JSON.parse(answer.text); } catch (e) { problem('token answer is not JSON'); return; }
    if (typeof grant.access_token !== 'string' || typeof grant.refresh_token !== 'string' ||
        !Number.isInteger(grant.expires_in)) {
      problem('token answer lacks access_token/refresh_token/expires_in');
      return;
    }
    remember(grant.access_token);
    remember(grant.refresh_token);
    doc.claudeAiOauth = Object.assign({}, entry, {
      accessToken: grant.access_token,
      refreshToken: grant.refresh_token,
      expiresAt: Date.now() + grant.expires_in * 1000,
      scopes: typeof grant.scope === 'string' ? grant.scope.split(' ').filter(Boolean)
        : Array.isArray(entry.scopes) ? entry.scopes : [],
    });
    if (compromised) {
      summary.lock_compromised += 1;
      problem('our lock was taken over or touched by someone else while we refreshed');
    }
    writeStoreAtomically(doc);
    summary.refreshes += 1;
  } finally {
    clearInterval(toucher);
    // Release only our own lock (same mtime as we last set it).
    try {
      const st = fs.statSync(LOCK);
      if (st.mtimeMs === lastTouch) fs.rmdirSync(LOCK);
      else if (!compromised) { summary.lock_compromised += 1; problem('our lock changed under us'); }
    } catch (e) {
      summary.lock_compromised += 1;
      problem(`our lock vanished under us (${e.code || e.message})`);
    }
  }
}

function writeSummary() {
  const tmp = opts.summary + '.tmp';
  fs.writeFileSync(tmp, JSON.stringify(summary) + '\n');
  fs.renameSync(tmp, opts.summary);
}

let terminated = false;
process.on('SIGTERM', () => { terminated = true; });

(async () => {
  try {
    while (!terminated && !stopping()) {
      await turn();
      await sleep(rnd(PAUSE_MIN, PAUSE_MAX));
    }
  } catch (e) {
    problem(`crashed: ${e.code || e.message}`);
    summary.crashed = true;
  }
  writeSummary();
})();
