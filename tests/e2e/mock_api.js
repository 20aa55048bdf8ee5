#!/usr/bin/env node
// A mock of the Anthropic Messages API for the end-to-end tests with the real Claude Code
// client (node standard library only). Listens on 127.0.0.1, port 0 (the OS picks one),
// and writes the port to --port-file once it is listening.
//
//   node mock_api.js --port-file F --log F [--config F]
//
// Also a module: mock_org.js requires it (configure, handleRequest) to serve the
// organization's gateway over TLS with the same answers and log lines.
//
// Answers:
//   POST /v1/messages               JSON, or SSE when the body has "stream": true
//                                   (message_start, content_block_start, content_block_delta,
//                                   content_block_stop, message_delta, message_stop)
//   POST /v1/messages/count_tokens  {"input_tokens": N}
//   HEAD / (and GET /)              200
// The read-only tool is run inside the mock's working directory (Read: ./README.txt), so
// start it in Claude Code's working directory.
//   anything else                   404 with the API's error body shape
//
// Every request is logged to --log as one JSON line: ts_ms (epoch milliseconds, float),
// method, path, x_api_key, authorization, session (x-claude-code-session-id: one per
// `claude -p` process), retry_count (x-stainless-retry-count), status, and for /v1/messages stream, model,
// tools (count), assistant_turns, answer ("text" | "tool_use:<name>"), tool_result ("ok" |
// "error": what the client reported for the previous tool_use), plus
// "rejected": true / "expired_key_used": true when the key was refused. The keys in these
// tests are fake; the log exists to check which key each request carried.
//
// --config is a JSON file re-read on every request (absent or unreadable = defaults):
//   {
//     "reject_keys": ["k1", ...],          // 401 authentication_error for these keys
//                                          // (a blank or missing key always gets 401)
//     "key_expiry": {"k2": 1795330575.5},  // unix seconds; later requests with k2: 401,
//                                          // logged with "expired_key_used": true
//     "tool_turns": 2,                     // the first N assistant turns of a conversation
//                                          // (a request offering tools) answer with a
//                                          // tool_use of a read-only tool, then text
//     "reply_text": "...",                 // the final text answer
//     "turn_delay_ms": 9000                // answer /v1/messages this long after the
//                                          // request arrived (authentication is checked
//                                          // on arrival, as the real API does); stretches
//                                          // a conversation over a credential's lifetime
//   }
'use strict';
const http = require('http');
const fs = require('fs');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
// Set from the command line below, or by configure() when another mock (mock_org.js)
// requires this file and serves its requests through handleRequest().
let logFile = null;
let configFile = null;

const DEFAULT_REPLY = 'Hello from the mock API.';

function readConfig() {
  if (!configFile) return {};
  try {
    return JSON.parse(fs.readFileSync(configFile, 'utf8'));
  } catch (e) {
    return {};
  }
}

function log(entry) {
  fs.appendFileSync(logFile, JSON.stringify(entry) + '\n');
}

function keyOf(req) {
  const x = req.headers['x-api-key'];
  if (x) return x;
  const a = req.headers['authorization'] || '';
  const m = /^Bearer\s+(.*)$/i.exec(a);
  return m ? m[1] : '';
}

function sendJson(res, status, body, extraHeaders) {
  const data = JSON.stringify(body);
  res.writeHead(status, Object.assign({
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(data),
    'request-id': 'req_mock_' + Date.now(),
  }, extraHeaders || {}));
  res.end(data);
}

function apiError(res, status, type, message) {
  sendJson(res, status, {type: 'error', error: {type, message}});
}

// Read-only tools, in order of preference, and a harmless input for each.
const READ_ONLY_TOOLS = [
  ['LS', () => ({path: process.cwd()})],
  ['Glob', () => ({pattern: '*.does-not-exist-ckh-e2e'})],
  ['Grep', () => ({pattern: 'ckh-e2e-no-such-string', path: process.cwd()})],
  ['Read', () => ({file_path: require('path').join(process.cwd(), 'README.txt')})],
];

function pickTool(tools) {
  const names = new Set((tools || []).map((t) => t && t.name));
  for (const [name, input] of READ_ONLY_TOOLS) if (names.has(name)) return {name, input: input()};
  return null;
}

let idCounter = 0;
function newId(prefix) {
  idCounter += 1;
  return `${prefix}_mock${process.pid}_${idCounter}`;
}

function usage(inTokens, outTokens) {
  return {
    input_tokens: inTokens, output_tokens: outTokens,
    cache_creation_input_tokens: 0, cache_read_input_tokens: 0,
  };
}

