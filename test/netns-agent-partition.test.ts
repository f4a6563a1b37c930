/**
 * A network partition between `kage agent` and its coordinator, in Linux network namespaces: the
 * one thing loopback tests cannot show. Packets are silently dropped on the path while both ends
 * keep their sockets and their link carrier, as when a switch or a NAT between two hosts loses its
 * state. Only the agent's gRPC keepalive can notice; then it must buffer what it samples, reconnect
 * once the path is back, and replay so that the coordinator ends with every seq exactly once.
 *
 * Topology (all inside namespaces this test creates, never on the host's interfaces):
 *
 *   kage-node-ID  10.231.X.2 ── 10.231.X.1  kage-wire-ID  10.231.Y.1 ── 10.231.Y.2  kage-coord-ID
 *   (kage agent)                (a router: ip_forward 1 = up, 0 = partitioned)     (test coordinator)
 *
 * Turning forwarding off in the router drops packets without any ICMP or reset, so neither end
 * learns anything from the network itself. Runs only as root with iproute2; skipped otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createNetnsLab, netnsUnavailable } from './src/netns.js';
import { KAGE_BIN } from './src/kage-process.js';

const COORDINATOR_MODULE = fileURLToPath(
  new URL('../../packages/wire/dist/src/testing/fake-coordinator.js', import.meta.url),
);
const TOKEN = 'netns-partition-token';
const SAMPLE_INTERVAL_MS = 200;
/** Set in agent.yaml (`coordinator.keepalive_*`) so a dead link is noticed in seconds, not 10-30 s. */
const KEEPALIVE_TIME_MS = 3_000;
const KEEPALIVE_TIMEOUT_MS = 2_000;
/** Keep the path cut this long after the agent noticed, so a reconnect attempt meets the partition. */
const HOLD_AFTER_DETECTION_MS = 3000;
/**
 * The coordinator side's stand-in for server keepalive: the proxy drops an agent connection that
 * sent nothing for this long (the agent sends a sample every 200 ms). Without it, the dead
 * connection's kernel retransmissions can reach the coordinator after the heal and deliver seqs a
 * second time (at-least-once; the real coordinator dedupes by node/boot/seq).
 */
const COORDINATOR_IDLE_CUT_MS = 3000;

/**
 * Runs in the coordinator namespace: the stream tests' coordinator (which binds 127.0.0.1 only)
 * behind a TCP relay on the namespace address, reporting what it receives as JSON lines.
 */
const COORDINATOR_SCRIPT = `
import net from 'node:net';
const [moduleUrl, host, token, idleCutMs] = process.argv.slice(2);
const { createTestCoordinator } = await import(moduleUrl);
const emit = (o) => process.stdout.write(JSON.stringify({ at: Date.now(), ...o }) + '\\n');
const coordinator = createTestCoordinator({ token });
const innerPort = await coordinator.start(0);
let nextId = 0;
const relay = net.createServer((agent) => {
  const id = ++nextId;
  const upstream = net.connect(innerPort, '127.0.0.1');
  let lastIn = Date.now();
  let closed = false;
  const end = (why) => {
    if (closed) return;
    closed = true;
    clearInterval(idle);
    agent.destroy();
    upstream.destroy();
    emit({ t: 'conn-closed', id, why });
  };
  const idle = setInterval(() => {
    if (Number(idleCutMs) > 0 && Date.now() - lastIn > Number(idleCutMs)) end('idle');
  }, 100);
  agent.on('data', () => (lastIn = Date.now()));
  agent.pipe(upstream);
  upstream.pipe(agent);
  agent.on('close', () => end('agent closed'));
  upstream.on('close', () => end('coordinator closed'));
  agent.on('error', () => end('agent error'));
  upstream.on('error', () => end('coordinator error'));
  emit({ t: 'conn', id, from: agent.remoteAddress + ':' + agent.remotePort });
});
relay.listen(0, host, () => emit({ t: 'ready', port: relay.address().port }));
let hellos = 0;
let samples = 0;
const sent = new Map();
setInterval(() => {
  const store = coordinator.store;
  for (; hellos < store.hellos.length; hellos++) {
    const h = store.hellos[hellos];
    emit({ t: 'hello', node: h.node_id, boot: h.boot_id, lastSeq: Number(h.last_seq) });
  }
  if (samples < store.samples.length) {
    const rows = store.samples.slice(samples).map((s) => [Number(s.seq), Number(s.ts_ms), Number(s.tick)]);
    samples = store.samples.length;
    emit({ t: 'samples', rows });
  }
  for (const [key, list] of store.seqs) {
    const from = sent.get(key) ?? 0;
    if (list.length > from) emit({ t: 'seqs', key, seqs: list.slice(from) });
    sent.set(key, list.length);
  }
}, 25);
process.on('SIGTERM', () => process.exit(0));
`;

