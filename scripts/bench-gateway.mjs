// The gateway benchmark: what the coordinator's Ollama/OpenAI-compatible gateway adds to a
// streaming answer, side by side with nginx, and how well it routes.
//
// Relay (one run, separate processes on loopback): a backend with a known token schedule
// (scripts/bench/token-schedule-backend.mjs: --tokens tokens, the first --ttft-ms after the
// request arrived, then one every --itl-ms), reached three ways: directly, through Debian's nginx
// (`proxy_buffering off`, HTTP/1.1 keepalive upstream, started by this script with a config in a
// temp dir) and through the gateway (the real `kage coordinator` with a `gateway:` section
// naming the backend). At 1 and 32 concurrent streams (closed loop, keepalive connections) the
// client stamps the send and every token's arrival with one monotonic clock. The backend stamps
// nothing: its schedule is known, so a token's lag is its arrival minus its scheduled offset, and
// what a proxy adds is its percentile minus the direct path's at the same concurrency (the
// client's and the backend's own costs are in both and cancel). The paths are measured in
// interleaved rounds (--rounds, the order rotated each round) so that other work on the machine
// falls on all of them alike. Buffering shows as bursts: tokens that reach the client in the same
// read as the token before them, compared with the direct path.
//
// CPU: utime+stime from /proc/PID/stat of the coordinator (all threads) and of nginx (master and
// workers) around their rounds, divided by the tokens they relayed; the coordinator's own idle
// rate, read while the other paths run, is also subtracted in a second figure.
//
// Routing: three emulated Ollama nodes (`kage emulate ollama`) with different hardware profiles
// and different models loaded (warmed by one request each before the run), --routing-requests
// (default 200) mixed requests (two models, short and long prompts, 8–64 tokens; seeded) sent
// --routing-concurrency (default 8) at a time through the gateway, then by a round-robin and a
// least-connections picker in this client. Each strategy gets fresh emulators and the same
// warm-up, so each starts from the same state. Mean and p95 completion time per strategy.
//
// The gateway is optional: when the coordinator refuses its `gateway:` section (exit 78) or says
// it does not use it, the gateway column is "not available in this build" and no number is made
// up for it. A coordinator that says neither but does not listen on `gateway.listen`, or whose
// gateway cannot relay one complete answer, fails the run. When nginx is not installed its column
// is skipped with a line that says so.
//
// Flags: --quick (fewer requests, for a smoke run), --rounds N, --c1-requests N,
// --c32-requests N, --tokens N, --ttft-ms MS, --itl-ms MS, --protocol ollama|openai,
// --routing-requests N, --routing-concurrency N, --seed N, --no-routing, --no-relay,
// --nginx PATH, --gateway-settle S, --quiet-wait S (wait up to S for other processes to go
// quiet), --keep (keep the temp dir), --out FILE, --strict (exit 1 when a measured target is
// missed). Writes bench/results/gateway.json and prints a short table.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { bootstrapTwoSampleCi, percentile as interpolated } from '../packages/bench/dist/src/index.js';
import { flagReader } from './bench/flags.mjs';
import { gitState } from './bench/git-state.mjs';
import { describeMachine, machineInfo } from './bench/machine-info.mjs';
import { freePort } from './bench/ports.mjs';
import { CLK_TCK, childPids, machineTicks, ticksOf } from './bench/proc-stat.mjs';
import { exited, live, spawnLogged, stopChild, stopOnSignals, tail, waitExit } from './bench/processes.mjs';
import { otherCpuPct, waitQuiet } from './bench/quiet-machine.mjs';
import { round } from './bench/round.mjs';
import { daemonEnv, unitNodeFlags } from './bench/systemd-unit.mjs';
import { which } from './bench/which.mjs';

const execFileP = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(root, 'packages/cli/dist/src/bin.js');
const BACKEND = join(root, 'scripts/bench/token-schedule-backend.mjs');
const NOT_AVAILABLE = 'not available in this build';
const TARGETS = { added_ttft_p99_ms_max: 1, added_ttft_p99_within_nginx: true, no_buffering: true };
/** A proxy whose share of burst tokens exceeds the direct path's by more than this buffers. */
const BURST_EXCESS_MAX_PCT = 1;
/** The node flags of the coordinator unit's ExecStart: the benchmark measures what is deployed. */
const UNIT_FLAGS = unitNodeFlags('coordinator');
/** Where nginx may be besides PATH. */
const MORE_BIN_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin'];

/**
 * The emulated nodes of the routing part: a fast, a middling and a slow node, each with a
 * different model warm. Both models are installed on every node, so any node can answer any
 * request; a node that gets a model it has not loaded pays a cold load first.
 */
const ROUTING_NODES = [
  { id: 'n1', hardware: 'rtx4090-desktop', warm: ['llama3.2:1b'] },
  { id: 'n2', hardware: 'strix-halo-8060s-32gb', warm: ['qwen2.5:3b'] },
  { id: 'n3', hardware: 'cpu-server-ddr4', warm: ['llama3.2:1b', 'qwen2.5:3b'] },
];
const ROUTING_MODELS = ['llama3.2:1b', 'qwen2.5:3b'];
/** Ollama slots per loaded model on every emulated node (OLLAMA_NUM_PARALLEL). */
const ROUTING_NUM_PARALLEL = 2;
/** Pinned on every routing request and warm-up: Ollama reloads a model when num_ctx changes. */
const ROUTING_NUM_CTX = 4096;

// ============================================================================== small helpers
/**
 * Percentiles as the matrix reports compute them (linear interpolation between closest ranks),
 * so that a figure here and one in a Kage report mean the same.
 */
function stats(values) {
  const s = Float64Array.from(values).sort();
  if (s.length === 0) return { n: 0, p50: null, p95: null, p99: null, max: null, mean: null };
  let sum = 0;
  for (const v of s) sum += v;
  return {
    n: s.length,
    p50: round(interpolated(s, 50)),
    p95: round(interpolated(s, 95)),
    p99: round(interpolated(s, 99)),
    max: round(s[s.length - 1]),
    mean: round(sum / s.length),
  };
}

const p99Of = (sample) => interpolated(Float64Array.from(sample).sort(), 99);

/** 95 % bootstrap interval of p99(a) − p99(b), both samples resampled (seeded, reproducible). */
function p99DiffCi(a, b) {
  if (a.length === 0 || b.length === 0) return null;
  const [lo, hi] = bootstrapTwoSampleCi(a, b, (x, y) => p99Of(x) - p99Of(y), { resamples: 1000 });
  return [round(lo), round(hi)];
}

const diff = (a, b) => (a === null || b === null ? null : round(a - b));

