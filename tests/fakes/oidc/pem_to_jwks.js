#!/usr/bin/env node
// pem_to_jwks.js --node-modules DIR --pem KEY.pem --kid KID [--alg ALG]
// Prints {"keys":[JWK]} for the PUBLIC half of KEY.pem (a public key, or a private key whose
// public half is taken; RSA or EC), converted with the jose package that oidc-provider bundles
// (resolved from DIR, see setup.sh). The JWK gets "kid": KID and "use": "sig", and "alg" only
// with --alg (without it the key serves every algorithm of its type: RS256 and PS256 for RSA).
// For server.js --jwks-dir: machine-jwt.jwks.json and subject-issuer.jwks.json.
// Exit 64: bad usage; 1: the key cannot be read; 2: jose does not load from DIR.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const {pathToFileURL} = require('url');

const USAGE = 'usage: pem_to_jwks.js --node-modules DIR --pem KEY.pem --kid KID [--alg ALG]\n';
const opts = {};
const names = {'--node-modules': 'nodeModules', '--pem': 'pem', '--kid': 'kid', '--alg': 'alg'};
const a = process.argv.slice(2);
for (let i = 0; i < a.length; i += 2) {
  if (!names[a[i]] || i + 1 >= a.length) { process.stderr.write(USAGE); process.exit(64); }
  opts[names[a[i]]] = a[i + 1];
}
if (!opts.nodeModules || !opts.pem || !opts.kid) { process.stderr.write(USAGE); process.exit(64); }

(async () => {
  let jose;
  try {
    jose = await import(pathToFileURL(require.resolve('jose', {paths: [opts.nodeModules]})).href);
  } catch (e) {
    process.stderr.write(`pem_to_jwks: cannot load jose from ${opts.nodeModules}: ${e.message}\n`);
    process.exit(2);
  }
  let key;
  try {
    key = crypto.createPublicKey(fs.readFileSync(opts.pem)); // a private PEM yields its public half
  } catch (e) {
    process.stderr.write(`pem_to_jwks: cannot read a key from ${opts.pem}: ${e.message}\n`);
    process.exit(1);
  }
  const jwk = await jose.exportJWK(key);
  jwk.kid = opts.kid;
  jwk.use = 'sig';
  if (opts.alg) jwk.alg = opts.alg;
  process.stdout.write(JSON.stringify({keys: [jwk]}) + '\n');
})();
