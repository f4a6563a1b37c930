// A fake Ollama with a known token schedule, for the gateway benchmark (scripts/bench-gateway.mjs).
// It runs as its own process so that the proxies under test and the measuring client never share
// its event loop.
//
// Every streamed answer is --tokens tokens: the first --ttft-ms after the request body has been
// read, then one every --itl-ms, each token on an absolute deadline (start + ttft + i × itl) so
// that a late timer never shifts the tokens after it. Each token is written in its own write on a
// socket without Nagle, so it leaves at once. Nothing in the stream carries a timing stamp: the
// client measures every token's arrival through each path and compares the paths, and the direct
// path is the reference.
//
// Routes: the native streaming `/api/chat` (NDJSON) and `/api/generate`, the OpenAI-compatible
// `/v1/chat/completions` (SSE, with `stream: false` answered as one JSON), plus what a proxy or
// gateway may probe before it sends traffic: `GET /` ("Ollama is running"), `/api/version`,
// `/api/tags`, `/api/ps` (the model is always loaded), `/api/show` and `/v1/models`. A request's
// `options.num_predict` or `max_tokens` below --tokens shortens its answer.
//
// Usage: node token-schedule-backend.mjs [--listen 127.0.0.1:0] [--ttft-ms 10] [--itl-ms 16]
//        [--tokens 6] [--model token-schedule:latest]
// Prints `listening on http://HOST:PORT` on stdout once bound; runs until SIGTERM or SIGINT.
import { createServer } from 'node:http';

function parseArgs(argv) {
  const opts = { host: '127.0.0.1', port: 0, ttftMs: 10, itlMs: 16, tokens: 6, model: 'token-schedule:latest' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    const num = (min, max) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${a}: a number ${min}–${max}`);
      return n;
    };
    if (a === '--listen') {
      const m = /^(.+):(\d+)$/.exec(v);
      if (!m) throw new Error('--listen: host:port');
      opts.host = m[1].replace(/^\[|\]$/g, '');
      opts.port = Number(m[2]);
    } else if (a === '--ttft-ms') opts.ttftMs = num(0, 60_000);
    else if (a === '--itl-ms') opts.itlMs = num(0, 60_000);
    else if (a === '--tokens') opts.tokens = Math.round(num(1, 100_000));
    else if (a === '--model') opts.model = v;
    else throw new Error(`unknown flag ${a} (flags: --listen, --ttft-ms, --itl-ms, --tokens, --model)`);
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const MODEL = opts.model;
// A constant: the frames look like Ollama's, but the backend stamps nothing the client could use.
const CREATED_AT = '2026-01-01T00:00:00.000000000Z';
const CREATED = 1767225600;
const DIGEST = 'a'.repeat(64);
const SIZE = 1_000_000_000;
const DETAILS = {
  parent_model: '',
  format: 'gguf',
  family: 'llama',
  families: ['llama'],
  parameter_size: '1B',
  quantization_level: 'Q8_0',
};

/** Token i's text: a word with a leading space, as most tokenizers split English. */
const tokenText = (i) => ` w${i}`;

// Frames are built once per token index: the backend's own CPU per token stays small and the
// same through every path, so it does not take cores from the proxy being measured.
const frames = { ndjson: [], generate: [], sse: [] };
for (let i = 0; i < opts.tokens; i++) {
  const content = tokenText(i);
  frames.ndjson.push(
    `${JSON.stringify({ model: MODEL, created_at: CREATED_AT, message: { role: 'assistant', content }, done: false })}\n`,
  );
  frames.generate.push(`${JSON.stringify({ model: MODEL, created_at: CREATED_AT, response: content, done: false })}\n`);
  frames.sse.push(
    `data: ${JSON.stringify({
      id: 'chatcmpl-schedule',
      object: 'chat.completion.chunk',
      created: CREATED,
      model: MODEL,
      system_fingerprint: 'fp_ollama',
      choices: [{ index: 0, delta: { role: 'assistant', content }, finish_reason: null }],
    })}\n\n`,
  );
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Resolves at `deadline` (performance.now() ms), or at once when it has passed. */
function until(deadline) {
  const wait = deadline - performance.now();
  return wait <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, wait));
}

/** How many tokens this request gets: --tokens, or fewer when the request asks for fewer. */
function tokenCount(body, openai) {
  const asked = openai ? (body.max_completion_tokens ?? body.max_tokens) : body.options?.num_predict;
  return Number.isInteger(asked) && asked > 0 ? Math.min(asked, opts.tokens) : opts.tokens;
}

const totals = (n, evalMs) => ({
  total_duration: Math.round((opts.ttftMs + evalMs) * 1e6),
  load_duration: 0,
  prompt_eval_count: 8,
  prompt_eval_duration: Math.round(opts.ttftMs * 1e6),
  eval_count: n,
  eval_duration: Math.max(1, Math.round(evalMs * 1e6)),
});

/** The streamed answer on the schedule; stops early when the client goes away. */
async function stream(res, kind, n, start) {
  let gone = false;
  res.on('close', () => {
    gone = !res.writableFinished;
  });
  const sse = kind === 'sse';
  res.writeHead(200, {
    'Content-Type': sse ? 'text/event-stream' : 'application/x-ndjson',
    ...(sse ? { 'Cache-Control': 'no-cache' } : {}),
  });
  // Headers go out now, as Ollama's do, not with the first token.
  res.flushHeaders();
  const list = frames[kind];
  for (let i = 0; i < n; i++) {
    await until(start + opts.ttftMs + i * opts.itlMs);
    if (gone || res.destroyed) return;
    res.write(list[i]);
  }
  const evalMs = (n - 1) * opts.itlMs;
  if (kind === 'ndjson') {
    res.end(
      `${JSON.stringify({ model: MODEL, created_at: CREATED_AT, message: { role: 'assistant', content: '' }, done_reason: 'length', done: true, ...totals(n, evalMs) })}\n`,
    );
  } else if (kind === 'generate') {
    res.end(
      `${JSON.stringify({ model: MODEL, created_at: CREATED_AT, response: '', done: true, done_reason: 'length', ...totals(n, evalMs) })}\n`,
    );
  } else {
    const chunk = (extra) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-schedule', object: 'chat.completion.chunk', created: CREATED, model: MODEL, system_fingerprint: 'fp_ollama', ...extra })}\n\n`;
    res.end(
      chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: 'length' }] }) +
        chunk({ choices: [], usage: { prompt_tokens: 8, completion_tokens: n, total_tokens: n + 8 } }) +
        'data: [DONE]\n\n',
    );
  }
}

