#!/usr/bin/env node
// sign_jwt.js --node-modules DIR --key PRIVATE.pem --kid KID --alg RS256|PS256|ES256
//             --claims JSON [--ttl SECONDS]
// Prints one compact JWS signed with jose (the package oidc-provider bundles, resolved from
// DIR): header {alg, kid, typ: "JWT"}, payload = JSON plus iat = now, exp = now + SECONDS
// (default 300) and jti = a random id, unless JSON sets them. For the tests of server.js:
//   a subject token for token exchange (a simulated Kubernetes projected service-account
//   token): --claims '{"iss":"https://k8s.example","sub":"system:serviceaccount:ns:sa",
//   "aud":"gateway-exchange"}', signed by a key of --jwks-dir/subject-issuer.jwks.json;
//   a private_key_jwt client assertion: --claims '{"iss":"machine-jwt","sub":"machine-jwt",
//   "aud":"https://127.0.0.1:PORT/token"}', signed by a key of machine-jwt.jwks.json.
// Exit 64: bad usage; 1: bad key or claims; 2: jose does not load from DIR.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const {pathToFileURL} = require('url');

const USAGE = 'usage: sign_jwt.js --node-modules DIR --key PRIVATE.pem --kid KID --alg ALG --claims JSON [--ttl S]\n';
const opts = {ttl: '300'};
const names = {'--node-modules': 'nodeModules', '--key': 'key', '--kid': 'kid', '--alg': 'alg', '--claims': 'claims', '--ttl': 'ttl'};
const a = process.argv.slice(2);
for (let i = 0; i < a.length; i += 2) {
  if (!names[a[i]] || i + 1 >= a.length) { process.stderr.write(USAGE); process.exit(64); }
  opts[names[a[i]]] = a[i + 1];
}
if (!opts.nodeModules || !opts.key || !opts.kid || !opts.alg || !opts.claims || !/^-?[0-9]+$/.test(opts.ttl)) {
  process.stderr.write(USAGE);
  process.exit(64);
}

(async () => {
  let jose;
  try {
    jose = await import(pathToFileURL(require.resolve('jose', {paths: [opts.nodeModules]})).href);
  } catch (e) {
    process.stderr.write(`sign_jwt: cannot load jose from ${opts.nodeModules}: ${e.message}\n`);
    process.exit(2);
  }
  let key, claims;
  try {
    key = crypto.createPrivateKey(fs.readFileSync(opts.key));
    claims = JSON.parse(opts.claims);
  } catch (e) {
    process.stderr.write(`sign_jwt: ${e.message}\n`);
    process.exit(1);
  }
  const now = Math.floor(Date.now() / 1000);
  const payload = Object.assign({iat: now, exp: now + Number(opts.ttl), jti: crypto.randomUUID()}, claims);
  const jwt = await new jose.SignJWT(payload).setProtectedHeader({alg: opts.alg, kid: opts.kid, typ: 'JWT'}).sign(key);
  process.stdout.write(jwt + '\n');
})();
