// The coordinator scale benchmark: CPU, RSS, committed rows/s and sample→Ack latency of the real
// `kage coordinator` process fed by N synthetic agents at 1 Hz (N = 100, 1,000, 10,000), the REST
// API's `GET /api/v1/nodes` under 50 concurrent clients with 1,000 nodes registered, and where the
// coordinator's CPU goes at N = 1,000 (a V8 CPU profile summarised by category).
//
// Each N gets a fresh coordinator (a temp directory, its own SQLite file, one token per node in a
// 0600 agent tokens file), started as the systemd unit starts it (`node <unit flags> bin.js
// coordinator --config`). The CLI reads at most 64 KiB of agent tokens: about 1,360 nodes with the
// ids and 32-character tokens used here, about 800 with `openssl rand -hex 32` tokens. When it
// refuses the file (exit 78) the same daemon is started through `--serve-coordinator` (the CLI's
// logger, config loader and daemon factory, the tokens handed over in memory), and the result
// records the refusal and `coordinator_launch: daemon-api`.
//
// The agents are simulated by 1–2 generator child processes of this script (`--generator`): each
// agent is its own AgentGateway.Connect call with its own Bearer token, Hello → Welcome, then one
// SampleBatch of one Sample a second (16 cores, memory, load, 2 interfaces, 2 temperatures, 1 GPU,
// 2 services, as an agent on an APU node sends) and a Heartbeat every 5 s; a call that ends is
// reopened after 1–2 s, as the agent does. Agents share HTTP/2 connections (--agents-per-connection,
// default 50): a real fleet has one connection per agent, so the coordinator's per-connection work
// is undercounted by that factor and its per-stream work is not. Each agent sends on its own 10 ms
// slot of the second, as agents started at different times do.
//
// Measured over a steady window (--seconds, default 30) that starts --settle seconds after the
// last agent was welcomed: coordinator CPU from /proc/PID/stat (all threads), RSS from
// /proc/PID/status once a second, rows/s from the delta of `kage_ingest_records_total` on /metrics
// (scraped just outside the window, so the scrape is not charged to it), and the latency from a
// sample's ts_ms to its Ack arriving at the generator. The generators' own CPU and event-loop delay
// are reported so that a saturated generator is visible rather than mistaken for a slow coordinator.
// A coordinator that does not welcome every agent in time is measured all the same with the agents
// it holds; `coordinator_kept_up` says whether it committed what was offered and acknowledged every
// sample, and a target at an N where it did not is FAIL.
//
// REST: at 1,000 agents, after the window, `GET /api/v1/nodes` from 50 autocannon connections
// while the agents keep streaming, twice: with `Accept-Encoding: gzip` as browsers and fetch send
// it (the target is judged on this one), and with `identity`, the full JSON on every request. Profile: one more coordinator at 1,000 agents under
// `node --cpu-prof`, stopped with SIGTERM; the samples inside its window are summed by category.
//
// The machine may be shared: before each coordinator starts, the benchmark waits (up to
// --quiet-wait seconds, default 180) for other processes to use under 15 % of all cores, and
// before each window up to a minute more; a window in which they took more than 10 % is measured
// again (up to --windows), the quietest kept; every result records what other processes took.
//
// Flags: --quick (10 s windows, skips 10,000), --seconds N, --settle N, --agents 100,1000,10000,
// --agents-per-connection N, --rest-seconds N, --quiet-wait S, --windows N, --no-rest,
// --no-profile, --profile-agents N (default 1000), --no-bare (skip the bare grpc-js server that
// only acks, measured side by side at every N as the floor), --out FILE, --keep (keep each temp dir: its
// coordinator log and database), --strict (exit 1 when a target is missed). Writes
// bench/results/coordinator-scale.json and prints a short table.
import { fork } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { flagReader } from './bench/flags.mjs';
import { gitState } from './bench/git-state.mjs';
import { describeMachine, machineInfo } from './bench/machine-info.mjs';
import { CLK_TCK, allProcessTicks, cpuTicks, machineTicks, rssBytes } from './bench/proc-stat.mjs';
import { exited, live, spawnLogged, stopChild, stopOnSignals, tail, waitExit } from './bench/processes.mjs';
import { otherCpuPct, waitQuiet } from './bench/quiet-machine.mjs';
import { round } from './bench/round.mjs';
import { daemonEnv, unitNodeFlags } from './bench/systemd-unit.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
/**
 * Where the compiled packages are loaded from: a copy of their dist trees taken at the start (see
 * snapshotBuild), so that a rebuild of the working tree during the run cannot change the code
 * under measurement; child processes get it on their command line.
 */
let build = root;
const MB = 1_000_000;
/** A window in which other processes used more of the machine than this (% of all cores) is redone. */
const OTHER_LOAD_MAX_PCT = 10;
const TARGETS = {
  cpu_pct_1000_agents_max: 10,
  cpu_pct_10000_agents_max: 50,
  ack_p99_ms_max: 1000,
  rest_p99_ms_max: 20,
  linear_r2_min: 0.95,
};
/** The node flags of the coordinator unit's ExecStart: the benchmark measures what is deployed. */
const UNIT_FLAGS = unitNodeFlags('coordinator');
/** Lines of a coordinator's log quoted in an error. */
const LOG_LINES = 12;

// ============================================================================== shared helpers
const fmtInt = (v) => Math.round(v).toLocaleString('en-US');

