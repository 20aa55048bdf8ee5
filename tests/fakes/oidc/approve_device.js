#!/usr/bin/env node
// approve_device.js [--node-modules DIR] --issuer URL --ca ca.pem --user-code CODE [--deny]
//                   [--account alice]
// The user's side of the RFC 8628 device flow against server.js, through oidc-provider's OWN
// pages, with plain HTTPS (node's https with --ca, a small cookie jar, redirects followed here;
// no browser), as a person at a browser would:
//   GET  /device                 the user-code form (hidden xsrf)
//   POST /device                 xsrf + user_code -> the "Confirm Device" page
//   POST /device                 its form (confirm=yes) -> 303 /interaction/UID
//   POST /interaction/UID        the dev login form: prompt=login, login=ACCOUNT, any password
//   POST /interaction/UID        the consent form (prompt=consent; openid offline_access ...)
//   ... until the "Sign-in Success" page: prints "approved CODE", exit 0.
// With --deny the Confirm Device page's [ Abort ] button is pressed instead (abort=yes); the
// provider records access_denied for the device code (the poller gets access_denied) and shows
// "The Sign-in request was interrupted": prints "denied CODE", exit 0.
// Any other page: exit 1 with the HTTP status, the URL and the first 300 characters of the
// page's text (tags stripped: the head of these pages is only boilerplate and CSS).
// --node-modules is accepted for symmetry with the other scripts and not needed (node only).
'use strict';
const fs = require('fs');
const https = require('https');

const USAGE = 'usage: approve_device.js [--node-modules DIR] --issuer URL --ca ca.pem --user-code CODE [--deny] [--account alice]\n';
const opts = {account: 'alice', deny: false};
const names = {'--node-modules': 'nodeModules', '--issuer': 'issuer', '--ca': 'ca', '--user-code': 'userCode', '--account': 'account'};
const a = process.argv.slice(2);
for (let i = 0; i < a.length; i++) {
  if (a[i] === '--deny') { opts.deny = true; continue; }
  if (!names[a[i]] || i + 1 >= a.length) { process.stderr.write(USAGE); process.exit(64); }
  opts[names[a[i]]] = a[++i];
}
if (!opts.issuer || !opts.ca || !opts.userCode) { process.stderr.write(USAGE); process.exit(64); }
const CA = fs.readFileSync(opts.ca);

// The page's visible text (its <body> without tags), which names what the provider objected to.
const pageText = (html) => {
  const m = /<body[^>]*>([\s\S]*)<\/body>/i.exec(html);
  return decode((m ? m[1] : html).replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]*>/g, ' '))
    .replace(/\s+/g, ' ').trim();
};

function fail(msg, page) {
  let text = `approve_device: ${msg}`;
  if (page) text += `\nHTTP ${page.status} ${page.url}\n${pageText(page.body).slice(0, 300)}`;
  process.stderr.write(text + '\n');
  process.exit(1);
}

// ---- cookie jar (name + path; expiry honoured) --------------------------------------------
const jar = new Map();
function storeCookies(url, setCookie) {
  for (const line of setCookie || []) {
    const [pair, ...attrs] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const c = {name: pair.slice(0, eq), value: pair.slice(eq + 1), path: '/', expires: Infinity};
    for (const at of attrs) {
      const [k, v = ''] = at.split('=');
      if (/^path$/i.test(k)) c.path = v || '/';
      else if (/^max-age$/i.test(k)) c.expires = Date.now() + Number(v) * 1000;
      else if (/^expires$/i.test(k) && c.expires === Infinity) c.expires = Date.parse(v);
    }
    const key = `${c.name}\t${c.path}`;
    if (!(c.expires > Date.now())) jar.delete(key); else jar.set(key, c);
  }
}
function cookieHeader(url) {
  const p = url.pathname;
  return [...jar.values()]
    .filter((c) => c.expires > Date.now() && (p === c.path || p.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)))
    .sort((x, y) => y.path.length - x.path.length)
    .map((c) => `${c.name}=${c.value}`).join('; ');
}