function answerMessages(req, res, body, entry, cfg) {
  const model = body.model || 'claude-mock';
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const assistantTurns = messages.filter((m) => m && m.role === 'assistant').length;
  const toolTurns = Number(cfg.tool_turns || 0);
  const tool = Array.isArray(body.tools) && body.tools.length && assistantTurns < toolTurns
    ? pickTool(body.tools) : null;
  entry.stream = !!body.stream;
  entry.model = model;
  entry.tools = Array.isArray(body.tools) ? body.tools.length : 0;
  entry.assistant_turns = assistantTurns;
  entry.answer = tool ? 'tool_use:' + tool.name : 'text';
  // Did the client run the previous tool_use? (the last user message's tool_result)
  const last = messages.length ? messages[messages.length - 1] : null;
  const results = last && Array.isArray(last.content)
    ? last.content.filter((b) => b && b.type === 'tool_result') : [];
  if (results.length) entry.tool_result = results.some((b) => b.is_error) ? 'error' : 'ok';
  if (process.env.CKH_MOCK_LOG_TOOL_NAMES === '1' && Array.isArray(body.tools))
    entry.tool_names = body.tools.map((t) => t && t.name);
  const text = typeof cfg.reply_text === 'string' ? cfg.reply_text : DEFAULT_REPLY;
  const msgId = newId('msg');
  const block = tool
    ? {type: 'tool_use', id: newId('toolu'), name: tool.name, input: tool.input}
    : {type: 'text', text};
  const stopReason = tool ? 'tool_use' : 'end_turn';

  if (!body.stream) {
    entry.status = 200;
    log(entry);
    sendJson(res, 200, {
      id: msgId, type: 'message', role: 'assistant', model, content: [block],
      stop_reason: stopReason, stop_sequence: null, usage: usage(10, 5),
    });
    return;
  }
  entry.status = 200;
  log(entry);
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'request-id': 'req_mock_' + Date.now(),
  });
  const ev = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify(Object.assign({type}, data))}\n\n`);
  ev('message_start', {message: {
    id: msgId, type: 'message', role: 'assistant', model, content: [],
    stop_reason: null, stop_sequence: null, usage: usage(10, 1),
  }});
  if (tool) {
    ev('content_block_start', {index: 0, content_block: {type: 'tool_use', id: block.id, name: tool.name, input: {}}});
    ev('content_block_delta', {index: 0, delta: {type: 'input_json_delta', partial_json: JSON.stringify(tool.input)}});
  } else {
    ev('content_block_start', {index: 0, content_block: {type: 'text', text: ''}});
    ev('content_block_delta', {index: 0, delta: {type: 'text_delta', text}});
  }
  ev('content_block_stop', {index: 0});
  ev('message_delta', {delta: {stop_reason: stopReason, stop_sequence: null}, usage: {output_tokens: 5}});
  ev('message_stop', {});
  res.end();
}

// One request, answered as described above. extraEntry: more fields for its log line.
function handleRequest(req, res, extraEntry) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const cfg = readConfig();
    const path = (req.url || '/').split('?')[0];
    const key = keyOf(req);
    const entry = {
      ts_ms: performance.timeOrigin + performance.now(),
      method: req.method,
      path,
      x_api_key: req.headers['x-api-key'] ?? null,
      authorization: req.headers['authorization'] ?? null,
    };
    Object.assign(entry, extraEntry || {});
    // Which claude process (one session id per `claude -p`) and which attempt it was.
    if (req.headers['x-claude-code-session-id']) entry.session = req.headers['x-claude-code-session-id'];
    if (req.headers['x-stainless-retry-count']) entry.retry_count = Number(req.headers['x-stainless-retry-count']);
    if (process.env.CKH_MOCK_LOG_HEADERS === '1') entry.headers = Object.keys(req.headers);
    try {
      if ((req.method === 'HEAD' || req.method === 'GET') && path === '/') {
        entry.status = 200;
        log(entry);
        res.writeHead(200, {'content-type': 'text/plain', 'content-length': 2});
        res.end(req.method === 'HEAD' ? undefined : 'ok');
        return;
      }
      const isMessages = path === '/v1/messages' || path === '/v1/messages/count_tokens';
      if (req.method !== 'POST' || !isMessages) {
        entry.status = 404;
        log(entry);
        apiError(res, 404, 'not_found_error', `${req.method} ${path} is not served by the mock`);
        return;
      }
      // Authentication, as the real API does it: before anything else.
      const expiry = (cfg.key_expiry || {})[key];
      const expired = typeof expiry === 'number' && Date.now() / 1000 >= expiry;
      const rejected = (cfg.reject_keys || []).includes(key) || key === '';
      if (expired || rejected) {
        entry.status = 401;
        if (rejected) entry.rejected = true;
        if (expired) entry.expired_key_used = true;
        log(entry);
        apiError(res, 401, 'authentication_error', 'invalid x-api-key');
        return;
      }
      let body = {};
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
      } catch (e) {
        entry.status = 400;
        log(entry);
        apiError(res, 400, 'invalid_request_error', 'body is not valid JSON');
        return;
      }
      if (path === '/v1/messages/count_tokens') {
        entry.status = 200;
        log(entry);
        sendJson(res, 200, {input_tokens: 42});
        return;
      }
      const delay = Number(cfg.turn_delay_ms || 0);
      if (delay > 0) setTimeout(() => answerMessages(req, res, body, entry, cfg), delay);
      else answerMessages(req, res, body, entry, cfg);
    } catch (e) {
      entry.status = 500;
      entry.error = String(e && e.message);
      try { log(entry); } catch (_) { /* nothing more to do */ }
      if (!res.headersSent) apiError(res, 500, 'api_error', 'mock failure');
      else res.end();
    }
  });
}

module.exports = {
  handleRequest,
  configure(options) {
    logFile = options.logFile;
    configFile = options.configFile || null;
  },
};

if (require.main === module) {
  const portFile = arg('--port-file');
  logFile = arg('--log');
  configFile = arg('--config');
  if (!portFile || !logFile) {
    process.stderr.write('usage: mock_api.js --port-file F --log F [--config F]\n');
    process.exit(64);
  }
  const server = http.createServer((req, res) => handleRequest(req, res));
  server.listen(0, '127.0.0.1', () => {
    const tmp = portFile + '.tmp';
    fs.writeFileSync(tmp, String(server.address().port) + '\n');
    fs.renameSync(tmp, portFile);
  });
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
}