function mergeCounts(list) {
  const out = {};
  for (const counts of list) for (const [k, v] of Object.entries(counts)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

// ==================================================================================== generator
// A child process (`--generator`) driving a share of the agents; the parent talks to it over IPC
// (request {type, id} → reply {type: 'reply', id, data}).
async function generatorMain() {
  const { loadContract } = await import(pathToFileURL(join(build, 'packages/wire/dist/src/index.js')).href);
  // The grpc-js instance @kage/wire loads the contract with: credentials and Metadata must come
  // from the same module as the client class.
  const grpcPath = createRequire(join(build, 'packages/wire/package.json')).resolve('@grpc/grpc-js');
  const grpcModule = await import(pathToFileURL(grpcPath).href);
  const grpc = grpcModule.default ?? grpcModule;
  const Client = loadContract().kage.v1.AgentGateway;

  const agents = [];
  const clients = [];
  const buckets = Array.from({ length: 100 }, () => []);
  const errors = {};
  let window = { start: Infinity, end: -Infinity };
  let latencies = new Float64Array(1024);
  let latencyCount = 0;
  const counters = {
    opened: 0,
    welcomed: 0,
    refused: 0,
    ended: 0,
    sentInWindow: 0,
    ackedInWindow: 0,
    lostInWindow: 0,
  };
  let lagSkips = 0;
  let writesQueued = 0;
  let scheduler;
  let rampTimer;
  let refusal = null;
  const eld = monitorEventLoopDelay({ resolution: 10 });
  const epochNow = () => performance.timeOrigin + performance.now();

  const pushLatency = (ms) => {
    if (latencyCount === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[latencyCount++] = ms;
  };

  const gpuStatic = {
    index: 0,
    id: 'card1',
    vendor: 'amd',
    name: 'AMD Radeon 8060S',
    unified_memory: true,
    mem_total_bytes: 96 * 2 ** 30 + 16 * 2 ** 30,
  };
  const helloFor = (a) => ({
    hello: {
      protocol_version: 1,
      node_id: a.id,
      boot_id: a.bootId,
      agent_version: '0.1.0',
      inventory: {
        hostname: a.id,
        cpu_model: 'AMD RYZEN AI MAX+ 395 w/ Radeon 8060S',
        cpu_cores: 16,
        cpu_physical_cores: 8,
        mem_total_bytes: 128 * 2 ** 30,
        os_distro: 'Ubuntu',
        os_release: '24.04.2 LTS',
        kernel: '6.8.0-60-generic',
        arch: 'x64',
        source: 'systeminformation',
        gpus: [{ ...gpuStatic, vram_total_bytes: 96 * 2 ** 30, gtt_total_bytes: 16 * 2 ** 30 }],
      },
      services: ['ollama', 'exo'].map((name, i) => ({
        name,
        driver: 'process',
        status: {
          name,
          driver: 'process',
          state: 'running',
          pid: 4000 + i,
          restarts: 0,
          healthy: true,
          health: 'healthy',
        },
      })),
      last_seq: a.seq ?? 0,
      buffer: { dropped_age: 0, dropped_size: 0, buffered_records: 0, buffered_bytes: 0 },
      started_at_ms: Date.now(),
      sample_interval_ms: 1000,
    },
  });

  const sampleFor = (a, tEpoch) => {
    const r = Math.random;
    a.rx += Math.round(1e5 + r() * 1e6);
    a.tx += Math.round(1e5 + r() * 1e6);
    const per_core = new Array(16);
    for (let i = 0; i < 16; i++) per_core[i] = { busy_pct: 2 + r() * 60 };
    return {
      seq: a.seq,
      ts_ms: Math.round(tEpoch),
      tick: a.tick,
      cpu_pct: 5 + r() * 40,
      per_core,
      load1: 1 + r() * 4,
      load5: 1 + r() * 3,
      load15: 1 + r() * 2,
      mem_used_bytes: Math.round(40e9 + r() * 8e9),
      mem_total_bytes: 128 * 2 ** 30,
      swap_used_bytes: 0,
      swap_total_bytes: 8 * 2 ** 30,
      net: {
        interfaces: [
          { iface: 'enp191s0', rx_bytes: a.rx, tx_bytes: a.tx, rx_bps: r() * 1e8, tx_bps: r() * 1e8 },
          { iface: 'tailscale0', rx_bytes: a.rx >> 3, tx_bytes: a.tx >> 3, rx_bps: r() * 1e7, tx_bps: r() * 1e7 },
        ],
      },
      temps: [
        { chip: 'k10temp', label: 'Tctl', celsius: 45 + r() * 30 },
        { chip: 'amdgpu', label: 'edge', celsius: 40 + r() * 30 },
      ],
      gpus: [
        {
          ...gpuStatic,
          busy_pct: r() * 100,
          mem_used_bytes: Math.round(20e9 + r() * 40e9),
          vram_used_bytes: Math.round(20e9 + r() * 40e9),
          vram_total_bytes: 96 * 2 ** 30,
          gtt_used_bytes: Math.round(r() * 4e9),
          gtt_total_bytes: 16 * 2 ** 30,
          power_w: 30 + r() * 90,
          temp_c: 40 + r() * 40,
        },
      ],
      services: [
        { name: 'ollama', cpu_pct: r() * 200, rss_bytes: Math.round(2e9 + r() * 1e9), source: 'process-tree' },
        { name: 'exo', cpu_pct: r() * 50, rss_bytes: Math.round(5e8 + r() * 1e8), source: 'process-tree' },
      ],
    };
  };

  const onMessage = (a, m) => {
    if (m.body === 'ack') {
      const seq = m.ack.seq;
      const now = epochNow();
      // An Ack covers every seq up to its own; live traffic acknowledges one sample at a time.
      while (a.pending.length > 0 && a.pending[0] <= seq) {
        a.pending.shift();
        const t = a.pendingT.shift();
        if (t >= window.start && t < window.end) {
          counters.ackedInWindow += 1;
          pushLatency(now - t);
        }
      }
    } else if (m.body === 'welcome') {
      if (m.welcome.accepted) {
        a.welcomed = true;
        a.seq = Math.max(a.seq, m.welcome.last_acked_seq);
        counters.welcomed += 1;
      } else {
        counters.refused += 1;
        refusal ??= m.welcome.reason;
      }
    }
  };

  /**
   * A call that ends while the benchmark runs is reopened after 1–2 s, as the agent's backoff
   * does; its unacknowledged samples are counted as lost (a real agent would replay them).
   */
  const callEnded = (a, err) => {
    if (a.welcomed) counters.welcomed -= 1;
    a.welcomed = false;
    a.call = null;
    if (a.stopping) return;
    if (err) {
      const key = `${err.code ?? 'unknown'} ${String(err.details ?? err.message).slice(0, 80)}`;
      errors[key] = (errors[key] ?? 0) + 1;
      // A refused token or node id is a broken setup, not load: the parent stops on it.
      if (err.code === grpc.status.UNAUTHENTICATED || err.code === grpc.status.PERMISSION_DENIED) {
        counters.refused += 1;
        refusal ??= err.details ?? err.message;
        return;
      }
    }
    counters.ended += 1;
    for (const t of a.pendingT) if (t >= window.start && t < window.end) counters.lostInWindow += 1;
    a.pending = [];
    a.pendingT = [];
    a.reopenTimer = setTimeout(() => open(a), 1000 + Math.random() * 1000);
  };

  const open = (a) => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${a.token}`);
    const call = a.client.Connect(metadata);
    const id = ++a.calls;
    a.call = call;
    counters.opened += 1;
    let over = false;
    const finish = (err) => {
      if (over || a.calls !== id) return;
      over = true;
      callEnded(a, err);
    };
    call.on('data', (m) => onMessage(a, m));
    call.on('error', (err) => finish(err));
    call.on('end', () => finish(null));
    call.write(helloFor(a));
  };

  const send = (a) => {
    a.seq += 1;
    a.tick += 1;
    const t = epochNow();
    const ok = a.call.write({ sample_batch: { samples: [sampleFor(a, t)] } });
    if (!ok) writesQueued += 1;
    a.pending.push(a.seq);
    a.pendingT.push(t);
    if (t >= window.start && t < window.end) counters.sentInWindow += 1;
    if (a.tick % 5 === 0) {
      a.call.write({
        heartbeat: {
          ts_ms: Math.round(t),
          last_seq: a.seq,
          buffer: { buffered_records: a.pending.length },
          commands_running: 0,
        },
      });
    }
  };

  // One 10 ms scheduler for every agent: each agent owns one of 100 slots of the second.
  const startScheduler = () => {
    let next = performance.now();
    let slot = 0;
    const tick = () => {
      const now = performance.now();
      if (now - next > 1000) {
        // More than a second behind: skip rather than send two samples of one agent at once.
        lagSkips += 1;
        next = now;
      }
      while (next <= now) {
        for (const a of buckets[slot]) if (a.welcomed) send(a);
        slot = (slot + 1) % buckets.length;
        next += 10;
      }
      scheduler = setTimeout(tick, Math.max(0, next - performance.now()));
    };
    tick();
  };

  const status = () => {
    let pendingInWindow = 0;
    for (const a of agents) {
      for (const t of a.pendingT) if (t >= window.start && t < window.end) pendingInWindow += 1;
    }
    return { agents: agents.length, ...counters, pendingInWindow, errors, refusal, lagSkips, writesQueued };
  };

  const stop = () => {
    clearTimeout(scheduler);
    clearTimeout(rampTimer);
    for (const a of agents) {
      a.stopping = true;
      clearTimeout(a.reopenTimer);
      a.call?.cancel();
    }
    for (const c of clients) c.close();
  };

  const handlers = {
    start(msg) {
      const perConnection = msg.agentsPerConnection;
      const connections = Math.ceil(msg.agents.length / perConnection);
      for (let i = 0; i < connections; i++) {
        clients.push(
          new Client(`127.0.0.1:${msg.port}`, grpc.credentials.createInsecure(), {
            // The agent's own channel options (packages/agent agent-stream), plus a pool of its
            // own per client so that each client is one HTTP/2 connection.
            'grpc.keepalive_time_ms': 20_000,
            'grpc.keepalive_timeout_ms': 10_000,
            'grpc.keepalive_permit_without_calls': 1,
            'grpc.use_local_subchannel_pool': 1,
          }),
        );
      }
      msg.agents.forEach(([id, token], i) => {
        const a = {
          id,
          token,
          bootId: randomUUID(),
          client: clients[Math.floor(i / perConnection)],
          call: null,
          seq: 0,
          tick: 0,
          rx: 1e9,
          tx: 1e9,
          pending: [],
          pendingT: [],
          welcomed: false,
          calls: 0,
          reopenTimer: undefined,
          stopping: false,
        };
        agents.push(a);
        buckets[Math.floor(Math.random() * buckets.length)].push(a);
      });
      // Opened at a bounded rate, as a fleet reconnecting after a coordinator restart would be.
      let opened = 0;
      const perTick = Math.max(1, Math.round(msg.rampPerSecond / 20));
      const ramp = () => {
        for (let k = 0; k < perTick && opened < agents.length; k++) open(agents[opened++]);
        if (opened < agents.length) rampTimer = setTimeout(ramp, 50);
      };
      ramp();
      startScheduler();
      return { connections };
    },
    window(msg) {
      // A new window starts from nothing: the previous one was drained and reported.
      window = { start: msg.start, end: msg.end };
      latencyCount = 0;
      counters.sentInWindow = 0;
      counters.ackedInWindow = 0;
      counters.lostInWindow = 0;
      eld.reset();
      setTimeout(() => eld.enable(), Math.max(0, msg.start - Date.now())).unref();
      setTimeout(() => eld.disable(), Math.max(0, msg.end - Date.now())).unref();
      return status();
    },
    status,
    report() {
      const ms = (ns) => round(ns / 1e6, 2);
      return {
        ...status(),
        latencies: latencies.slice(0, latencyCount),
        eventLoopDelayMs: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max) },
        memory: process.memoryUsage().rss,
      };
    },
    sampleBytes() {
      const a = { seq: 1, tick: 1, rx: 1e9, tx: 1e9 };
      const serialize = Client.service.Connect.requestSerialize;
      return {
        sample_batch: serialize({ sample_batch: { samples: [sampleFor(a, Date.now())] } }).length,
        hello: serialize(helloFor({ id: 'bench-00001', bootId: randomUUID() })).length,
      };
    },
    stop() {
      stop();
      setTimeout(() => process.exit(0), 200);
      return {};
    },
  };

  process.on('message', (msg) => {
    const handler = handlers[msg?.type];
    if (!handler) return;
    let data;
    try {
      data = handler(msg);
    } catch (err) {
      data = { error: err instanceof Error ? err.message : String(err) };
    }
    process.send({ type: 'reply', id: msg.id, data });
  });
  // The parent stops us; a terminal's Ctrl-C reaches the whole group and the parent handles it.
  process.on('SIGINT', () => {});
  process.on('disconnect', () => {
    stop();
    process.exit(0);
  });
  process.send({ type: 'ready' });
}

// ============================================================================ daemon-api launcher
// `--serve-coordinator BUILD CONFIG TOKENS_JSON`: the coordinator daemon as `kage coordinator` builds it
// (same logger, same daemon factory, same config loader), with the agent tokens taken from a JSON
// file. Only used when the CLI refuses the agent tokens file (its loader reads at most 64 KiB, too
// small for 10,000 tokens); the result says so.
async function serveCoordinatorMain(args) {
  const [configFile, tokensFile] = args;
  const { createCoordinatorDaemon, loadCoordinatorConfig } = await import(
    pathToFileURL(join(build, 'packages/coordinator/dist/src/index.js')).href
  );
  const { createDaemonLogger, readDaemonEnv } = await import(
    pathToFileURL(join(build, 'packages/common/dist/src/index.js')).href
  );
  const { version } = JSON.parse(readFileSync(join(build, 'packages/cli/package.json'), 'utf8'));
  const env = readDaemonEnv();
  const log = createDaemonLogger({ level: env.logLevel ?? 'info', journalStream: env.journalStream });
  const base = await loadCoordinatorConfig(configFile);
  const tokens = new Map(Object.entries(JSON.parse(readFileSync(tokensFile, 'utf8'))));
  const config = { ...base };
  // Not enumerable, as the loader keeps them, so that nothing logs them.
  Object.defineProperty(config, 'agentTokens', { value: tokens });
  Object.defineProperty(config, 'apiToken', { value: base.apiToken });
  const daemon = createCoordinatorDaemon({ config, env, log, version });
  const stopped = new Promise((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  try {
    await daemon.start();
    await stopped;
  } finally {
    await daemon.close();
  }
}

// ======================================================================= bare acking server
/**
 * The floor the coordinator is compared with: a grpc-js server on the same contract, loader
 * options and server options that welcomes every Hello and acknowledges every SampleBatch at once,
 * storing nothing (no token check, no registry, no SQLite, no HTTP API but a one-line /metrics so
 * that the window is measured exactly as the coordinator's). Its CPU at N agents is what gRPC,
 * HTTP/2 and protobuf cost with this generator on this machine.
 */
async function serveBareMain() {
  const { Server, ServerCredentials } = await import(
    pathToFileURL(createRequire(join(build, 'packages/coordinator/package.json')).resolve('@grpc/grpc-js')).href
  );
  const { loadContract } = await import(pathToFileURL(join(build, 'packages/wire/dist/src/index.js')).href);
  const contract = loadContract();
  let samples = 0;
  const server = new Server({
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
    'grpc.max_send_message_length': 4 * 1024 * 1024,
  });
  server.addService(contract.kage.v1.AgentGateway.service, {
    Connect(call) {
      call.on('data', (m) => {
        if (m.body === 'hello') {
          call.write({
            welcome: { accepted: true, last_acked_seq: 0, heartbeat_interval_ms: 5000, coordinator_version: 'bare' },
          });
        } else if (m.body === 'sample_batch') {
          const list = m.sample_batch?.samples ?? [];
          samples += list.length;
          const last = list.at(-1);
          if (last) call.write({ ack: { seq: last.seq } });
        }
      });
      call.on('end', () => call.end());
      call.on('error', () => {});
    },
  });
  const grpcPort = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );
  const http = createServer((req, res) => {
    res.end(`kage_ingest_records_total{kind="samples"} ${samples}\n`);
  });
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  process.stdout.write(
    `${JSON.stringify({ msg: 'coordinator started', grpc: grpcPort, http: http.address().port })}\n`,
  );
  await new Promise((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  http.close();
  server.forceShutdown();
}

// ======================================================================================= parent
function parseArgs(argv) {
  const opts = {
    seconds: 30,
    settle: 10,
    agents: [100, 1000, 10_000],
    agentsPerConnection: 50,
    restSeconds: 15,
    quietWait: 180,
    keep: false,
    profileAgents: 1000,
    windows: 3,
    rest: true,
    profile: true,
    bare: true,
    quick: false,
    strict: false,
    out: join(root, 'bench/results/coordinator-scale.json'),
  };
  let secondsGiven = false;
  let agentsGiven = false;
  const flags = flagReader(argv);
  const { value, int } = flags;
  for (let a = flags.next(); a !== undefined; a = flags.next()) {
    if (a === '--seconds') {
      opts.seconds = int(5, 3600);
      secondsGiven = true;
    } else if (a === '--settle') opts.settle = int(0, 600);
    else if (a === '--rest-seconds') opts.restSeconds = int(2, 600);
    else if (a === '--quiet-wait') opts.quietWait = int(0, 3600);
    else if (a === '--profile-agents') opts.profileAgents = int(1, 50_000);
    else if (a === '--windows') opts.windows = int(1, 10);
    else if (a === '--agents-per-connection') opts.agentsPerConnection = int(1, 10_000);
    else if (a === '--agents') {
      opts.agents = value()
        .split(',')
        .map((s) => Number(s.replace(/_/g, '')));
      if (opts.agents.some((n) => !Number.isInteger(n) || n < 1 || n > 50_000))
        throw new Error('--agents: a comma-separated list of integers 1–50000');
      agentsGiven = true;
    } else if (a === '--quick') opts.quick = true;
    else if (a === '--no-rest') opts.rest = false;
    else if (a === '--keep') opts.keep = true;
    else if (a === '--no-profile') opts.profile = false;
    else if (a === '--no-bare') opts.bare = false;
    else if (a === '--strict') opts.strict = true;
    else if (a === '--out') opts.out = value();
    else
      throw new Error(
        `unknown flag ${a} (flags: --quick, --seconds N, --settle N, --agents LIST, --agents-per-connection N, --rest-seconds N, --quiet-wait S, --no-rest, --no-profile, --out FILE, --strict)`,
      );
  }
  if (opts.quick) {
    if (!secondsGiven) opts.seconds = 10;
    opts.settle = Math.min(opts.settle, 3);
    opts.restSeconds = Math.min(opts.restSeconds, 5);
    if (!agentsGiven) opts.agents = [100, 1000];
  }
  return opts;
}

// --------------------------------------------------------------------------------------- procfs
/** Scheduler state of a process's main thread: R running, S sleeping, D waiting on I/O. */
async function mainThreadState(pid) {
  const text = await readFile(`/proc/${pid}/task/${pid}/stat`, 'utf8').catch(() => null);
  return text === null ? null : text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3);
}

/**
 * CPU of everything but `own` between two snapshots, in % of all cores: the machine's user+system
 * time minus that of `own` (which catches processes that came and went in between), and the five
 * busiest live processes by name (in % of one core).
 */
function otherProcesses(before, after, own, sys0, sys1, wallS) {
  let ownTicks = 0;
  for (const pid of own) ownTicks += (after.get(pid)?.ticks ?? 0) - (before.get(pid)?.ticks ?? 0);
  const rows = [];
  for (const [pid, b] of after) {
    if (own.has(pid)) continue;
    const d = b.ticks - (before.get(pid)?.ticks ?? b.ticks);
    if (d > 0) rows.push({ comm: b.comm, cpu_pct: round((d / CLK_TCK / wallS) * 100, 1) });
  }
  return {
    pctOfAllCores: otherCpuPct(sys0, sys1, ownTicks, 'user+system'),
    top: rows.sort((x, y) => y.cpu_pct - x.cpu_pct).slice(0, 5),
  };
}

// ----------------------------------------------------------------------------------- code version
/** A digest of the compiled code under `base` (every .js of the packages' dist trees). */
async function codeDigest(base) {
  const hash = createHash('sha256');
  const walk = async (rel) => {
    const entries = await readdir(join(base, rel), { withFileTypes: true }).catch(() => []);
    for (const e of entries.sort((x, y) => x.name.localeCompare(y.name))) {
      const sub = `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(sub);
      else if (e.name.endsWith('.js')) hash.update(sub).update(await readFile(join(base, sub)));
    }
  };
  for (const name of (await readdir(join(base, 'packages'))).sort()) await walk(`packages/${name}/dist`);
  return hash.digest('hex').slice(0, 16);
}

const exists = (path) =>
  stat(path).then(
    () => true,
    () => false,
  );

/**
 * Copies every package's dist, package.json, proto and node_modules links into a temp dir beside
 * a link to the root node_modules, so that the whole run loads one build even if the working tree
 * is rebuilt meanwhile. A copy taken while a build was writing is taken again (bounded).
 */
async function snapshotBuild(signal) {
  for (let attempt = 1; ; attempt++) {
    const before = await codeDigest(root);
    const dir = await mkdtemp(join(tmpdir(), 'kage-coordinator-scale-build-'));
    await symlink(join(root, 'node_modules'), join(dir, 'node_modules'));
    for (const name of await readdir(join(root, 'packages'))) {
      for (const part of ['package.json', 'dist', 'proto', 'node_modules']) {
        const from = join(root, 'packages', name, part);
        if (await exists(from))
          await cp(from, join(dir, 'packages', name, part), { recursive: true, verbatimSymlinks: true });
      }
    }
    const digest = await codeDigest(dir);
    if (digest === before && (await codeDigest(root)) === before) return { dir, digest };
    await rm(dir, { recursive: true, force: true });
    if (attempt === 5) throw new Error('the packages kept being rebuilt while they were copied (5 attempts)');
    await sleep(5000, undefined, { signal });
  }
}

// ------------------------------------------------------------------------------------ processes
/** Writes coordinator.yaml, its token files and the full token map; the tokens never appear in output. */
async function writeCoordinatorFiles(dir, nodes) {
  const tokens = nodes.map(() => randomBytes(16).toString('hex'));
  const tokensYaml = nodes.map((id, i) => `${id}: "${tokens[i]}"\n`).join('');
  await writeFile(join(dir, 'agent-tokens.yaml'), tokensYaml, { mode: 0o600 });
  // For the daemon-api launcher: the config loader still reads a (small) tokens file.
  await writeFile(join(dir, 'agent-tokens-first.yaml'), `${nodes[0]}: "${tokens[0]}"\n`, { mode: 0o600 });
  await writeFile(
    join(dir, 'agent-tokens.json'),
    JSON.stringify(Object.fromEntries(nodes.map((id, i) => [id, tokens[i]]))),
    {
      mode: 0o600,
    },
  );
  await writeFile(join(dir, 'api.token'), `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  const config = (tokensFile) =>
    [
      // Port 0: the bound ports are read from the "coordinator started" log line.
      'grpc: { listen: "127.0.0.1:0" }',
      'http: { listen: "127.0.0.1:0" }',
      'db: kage.db',
      `auth: { agent_tokens_file: ${tokensFile}, api_token_file: api.token }`,
      '',
    ].join('\n');
  await writeFile(join(dir, 'coordinator.yaml'), config('agent-tokens.yaml'), { mode: 0o600 });
  await writeFile(join(dir, 'coordinator-first.yaml'), config('agent-tokens-first.yaml'), { mode: 0o600 });
  return {
    agents: nodes.map((id, i) => [id, tokens[i]]),
    tokensFileBytes: Buffer.byteLength(tokensYaml),
  };
}

/** Starts a coordinator process and waits for its "coordinator started" line. */
async function spawnCoordinator(args, log, signal) {
  const child = spawnLogged(process.execPath, args, log, daemonEnv());
  const deadline = Date.now() + 60_000;
  for (;;) {
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      if (!line.includes('coordinator started')) continue;
      try {
        const j = JSON.parse(line);
        if (j.msg === 'coordinator started') return { child, grpcPort: j.grpc, httpPort: j.http };
      } catch {
        // a partial line: read again
      }
    }
    if (exited(child)) {
      live.delete(child);
      return { child: null, exitCode: child.exitCode, output: tail(log, LOG_LINES) };
    }
    if (Date.now() > deadline) {
      await stopChild(child, 5000);
      throw new Error(`the coordinator did not start within 60 s:\n${tail(log, LOG_LINES)}`);
    }
    await sleep(100, undefined, { signal });
  }
}

/**
 * The real `kage coordinator` CLI; when it refuses the agent tokens file as too large (exit 78),
 * the same daemon through the daemon-api launcher, and the refusal is recorded.
 */
async function startCoordinator(dir, { nodeArgs = [], signal }) {
  const log = join(dir, 'coordinator.log');
  const cli = await spawnCoordinator(
    [
      ...UNIT_FLAGS,
      ...nodeArgs,
      join(build, 'packages/cli/dist/src/bin.js'),
      'coordinator',
      '--config',
      join(dir, 'coordinator.yaml'),
    ],
    log,
    signal,
  );
  if (cli.child) return { ...cli, launch: 'cli', log, refusal: null };
  if (cli.exitCode !== 78 || !/too large/.test(cli.output))
    throw new Error(`the coordinator exited (${cli.exitCode}) at start:\n${cli.output}`);
  const refusal = cli.output
    .split('\n')
    .filter((l) => /too large/.test(l))
    .map((l) => l.split(dir).join('<dir>').trim())
    .join(' ');
  process.stderr.write(`    kage coordinator refused the tokens file (exit 78); using the daemon-api launcher\n`);
  const api = await spawnCoordinator(
    [
      ...UNIT_FLAGS,
      ...nodeArgs,
      SELF,
      '--serve-coordinator',
      build,
      join(dir, 'coordinator-first.yaml'),
      join(dir, 'agent-tokens.json'),
    ],
    log,
    signal,
  );
  if (!api.child) throw new Error(`the daemon-api launcher exited (${api.exitCode}) at start:\n${api.output}`);
  return { ...api, launch: 'daemon-api', log, refusal };
}

/** The bare acking server (see serveBareMain), started like the coordinator. */
async function startBareServer(dir, { nodeArgs = [], signal }) {
  const log = join(dir, 'coordinator.log');
  const bare = await spawnCoordinator([...UNIT_FLAGS, ...nodeArgs, SELF, '--serve-bare', build], log, signal);
  if (!bare.child) throw new Error(`the bare server exited (${bare.exitCode}) at start:\n${bare.output}`);
  return { ...bare, launch: 'bare', log, refusal: null };
}

/** A generator child; resolves once it is ready for requests. */
async function forkGenerator(index) {
  const child = fork(SELF, ['--generator', build], {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  live.add(child);
  const gen = { index, child, nextId: 0 };
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`generator ${index} did not start within 30 s`)), 30_000);
    child.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`generator ${index} exited (${code}) at start`)));
  });
  return gen;
}

function ask(gen, type, extra = {}, timeoutMs = 60_000) {
  const id = ++gen.nextId;
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      gen.child.off('message', onMessage);
      gen.child.off('exit', onExit);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`generator ${gen.index}: no answer to ${type} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m) => {
      if (m?.type !== 'reply' || m.id !== id) return;
      done();
      if (m.data?.error) reject(new Error(`generator ${gen.index}: ${type}: ${m.data.error}`));
      else resolve(m.data);
    };
    const onExit = (code) => {
      done();
      reject(new Error(`generator ${gen.index} exited (${code}) while asked for ${type}`));
    };
    gen.child.on('message', onMessage);
    gen.child.once('exit', onExit);
    gen.child.send({ type, id, ...extra });
  });
}

