/**
 * A network partition between `kage agent` and the real `kage coordinator`, in Linux network
 * namespaces: the one thing loopback tests cannot show. Packets are silently dropped on the path
 * while both ends keep their sockets and their link carrier, as when a switch or a NAT between two
 * hosts loses its state. Only keepalive can notice, on each side: the agent must buffer what it
 * samples, reconnect once the path is back and replay; the coordinator must drop the dead stream,
 * show the node offline, and store every seq exactly once (its (node, boot, seq) high-water mark
 * is what makes a replay or a late retransmission harmless).
 *
 * Topology (all inside namespaces this test creates, never on the host's interfaces):
 *
 *   kage-node-ID  10.231.X.2 ── 10.231.X.1  kage-wire-ID  10.231.Y.1 ── 10.231.Y.2  kage-coord-ID
 *   (kage agent)                (a router: ip_forward 1 = up, 0 = partitioned)     (kage coordinator)
 *
 * Turning forwarding off in the router drops packets without any ICMP or reset, so neither end
 * learns anything from the network itself. The coordinator's REST API listens on the coordinator
 * namespace's loopback and is asked from inside it; its SQLite file is read directly (read-only).
 * Runs only as root with iproute2; skipped otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { createNetnsLab, ip, netnsUnavailable } from './src/netns.js';
import { KAGE_BIN } from './src/kage-process.js';

const NODE = 'netns-node';
const TOKEN = 'netns-partition-token-0123456789';
const SAMPLE_INTERVAL_MS = 200;
/** Set in agent.yaml (`coordinator.keepalive_*`) so a dead link is noticed in seconds, not 10-30 s. */
const KEEPALIVE_TIME_MS = 3_000;
const KEEPALIVE_TIMEOUT_MS = 2_000;
/** The coordinator's server keepalive (`grpc.keepalive_*`): how it finds the dead stream itself. */
const SERVER_KEEPALIVE_TIME_MS = 2_000;
const SERVER_KEEPALIVE_TIMEOUT_MS = 2_000;
/** Keep the path cut this long after the agent noticed, so a reconnect attempt meets the partition. */
const HOLD_AFTER_DETECTION_MS = 3000;