// ---- HTTP ---------------------------------------------------------------------------------
function request(method, url, form) {
  return new Promise((resolve, reject) => {
    const body = form ? Buffer.from(new URLSearchParams(form).toString()) : null;
    const headers = {accept: 'text/html', 'user-agent': 'ckh-approve-device'};
    const cookie = cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    if (body) Object.assign(headers, {'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length});
    const req = https.request(url, {method, headers, ca: CA, timeout: 15000}, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        storeCookies(url, res.headers['set-cookie']);
        resolve({status: res.statusCode, headers: res.headers, url: url.href, body: Buffer.concat(chunks).toString('utf8')});
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

// ---- HTML forms ---------------------------------------------------------------------------
const decode = (s) => s.replace(/&(amp|lt|gt|quot|#39|#x27|#x2F|#47);/g, (m, e) =>
  ({amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'", '#x2F': '/', '#47': '/'})[e]);
const attrsOf = (s) => {
  const out = {};
  for (const m of s.matchAll(/([a-zA-Z_:.-]+)\s*=\s*"([^"]*)"/g)) out[m[1].toLowerCase()] = decode(m[2]);
  return out;
};
function formsOf(html) {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)].map((m) => {
    const attrs = attrsOf(m[1]);
    const fields = {};
    for (const i of m[2].matchAll(/<input\b([^>]*)>/gi)) {
      const ia = attrsOf(i[1]);
      if (ia.name && (ia.type || '').toLowerCase() === 'hidden') fields[ia.name] = ia.value || '';
    }
    return {id: attrs.id, action: attrs.action, fields};
  });
}
const formById = (page, id) => formsOf(page.body).find((f) => f.id === id);

// ---- the flow -----------------------------------------------------------------------------
async function main() {
  const base = new URL(opts.issuer.replace(/\/*$/, '/'));
  let page = await request('GET', new URL('device', base));
  const input = page.status === 200 && formById(page, 'op.deviceInputForm');
  if (!input) fail('no user-code form at /device', page);

  page = await request('POST', new URL(input.action, page.url), {xsrf: input.fields.xsrf, user_code: opts.userCode});
  const confirm = page.status === 200 && formById(page, 'op.deviceConfirmForm');
  if (!confirm) fail(`user code ${opts.userCode} not accepted`, page);

  if (opts.deny) {
    // The [ Abort ] button submits the confirm form with abort=yes.
    page = await request('POST', new URL(confirm.action, page.url), Object.assign({}, confirm.fields, {abort: 'yes'}));
    if (page.status !== 200 || !page.body.includes('The Sign-in request was interrupted')) fail('abort not acknowledged', page);
    process.stdout.write(`denied ${opts.userCode}\n`);
    return;
  }

  page = await request('POST', new URL(confirm.action, page.url), confirm.fields);
  for (let step = 0; step < 30; step++) {
    if (page.status >= 300 && page.status < 400 && page.headers.location) {
      page = await request('GET', new URL(page.headers.location, page.url));
      continue;
    }
    if (page.status === 200 && /<title>Sign-in Success<\/title>/.test(page.body)) {
      process.stdout.write(`approved ${opts.userCode}\n`);
      return;
    }
    const forms = page.status === 200 ? formsOf(page.body) : [];
    const login = forms.find((f) => f.fields.prompt === 'login');
    const consent = forms.find((f) => f.fields.prompt === 'consent');
    if (login) {
      page = await request('POST', new URL(login.action, page.url), {prompt: 'login', login: opts.account, password: 'any-password'});
    } else if (consent) {
      page = await request('POST', new URL(consent.action, page.url), {prompt: 'consent'});
    } else {
      fail('unexpected page', page);
    }
  }
  fail('too many steps', page);
}

main().catch((e) => fail(e.message));