async function stopGenerator(gen) {
  if (!exited(gen.child)) await ask(gen, 'stop', {}, 10_000).catch(() => {});
  if (!(await waitExit(gen.child, 10_000))) gen.child.kill('SIGKILL');
  await waitExit(gen.child, 5000);
  live.delete(gen.child);
}

function httpGet(port, path, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Samples committed since the coordinator started, from its /metrics, with the time of the answer. */
async function ingestedSamples(port) {
  const res = await httpGet(port, '/metrics');
  const t = performance.now();
  const m = /^kage_ingest_records_total\{kind="samples"\} (\d+(?:\.\d+)?(?:e\+?\d+)?)$/m.exec(res.body);
  if (res.status !== 200 || !m) throw new Error(`/metrics: status ${res.status}, no kage_ingest_records_total`);
  return { value: Number(m[1]), t };
}

// ------------------------------------------------------------------------------------- one run
/**
 * One coordinator, N agents: ramp, settle, measure the window, then optionally the REST load and
 * the CPU profile. Cleans up its processes and directory whatever happens.
 */
async function runScale(n, opts, signal, { rest = false, profile = false, bare = false } = {}) {
  const label = `${fmtInt(n)} agents${profile ? ' (CPU profile run)' : ''}${bare ? ' (bare acking server)' : ''}`;
  process.stderr.write(`  ${label}: starting the coordinator…\n`);
  // Busy ticks counted as otherProcesses counts them, so that the wait and the windows agree.
  const quietBefore = await waitQuiet({
    limitS: opts.quietWait,
    signal,
    busy: 'user+system',
    own: [process.pid],
    indent: '    ',
  });
  const dir = await mkdtemp(join(tmpdir(), 'kage-coordinator-scale-'));
  const gens = [];
  let coordinator = null;
  try {
    const nodes = Array.from({ length: n }, (_, i) => `bench-${String(i + 1).padStart(5, '0')}`);
    const files = await writeCoordinatorFiles(dir, nodes);
    const profDir = join(dir, 'profile');
    if (profile) await mkdir(profDir);
    const nodeArgs = profile ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
    coordinator = bare
      ? await startBareServer(dir, { nodeArgs, signal })
      : await startCoordinator(dir, { nodeArgs, signal });
    const pid = coordinator.child.pid;
    const alive = () => {
      if (exited(coordinator.child))
        throw new Error(`the coordinator exited (${coordinator.child.exitCode}):\n${tail(coordinator.log, LOG_LINES)}`);
      for (const g of gens) if (exited(g.child)) throw new Error(`generator ${g.index} exited (${g.child.exitCode})`);
    };

    // One generator drives up to 2,000 agents; beyond that two share the work (two event loops).
    const generators = n > 2000 ? 2 : 1;
    const rampPerSecond = 1000;
    const share = Math.ceil(n / generators);
    for (let g = 0; g < generators; g++) gens.push(await forkGenerator(g));
    const sampleBytes = await ask(gens[0], 'sampleBytes');
    const tRamp = performance.now();
    let connections = 0;
    for (const [g, gen] of gens.entries()) {
      const agents = files.agents.slice(g * share, (g + 1) * share);
      const r = await ask(gen, 'start', {
        port: coordinator.grpcPort,
        agents,
        agentsPerConnection: opts.agentsPerConnection,
        rampPerSecond: rampPerSecond / generators,
      });
      connections += r.connections;
    }

    // Ramp: bounded by an allowance per agent (the coordinator checks each call's token against
    // every configured one, so welcoming N agents costs O(N²)). A coordinator that cannot take N
    // agents is measured all the same, with the agents it holds and the rest reconnecting: that
    // window shows its capacity, and the result says it did not keep up.
    const rampLimitMs = 30_000 + n * 9;
    let lastPrint = performance.now();
    let rssMaxAll = 0;
    let rampEnded = 0;
    let allWelcomed = false;
    for (;;) {
      alive();
      const st = await Promise.all(gens.map((g) => ask(g, 'status')));
      const welcomed = st.reduce((s, x) => s + x.welcomed, 0);
      const refused = st.reduce((s, x) => s + x.refused, 0);
      rampEnded = st.reduce((s, x) => s + x.ended, 0);
      rssMaxAll = Math.max(rssMaxAll, (await rssBytes(pid)) ?? 0);
      if (refused > 0) {
        const why = st.find((x) => x.refusal)?.refusal ?? 'no reason given';
        throw new Error(`${refused} agent(s) refused by the coordinator: ${why}`);
      }
      if (welcomed === n) {
        allWelcomed = true;
        break;
      }
      if (performance.now() - tRamp > rampLimitMs) {
        process.stderr.write(
          `    only ${fmtInt(welcomed)} of ${fmtInt(n)} welcomed after ${rampLimitMs / 1000} s (call errors ${JSON.stringify(mergeCounts(st.map((x) => x.errors)))}); measuring anyway\n`,
        );
        break;
      }
      if (performance.now() - lastPrint > 5000) {
        process.stderr.write(
          `    ${fmtInt(welcomed)} of ${fmtInt(n)} welcomed${rampEnded > 0 ? ` (${fmtInt(rampEnded)} calls ended and reopened)` : ''}\n`,
        );
        lastPrint = performance.now();
      }
      await sleep(250, undefined, { signal });
    }
    const rampS = (performance.now() - tRamp) / 1000;
    process.stderr.write(
      `    ${allWelcomed ? `all welcomed in ${rampS.toFixed(1)} s; ` : ''}settling ${opts.settle} s, measuring ${opts.seconds} s…\n`,
    );
    for (let s = 0; s < opts.settle; s++) {
      alive();
      rssMaxAll = Math.max(rssMaxAll, (await rssBytes(pid)) ?? 0);
      await sleep(1000, undefined, { signal });
    }

    // ------------------------------------------------------------------------- steady window
    const ownPids = new Set([pid, process.pid, ...gens.map((g) => g.child.pid)]);
    const measureWindow = async () => {
      const m0 = await ingestedSamples(coordinator.httpPort);
      const start = Date.now() + 300;
      const end = start + opts.seconds * 1000;
      const atStart = await Promise.all(gens.map((g) => ask(g, 'window', { start, end })));
      await sleep(Math.max(0, start - Date.now()), undefined, { signal });
      const c0 = await cpuTicks(pid);
      const g0 = await Promise.all(gens.map((g) => cpuTicks(g.child.pid)));
      const sys0 = await machineTicks();
      const self0 = process.cpuUsage();
      const w0 = performance.now();
      const mono0 = Number(process.hrtime.bigint() / 1000n);
      const loadBefore = loadavg()[0];
      const procs0 = await allProcessTicks();
      const rss = [];
      // Main-thread state ten times a second: R (running or waiting for a core), S (idle in the
      // event loop), D (blocked on disk).
      const states = {};
      for (let k = 1; Date.now() < end && k <= (opts.seconds + 5) * 10; k++) {
        await sleep(Math.max(0, Math.min(start + k * 100, end) - Date.now()), undefined, { signal });
        const state = await mainThreadState(pid);
        if (state !== null) states[state] = (states[state] ?? 0) + 1;
        if (k % 10 === 0) {
          alive();
          const r = await rssBytes(pid);
          if (r !== null) rss.push(r);
        }
      }
      const c1 = await cpuTicks(pid);
      const g1 = await Promise.all(gens.map((g) => cpuTicks(g.child.pid)));
      const sys1 = await machineTicks();
      const procs1 = await allProcessTicks();
      const self1 = process.cpuUsage(self0);
      const w1 = performance.now();
      const mono1 = Number(process.hrtime.bigint() / 1000n);
      const m1 = await ingestedSamples(coordinator.httpPort);

      // Drain: the window's last samples get their Acks (bounded; what is left is reported).
      const drainDeadline = performance.now() + 15_000;
      let st;
      for (;;) {
        st = await Promise.all(gens.map((g) => ask(g, 'status')));
        if (st.every((x) => x.pendingInWindow === 0) || performance.now() > drainDeadline) break;
        await sleep(250, undefined, { signal });
      }
      const reports = await Promise.all(gens.map((g) => ask(g, 'report')));
      const merged = new Float64Array(reports.reduce((s, r) => s + r.latencies.length, 0));
      let off = 0;
      for (const r of reports) {
        merged.set(r.latencies, off);
        off += r.latencies.length;
      }
      merged.sort();
      const wallS = (w1 - w0) / 1000;
      const genCpu = gens.map((_, i) => ((g1[i] - g0[i]) / CLK_TCK / wallS) * 100);
      const sum = (f) => reports.reduce((s, r) => s + f(r), 0);
      const others = otherProcesses(procs0, procs1, ownPids, sys0, sys1, wallS);
      const machineTotal = sys1.total - sys0.total;
      const machinePct = (key) => round(((sys1[key] - sys0[key]) / machineTotal) * 100, 1);
      const sent = sum((r) => r.sentInWindow);
      const unacked = st.reduce((s, x) => s + x.pendingInWindow, 0);
      const rowsPerS = (m1.value - m0.value) / ((m1.t - m0.t) / 1000);
      const result = {
        agents: n,
        duration_s: round(wallS, 2),
        coordinator_cpu_pct: round(((c1 - c0) / CLK_TCK / wallS) * 100, 2),
        coordinator_rss_max_mb: round(Math.max(...rss) / MB, 1),
        rows_per_s: round(rowsPerS, 1),
        ack_latency_ms: {
          p50: round(percentile(merged, 50), 1),
          p99: round(percentile(merged, 99), 1),
          max: round(merged.at(-1) ?? null, 1),
          acked: merged.length,
        },
        generator_cpu_pct: round(
          genCpu.reduce((s, x) => s + x, 0),
          2,
        ),
        // ---------------------------------------------------------------- context of the figures
        // Kept up: committed what was offered (within 2 %) and acknowledged every window sample.
        coordinator_kept_up: allWelcomed && rowsPerS >= 0.98 * n && unacked === 0,
        all_agents_welcomed_before_window: allWelcomed,
        agents_welcomed_at_window_start: atStart.reduce((s, x) => s + x.welcomed, 0),
        coordinator_launch: coordinator.launch,
        ...(coordinator.refusal ? { cli_refusal: coordinator.refusal } : {}),
        agent_tokens_file_bytes: files.tokensFileBytes,
        coordinator_rss_max_mb_including_ramp: round(Math.max(rssMaxAll, ...rss) / MB, 1),
        cpu_pct_per_1000_agents: round(((c1 - c0) / CLK_TCK / wallS) * 100 * (1000 / n), 2),
        coordinator_main_thread_state_pct: Object.fromEntries(
          Object.entries(states).map(([k, v]) => [
            k,
            round((v / Object.values(states).reduce((x, y) => x + y, 0)) * 100, 1),
          ]),
        ),
        ramp_s: allWelcomed ? round(rampS, 1) : null,
        generators: gens.length,
        generator_cpu_pct_per_process: genCpu.map((x) => round(x, 2)),
        generator_event_loop_delay_ms_p99: Math.max(...reports.map((r) => r.eventLoopDelayMs.p99 ?? 0)),
        generator_lag_skips: sum((r) => r.lagSkips),
        http2_connections: connections,
        samples_sent_in_window: sent,
        samples_acked_in_window: sum((r) => r.ackedInWindow),
        samples_unacked_after_drain: unacked,
        calls_ended_during_ramp: rampEnded,
        calls_ended_during_window_and_drain: sum((r) => r.ended) - atStart.reduce((s, x) => s + x.ended, 0),
        samples_lost_to_ended_calls_in_window: sum((r) => r.lostInWindow),
        call_errors: mergeCounts(reports.map((r) => r.errors)),
        machine_cpu_pct_of_all_cores: {
          busy: machinePct('busy'),
          user: machinePct('user'),
          system: machinePct('system'),
          softirq: machinePct('softirq'),
          steal: machinePct('steal'),
          iowait: machinePct('iowait'),
        },
        // Other processes of a shared machine, and kernel threads.
        other_processes_cpu_pct_of_all_cores: round(others.pctOfAllCores, 1),
        other_top_processes: others.top,
        load_average_1m: { before: round(loadBefore, 2), after: round(loadavg()[0], 2) },
        benchmark_process_cpu_pct: round(((self1.user + self1.system) / 1e6 / wallS) * 100, 2),
      };
      return { result, mono0, mono1 };
    };

    // A window during which other processes took more than OTHER_LOAD_MAX_PCT of the machine is
    // measured again (up to --windows in all); the quietest one is kept and the others listed.
    const attempts = [];
    for (let w = 0; w < opts.windows; w++) {
      // Each window starts at a quiet moment if one comes within a minute.
      const quiet = await waitQuiet({
        limitS: Math.min(60, opts.quietWait),
        signal,
        busy: 'user+system',
        own: ownPids,
        indent: '    ',
      });
      const m = await measureWindow();
      m.result.quiet_wait_before_window = quiet;
      attempts.push(m);
      const other = m.result.other_processes_cpu_pct_of_all_cores;
      if (other <= OTHER_LOAD_MAX_PCT) break;
      if (w + 1 < opts.windows)
        process.stderr.write(
          `    other processes took ${other} % of the machine during the window; measuring again…\n`,
        );
    }
    const kept = attempts.reduce((x, y) =>
      y.result.other_processes_cpu_pct_of_all_cores < x.result.other_processes_cpu_pct_of_all_cores ? y : x,
    );
    const result = {
      ...kept.result,
      quiet_wait_before_start: quietBefore,
      windows_measured: attempts.length,
      other_processes_cpu_pct_per_window: attempts.map((x) => x.result.other_processes_cpu_pct_of_all_cores),
    };
    const { mono0, mono1 } = kept;

    let restResult = null;
    if (rest) {
      // As browsers and fetch ask (gzip), and as a client that asks for no encoding.
      const pids = gens.map((g) => g.child.pid);
      restResult = {
        gzip: await measureRest(coordinator, n, opts, signal, pids, 'gzip'),
        identity: await measureRest(coordinator, n, opts, signal, pids, 'identity'),
        // Paced: 50 clients polling 10 times a second each; the load tool is no longer saturated
        // (closed loop it runs at a full core), so this shows the server's own latency.
        paced: await measureRest(coordinator, n, opts, signal, pids, 'gzip', 10),
      };
    }

    // Generators first, so that the coordinator's shutdown does not end live streams.
    await Promise.all(gens.map((g) => stopGenerator(g)));
    await stopChild(coordinator.child, 25_000);
    let profileSummary = null;
    if (profile) {
      // The coordinator's own profile: a CLI that refused its config and exited wrote one too.
      const file = (await readdir(profDir)).find((f) => f.endsWith(`.${pid}.0.001.cpuprofile`));
      if (!file) throw new Error('the coordinator wrote no .cpuprofile (did it exit on SIGTERM?)');
      const prof = JSON.parse(await readFile(join(profDir, file), 'utf8'));
      profileSummary = summarizeProfile(prof, { start: mono0, end: mono1, agents: n });
    }
    return { result, sampleBytes, rest: restResult, profile: profileSummary };
  } finally {
    await Promise.all(gens.map((g) => stopGenerator(g)));
    if (coordinator?.child) await stopChild(coordinator.child, 25_000);
    if (opts.keep) process.stderr.write(`    kept ${dir} (coordinator.log, kage.db)\n`);
    else await rm(dir, { recursive: true, force: true });
  }
}

/** `GET /api/v1/nodes` under 50 concurrent clients (autocannon), agents still streaming. */
async function measureRest(coordinator, n, opts, signal, generatorPids, encoding, perConnectionRate = null) {
  const { default: autocannon } = await import('autocannon');
  const first = await httpGet(coordinator.httpPort, '/api/v1/nodes');
  const listed = first.status === 200 ? JSON.parse(first.body).length : null;
  if (listed !== n) throw new Error(`GET /api/v1/nodes: status ${first.status}, ${listed} nodes (expected ${n})`);
  process.stderr.write(
    `    REST: GET /api/v1/nodes, 50 connections${perConnectionRate ? ` at ${perConnectionRate} req/s each` : ''}, Accept-Encoding: ${encoding}, ${opts.restSeconds} s…\n`,
  );
  const pid = coordinator.child.pid;
  const c0 = await cpuTicks(pid);
  const gen0 = await Promise.all(generatorPids.map(cpuTicks));
  const sys0 = await machineTicks();
  const procs0 = await allProcessTicks();
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  const instance = autocannon({
    url: `http://127.0.0.1:${coordinator.httpPort}/api/v1/nodes`,
    connections: 50,
    pipelining: 1,
    duration: opts.restSeconds,
    timeout: 10,
    headers: { 'accept-encoding': encoding },
    ...(perConnectionRate ? { connectionRate: perConnectionRate } : {}),
  });
  const stopOnAbort = () => instance.stop();
  signal.addEventListener('abort', stopOnAbort, { once: true });
  const r = await instance;
  signal.removeEventListener('abort', stopOnAbort);
  const c1 = await cpuTicks(pid);
  const self1 = process.cpuUsage(self0);
  const gen1 = await Promise.all(generatorPids.map(cpuTicks));
  const sys1 = await machineTicks();
  const procs1 = await allProcessTicks();
  const wallS = (performance.now() - t0) / 1000;
  const others = otherProcesses(procs0, procs1, new Set([pid, process.pid, ...generatorPids]), sys0, sys1, wallS);
  return {
    accept_encoding: encoding,
    concurrency: 50,
    // null: each connection sends its next request as soon as the last is answered (closed loop).
    requests_per_s_per_connection: perConnectionRate,
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    rps: round(r.requests.average, 1),
    nodes_listed: n,
    duration_s: r.duration,
    requests: r.requests.total,
    non_2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    response_bytes: Buffer.byteLength(first.body),
    bytes_per_response_on_the_wire: r.requests.total > 0 ? Math.round(r.throughput.total / r.requests.total) : null,
    latency_ms: { mean: r.latency.average, p90: r.latency.p90, p97_5: r.latency.p97_5, max: r.latency.max },
    coordinator_cpu_pct: round(((c1 - c0) / CLK_TCK / wallS) * 100, 1),
    // The load tool shares the machine: if it runs near a full core, it may be what limits req/s.
    load_tool_cpu_pct: round(((self1.user + self1.system) / 1e6 / wallS) * 100, 1),
    generators_cpu_pct: round((gen1.reduce((s, v, i) => s + v - gen0[i], 0) / CLK_TCK / wallS) * 100, 1),
    machine_busy_pct_of_all_cores: round(((sys1.busy - sys0.busy) / (sys1.total - sys0.total)) * 100, 1),
    other_processes_cpu_pct_of_all_cores: round(others.pctOfAllCores, 1),
    tool: `autocannon ${createRequire(import.meta.url)('autocannon/package.json').version} (in the benchmark process)`,
    note: `${fmtInt(n)} agents keep streaming at 1 Hz during the load, as they would under a dashboard`,
  };
}

// ------------------------------------------------------------------------------------- profile
// V8's sampler shows no frame for a native call (a better-sqlite3 statement step, JSON.stringify,
// a socket write): its time is self time of the JS function that made the call. So the SQLite
// category holds better-sqlite3's JS plus telemetry-store.js, whose commit transaction runs the
// insert statements and builds their rows; each category below names what it holds.
const CATEGORY_BY_URL = [
  [
    /\/better-sqlite3\/|\/packages\/coordinator\/dist\/src\/store\/telemetry-store/,
    'sqlite commit (better-sqlite3 + telemetry-store)',
  ],
  [/\/@grpc\/grpc-js\//, 'grpc-js'],
  [/\/(?:protobufjs|@protobufjs|@grpc\/proto-loader|long)\//, 'protobuf (decode/encode)'],
  [/\/(?:pino|sonic-boom|thread-stream|pino-std-serializers|fast-redact|quick-format-unescaped)\//, 'pino'],
  [/\/(?:prom-client)\//, 'prom-client'],
  [
    /\/(?:fastify|@fastify|find-my-way|avvio|fast-json-stringify|ajv|light-my-request|fast-uri|@sinclair)\//,
    'fastify (REST)',
  ],
  [/\/packages\/coordinator\/dist\/src\/events\//, 'kage event hub'],
  [/\/packages\/coordinator\/dist\/src\/registry\//, 'kage node registry'],
  [/\/packages\/coordinator\/dist\/src\/(?:grpc|ingest|store)\//, 'kage grpc session, ingest batcher, sample rows'],
  [/\/packages\//, 'kage other code'],
  [/^node:/, 'node core (http2, net, streams, events, timers)'],
];

/** Where a frame's URL sends its self time; null for a native frame (decided by its caller). */
function categoryOfUrl(url) {
  if (!url) return null;
  for (const [re, name] of CATEGORY_BY_URL) if (re.test(url)) return name;
  return 'other JS';
}

/** The stable part of a frame's location: from node_modules or packages on, never a machine path. */
function shortUrl(url) {
  if (!url) return '(native)';
  const i = url.lastIndexOf('node_modules/');
  if (i >= 0) return url.slice(i + 'node_modules/'.length);
  const p = url.indexOf('/packages/');
  return p >= 0 ? url.slice(p + 1) : url.replace(/^file:\/\/.*\//, '');
}

/**
 * Self time by category over the samples whose timestamps fall in the window (microseconds of
 * the monotonic clock V8 and process.hrtime share on Linux); the whole profile when none do.
 * A frame without a URL that does appear (a builtin) is charged as JSON when it is JSON.parse or
 * JSON.stringify, else to its caller.
 */
function summarizeProfile(profile, window) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const cat = new Map();
  const categoryOf = (id) => {
    if (cat.has(id)) return cat.get(id);
    const node = byId.get(id);
    const { url, functionName } = node.callFrame;
    let c;
    if (functionName === '(garbage collector)') c = 'gc';
    else if (functionName === '(program)') c = 'v8/native (program)';
    else if (functionName === '(idle)') c = 'idle';
    else if (functionName === '(root)') c = 'v8/native (program)';
    else c = categoryOfUrl(url);
    if (c === null) {
      const p = parent.get(id);
      if (functionName === 'stringify' || functionName === 'parse') c = 'json';
      else c = p === undefined ? 'v8/native (program)' : categoryOf(p);
    }
    cat.set(id, c);
    return c;
  };

  const { samples, timeDeltas } = profile;
  const times = new Float64Array(samples.length);
  let t = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i];
    times[i] = t;
  }
  const inWindow = (i) => times[i] >= window.start && times[i] < window.end;
  let useWindow = false;
  for (let i = 0; i < samples.length && !useWindow; i++) useWindow = inWindow(i);
  const selfUs = new Map();
  for (let i = 0; i < samples.length; i++) {
    if (useWindow && !inWindow(i)) continue;
    // A sample stands for the time until the next one.
    const dt = i + 1 < samples.length ? times[i + 1] - times[i] : 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + dt);
  }
  const byCategory = {};
  const byFunction = new Map();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const c = categoryOf(id);
    if (c === 'idle') {
      idle += us;
      continue;
    }
    busy += us;
    byCategory[c] = (byCategory[c] ?? 0) + us;
    const f = byId.get(id).callFrame;
    const key = `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`;
    const e = byFunction.get(key) ?? { function: key, category: c, us: 0 };
    e.us += us;
    byFunction.set(key, e);
  }
  const pct = (us) => round((us / busy) * 100, 1);
  const categories = Object.fromEntries(
    Object.entries(byCategory)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [k, pct(v)]),
  );
  const top = [...byFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, 20)
    .map((e) => ({ function: e.function, category: e.category, self_pct: pct(e.us) }));
  return {
    categories,
    detail: {
      agents: window.agents,
      scope: useWindow ? 'steady window only' : 'whole process lifetime (window timestamps did not match)',
      sampled_busy_s: round(busy / 1e6, 2),
      sampled_idle_s: round(idle / 1e6, 2),
      percent_of: 'non-idle sampled time in the window (self time)',
      top_functions: top,
    },
  };
}

// ------------------------------------------------------------------------------------ figures
function linearFit(points) {
  const n = points.length;
  if (n < 2) return { a: null, b: null, r2: null };
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
    syy += (p.y - my) ** 2;
  }
  const b = sxy / sxx;
  const a = my - b * mx;
  const ssRes = points.reduce((s, p) => s + (p.y - (a + b * p.x)) ** 2, 0);
  return { a, b, r2: syy === 0 ? 1 : 1 - ssRes / syy };
}

function evaluateTargets(results, fit, rest) {
  const at = (n) => results.find((r) => r.agents === n) ?? null;
  const r1k = at(1000);
  const r10k = at(10_000);
  // A coordinator that did not keep up fails its CPU and latency targets whatever the figures:
  // its CPU is what it got, and its unacknowledged samples have no latency yet.
  const check = (r, value, ok) =>
    r === null || value === null || value === undefined ? null : r.coordinator_kept_up && ok(value);
  const t = {
    cpu_1000_agents_lt_10_pct: check(r1k, r1k?.coordinator_cpu_pct, (v) => v < TARGETS.cpu_pct_1000_agents_max),
    cpu_10000_agents_lt_50_pct: check(r10k, r10k?.coordinator_cpu_pct, (v) => v < TARGETS.cpu_pct_10000_agents_max),
    ack_p99_1000_agents_lt_1_s: check(r1k, r1k?.ack_latency_ms.p99, (v) => v < TARGETS.ack_p99_ms_max),
    ack_p99_10000_agents_lt_1_s: check(r10k, r10k?.ack_latency_ms.p99, (v) => v < TARGETS.ack_p99_ms_max),
    // Judged as real clients ask (gzip): browsers and fetch always send Accept-Encoding.
    rest_nodes_1000_p99_lt_20_ms: rest ? rest.p99_ms < TARGETS.rest_p99_ms_max : null,
    cpu_linear_in_agents_r2_ge_0_95:
      results.length >= 3 && fit.r2 !== null
        ? results.every((r) => r.coordinator_kept_up) && fit.r2 >= TARGETS.linear_r2_min
        : null,
  };
  const evaluated = Object.values(t).filter((v) => v !== null);
  return {
    thresholds: TARGETS,
    rule: 'a CPU, latency or linearity target at an N where the coordinator did not keep up (commit what is offered, acknowledge every sample) is FAIL',
    ...t,
    all_pass: evaluated.length > 0 && evaluated.every(Boolean),
    not_measured: Object.entries(t)
      .filter(([, v]) => v === null)
      .map(([k]) => k),
  };
}

function printTable(doc, outFile) {
  const m = doc.machine;
  const f = (v, d = 1) => (v === null || v === undefined ? '—' : v.toFixed(d));
  const mark = (ok) => (ok === null ? 'n/a' : ok ? 'PASS' : 'FAIL');
  const header = `${'agents'.padStart(7)} ${'coord CPU'.padStart(10)} ${'RSS max'.padStart(9)} ${'rows/s'.padStart(9)} ${'ack p50'.padStart(10)} ${'ack p99'.padStart(10)} ${'gen CPU'.padStart(9)} ${'machine'.padStart(8)} ${'others'.padStart(7)}  kept up, launch`;
  const rows = doc.results.map(
    (r) =>
      `${fmtInt(r.agents).padStart(7)} ${f(r.coordinator_cpu_pct).padStart(8)} % ${f(r.coordinator_rss_max_mb).padStart(6)} MB ` +
      `${f(r.rows_per_s).padStart(9)} ${f(r.ack_latency_ms.p50).padStart(7)} ms ${f(r.ack_latency_ms.p99).padStart(7)} ms ` +
      `${f(r.generator_cpu_pct).padStart(7)} % ${f(r.machine_cpu_pct_of_all_cores.busy).padStart(6)} % ` +
      `${f(r.other_processes_cpu_pct_of_all_cores).padStart(5)} %  ${r.coordinator_kept_up ? 'yes' : 'NO'}, ${r.coordinator_launch}`,
  );
  const t = doc.targets;
  const rest = doc.rest_nodes_1000;
  const lines = [
    describeMachine(m),
    `window ${doc.params.window_s} s per N after ${doc.params.settle_s} s settle; CPU in % of one core; machine, others: % of all cores`,
    header,
    ...rows,
    ...(doc.bare_acking_server?.results ?? []).map(
      (r) =>
        `bare acking server, ${fmtInt(r.agents)} agents: ${f(r.coordinator_cpu_pct)} % of a core, ack p99 ${f(r.ack_latency_ms.p99)} ms` +
        ` (coordinator/bare ${f(doc.results.find((x) => x.agents === r.agents)?.coordinator_cpu_pct / r.coordinator_cpu_pct, 1)}x)`,
    ),
    ...(doc.bare_acking_server?.profile_categories
      ? [
          `bare profile: ${Object.entries(doc.bare_acking_server.profile_categories)
            .map(([k, v]) => `${k} ${v} %`)
            .join(', ')}`,
        ]
      : []),
    `fit: CPU % = ${f(doc.fit_cpu_pct.a, 2)} + ${f(doc.slope_cpu_pct_per_1000_agents, 2)} per 1,000 agents, R² ${f(doc.r2, 4)}`,
    ...[rest, doc.rest_nodes_1000_identity, doc.rest_nodes_1000_paced].map((x) =>
      x
        ? `REST GET /api/v1/nodes (1,000 nodes, 50 conns${x.requests_per_s_per_connection ? ` × ${x.requests_per_s_per_connection}/s` : ''}, ${x.accept_encoding}): load tool ${f(x.load_tool_cpu_pct)} %, p50 ${f(x.p50_ms)} ms  p99 ${f(x.p99_ms)} ms  ${f(x.rps)} req/s  ${fmtInt(x.bytes_per_response_on_the_wire ?? 0)} B/response`
        : 'REST: not measured',
    ),
    doc.profile_n1000
      ? `profile N=${fmtInt(doc.profile_n1000_detail.agents)}: ${Object.entries(doc.profile_n1000)
          .map(([k, v]) => `${k} ${v} %`)
          .join(', ')}`
      : 'profile: not taken',
    `targets: 1,000 agents < 10 % ${mark(t.cpu_1000_agents_lt_10_pct)}; 10,000 < 50 % ${mark(t.cpu_10000_agents_lt_50_pct)}; ` +
      `ack p99 < 1 s ${mark(t.ack_p99_1000_agents_lt_1_s)} / ${mark(t.ack_p99_10000_agents_lt_1_s)}; ` +
      `REST p99 < 20 ms ${mark(t.rest_nodes_1000_p99_lt_20_ms)}; linear R² ≥ 0.95 ${mark(t.cpu_linear_in_agents_r2_ge_0_95)}`,
    `code: ${doc.code.commit ?? 'unknown commit'}${doc.code.uncommitted_files?.length ? ` + ${doc.code.uncommitted_files.length} uncommitted files` : ''}, dist ${doc.code.dist_digest}`,
    `written to ${relative(process.cwd(), outFile) || outFile}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

// ----------------------------------------------------------------------------------------- main
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { signal, signalled } = stopOnSignals();

  const restAgents = opts.rest && opts.agents.includes(1000) ? 1000 : null;
  process.stderr.write(
    `kage bench coordinator-scale${opts.quick ? ' (quick)' : ''}: agents ${opts.agents.map(fmtInt).join(', ')}, ${opts.seconds} s windows…\n`,
  );
  let doc = null;
  try {
    const machine = await machineInfo();
    const git = await gitState(['packages', 'systemd']);
    const snapshot = await snapshotBuild(signal);
    build = snapshot.dir;
    const results = [];
    let rest = null;
    let sampleBytes = null;
    for (const n of opts.agents) {
      const run = await runScale(n, opts, signal, { rest: n === restAgents });
      results.push(run.result);
      sampleBytes ??= run.sampleBytes;
      if (run.rest) rest = run.rest;
    }
    // Side by side in the same run: the floor gRPC, HTTP/2 and protobuf set with this generator.
    const bareResults = [];
    if (opts.bare)
      for (const n of opts.agents) bareResults.push((await runScale(n, opts, signal, { bare: true })).result);
    let bareProfile = null;
    if (opts.bare && opts.profile)
      bareProfile = (await runScale(opts.profileAgents, opts, signal, { profile: true, bare: true })).profile;
    let profile = null;
    if (opts.profile) profile = (await runScale(opts.profileAgents, opts, signal, { profile: true })).profile;
    const fit = linearFit(results.map((r) => ({ x: r.agents, y: r.coordinator_cpu_pct })));
    // A coordinator that did not keep up used what CPU it got, not what N costs: the fit over
    // the points that kept up is given beside the one over all points.
    const keptUp = results.filter((r) => r.coordinator_kept_up);
    const fitKept = linearFit(keptUp.map((r) => ({ x: r.agents, y: r.coordinator_cpu_pct })));
    doc = {
      schema: 'kage.bench.coordinator-scale/v1',
      machine,
      when: new Date().toISOString(),
      params: {
        window_s: opts.seconds,
        settle_s: opts.settle,
        quick: opts.quick,
        agents: opts.agents,
        sample_interval_ms: 1000,
        heartbeat_interval_s: 5,
        agents_per_http2_connection: opts.agentsPerConnection,
        windows_max_per_n: opts.windows,
        window_redone_when_other_processes_above_pct: OTHER_LOAD_MAX_PCT,
        profile_agents: opts.profile ? opts.profileAgents : null,
        message_bytes: sampleBytes,
        sample_fields:
          'cpu_pct, 16 per_core, load1/5/15, mem and swap, 2 net interfaces, 2 temps, 1 GPU reading (AMD APU fields), 2 service usages',
        coordinator: {
          command: `node ${UNIT_FLAGS.join(' ')} packages/cli/dist/src/bin.js coordinator --config coordinator.yaml`,
          env: { NODE_ENV: 'production', KAGE_LOG_LEVEL: 'info' },
          config: 'grpc and http on 127.0.0.1 port 0, db in a fresh temp dir per N, every other key at its default',
          log: 'pino JSON on stdout into a file',
        },
        generator:
          'child processes of this script (1 up to 2,000 agents, else 2), grpc-js clients with the agent channel options; one Connect call per agent with its own Bearer token; agents opened at 1,000/s; each agent on a random 10 ms slot of the second',
        latency:
          'Sample.ts_ms (taken from the generator clock when the sample is built) to the Ack that covers it arriving at the generator; only samples taken inside the window',
        cpu: 'utime+stime from /proc/PID/stat over the window / wall time, % of one core; all threads of the process',
        rows_per_s:
          'delta of kage_ingest_records_total{kind="samples"} on /metrics, scraped just before and just after the window',
      },
      code: {
        ...git,
        dist_digest: snapshot.digest,
        loaded_from: 'a copy of every package dist taken at the start; every process of the run loads it',
      },
      results,
      slope_cpu_pct_per_1000_agents: round(fit.b === null ? null : fit.b * 1000, 3),
      r2: round(fit.r2, 4),
      fit_cpu_pct: { a: round(fit.a, 3), b_per_agent: round(fit.b, 6), points: results.length },
      fit_cpu_pct_kept_up_points_only: {
        agents: keptUp.map((r) => r.agents),
        slope_cpu_pct_per_1000_agents: round(fitKept.b === null ? null : fitKept.b * 1000, 3),
        a: round(fitKept.a, 3),
        r2: round(fitKept.r2, 4),
      },
      rest_nodes_1000: rest?.gzip ?? null,
      rest_nodes_1000_identity: rest?.identity ?? null,
      rest_nodes_1000_paced: rest?.paced ?? null,
      bare_acking_server: opts.bare
        ? {
            what: 'grpc-js server on the same contract, loader and server options that welcomes every Hello and acks every SampleBatch at once, storing nothing; the same generator and window',
            results: bareResults,
            profile_categories: bareProfile?.categories ?? null,
          }
        : null,
      profile_n1000: profile?.categories ?? null,
      profile_n1000_detail: profile?.detail ?? null,
      targets: null,
    };
    doc.targets = evaluateTargets(results, fit, rest);
  } catch (err) {
    if (!signalled())
      process.stderr.write(`coordinator-scale benchmark failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = signalled() ? 130 : 1;
  } finally {
    for (const c of [...live]) await stopChild(c, 10_000);
    if (build !== root && !opts.keep) await rm(build, { recursive: true, force: true });
  }
  if (doc) {
    await mkdir(dirname(opts.out), { recursive: true });
    await writeFile(opts.out, `${JSON.stringify(doc, null, 2)}\n`);
    printTable(doc, opts.out);
    if (opts.strict && !doc.targets.all_pass) process.exitCode = 1;
  }
}

const mode = process.argv[2];
if (mode === '--generator') {
  build = process.argv[3] ?? root;
  await generatorMain();
} else if (mode === '--serve-bare') {
  build = process.argv[3] ?? root;
  await serveBareMain();
} else if (mode === '--serve-coordinator') {
  build = process.argv[3] ?? root;
  await serveCoordinatorMain(process.argv.slice(4));
} else await main();
