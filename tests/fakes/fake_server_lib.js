// The plumbing every fake server under tests/fakes/ shares, so that each fake's own file holds
// only the protocol it imitates (and the document it follows). Node standard library only.
//
// Guarantees, for every fake that uses it:
//   - the same command line rules: "--name value" pairs, unknown names or a missing value exit
//     64 with the usage text, --port-file is required;
//   - fixtures that cannot be read stop the fake at start-up (exit 70, as do fixtures that are
//     not what a fake expects), naming the file;
//   - the JSON-lines request log never throws (a write failure is reported on stderr);
//   - a reply to a client that has gone away is logged (client_gone) and not written;
//   - the server listens on 127.0.0.1 port 0 and writes the port to --port-file atomically
//     (F.tmp, then rename), so a test that sees the file can connect;
//   - SIGTERM/SIGINT close the listener and destroy every open socket, hung requests included,
//     then exit 0.
// Used by anthropic_token_server.js, vault_server.js and aws/{secretsmanager,imds,
// container_credentials}.js; claude_code_sim.js uses its fingerprint.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

// A short, stable fingerprint of a secret, for logs and control views (never the secret).
const fingerprint = (s) => crypto.createHash('sha256').update(String(s)).digest('hex').slice(0, 12);

// names: {'--flag': 'optionKey'}; defaults: the options object's starting values.
function parseArgs(prog, usage, names, defaults) {
  const opts = Object.assign({portFile: null, log: null}, defaults);
  const all = Object.assign({'--port-file': 'portFile', '--log': 'log'}, names);
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const key = all[a[i]];
    if (!key || i + 1 >= a.length) {
      process.stderr.write(`${prog}: bad argument ${JSON.stringify(a[i])}\n${usage}`);
      process.exit(64);
    }
    opts[key] = a[++i];
  }
  if (!opts.portFile) {
    process.stderr.write(usage);
    process.exit(64);
  }
  return opts;
}

// A reader of the fixture files below dir: fixture(relativePath) -> text.
function fixtureReader(prog, dir) {
  return (rel) => {
    const file = path.join(dir, rel);
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (e) {
      process.stderr.write(`${prog}: missing fixture ${file}: ${e.code || e.message}\n`);
      process.exit(70);
    }
  };
}

// log(entry): one JSON line per call to file; a no-op without a file.
function jsonLogger(prog, file) {
  return (entry) => {
    if (!file) return;
    try {
      fs.appendFileSync(file, JSON.stringify(entry) + '\n');
    } catch (e) {
      process.stderr.write(`${prog}: cannot write log: ${e.code || e.message}\n`);
    }
  };
}

// The body as a Buffer for a string, a Buffer, or anything else as JSON (null/undefined: empty).
function bodyBytes(body, jsonSuffix = '') {
  if (Buffer.isBuffer(body)) return body;
  if (body === null || body === undefined) return Buffer.alloc(0);
  return Buffer.from(typeof body === 'string' ? body : JSON.stringify(body) + jsonSuffix);
}

// Logs entry (with its status) and writes the reply unless the client has gone; a HEAD request
// gets the headers only. headers must already include content-type.
function writeReply(res, entry, log, status, data, headers) {
  const h = Object.assign({}, headers, {'content-length': data.length});
  entry.status = status;
  const gone = res.destroyed || res.writableEnded || !res.socket || res.socket.destroyed;
  if (gone) entry.client_gone = true;
  log(entry);
  if (gone) return;
  try {
    res.writeHead(status, h);
    res.end(entry.method === 'HEAD' ? undefined : data);
  } catch (e) {
    res.destroy();
  }
}

// The whole request body, or null when it exceeds limit bytes (reading stops at 16x the limit:
// a runaway body) or the request fails.
function readBody(req, limit) {
  return new Promise((resolve) => {
    const chunks = [];
    let size = 0;
    let over = false;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
      } else {
        chunks.push(c);
      }
      if (size > 16 * limit) req.destroy();
    });
    req.on('end', () => resolve(over ? null : Buffer.concat(chunks)));
    req.on('error', () => resolve(null));
    req.on('close', () => resolve(null)); // aborted before the end ('end' resolves first otherwise)
  });
}

// Listens on 127.0.0.1:0, publishes the port, and stops cleanly on SIGTERM/SIGINT.
function serve(server, prog, portFile, scheme = 'http') {
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  const shutdown = () => {
    server.close();
    for (const s of sockets) s.destroy();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  server.listen(0, '127.0.0.1', () => {
    const port = server.address().port;
    const tmp = `${portFile}.tmp`;
    fs.writeFileSync(tmp, `${port}\n`);
    fs.renameSync(tmp, portFile);
    process.stderr.write(`${prog}: listening on ${scheme}://127.0.0.1:${port}\n`);
  });
}

module.exports = {fingerprint, parseArgs, fixtureReader, jsonLogger, bodyBytes, writeReply, readBody, serve};