/** A small seeded generator (xorshift32), so that the routing mix is the same on every run. */
function seeded(seed) {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

function pickWeighted(rand, entries) {
  let r = rand() * entries.reduce((sum, [, w]) => sum + w, 0);
  for (const [value, w] of entries) {
    r -= w;
    if (r < 0) return value;
  }
  return entries[entries.length - 1][0];
}

// ======================================================================================= flags
function parseArgs(argv) {
  const opts = {
    quick: false,
    rounds: 6,
    c1Requests: 240,
    c32Requests: 960,
    tokens: 6,
    ttftMs: 10,
    itlMs: 16,
    protocol: 'ollama',
    routingRequests: 200,
    routingConcurrency: 8,
    seed: 42,
    relay: true,
    routing: true,
    nginx: null,
    gatewaySettleS: 2,
    quietWaitS: 60,
    keep: false,
    strict: false,
    out: join(root, 'bench/results/gateway.json'),
    // The bearer token sent on every request; a started gateway's API token replaces it.
    apiToken: randomBytes(24).toString('hex'),
  };
  const given = new Set();
  const flags = flagReader(argv);
  const { value } = flags;
  for (let a = flags.next(); a !== undefined; a = flags.next()) {
    const int = (min, max) => {
      const n = flags.int(min, max);
      given.add(a);
      return n;
    };
    if (a === '--quick') opts.quick = true;
    else if (a === '--rounds') opts.rounds = int(1, 20);
    else if (a === '--c1-requests') opts.c1Requests = int(10, 100_000);
    else if (a === '--c32-requests') opts.c32Requests = int(64, 1_000_000);
    else if (a === '--tokens') opts.tokens = int(2, 10_000);
    else if (a === '--ttft-ms') opts.ttftMs = int(0, 10_000);
    else if (a === '--itl-ms') opts.itlMs = int(1, 10_000);
    else if (a === '--routing-requests') opts.routingRequests = int(10, 100_000);
    else if (a === '--routing-concurrency') opts.routingConcurrency = int(1, 256);
    else if (a === '--seed') opts.seed = int(0, 2 ** 31 - 1);
    else if (a === '--gateway-settle') opts.gatewaySettleS = int(0, 120);
    else if (a === '--quiet-wait') opts.quietWaitS = int(0, 3600);
    else if (a === '--protocol') {
      opts.protocol = value();
      if (!['ollama', 'openai'].includes(opts.protocol)) throw new Error('--protocol: ollama or openai');
    } else if (a === '--nginx') opts.nginx = value();
    else if (a === '--no-routing') opts.routing = false;
    else if (a === '--no-relay') opts.relay = false;
    else if (a === '--keep') opts.keep = true;
    else if (a === '--strict') opts.strict = true;
    else if (a === '--out') opts.out = value();
    else
      throw new Error(
        `unknown flag ${a} (flags: --quick, --rounds N, --c1-requests N, --c32-requests N, --tokens N, --ttft-ms MS, --itl-ms MS, --protocol ollama|openai, --routing-requests N, --routing-concurrency N, --seed N, --no-routing, --no-relay, --nginx PATH, --gateway-settle S, --quiet-wait S, --keep, --out FILE, --strict)`,
      );
  }
  if (opts.quick) {
    if (!given.has('--rounds')) opts.rounds = 3;
    if (!given.has('--c1-requests')) opts.c1Requests = 60;
    if (!given.has('--c32-requests')) opts.c32Requests = 256;
    if (!given.has('--routing-requests')) opts.routingRequests = 60;
    if (!given.has('--quiet-wait')) opts.quietWaitS = 15;
  }
  return opts;
}

// =================================================================================== processes
/**
 * Waits (bounded) until `log` holds a line `match` accepts; returns what it returned, or null
 * when the process exited first.
 */
async function waitForLine(child, log, match, timeoutMs, what, signal) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = readFileSync(log, 'utf8');
    for (const line of text.split('\n')) {
      const m = match(line);
      if (m) return m;
    }
    if (exited(child)) return null;
    if (Date.now() > deadline) throw new Error(`${what} did not start within ${timeoutMs / 1000} s:\n${tail(log)}`);
    await sleep(50, undefined, { signal });
  }
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Polls (bounded) until something accepts connections on `port`. */
async function waitListening(port, timeoutMs, signal, alive = () => true) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await canConnect(port)) return true;
    if (!alive()) return false;
    await sleep(100, undefined, { signal });
  }
  return false;
}

// ===================================================================================== backends
const listeningLine = (line) => {
  const m = /^listening on http:\/\/[^\s:]+:(\d+)\s*$/.exec(line);
  return m ? Number(m[1]) : null;
};

async function startScheduleBackend(dir, opts, signal) {
  const log = join(dir, 'backend.log');
  const child = spawnLogged(
    process.execPath,
    [
      BACKEND,
      '--listen',
      '127.0.0.1:0',
      '--ttft-ms',
      String(opts.ttftMs),
      '--itl-ms',
      String(opts.itlMs),
      '--tokens',
      String(opts.tokens),
    ],
    log,
    { ...process.env, NODE_ENV: 'production' },
  );
  const port = await waitForLine(child, log, listeningLine, 15_000, 'the token-schedule backend', signal);
  if (port === null) throw new Error(`the token-schedule backend exited (${child.exitCode}):\n${tail(log)}`);
  return { child, port, log };
}

// ======================================================================================== nginx
async function findNginx(explicit) {
  const bin = explicit ?? (await which('nginx', MORE_BIN_DIRS));
  if (bin === null) return { skip: 'nginx is not installed (Debian: apt-get install nginx-light)' };
  const version = await execFileP(bin, ['-v']).then(
    (r) => (r.stderr || r.stdout).trim().replace(/^nginx version: /, ''),
    (err) => ({ error: String(err.stderr || err.message).trim() }),
  );
  if (typeof version !== 'string') return { skip: `${bin} -v failed: ${version.error}` };
  // Which Debian package the binary came from, when dpkg knows it.
  const pkg = await execFileP('dpkg-query', ['-S', bin]).then(
    async (r) => {
      const name = r.stdout.split(':')[0].trim();
      const v = await execFileP('dpkg-query', ['-W', '-f=${Version}', name]).then(
        (x) => x.stdout.trim(),
        () => null,
      );
      return v ? `${name} ${v}` : name;
    },
    () => null,
  );
  return { bin, version, package: pkg };
}

/**
 * The config: one worker (the gateway is one event loop, and one worker keeps their CPU figures
 * comparable on a small machine), streaming as Debian's package does with `proxy_buffering off`,
 * HTTP/1.1 to a keepalive upstream pool. Every file nginx writes is inside `dir`, so it runs
 * without root.
 */
function nginxConfig(dir, listenPort, backendPort) {
  const p = (name) => join(dir, name);
  return `worker_processes 1;
pid ${p('nginx.pid')};
error_log ${p('error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${p('tmp/body')};
  proxy_temp_path ${p('tmp/proxy')};
  fastcgi_temp_path ${p('tmp/fastcgi')};
  uwsgi_temp_path ${p('tmp/uwsgi')};
  scgi_temp_path ${p('tmp/scgi')};
  keepalive_timeout 300s;
  keepalive_requests 1000000;
  upstream backend {
    server 127.0.0.1:${backendPort};
    keepalive 64;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${listenPort};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 300s;
    }
  }
}
`;
}

