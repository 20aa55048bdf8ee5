#!/usr/bin/env node
// The organization side of the `helper-script` contract for the end-to-end tests with the
// real Claude Code client (/work/shared/CLAUDE_CODE.md, "The organization credential helper"),
// node standard library only: ONE TLS server (port 443 of 127.0.0.1 inside the test's private
// network namespace) that is both
//   - api.anthropic.com: GET /v1/desktop/orgs/<org>/claude_code/bootstrap answers the
//     organization's document (--document, re-read on every request) to
//     "Authorization: Bearer <bootstrap_token>" (from --config), 401 to anything else;
//     every other path: 404 with the API's error body shape;
//   - the organization's gateway (--gateway-host): everything mock_api.js answers
//     (POST /v1/messages as JSON or SSE, tool turns, reject_keys, key_expiry, turn_delay_ms),
//     through mock_api.js's own handler, so both mocks judge keys the same way.
// Any other Host: 421. The certificate (--cert/--key) must name both hosts; the client
// trusts it through NODE_EXTRA_CA_CERTS.
//
//   node mock_org.js --cert F --key F --log F --config F --document F
//                    [--gateway-host gateway.example.test] [--port 443] [--ready-file F]
//
// Log (--log): one JSON line per request, mock_api.js's fields (ts_ms, method, path,
// x_api_key, authorization, status, answer, ...) plus "host". --config is mock_api.js's
// config (re-read on every request) plus "bootstrap_token". --ready-file is written once
// the server listens.
'use strict';
const https = require('https');
const fs = require('fs');
const mock = require('./mock_api.js');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const certFile = arg('--cert');
const keyFile = arg('--key');
const logFile = arg('--log');
const configFile = arg('--config');
const documentFile = arg('--document');
const gatewayHost = arg('--gateway-host', 'gateway.example.test');
const apiHost = 'api.anthropic.com';
const port = Number(arg('--port', '443'));
const readyFile = arg('--ready-file');
if (!certFile || !keyFile || !logFile || !configFile || !documentFile) {
  process.stderr.write('usage: mock_org.js --cert F --key F --log F --config F --document F ' +
                       '[--gateway-host H] [--port N] [--ready-file F]\n');
  process.exit(64);
}
mock.configure({logFile, configFile});

function readJson(path) {
  try {
    return JSON.parse(fs.readFileSync(path, 'utf8'));
  } catch (e) {
    return null;
  }
}

function send(res, entry, status, body) {
  entry.status = status;
  fs.appendFileSync(logFile, JSON.stringify(entry) + '\n');
  const data = JSON.stringify(body);
  res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(data)});
  res.end(data);
}

const BOOTSTRAP = /^\/v1\/desktop\/orgs\/([^/]+)\/claude_code\/bootstrap$/;

function serveApi(req, res, host) {
  req.resume();
  req.on('end', () => {
    const path = (req.url || '/').split('?')[0];
    const entry = {
      ts_ms: performance.timeOrigin + performance.now(), host, method: req.method, path,
      x_api_key: req.headers['x-api-key'] ?? null, authorization: req.headers['authorization'] ?? null,
    };
    const m = BOOTSTRAP.exec(path);
    if (req.method !== 'GET' || !m) {
      send(res, entry, 404, {type: 'error', error: {type: 'not_found_error', message: `${req.method} ${path} is not served by the mock`}});
      return;
    }
    const cfg = readJson(configFile) || {};
    const doc = readJson(documentFile);
    entry.org = m[1];
    if (!cfg.bootstrap_token || req.headers['authorization'] !== `Bearer ${cfg.bootstrap_token}`) {
      send(res, entry, 401, {type: 'error', error: {type: 'authentication_error', message: 'invalid sign-in token'}});
    } else if (!doc || doc.deploymentOrganizationUuid !== m[1]) {
      send(res, entry, 404, {type: 'error', error: {type: 'not_found_error', message: 'no such organization'}});
    } else {
      send(res, entry, 200, doc);
    }
  });
}

const server = https.createServer({cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile)}, (req, res) => {
  const host = String(req.headers.host || '').replace(/:\d+$/, '').toLowerCase();
  if (host === apiHost) return serveApi(req, res, host);
  if (host === gatewayHost) return mock.handleRequest(req, res, {host});
  req.resume();
  req.on('end', () => send(res, {ts_ms: performance.timeOrigin + performance.now(), host, method: req.method,
                                 path: (req.url || '/').split('?')[0]}, 421, {error: 'unknown host'}));
});

server.listen(port, '127.0.0.1', () => {
  if (readyFile) {
    fs.writeFileSync(readyFile + '.tmp', String(server.address().port) + '\n');
    fs.renameSync(readyFile + '.tmp', readyFile);
  }
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