/** JSON lines from a child's stream, each with the time it was read. */
class JsonLines {
  readonly items: Array<{ at: number; value: Record<string, unknown> }> = [];
  raw = '';
  #partial = '';

  constructor(stream: Readable) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.raw += chunk;
      const lines = (this.#partial + chunk).split('\n');
      this.#partial = lines.pop() ?? '';
      const at = Date.now();
      for (const line of lines) {
        try {
          this.items.push({ at, value: JSON.parse(line) as Record<string, unknown> });
        } catch {
          // Not JSON (a stray line): kept in `raw` for the failure message only.
        }
      }
    });
  }

  where(key: string, value: unknown): Array<Record<string, unknown>> {
    return this.items.map((i) => i.value).filter((v) => v[key] === value);
  }
}

/** Polls `check` every 25 ms; `what` is built on failure, so it can carry the latest output. */
async function waitUntil<T>(what: () => string, check: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

interface SampleRow {
  seq: number;
  ts: number;
  tick: number;
  /** When the coordinator received it. */
  at: number;
}

test(
  'kage agent survives a silent network partition: keepalive notices, buffer replays every seq once',
  { timeout: 115_000 },
  async (t) => {
    const unavailable = await netnsUnavailable();
    if (unavailable !== null) {
      t.skip(unavailable);
      return;
    }
    assert.ok(existsSync(COORDINATOR_MODULE), `build packages/agent first (${COORDINATOR_MODULE} is missing)`);
    assert.ok(existsSync(KAGE_BIN), `build packages/cli first (${KAGE_BIN} is missing)`);

    const dir = await mkdtemp(join(tmpdir(), 'kage-netns-'));
    const lab = createNetnsLab();
    // One hook, in this order: processes die (and namespaces go) before their files do.
    t.after(async () => {
      await lab.close();
      await rm(dir, { recursive: true, force: true });
    });

    // Two /24s of 10.231/16 that exist only inside this lab's namespaces.
    const x = 2 + 2 * Math.floor(Math.random() * 120);
    const y = x + 1;
    const nodeNs = await lab.addNamespace('node');
    const wireNs = await lab.addNamespace('wire');
    const coordNs = await lab.addNamespace('coord');
    const nodeIp = `10.231.${x}.2`;
    const coordIp = `10.231.${y}.2`;
    await lab.addVeth(
      { ns: nodeNs, ifname: `kn-${lab.id}`, cidr: `${nodeIp}/24` },
      { ns: wireNs, ifname: `kwn-${lab.id}`, cidr: `10.231.${x}.1/24` },
    );
    await lab.addVeth(
      { ns: coordNs, ifname: `kc-${lab.id}`, cidr: `${coordIp}/24` },
      { ns: wireNs, ifname: `kwc-${lab.id}`, cidr: `10.231.${y}.1/24` },
    );
    await lab.ipIn(nodeNs, ['route', 'add', 'default', 'via', `10.231.${x}.1`]);
    await lab.ipIn(coordNs, ['route', 'add', 'default', 'via', `10.231.${y}.1`]);
    const setPath = (up: boolean): Promise<void> => lab.sysctl(wireNs, 'net/ipv4/ip_forward', up ? '1' : '0');
    await setPath(true);

    // The coordinator, inside its namespace.
    const script = join(dir, 'coordinator.mjs');
    await writeFile(script, COORDINATOR_SCRIPT);
    const coordChild = lab.spawn(coordNs, process.execPath, [
      script,
      pathToFileURL(COORDINATOR_MODULE).href,
      coordIp,
      TOKEN,
      String(COORDINATOR_IDLE_CUT_MS),
    ]);
    const coord = new JsonLines(coordChild.stdout);
    let coordErr = '';
    coordChild.stderr.on('data', (d: Buffer) => (coordErr += d.toString()));
    const ready = await waitUntil(
      () => `the coordinator to listen (stderr: ${coordErr})`,
      () => coord.where('t', 'ready')[0],
      15_000,
    );
    const port = ready['port'] as number;

    // The agent, inside the node namespace.
    const config = join(dir, 'agent.yaml');
    await writeFile(
      config,
      [
        'node: netns-node',
        `coordinator: { url: "${coordIp}:${port}", token: ${TOKEN}, keepalive_time_ms: ${KEEPALIVE_TIME_MS}, keepalive_timeout_ms: ${KEEPALIVE_TIMEOUT_MS} }`,
        `sample_interval_ms: ${SAMPLE_INTERVAL_MS}`,
        'buffer: { dir: buffer, max_age_s: 600 }',
        'services: {}',
        '',
      ].join('\n'),
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      STATE_DIRECTORY: join(dir, 'state'),
      KAGE_LOG_LEVEL: 'info',
      // grpc-js keepalive trace on stderr: when pings went out and which one timed out.
      GRPC_TRACE: 'keepalive',
      GRPC_VERBOSITY: 'DEBUG',
    };
    for (const key of ['JOURNAL_STREAM', 'NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']) delete env[key];
    const agentChild = lab.spawn(nodeNs, process.execPath, [KAGE_BIN, 'agent', '--config', config], { env });
    const agent = new JsonLines(agentChild.stdout);
    let agentErr = '';
    agentChild.stderr.on('data', (d: Buffer) => (agentErr += d.toString()));
    const agentExit = once(agentChild, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const context = (): string =>
      `\n--- agent stdout ---\n${agent.raw.slice(-6000)}\n--- agent stderr ---\n${agentErr.slice(-4000)}` +
      `\n--- coordinator stderr ---\n${coordErr.slice(-2000)}`;

    const samples = (): SampleRow[] =>
      coord.items.flatMap(({ value }) =>
        value['t'] === 'samples'
          ? (value['rows'] as number[][]).map(([seq = 0, ts = 0, tick = 0]) => ({
              seq,
              ts,
              tick,
              at: value['at'] as number,
            }))
          : [],
      );
    const seqArrivals = (): Array<{ seq: number; at: number }> =>
      coord.items.flatMap(({ value }) =>
        value['t'] === 'seqs' ? (value['seqs'] as number[]).map((seq) => ({ seq, at: value['at'] as number })) : [],
      );
    const maxSeq = (): number => seqArrivals().reduce((m, a) => Math.max(m, a.seq), 0);
    const logTime = (msg: string, nth = 0): number | undefined =>
      agent.where('msg', msg)[nth]?.['time'] as number | undefined;

    // 1. Connected and streaming.
    await waitUntil(
      () => `the agent to connect${context()}`,
      () => logTime('connected to the coordinator'),
      20_000,
    );
    await waitUntil(
      () => `a first run of samples${context()}`,
      () => (maxSeq() >= 10 ? true : undefined),
      10_000,
    );

    // 2. Cut the path. Nothing is closed: the sockets on both ends stay ESTABLISHED.
    const partitionAt = Date.now();
    await setPath(false);
    const seqAtPartition = maxSeq();

    // 3. Only keepalive can tell the agent; bounded by one ping period plus the ping timeout.
    const detectedAt = await waitUntil(
      () => `the agent to notice the dead link${context()}`,
      () => logTime('coordinator stream ended; reconnecting'),
      KEEPALIVE_TIME_MS + KEEPALIVE_TIMEOUT_MS + 10_000,
    );
    const ended = agent.where('msg', 'coordinator stream ended; reconnecting')[0] ?? {};
    await new Promise((resolve) => setTimeout(resolve, HOLD_AFTER_DETECTION_MS));
    const arrivedWhileCut = seqArrivals().filter((a) => a.at > partitionAt + 500).length;

    // 4. Heal, then wait for a sample taken after the heal: everything older must be in by then.
    const healAt = Date.now();
    await setPath(true);
    const reconnectedAt = await waitUntil(
      () => `the agent to reconnect${context()}`,
      () => logTime('connected to the coordinator', 1),
      25_000,
    );
    await waitUntil(
      () => `samples taken after the heal${context()}`,
      () => (samples().some((s) => s.ts >= healAt + 1000) ? true : undefined),
      15_000,
    );

    // 5. Stop the agent cleanly, let the last frames land, then judge what the coordinator holds.
    agentChild.kill('SIGTERM');
    let exitTimer: NodeJS.Timeout | undefined;
    const [code] = await Promise.race([
      agentExit,
      new Promise<[null, null]>((resolve) => (exitTimer = setTimeout(() => resolve([null, null]), 10_000))),
    ]);
    clearTimeout(exitTimer);
    await new Promise((resolve) => setTimeout(resolve, 300));

    const arrivals = seqArrivals().map((a) => a.seq);
    const last = maxSeq();
    const rows = samples();
    const keys = new Set(coord.where('t', 'seqs').map((v) => v['key']));
    const reconnect = agent.where('msg', 'connected to the coordinator')[1] ?? {};
    const cutSamples = rows.filter((s) => s.ts >= partitionAt && s.ts < healAt);
    // The newest sample taken before the heal: when it arrived, the backlog was replayed.
    const lastBeforeHeal = rows
      .filter((s) => s.ts < healAt)
      .reduce<SampleRow | undefined>((a, b) => (a === undefined || b.ts > a.ts ? b : a), undefined);
    const ticks = [...new Set(rows.map((s) => s.tick))].sort((a, b) => a - b);
    const skippedTicks = ticks.reduce((n, tick, i) => n + (i > 0 ? Math.max(0, tick - (ticks[i - 1] ?? 0) - 1) : 0), 0);
    const pings = agentErr.split('\n').filter((l) => /Sending ping/.test(l)).length;
    const pingTimeout = /(\d{4}-\d\d-\d\dT[\d:.]+Z).*Ping timeout passed/.exec(agentErr)?.[1];

    const measured = {
      lab: lab.id,
      detect_ms: detectedAt - partitionAt,
      ping_timeout_after_partition_ms: pingTimeout === undefined ? null : Date.parse(pingTimeout) - partitionAt,
      partition_held_ms: healAt - partitionAt,
      reconnect_after_heal_ms: reconnectedAt - healAt,
      backlog_replayed_after_heal_ms: lastBeforeHeal === undefined ? null : lastBeforeHeal.at - healAt,
      samples_during_partition: cutSamples.length,
      reconnect_replay_records: reconnect['replay'],
      reconnect_last_acked_seq: reconnect['last_acked_seq'],
      seq_at_partition: seqAtPartition,
      final_seq: last,
      skipped_ticks: skippedTicks,
      keepalive_pings_sent: pings,
      stream_end: { code: ended['code'], details: ended['details'], up_ms: ended['up_ms'] },
      proxy_connections: coord.where('t', 'conn').length,
    };
    t.diagnostic(`measured: ${JSON.stringify(measured)}`);

    assert.equal(code, 0, `agent exit code${context()}`);
    assert.equal(arrivedWhileCut, 0, 'nothing crossed the partition');
    assert.equal(keys.size, 1, 'one node/boot');
    // The core claim: every seq exactly once, in order, no gap, across the partition.
    assert.deepEqual(
      arrivals,
      Array.from({ length: last }, (_, i) => i + 1),
      `seqs at the coordinator are 1..${last} once each, in order`,
    );
    // The partition's samples were buffered and replayed, not lost: about one per interval.
    assert.ok(
      cutSamples.length >= (0.5 * (healAt - partitionAt)) / SAMPLE_INTERVAL_MS,
      `samples taken during the ${healAt - partitionAt} ms partition reached the coordinator (${cutSamples.length})`,
    );
    assert.ok(last > seqAtPartition + cutSamples.length, 'streaming went on after the replay');
    assert.ok(Number(reconnect['replay']) > 0, 'the reconnect had a backlog to replay');
    // Detection is keepalive's doing: not before one ping timeout, not after one period plus it.
    assert.ok(
      measured.detect_ms >= KEEPALIVE_TIMEOUT_MS - 1000 &&
        measured.detect_ms <= KEEPALIVE_TIME_MS + KEEPALIVE_TIMEOUT_MS + 5000,
      `detection after ${measured.detect_ms} ms fits keepalive ${KEEPALIVE_TIME_MS}+${KEEPALIVE_TIMEOUT_MS} ms`,
    );
  },
);