/** `stream: false`: the whole answer once the schedule's last token is due. */
async function whole(res, kind, n, start) {
  await until(start + opts.ttftMs + (n - 1) * opts.itlMs);
  if (res.destroyed) return;
  const text = Array.from({ length: n }, (_, i) => tokenText(i)).join('');
  const evalMs = (n - 1) * opts.itlMs;
  if (kind === 'ndjson') {
    sendJson(res, 200, {
      model: MODEL,
      created_at: CREATED_AT,
      message: { role: 'assistant', content: text },
      done_reason: 'length',
      done: true,
      ...totals(n, evalMs),
    });
  } else if (kind === 'generate') {
    sendJson(res, 200, {
      model: MODEL,
      created_at: CREATED_AT,
      response: text,
      done: true,
      done_reason: 'length',
      ...totals(n, evalMs),
    });
  } else {
    sendJson(res, 200, {
      id: 'chatcmpl-schedule',
      object: 'chat.completion',
      created: CREATED,
      model: MODEL,
      system_fingerprint: 'fp_ollama',
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'length' }],
      usage: { prompt_tokens: 8, completion_tokens: n, total_tokens: n + 8 },
    });
  }
}

function route(req, res, raw, start) {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' || req.method === 'HEAD') {
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Ollama is running');
    } else if (path === '/api/version') sendJson(res, 200, { version: '0.32.15' });
    else if (path === '/api/tags')
      sendJson(res, 200, {
        models: [
          {
            name: MODEL,
            model: MODEL,
            modified_at: CREATED_AT,
            size: SIZE,
            digest: DIGEST,
            details: DETAILS,
          },
        ],
      });
    else if (path === '/api/ps')
      sendJson(res, 200, {
        models: [
          {
            name: MODEL,
            model: MODEL,
            size: SIZE,
            digest: DIGEST,
            details: DETAILS,
            expires_at: '2099-01-01T00:00:00Z',
            size_vram: SIZE,
            context_length: 4096,
          },
        ],
      });
    else if (path === '/v1/models')
      sendJson(res, 200, {
        object: 'list',
        data: [{ id: MODEL, object: 'model', created: CREATED, owned_by: 'library' }],
      });
    else sendJson(res, 404, { error: `${path} not found` });
    return;
  }
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: 'method not allowed' });
    return;
  }
  let body;
  try {
    body = JSON.parse(raw || '{}');
  } catch {
    sendJson(res, 400, { error: 'invalid JSON body' });
    return;
  }
  if (path === '/api/show') {
    sendJson(res, 200, {
      details: DETAILS,
      model_info: { 'general.architecture': 'llama' },
      capabilities: ['completion'],
    });
    return;
  }
  const kind =
    path === '/api/chat'
      ? 'ndjson'
      : path === '/api/generate'
        ? 'generate'
        : path === '/v1/chat/completions'
          ? 'sse'
          : null;
  if (kind === null) {
    sendJson(res, 404, { error: `${path} not found` });
    return;
  }
  const openai = kind === 'sse';
  // Ollama streams unless told not to; the OpenAI API does not unless told to.
  const streaming = openai ? body.stream === true : body.stream !== false;
  const n = tokenCount(body, openai);
  const done = streaming ? stream(res, kind, n, start) : whole(res, kind, n, start);
  done.catch(() => res.destroy());
}

const server = createServer({ noDelay: true, keepAlive: true }, (req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (c) => (raw += c));
  // The schedule starts when the whole request has arrived: what a proxy adds before that is
  // part of the time to first token it is charged with.
  req.on('end', () => route(req, res, raw, performance.now()));
});
// Proxies keep idle upstream connections for a while; closing them early would make one of them
// race a new request against the close now and then, and fail it for a reason that is ours.
server.keepAliveTimeout = 300_000;
server.headersTimeout = 310_000;
server.requestTimeout = 0;
server.maxRequestsPerSocket = 0;
server.on('clientError', (_err, socket) => socket.destroy());

server.listen(opts.port, opts.host, () => {
  const a = server.address();
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  process.stdout.write(`listening on http://${host}:${a.port}\n`);
});

const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