async function startNginx(found, root, backendPort, signal) {
  const dir = join(root, 'nginx');
  await mkdir(join(dir, 'tmp'), { recursive: true });
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  await writeFile(conf, nginxConfig(dir, port, backendPort));
  const log = join(dir, 'stderr.log');
  const child = spawnLogged(found.bin, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], log);
  if (!(await waitListening(port, 15_000, signal, () => !exited(child)))) {
    const why = `${tail(log)}\n${tail(join(dir, 'error.log'))}`.trim();
    await stopChild(child);
    throw new Error(`nginx did not listen on 127.0.0.1:${port}:\n${why}`);
  }
  return { child, port, dir };
}

// ========================================================================== coordinator, gateway
/**
 * Writes coordinator.yaml with a `gateway:` section: the listen address and the backends in the
 * matrix's target shape (id, kind, url, nodes). Agent and API tokens exist because the
 * coordinator needs them; no agent connects during the benchmark.
 */
async function writeCoordinatorConfig(dir, gatewayPort, backends) {
  await mkdir(dir, { recursive: true });
  const apiToken = randomBytes(24).toString('hex');
  const nodes = [...new Set(backends.flatMap((b) => b.nodes))];
  await writeFile(
    join(dir, 'agent-tokens.yaml'),
    nodes.map((n) => `${n}: "${randomBytes(16).toString('hex')}"\n`).join(''),
    { mode: 0o600 },
  );
  await writeFile(join(dir, 'api.token'), `${apiToken}\n`, { mode: 0o600 });
  const gateway = [
    'gateway:',
    `  listen: "127.0.0.1:${gatewayPort}"`,
    '  backends:',
    ...backends.map((b) => `    - { id: ${b.id}, kind: ${b.kind}, url: "${b.url}", nodes: [${b.nodes.join(', ')}] }`),
  ];
  const text = [
    // Port 0: the coordinator's own listeners are not what is measured.
    'grpc: { listen: "127.0.0.1:0" }',
    'http: { listen: "127.0.0.1:0" }',
    'db: kage.db',
    'auth: { agent_tokens_file: agent-tokens.yaml, api_token_file: api.token }',
    ...gateway,
    '',
  ].join('\n');
  await writeFile(join(dir, 'coordinator.yaml'), text, { mode: 0o600 });
  return { file: join(dir, 'coordinator.yaml'), apiToken, gatewayYaml: gateway.join('\n') };
}

const parseJsonLine = (line) => {
  if (!line.startsWith('{')) return null;
  try {
    return JSON.parse(line);
  } catch {
    return null;
  }
};

/** A warning or error from a coordinator that knows the `gateway:` key but not the feature. */
const gatewayIgnoredLine = (line) => {
  const j = parseJsonLine(line);
  const msg = j ? String(j.msg ?? '') : line;
  return /gateway:? section/i.test(msg) && /not used|ignored|not supported|not implemented/i.test(msg) ? msg : null;
};

/**
 * Starts `kage coordinator` with the gateway config and finds out whether this build has a
 * gateway: { available: true, child, port } or { available: false, reason, detail } (this build
 * has none) or throws (it has one that fails).
 */
async function startGateway(dir, backends, signal) {
  const port = await freePort();
  const cfg = await writeCoordinatorConfig(dir, port, backends);
  const log = join(dir, 'coordinator.log');
  const child = spawnLogged(
    process.execPath,
    [...UNIT_FLAGS, CLI, 'coordinator', '--config', cfg.file],
    log,
    daemonEnv(),
  );
  const started = await waitForLine(
    child,
    log,
    (line) => parseJsonLine(line)?.msg === 'coordinator started',
    60_000,
    'the coordinator',
    signal,
  );
  if (started === null) {
    await waitExit(child, 2000);
    live.delete(child);
    const out = tail(log, 30).split(dir).join('<dir>');
    // A build that refuses the key outright: a configuration error (78) that names it.
    if (child.exitCode === 78 && /gateway/i.test(out))
      return {
        available: false,
        reason: NOT_AVAILABLE,
        detail: `the coordinator refused the gateway: section (exit 78): ${lastLines(out, 3)}`,
      };
    throw new Error(`the coordinator exited (${child.exitCode ?? child.signalCode}) at start:\n${out}`);
  }
  const ignored = readFileSync(log, 'utf8').split('\n').map(gatewayIgnoredLine).find(Boolean);
  const listening = ignored ? false : await waitListening(port, 10_000, signal, () => !exited(child));
  if (!listening) {
    await stopChild(child);
    if (ignored) return { available: false, reason: NOT_AVAILABLE, detail: `the coordinator logged: ${ignored}` };
    throw new Error(
      `the coordinator started but nothing listens on gateway.listen 127.0.0.1:${port} after 10 s:\n${tail(log)}`,
    );
  }
  return { available: true, child, port, log, apiToken: cfg.apiToken, gatewayYaml: cfg.gatewayYaml };
}

const lastLines = (text, n) => text.trim().split('\n').slice(-n).join(' | ');

// ================================================================================ stream client
/**
 * One streaming chat request. Resolves (never rejects) with the send time, the arrival of every
 * token relative to it, the index of the socket read each token came in, and whether the stream
 * ended with its terminator.
 */
function streamChat({ agent, port, protocol, body, token, timeoutMs }) {
  const openai = protocol === 'openai';
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve) => {
    const arrivals = [];
    const reads = [];
    let t0 = 0;
    let readNo = 0;
    let buffered = '';
    let done = false;
    let settled = false;
    let failure = null;
    const finish = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const ok = error === null && done && arrivals.length > 0;
      resolve({
        ok,
        error: ok ? null : (error ?? (done ? 'no token' : 'stream ended without its terminator')),
        arrivals,
        reads,
        endMs: performance.now() - t0,
      });
    };
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: openai ? '/v1/chat/completions' : '/api/chat',
        agent,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': payload.length,
          Accept: openai ? 'text/event-stream' : 'application/x-ndjson',
          // The same bytes on every path; backends ignore it, a gateway that wants the API token gets it.
          Authorization: `Bearer ${token}`,
        },
      },
      (res) => {
        res.setEncoding('utf8');
        if (res.statusCode !== 200) {
          let text = '';
          res.on('data', (c) => (text += c.length < 300 ? c : c.slice(0, 300)));
          res.on('end', () => finish(`HTTP ${res.statusCode}: ${text.trim().slice(0, 160)}`));
          res.on('error', (err) => finish(err.message));
          return;
        }
        res.on('data', (chunk) => {
          // One stamp per read: tokens that arrive together share it, as a client sees them.
          const t = performance.now() - t0;
          readNo += 1;
          buffered += chunk;
          let nl;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line === '') continue;
            const kind = classify(line, openai);
            if (kind === 'token') {
              arrivals.push(t);
              reads.push(readNo);
            } else if (kind === 'done') done = true;
            else if (kind !== 'other') failure ??= kind;
          }
        });
        res.on('end', () => finish(failure));
        res.on('error', (err) => finish(err.message));
        res.on('close', () => finish(failure ?? (done ? null : 'connection closed mid-stream')));
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    req.on('socket', (s) => s.setNoDelay(true));
    req.on('error', (err) => finish(err.code ? `${err.code}` : err.message));
    t0 = performance.now();
    req.end(payload);
  });
}