/** Run inside the coordinator namespace: GETs a URL and prints the body (the API is only reachable there). */
const FETCH_SCRIPT = `
const res = await fetch(process.argv[1]);
if (!res.ok) { process.stderr.write(res.status + ' ' + (await res.text())); process.exit(1); }
process.stdout.write(await res.text());
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
async function waitUntil<T>(
  what: () => string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** SIGTERM, bounded: the exit code, or null when it had to be killed. */
async function stopChild(
  child: { kill(signal: NodeJS.Signals): boolean },
  exit: Promise<unknown[]>,
): Promise<number | null> {
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const [code] = await Promise.race([
    exit,
    new Promise<[null]>((resolve) => (timer = setTimeout(() => resolve([null]), 15_000))),
  ]);
  clearTimeout(timer);
  return code as number | null;
}

test(
  'kage agent and kage coordinator across a silent partition: both notice, the node goes offline and back, every seq stored once',
  { timeout: 150_000 },
  async (t) => {
    const unavailable = await netnsUnavailable();
    if (unavailable !== null) {
      t.skip(unavailable);
      return;
    }
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

    const env: NodeJS.ProcessEnv = { ...process.env, KAGE_LOG_LEVEL: 'info' };
    for (const key of ['JOURNAL_STREAM', 'NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']) delete env[key];

    // The coordinator, inside its namespace: agents on the namespace's address, the API on its
    // loopback, both on ports it picks (reported in its "coordinator started" line).
    await writeFile(join(dir, 'agent-tokens.yaml'), `${NODE}: "${TOKEN}"\n`, { mode: 0o600 });
    await writeFile(join(dir, 'api.token'), 'api-token-0123456789abcdef\n', { mode: 0o600 });
    const coordinatorConfig = join(dir, 'coordinator.yaml');
    await writeFile(
      coordinatorConfig,
      [
        `grpc: { listen: "${coordIp}:0", keepalive_time_ms: ${SERVER_KEEPALIVE_TIME_MS}, keepalive_timeout_ms: ${SERVER_KEEPALIVE_TIMEOUT_MS} }`,
        'http: { listen: "127.0.0.1:0" }',
        'db: kage.db',
        'auth: { agent_tokens_file: agent-tokens.yaml, api_token_file: api.token }',
        '',
      ].join('\n'),
    );
    const dbFile = join(dir, 'kage.db');
    const coordChild = lab.spawn(coordNs, process.execPath, [KAGE_BIN, 'coordinator', '--config', coordinatorConfig], {
      env,
    });
    const coord = new JsonLines(coordChild.stdout);
    let coordErr = '';
    coordChild.stderr.on('data', (d: Buffer) => (coordErr += d.toString()));
    const coordExit = once(coordChild, 'exit');
    const started = await waitUntil(
      () => `the coordinator to start (stderr: ${coordErr}; stdout: ${coord.raw.slice(-2000)})`,
      () => coord.where('msg', 'coordinator started')[0],
      20_000,
    );
    const grpcPort = started['grpc'] as number;
    const apiUrl = `http://127.0.0.1:${started['http'] as number}`;

    // The agent, inside the node namespace.
    const agentConfig = join(dir, 'agent.yaml');
    await writeFile(
      agentConfig,
      [
        `node: ${NODE}`,
        `coordinator: { url: "${coordIp}:${grpcPort}", token: "${TOKEN}", keepalive_time_ms: ${KEEPALIVE_TIME_MS}, keepalive_timeout_ms: ${KEEPALIVE_TIMEOUT_MS} }`,
        `sample_interval_ms: ${SAMPLE_INTERVAL_MS}`,
        'buffer: { dir: buffer, max_age_s: 600 }',
        'services: {}',
        '',
      ].join('\n'),
    );
    const agentEnv: NodeJS.ProcessEnv = {
      ...env,
      STATE_DIRECTORY: join(dir, 'state'),
      // grpc-js keepalive trace on stderr: when pings went out and which one timed out.
      GRPC_TRACE: 'keepalive',
      GRPC_VERBOSITY: 'DEBUG',
    };
    const startAgent = () => {
      const child = lab.spawn(nodeNs, process.execPath, [KAGE_BIN, 'agent', '--config', agentConfig], {
        env: agentEnv,
      });
      const out = new JsonLines(child.stdout);
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      return { child, out, err: () => err, exit: once(child, 'exit') };
    };
    const agentRun = startAgent();
    const agent = agentRun.out;
    const context = (): string =>
      `\n--- agent stdout ---\n${agent.raw.slice(-6000)}\n--- agent stderr ---\n${agentRun.err().slice(-4000)}` +
      `\n--- coordinator stdout ---\n${coord.raw.slice(-4000)}\n--- coordinator stderr ---\n${coordErr.slice(-2000)}`;

    // What the coordinator holds, read from its file (a fresh read-only connection each time).
    const query = <T>(sql: string, ...params: unknown[]): T[] => {
      const db = new Database(dbFile, { readonly: true, fileMustExist: true });
      try {
        return db.prepare(sql).all(...params) as T[];
      } finally {
        db.close();
      }
    };
    const highWater = (): number =>
      query<{ last_seq: number }>('SELECT last_seq FROM node_boots WHERE node_id = ?', NODE)[0]?.last_seq ?? 0;
    const storedSamples = (): Array<{ seq: number; ts_ms: number }> =>
      query('SELECT seq, ts_ms FROM samples WHERE node_id = ? ORDER BY seq', NODE);
    const nodeStatus = async (): Promise<string | undefined> => {
      const body = await ip([
        'netns',
        'exec',
        coordNs,
        process.execPath,
        '--input-type=module',
        '-e',
        FETCH_SCRIPT,
        `${apiUrl}/api/v1/nodes`,
      ]);
      return (JSON.parse(body) as Array<{ id: string; status: string }>).find((n) => n.id === NODE)?.status;
    };
    const logTime = (lines: JsonLines, msg: string, nth = 0): number | undefined =>
      lines.where('msg', msg)[nth]?.['time'] as number | undefined;

    // 1. Connected and streaming; the API shows the node online.
    await waitUntil(
      () => `the agent to connect${context()}`,
      () => logTime(agent, 'connected to the coordinator'),
      20_000,
    );
    await waitUntil(
      () => `a first run of samples stored${context()}`,
      () => (highWater() >= 10 ? true : undefined),
      10_000,
    );
    assert.equal(await nodeStatus(), 'online');

    // 2. Cut the path. Nothing is closed: the sockets on both ends stay ESTABLISHED.
    const partitionAt = Date.now();
    await setPath(false);

    // 3. Only keepalive can tell either side; bounded by one ping period plus the ping timeout.
    const detectedAt = await waitUntil(
      () => `the agent to notice the dead link${context()}`,
      () => logTime(agent, 'coordinator stream ended; reconnecting'),
      KEEPALIVE_TIME_MS + KEEPALIVE_TIMEOUT_MS + 10_000,
    );
    const ended = agent.where('msg', 'coordinator stream ended; reconnecting')[0] ?? {};
    const offlineAt = await waitUntil(
      () => `the API to show the node offline${context()}`,
      async () => ((await nodeStatus()) === 'offline' ? Date.now() : undefined),
      10_000,
    );
    const droppedLine = (): Record<string, unknown> | undefined =>
      coord.where('msg', 'agent stream ended').find((l) => (l['time'] as number) >= partitionAt);
    const coordinatorDroppedAt = await waitUntil(
      () => `the coordinator to drop the dead stream${context()}`,
      () => droppedLine()?.['time'] as number | undefined,
      SERVER_KEEPALIVE_TIME_MS + SERVER_KEEPALIVE_TIMEOUT_MS + 10_000,
    );
    // Whatever was in flight when the path went down has been committed long since (250 ms window).
    const heldWhileCut = highWater();
    await new Promise((resolve) => setTimeout(resolve, HOLD_AFTER_DETECTION_MS));
    const heldAtHeal = highWater();

    // 4. Heal, then wait for a sample taken after the heal: everything older is in by then, as the
    // agent replays in seq order.
    const healAt = Date.now();
    await setPath(true);
    const reconnectedAt = await waitUntil(
      () => `the agent to reconnect${context()}`,
      () => logTime(agent, 'connected to the coordinator', 1),
      25_000,
    );
    const freshAt = await waitUntil(
      () => `samples taken after the heal, stored${context()}`,
      () => (storedSamples().some((s) => s.ts_ms >= healAt + 1000) ? Date.now() : undefined),
      15_000,
    );
    const onlineAgainAt = await waitUntil(
      () => `the API to show the node online again${context()}`,
      async () => ((await nodeStatus()) === 'online' ? Date.now() : undefined),
      10_000,
    );

    // 5. Stop the agent cleanly, then start it again on the same buffer: it reports the last seq it
    // assigned, and replays anything not yet acknowledged. Once the coordinator holds that seq,
    // every record the agent ever took must be in the database.
    const agentCode = await stopChild(agentRun.child, agentRun.exit);
    const rerun = startAgent();
    const reopened = await waitUntil(
      () => `the restarted agent to open its buffer${context()}\n--- restarted agent ---\n${rerun.out.raw}`,
      () => rerun.out.where('msg', 'disk buffer opened')[0],
      20_000,
    );
    const lastAssigned = reopened['last_seq'] as number;
    await waitUntil(
      () => `the coordinator to hold seq ${lastAssigned} (holds ${highWater()})${context()}`,
      () => (highWater() >= lastAssigned ? true : undefined),
      20_000,
    );
    const rerunCode = await stopChild(rerun.child, rerun.exit);
    // The coordinator commits what it holds on SIGTERM: the file is final after this.
    const coordCode = await stopChild(coordChild, coordExit);

    const seqs = query<{ seq: number }>(
      'SELECT seq FROM samples WHERE node_id = ? UNION ALL SELECT seq FROM service_events WHERE node_id = ? ORDER BY seq',
      NODE,
      NODE,
    ).map((r) => r.seq);
    const boots = query<{ boot_id: string; last_seq: number }>(
      'SELECT boot_id, last_seq FROM node_boots WHERE node_id = ?',
      NODE,
    );
    const rows = storedSamples();
    const last = seqs.at(-1) ?? 0;
    const reconnect = agent.where('msg', 'connected to the coordinator')[1] ?? {};
    const cutSamples = rows.filter((s) => s.ts_ms >= partitionAt && s.ts_ms < healAt);
    const pings = agentRun
      .err()
      .split('\n')
      .filter((l) => /Sending ping/.test(l)).length;
    const pingTimeout = /(\d{4}-\d\d-\d\dT[\d:.]+Z).*Ping timeout passed/.exec(agentRun.err())?.[1];
    const coordinatorEnded = droppedLine() ?? {};

    const measured = {
      lab: lab.id,
      detect_ms: detectedAt - partitionAt,
      ping_timeout_after_partition_ms: pingTimeout === undefined ? null : Date.parse(pingTimeout) - partitionAt,
      api_offline_after_partition_ms: offlineAt - partitionAt,
      coordinator_dropped_stream_after_partition_ms: coordinatorDroppedAt - partitionAt,
      coordinator_stream_end_why: coordinatorEnded['why'],
      partition_held_ms: healAt - partitionAt,
      reconnect_after_heal_ms: reconnectedAt - healAt,
      fresh_sample_stored_after_heal_ms: freshAt - healAt,
      api_online_after_heal_ms: onlineAgainAt - healAt,
      samples_during_partition: cutSamples.length,
      reconnect_replay_records: reconnect['replay'],
      reconnect_last_acked_seq: reconnect['last_acked_seq'],
      held_while_cut: heldWhileCut,
      last_assigned_seq: lastAssigned,
      final_seq: last,
      keepalive_pings_sent: pings,
      stream_end: { code: ended['code'], details: ended['details'], up_ms: ended['up_ms'] },
    };
    t.diagnostic(`measured: ${JSON.stringify(measured)}`);

    assert.equal(agentCode, 0, `agent exit code${context()}`);
    assert.equal(rerunCode, 0, 'restarted agent exit code');
    assert.equal(coordCode, 0, `coordinator exit code${context()}`);
    assert.equal(heldAtHeal, heldWhileCut, 'nothing crossed the partition');
    assert.equal(boots.length, 1, 'one node/boot');
    // The Welcome after the heal told the agent exactly what the coordinator held.
    assert.equal(reconnect['last_acked_seq'], heldAtHeal, 'Welcome.last_acked_seq is the stored high-water mark');
    // The core claim: every seq exactly once, no gap, across the partition and the restart.
    assert.deepEqual(
      seqs,
      Array.from({ length: last }, (_, i) => i + 1),
      `seqs in the coordinator's database are 1..${last} once each`,
    );
    assert.ok(last >= lastAssigned, `everything the agent assigned (${lastAssigned}) is stored (${last})`);
    assert.equal(boots[0]?.last_seq, last, 'the high-water mark is the last stored seq');
    // The partition's samples were buffered and replayed, not lost: about one per interval.
    assert.ok(
      cutSamples.length >= (0.5 * (healAt - partitionAt)) / SAMPLE_INTERVAL_MS,
      `samples taken during the ${healAt - partitionAt} ms partition reached the coordinator (${cutSamples.length})`,
    );
    assert.ok(last > heldAtHeal + cutSamples.length, 'streaming went on after the replay');
    assert.ok(Number(reconnect['replay']) > 0, 'the reconnect had a backlog to replay');
    // Detection is keepalive's doing: not before one ping timeout, not after one period plus it.
    assert.ok(
      measured.detect_ms >= KEEPALIVE_TIMEOUT_MS - 1000 &&
        measured.detect_ms <= KEEPALIVE_TIME_MS + KEEPALIVE_TIMEOUT_MS + 5000,
      `detection after ${measured.detect_ms} ms fits keepalive ${KEEPALIVE_TIME_MS}+${KEEPALIVE_TIMEOUT_MS} ms`,
    );
    // The coordinator found the dead stream by its own keepalive, not by the agent's reconnect.
    assert.ok(
      coordinatorDroppedAt < healAt &&
        measured.coordinator_dropped_stream_after_partition_ms <=
          SERVER_KEEPALIVE_TIME_MS + SERVER_KEEPALIVE_TIMEOUT_MS + 5000,
      `the coordinator dropped the dead stream ${measured.coordinator_dropped_stream_after_partition_ms} ms after the cut`,
    );
  },
);