/** 'token', 'done', 'other' (framing, role-only chunks) or an error message. */
function classify(line, openai) {
  if (openai) {
    if (!line.startsWith('data:')) return 'other';
    const data = line.slice(5).trim();
    if (data === '[DONE]') return 'done';
    const j = parseJsonLine(data);
    if (j === null) return `not JSON: ${data.slice(0, 60)}`;
    if (j.error) return `error event: ${JSON.stringify(j.error).slice(0, 120)}`;
    const d = j.choices?.[0]?.delta;
    return d && (d.content || d.reasoning_content || d.reasoning) ? 'token' : 'other';
  }
  const j = parseJsonLine(line);
  if (j === null) return `not JSON: ${line.slice(0, 60)}`;
  if (j.error) return `error line: ${String(j.error).slice(0, 120)}`;
  if (j.done === true) return 'done';
  return j.message?.content || j.message?.thinking || j.response ? 'token' : 'other';
}

/** Runs `count` requests `concurrency` at a time (closed loop); `make(i)` sends one. */
async function closedLoop(count, concurrency, make, signal) {
  const results = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count && !signal.aborted) {
      const i = next++;
      results[i] = await make(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (signal.aborted) throw new Error('interrupted');
  return results;
}

// ======================================================================================== relay
function relayBody(opts, i) {
  const messages = [{ role: 'user', content: `relay ${i}: answer in a few words` }];
  return opts.protocol === 'openai'
    ? { model: 'token-schedule:latest', messages, stream: true, max_tokens: opts.tokens }
    : { model: 'token-schedule:latest', messages, stream: true, options: { num_predict: opts.tokens } };
}

/** A stream that did not bring every scheduled token is a failure, whatever else it did. */
function checkComplete(r, opts) {
  if (r.ok && r.arrivals.length !== opts.tokens)
    return { ...r, ok: false, error: `got ${r.arrivals.length} of ${opts.tokens} tokens` };
  return r;
}

/**
 * The measured figures of one path at one concurrency: TTFT, the lag of every later token behind
 * its scheduled offset, inter-arrival gaps and bursts (a token in the same read as the one before).
 */
function summariseRelay(records, opts) {
  const ttft = [];
  const lag = [];
  const lagAll = [];
  const gaps = [];
  const failures = {};
  let ok = 0;
  let tokens = 0;
  let later = 0;
  let burst = 0;
  for (const r of records) {
    if (!r.ok) {
      failures[r.error] = (failures[r.error] ?? 0) + 1;
      continue;
    }
    ok += 1;
    tokens += r.arrivals.length;
    ttft.push(r.arrivals[0]);
    lagAll.push(r.arrivals[0] - opts.ttftMs);
    for (let i = 1; i < r.arrivals.length; i++) {
      const l = r.arrivals[i] - (opts.ttftMs + i * opts.itlMs);
      lag.push(l);
      lagAll.push(l);
      gaps.push(r.arrivals[i] - r.arrivals[i - 1]);
      later += 1;
      if (r.reads[i] === r.reads[i - 1]) burst += 1;
    }
  }
  const t = stats(ttft);
  const l = stats(lag);
  const g = stats(gaps);
  // The raw TTFTs ride along (not enumerable, so never written) for the intervals below.
  return Object.defineProperty(
    {
      requests: records.length,
      succeeded: ok,
      failures,
      tokens,
      ttft_ms: { p50: t.p50, p99: t.p99, max: t.max },
      token_lag_ms: { p50: l.p50, p99: l.p99, max: l.max },
      max_lag_any_token_ms: stats(lagAll).max,
      inter_arrival_ms: { p50: g.p50, p99: g.p99 },
      burst_tokens_pct: later === 0 ? null : round((burst / later) * 100, 2),
    },
    'ttfts',
    { value: ttft },
  );
}

/** What a proxy adds to the direct path, and whether it buffers. */
function addedVsDirect(path, direct) {
  const burstExcess =
    path.burst_tokens_pct === null || direct.burst_tokens_pct === null
      ? null
      : round(path.burst_tokens_pct - direct.burst_tokens_pct, 2);
  return {
    added_ttft_ms: {
      p50: diff(path.ttft_ms.p50, direct.ttft_ms.p50),
      p99: diff(path.ttft_ms.p99, direct.ttft_ms.p99),
      p99_ci95: p99DiffCi(path.ttfts, direct.ttfts),
    },
    added_token_delay_ms: {
      p50: diff(path.token_lag_ms.p50, direct.token_lag_ms.p50),
      p99: diff(path.token_lag_ms.p99, direct.token_lag_ms.p99),
    },
    added_max_lag_ms: diff(path.max_lag_any_token_ms, direct.max_lag_any_token_ms),
    burst_excess_pct_points: burstExcess,
    buffering: burstExcess === null ? null : burstExcess > BURST_EXCESS_MAX_PCT,
  };
}

/**
 * Runs every path at one concurrency in interleaved rounds. CPU of each proxy is read around its
 * own rounds (and, for the idle rate, around the other paths' rounds); the rest of the machine's
 * CPU is read around every round.
 */
async function relayAtConcurrency(paths, concurrency, total, opts, ownPids, signal) {
  const perRound = Math.max(1, Math.round(total / opts.rounds));
  const state = new Map(
    paths.map((p) => [
      p.name,
      {
        agent: new Agent({ keepAlive: true, maxSockets: concurrency, keepAliveMsecs: 1000 }),
        records: [],
        busyTicks: 0,
        busyMs: 0,
        idleTicks: 0,
        idleMs: 0,
        tokens: 0,
      },
    ]),
  );
  const timeoutMs = 30_000 + opts.ttftMs + opts.tokens * opts.itlMs * 4;
  const send = (p, i) =>
    streamChat({
      agent: state.get(p.name).agent,
      port: p.port,
      protocol: opts.protocol,
      body: relayBody(opts, i),
      token: opts.apiToken,
      timeoutMs,
    }).then((r) => checkComplete(r, opts));
  const other = [];
  try {
    // Warm-up: every keepalive connection of the pool opened, both ends' code paths hot.
    for (const p of paths) await closedLoop(Math.max(8, concurrency * 2), concurrency, (i) => send(p, i), signal);
    for (let r = 0; r < opts.rounds; r++) {
      for (let k = 0; k < paths.length; k++) {
        const p = paths[(k + r) % paths.length];
        const cpuPids = new Map();
        for (const q of paths) if (q.cpuPids) cpuPids.set(q.name, await q.cpuPids());
        const before = new Map();
        for (const [name, pids] of cpuPids) before.set(name, await ticksOf(pids));
        const sys0 = await machineTicks();
        const own0 = await ticksOf(await ownPids());
        const t0 = performance.now();
        const records = await closedLoop(perRound, concurrency, (i) => send(p, r * perRound + i), signal);
        const ms = performance.now() - t0;
        const sys1 = await machineTicks();
        const own1 = await ticksOf(await ownPids());
        for (const [name, pids] of cpuPids) {
          const d = (await ticksOf(pids)) - before.get(name);
          const s = state.get(name);
          if (name === p.name) {
            s.busyTicks += d;
            s.busyMs += ms;
          } else {
            s.idleTicks += d;
            s.idleMs += ms;
          }
        }
        const s = state.get(p.name);
        s.records.push(...records);
        for (const r of records) if (r.ok) s.tokens += r.arrivals.length;
        other.push(otherCpuPct(sys0, sys1, own1 - own0, 'non-idle'));
      }
    }
  } finally {
    for (const s of state.values()) s.agent.destroy();
  }
  const summary = {};
  for (const p of paths) {
    const s = state.get(p.name);
    const fig = summariseRelay(s.records, opts);
    if (p.cpuPids) {
      const cpuMs = (s.busyTicks / CLK_TCK) * 1000;
      const idleRateMsPerS = s.idleMs > 0 ? ((s.idleTicks / CLK_TCK) * 1000) / (s.idleMs / 1000) : null;
      const net = idleRateMsPerS === null ? null : cpuMs - idleRateMsPerS * (s.busyMs / 1000);
      fig.cpu = {
        cpu_ms: round(cpuMs, 1),
        tokens_relayed: s.tokens,
        cpu_ms_per_1000_tokens: s.tokens > 0 ? round((cpuMs / s.tokens) * 1000, 2) : null,
        idle_cpu_ms_per_s: round(idleRateMsPerS, 2),
        cpu_ms_per_1000_tokens_net_of_idle: s.tokens > 0 && net !== null ? round((net / s.tokens) * 1000, 2) : null,
        resolution_ms: round(1000 / CLK_TCK, 1),
      };
    }
    summary[p.name] = fig;
  }
  for (const p of paths)
    if (p.name !== 'direct') Object.assign(summary[p.name], addedVsDirect(summary[p.name], summary.direct));
  if (summary.gateway && summary.nginx) {
    // Both are measured against the same direct path, so their added p99s differ by this.
    summary.gateway.ttft_p99_minus_nginx_ms = {
      value: diff(summary.gateway.ttft_ms.p99, summary.nginx.ttft_ms.p99),
      ci95: p99DiffCi(summary.gateway.ttfts, summary.nginx.ttfts),
    };
  }
  return {
    concurrency,
    requests_per_path: perRound * opts.rounds,
    other_processes_cpu_pct_of_all_cores: round(stats(other).mean, 1),
    ...summary,
  };
}

/** One request through a path before it is measured: it must bring every token. */
async function probe(port, opts) {
  const agent = new Agent({ keepAlive: false });
  try {
    const r = checkComplete(
      await streamChat({
        agent,
        port,
        protocol: opts.protocol,
        body: relayBody(opts, 0),
        token: opts.apiToken,
        timeoutMs: 15_000,
      }),
      opts,
    );
    return r.ok ? null : r.error;
  } finally {
    agent.destroy();
  }
}

async function runRelay(opts, dir, nginxFound, signal) {
  const backend = await startScheduleBackend(dir, opts, signal);
  const paths = [{ name: 'direct', port: backend.port }];
  const result = {
    nginx: nginxFound.skip
      ? { available: false, reason: nginxFound.skip }
      : { available: true, version: nginxFound.version, package: nginxFound.package },
    gateway: null,
    by_concurrency: [],
  };
  let nginx = null;
  let gateway = null;
  try {
    if (!nginxFound.skip) {
      nginx = await startNginx(nginxFound, dir, backend.port, signal);
      result.nginx.config =
        'worker_processes 1; proxy_buffering off; proxy_http_version 1.1; upstream keepalive 64; access_log off';
      paths.push({
        name: 'nginx',
        port: nginx.port,
        cpuPids: async () => [nginx.child.pid, ...(await childPids(nginx.child.pid))],
      });
    }
    process.stderr.write('  relay: starting the coordinator with a gateway: section…\n');
    const g = await startGateway(
      join(dir, 'coordinator-relay'),
      [{ id: 'b1', kind: 'ollama', url: `http://127.0.0.1:${backend.port}`, nodes: ['n1'] }],
      signal,
    );
    if (g.available) {
      gateway = g;
      opts.apiToken = g.apiToken;
      result.gateway = { available: true, config: g.gatewayYaml };
      paths.push({ name: 'gateway', port: g.port, cpuPids: async () => [g.child.pid] });
    } else {
      result.gateway = { available: false, reason: g.reason, detail: g.detail };
      process.stderr.write(`  gateway: ${g.reason} (${g.detail})\n`);
    }
    for (const p of paths) {
      const err = await probe(p.port, opts);
      if (err) throw new Error(`a request through ${p.name} failed: ${err}`);
    }
    const ownPids = async () => [
      process.pid,
      backend.child.pid,
      ...(nginx ? [nginx.child.pid, ...(await childPids(nginx.child.pid))] : []),
      ...(gateway ? [gateway.child.pid] : []),
    ];
    for (const [concurrency, total] of [
      [1, opts.c1Requests],
      [32, opts.c32Requests],
    ]) {
      process.stderr.write(
        `  relay: ${concurrency} stream${concurrency > 1 ? 's' : ''}, ${total} requests per path in ${opts.rounds} rounds (${paths.map((p) => p.name).join(', ')})…\n`,
      );
      result.by_concurrency.push(await relayAtConcurrency(paths, concurrency, total, opts, ownPids, signal));
    }
  } finally {
    await stopChild(gateway?.child);
    await stopChild(nginx?.child);
    await stopChild(backend.child);
  }
  return result;
}

// ====================================================================================== routing
const WORDS = (
  'the a function returns list value binary search tree sorted array index key node graph path cost ' +
  'time memory cache token model request answer code test python rust type error result loop'
).split(' ');

/** The mixed requests: two models, short and long prompts, 8–64 tokens, from a fixed seed. */
function routingMix(count, seed) {
  const rand = seeded(seed);
  const out = [];
  for (let i = 0; i < count; i++) {
    const model = pickWeighted(rand, [
      ['llama3.2:1b', 0.6],
      ['qwen2.5:3b', 0.4],
    ]);
    const tokens = pickWeighted(rand, [
      [8, 0.3],
      [16, 0.35],
      [32, 0.25],
      [64, 0.1],
    ]);
    const words = rand() < 0.75 ? 12 + Math.floor(rand() * 20) : 150 + Math.floor(rand() * 150);
    const text = Array.from({ length: words }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(' ');
    // A tag of its own in front: no request's prompt is another's cached prefix.
    out.push({ model, tokens, promptWords: words, prompt: `[request ${seed}-${i}] ${text}` });
  }
  return out;
}

function routingBody(model, prompt, tokens, seed) {
  return {
    model,
    messages: [{ role: 'user', content: prompt }],
    stream: true,
    options: { num_predict: tokens, num_ctx: ROUTING_NUM_CTX, temperature: 0, seed },
  };
}

async function startEmulators(dir, signal) {
  const nodes = [];
  try {
    for (const n of ROUTING_NODES) {
      const log = join(dir, `emulator-${n.id}.log`);
      const child = spawnLogged(
        process.execPath,
        [
          CLI,
          'emulate',
          'ollama',
          '--listen',
          '127.0.0.1:0',
          '--hardware',
          n.hardware,
          '--num-parallel',
          String(ROUTING_NUM_PARALLEL),
          '--models',
          ROUTING_MODELS.join(','),
          '--deterministic',
        ],
        log,
        { ...process.env, NODE_ENV: 'production' },
      );
      nodes.push({ ...n, child, log, port: null });
    }
    for (const n of nodes) {
      n.port = await waitForLine(n.child, n.log, listeningLine, 30_000, `the ${n.id} emulator`, signal);
      if (n.port === null) throw new Error(`the ${n.id} emulator exited (${n.child.exitCode}):\n${tail(n.log)}`);
    }
  } catch (err) {
    for (const n of nodes) await stopChild(n.child);
    throw err;
  }
  return nodes;
}

/** Loads each node's warm models with one short request each, straight to the node. */
async function warmNodes(nodes, opts) {
  const agent = new Agent({ keepAlive: false });
  try {
    await Promise.all(
      nodes.map(async (n) => {
        for (const model of n.warm) {
          const r = await streamChat({
            agent,
            port: n.port,
            protocol: 'ollama',
            body: routingBody(model, `[warm-up ${n.id}] hello`, 1, opts.seed),
            token: opts.apiToken,
            timeoutMs: 120_000,
          });
          if (!r.ok) throw new Error(`warming ${model} on ${n.id} failed: ${r.error}`);
        }
      }),
    );
  } finally {
    agent.destroy();
  }
}

/** Sends the whole mix with one strategy; `pick` names the port of each request. */
async function runMix(mix, opts, pick, signal) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const t0 = performance.now();
  try {
    const records = await closedLoop(
      mix.length,
      opts.routingConcurrency,
      async (i) => {
        const q = mix[i];
        const target = pick.choose(q);
        try {
          const r = await streamChat({
            agent,
            port: target.port,
            protocol: 'ollama',
            body: routingBody(q.model, q.prompt, q.tokens, opts.seed),
            token: opts.apiToken,
            timeoutMs: 300_000,
          });
          return {
            ok: r.ok && r.arrivals.length === q.tokens,
            error: r.ok && r.arrivals.length !== q.tokens ? `got ${r.arrivals.length} of ${q.tokens} tokens` : r.error,
            completionMs: r.endMs,
            ttftMs: r.arrivals[0] ?? null,
            node: target.id,
          };
        } finally {
          pick.done(target);
        }
      },
      signal,
    );
    return { records, wallMs: performance.now() - t0 };
  } finally {
    agent.destroy();
  }
}

function summariseMix(records, wallMs) {
  const good = records.filter((r) => r.ok);
  const failures = {};
  for (const r of records) if (!r.ok) failures[r.error] = (failures[r.error] ?? 0) + 1;
  const c = stats(good.map((r) => r.completionMs));
  const t = stats(good.map((r) => r.ttftMs));
  const perNode = {};
  for (const r of records) if (r.node !== null) perNode[r.node] = (perNode[r.node] ?? 0) + 1;
  return {
    requests: records.length,
    succeeded: good.length,
    failures,
    completion_ms: { mean: round(c.mean, 1), p50: round(c.p50, 1), p95: round(c.p95, 1), max: round(c.max, 1) },
    ttft_ms: { mean: round(t.mean, 1), p95: round(t.p95, 1) },
    wall_s: round(wallMs / 1000, 2),
    requests_per_node: Object.keys(perNode).length > 0 ? perNode : null,
  };
}

const roundRobin = (nodes) => {
  let next = 0;
  return {
    choose: () => nodes[next++ % nodes.length],
    done: () => {},
  };
};

/** Fewest requests in flight from this client; ties go round-robin, as nginx's least_conn does. */
const leastConnections = (nodes) => {
  const inflight = new Map(nodes.map((n) => [n.id, 0]));
  let tie = 0;
  return {
    choose: () => {
      const least = Math.min(...inflight.values());
      const ties = nodes.filter((n) => inflight.get(n.id) === least);
      const n = ties[tie++ % ties.length];
      inflight.set(n.id, inflight.get(n.id) + 1);
      return n;
    },
    done: (n) => inflight.set(n.id, inflight.get(n.id) - 1),
  };
};

async function runRouting(opts, dir, gatewayInBuild, signal) {
  const mix = routingMix(opts.routingRequests, opts.seed);
  const result = {
    nodes: ROUTING_NODES.map((n) => ({
      id: n.id,
      hardware: n.hardware,
      warm_models: n.warm,
      num_parallel: ROUTING_NUM_PARALLEL,
    })),
    models: ROUTING_MODELS,
    requests: mix.length,
    concurrency: opts.routingConcurrency,
    seed: opts.seed,
    mix: {
      by_model: Object.fromEntries(ROUTING_MODELS.map((m) => [m, mix.filter((q) => q.model === m).length])),
      by_tokens: mix.reduce((acc, q) => ({ ...acc, [q.tokens]: (acc[q.tokens] ?? 0) + 1 }), {}),
      long_prompts: mix.filter((q) => q.promptWords >= 150).length,
    },
    strategies: {},
  };
  const strategies = [
    ['gateway', null],
    ['round_robin', roundRobin],
    ['least_connections', leastConnections],
  ];
  for (const [name, makePicker] of strategies) {
    if (name === 'gateway' && gatewayInBuild?.available === false) {
      result.strategies.gateway = { available: false, reason: gatewayInBuild.reason };
      continue;
    }
    process.stderr.write(`  routing: ${name.replace('_', '-')}: fresh emulators, warm-up, ${mix.length} requests…\n`);
    const sub = join(dir, `routing-${name}`);
    await mkdir(sub, { recursive: true });
    const nodes = await startEmulators(sub, signal);
    let gateway = null;
    try {
      await warmNodes(nodes, opts);
      let picker;
      if (makePicker) picker = makePicker(nodes);
      else {
        const g = await startGateway(
          join(sub, 'coordinator'),
          nodes.map((n, i) => ({ id: `b${i + 1}`, kind: 'ollama', url: `http://127.0.0.1:${n.port}`, nodes: [n.id] })),
          signal,
        );
        if (!g.available) {
          result.strategies.gateway = { available: false, reason: g.reason, detail: g.detail };
          continue;
        }
        gateway = g;
        opts.apiToken = g.apiToken;
        // Time to read the backends (health, loaded models) before the first request.
        await sleep(opts.gatewaySettleS * 1000, undefined, { signal });
        picker = { choose: () => ({ id: null, port: g.port }), done: () => {} };
      }
      const { records, wallMs } = await runMix(mix, opts, picker, signal);
      result.strategies[name] = { available: true, ...summariseMix(records, wallMs) };
    } finally {
      await stopChild(gateway?.child);
      for (const n of nodes) await stopChild(n.child);
    }
  }
  return result;
}

// ======================================================================================= report
function evaluateTargets(relay) {
  const rows = relay?.by_concurrency ?? [];
  const per = rows.map((row) => {
    const g = row.gateway;
    const n = row.nginx;
    if (!g) return { concurrency: row.concurrency, measured: false };
    return {
      concurrency: row.concurrency,
      measured: true,
      added_ttft_p99_ms: g.added_ttft_ms.p99,
      added_ttft_p99_ci95: g.added_ttft_ms.p99_ci95,
      gateway_minus_nginx_ttft_p99_ms: g.ttft_p99_minus_nginx_ms?.value ?? null,
      gateway_minus_nginx_ttft_p99_ci95: g.ttft_p99_minus_nginx_ms?.ci95 ?? null,
      added_ttft_p99_le_1_ms:
        g.added_ttft_ms.p99 === null ? null : g.added_ttft_ms.p99 <= TARGETS.added_ttft_p99_ms_max,
      added_ttft_p99_within_nginx:
        !n || g.added_ttft_ms.p99 === null ? null : g.added_ttft_ms.p99 <= n.added_ttft_ms.p99,
      no_buffering: g.buffering === null ? null : !g.buffering,
    };
  });
  const verdicts = per.flatMap((p) =>
    p.measured ? [p.added_ttft_p99_le_1_ms, p.added_ttft_p99_within_nginx, p.no_buffering] : [],
  );
  const evaluated = verdicts.filter((v) => v !== null);
  return {
    thresholds: { ...TARGETS, buffering_when_burst_excess_above_pct_points: BURST_EXCESS_MAX_PCT },
    rule: 'judged on the point estimates; the 95 % bootstrap intervals beside them say whether a verdict is within the noise (an interval across the bound: measure more requests)',
    per_concurrency: per,
    all_pass: evaluated.length > 0 ? evaluated.every(Boolean) : null,
    measured: evaluated.length > 0,
  };
}

function printReport(doc, outFile) {
  const m = doc.machine;
  const f = (v, d = 2) => (v === null || v === undefined ? '—' : v.toFixed(d));
  const w = (s, n) => String(s).padStart(n);
  const lines = [describeMachine(m)];
  const relay = doc.relay;
  if (relay) {
    const s = doc.params.schedule;
    lines.push(
      `relay: ${s.tokens} tokens per answer, the first after ${s.ttft_ms} ms, then one every ${s.itl_ms} ms; ${doc.params.protocol} streaming; ${doc.params.rounds} interleaved rounds; ms`,
    );
    if (!relay.nginx.available) lines.push(`nginx: skipped — ${relay.nginx.reason}`);
    else lines.push(`nginx: ${relay.nginx.package ?? relay.nginx.version}, ${relay.nginx.config}`);
    if (!relay.gateway.available) lines.push(`gateway: ${relay.gateway.reason} — ${relay.gateway.detail}`);
    lines.push(
      `${'conc'.padStart(4)} ${'path'.padEnd(8)} ${'TTFT p50'.padStart(9)} ${'p99'.padStart(7)} ${'added p50'.padStart(10)} ${'p99'.padStart(7)} ${'token lag p50'.padStart(14)} ${'p99'.padStart(7)} ${'added p50'.padStart(10)} ${'p99'.padStart(7)} ${'max+'.padStart(7)} ${'bursts'.padStart(7)} ${'CPU/1k tok'.padStart(11)}`,
    );
    for (const row of relay.by_concurrency) {
      for (const name of ['direct', 'nginx', 'gateway']) {
        const x = row[name];
        const head = `${w(row.concurrency, 4)} ${name.padEnd(8)}`;
        if (!x) {
          const why = name === 'nginx' ? 'skipped (see above)' : NOT_AVAILABLE;
          lines.push(`${head} ${why}`);
          continue;
        }
        const added = name !== 'direct';
        lines.push(
          `${head} ${w(f(x.ttft_ms.p50), 9)} ${w(f(x.ttft_ms.p99), 7)} ${w(added ? f(x.added_ttft_ms.p50) : '', 10)} ${w(added ? f(x.added_ttft_ms.p99) : '', 7)} ` +
            `${w(f(x.token_lag_ms.p50), 14)} ${w(f(x.token_lag_ms.p99), 7)} ${w(added ? f(x.added_token_delay_ms.p50) : '', 10)} ${w(added ? f(x.added_token_delay_ms.p99) : '', 7)} ` +
            `${w(added ? f(x.added_max_lag_ms, 1) : '', 7)} ${w(`${f(x.burst_tokens_pct, 1)} %`, 7)} ${w(x.cpu ? `${f(x.cpu.cpu_ms_per_1000_tokens, 1)} ms` : '', 11)}` +
            `${Object.keys(x.failures).length ? `  failures: ${JSON.stringify(x.failures)}` : ''}${added && x.buffering ? '  BUFFERING' : ''}`,
        );
      }
      const busy = row.other_processes_cpu_pct_of_all_cores;
      lines.push(
        `     (other processes: ${f(busy, 1)} % of all cores${busy > 15 ? ': a busy machine, the p99s are noisy; measure again when it is quiet' : ''})`,
      );
    }
    const c = doc.cpu_per_1000_tokens;
    lines.push(
      `CPU per 1,000 tokens relayed at ${c.concurrency} streams: gateway ${c.gateway === null ? NOT_AVAILABLE : `${f(c.gateway, 1)} ms (net of its idle rate ${f(c.gateway_net_of_idle, 1)} ms)`}; nginx ${c.nginx === null ? '—' : `${f(c.nginx, 1)} ms`}`,
    );
  }
  const routing = doc.routing;
  if (routing) {
    lines.push(
      `routing: ${routing.requests} mixed requests, ${routing.concurrency} at a time; nodes ${routing.nodes.map((n) => `${n.id} ${n.hardware} (warm ${n.warm_models.join('+')})`).join(', ')}`,
    );
    for (const [name, s] of Object.entries(routing.strategies)) {
      const label = name.replace('_', '-').padEnd(18);
      if (!s.available) {
        lines.push(`  ${label} ${s.reason}`);
        continue;
      }
      const nodes = s.requests_per_node
        ? `, per node ${Object.entries(s.requests_per_node)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([k, v]) => `${k} ${v}`)
            .join(' ')}`
        : '';
      const failed = s.requests - s.succeeded;
      lines.push(
        `  ${label} completion mean ${w(f(s.completion_ms.mean, 0), 6)} ms  p95 ${w(f(s.completion_ms.p95, 0), 6)} ms  (wall ${f(s.wall_s, 1)} s${failed ? `, ${failed} FAILED ${JSON.stringify(s.failures)}` : ''}${nodes})`,
      );
    }
  }
  const t = doc.targets;
  const mark = (v) => (v === null || v === undefined ? 'n/a' : v ? 'PASS' : 'FAIL');
  const ci = (pair) => (pair ? ` [95 % ${f(pair[0])}…${f(pair[1])}]` : '');
  if (!t.measured)
    lines.push(
      doc.relay === null || doc.relay === undefined
        ? 'targets: not measured (the relay part did not run)'
        : `targets: not measured (the gateway is ${NOT_AVAILABLE})`,
    );
  else
    for (const p of t.per_concurrency.filter((x) => x.measured))
      lines.push(
        `targets at ${p.concurrency}: gateway added TTFT p99 ${f(p.added_ttft_p99_ms)} ms${ci(p.added_ttft_p99_ci95)} ≤ ${TARGETS.added_ttft_p99_ms_max} ms ${mark(p.added_ttft_p99_le_1_ms)}; ` +
          `within nginx's (gateway − nginx ${f(p.gateway_minus_nginx_ttft_p99_ms)} ms${ci(p.gateway_minus_nginx_ttft_p99_ci95)}) ${mark(p.added_ttft_p99_within_nginx)}; no buffering ${mark(p.no_buffering)}`,
      );
  lines.push(`written to ${relative(process.cwd(), outFile) || outFile}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

// ========================================================================================= main
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { signal, signalled } = stopOnSignals();

  process.stderr.write(`kage bench gateway${opts.quick ? ' (quick)' : ''}…\n`);
  const nginxFound = opts.relay ? await findNginx(opts.nginx) : { skip: 'relay part not run' };
  if (opts.relay && nginxFound.skip) process.stdout.write(`nginx: skipped — ${nginxFound.skip}\n`);
  const dir = await mkdtemp(join(tmpdir(), 'kage-bench-gateway-'));
  let doc = null;
  try {
    const machine = await machineInfo({ loadAverage: true });
    const code = await gitState(['packages', 'scripts']);
    // Sub-millisecond differences drown in other work's scheduling delays: the relay starts at a
    // quiet moment if one comes, and records the figure either way.
    const quiet = opts.relay ? await waitQuiet({ limitS: opts.quietWaitS, signal, busy: 'non-idle' }) : null;
    const relay = opts.relay ? await runRelay(opts, dir, nginxFound, signal) : null;
    if (relay) relay.quiet_before = quiet;
    const gatewayInBuild = relay?.gateway ?? null;
    const routing = opts.routing ? await runRouting(opts, dir, gatewayInBuild, signal) : null;
    const at32 = relay?.by_concurrency.find((r) => r.concurrency === 32) ?? null;
    doc = {
      schema: 'kage.bench.gateway/v1',
      machine,
      when: new Date().toISOString(),
      params: {
        quick: opts.quick,
        schedule: { tokens: opts.tokens, ttft_ms: opts.ttftMs, itl_ms: opts.itlMs },
        protocol: opts.protocol,
        concurrency: [1, 32],
        requests_per_path: { 1: opts.c1Requests, 32: opts.c32Requests },
        rounds: opts.rounds,
        backend:
          'scripts/bench/token-schedule-backend.mjs, its own process: each token written on its own at start + ttft + i × itl (start = request body read), no timing stamp in the stream',
        client:
          'this process, node:http keepalive agent (one pool per path and concurrency, warmed first), closed loop; send = just before the request is written, arrival = each socket read (performance.now)',
        ttft: 'send → the first read carrying a token',
        token_lag:
          'arrival of token i (i ≥ 1) − (ttft_ms + i × itl_ms); added = the path’s percentile − the direct path’s at the same concurrency',
        bursts: 'share of tokens after the first that arrived in the same socket read as the token before them',
        buffering: `burst share above the direct path's by more than ${BURST_EXCESS_MAX_PCT} percentage point`,
        cpu: 'utime+stime from /proc/PID/stat (all threads; nginx: master and workers) over the path’s own rounds / tokens it relayed; idle rate read while the other paths ran',
        coordinator: {
          command: `node ${UNIT_FLAGS.join(' ')} packages/cli/dist/src/bin.js coordinator --config coordinator.yaml`,
          env: { NODE_ENV: 'production', KAGE_LOG_LEVEL: 'info' },
          config:
            'grpc and http on 127.0.0.1 port 0, db in a temp dir, agent and API token files, and gateway: { listen: "127.0.0.1:PORT", backends: [{ id, kind: ollama, url, nodes }] }; no agent connects',
          requests:
            'sent to gateway.listen at /api/chat (or /v1/chat/completions) with Authorization: Bearer <the API token>',
        },
        routing_completion: 'send → the end of the stream (the final done line), per request; only complete answers',
      },
      code,
      relay,
      cpu_per_1000_tokens: {
        concurrency: 32,
        gateway: at32?.gateway?.cpu?.cpu_ms_per_1000_tokens ?? null,
        gateway_net_of_idle: at32?.gateway?.cpu?.cpu_ms_per_1000_tokens_net_of_idle ?? null,
        nginx: at32?.nginx?.cpu?.cpu_ms_per_1000_tokens ?? null,
        unit: 'ms of CPU per 1,000 tokens',
      },
      routing,
      targets: null,
    };
    doc.targets = evaluateTargets(relay);
  } catch (err) {
    if (!signalled())
      process.stderr.write(`gateway benchmark failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = signalled() ? 130 : 1;
  } finally {
    for (const c of [...live]) await stopChild(c);
    if (opts.keep) process.stderr.write(`  kept ${dir}\n`);
    else await rm(dir, { recursive: true, force: true });
  }
  if (doc) {
    await mkdir(dirname(opts.out), { recursive: true });
    await writeFile(opts.out, `${JSON.stringify(doc, null, 2)}\n`);
    printReport(doc, opts.out);
    if (opts.strict && doc.targets.all_pass === false) process.exitCode = 1;
  }
}

await main();
