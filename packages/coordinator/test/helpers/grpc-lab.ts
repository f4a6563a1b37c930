/**
 * The coordinator's gRPC side in-process, for the gateway tests: the real gateway over a real
 * SQLite store in a temporary directory, with the real ingest batcher, node registry and event
 * hub, listening on 127.0.0.1:0 with every log line captured. Agents are raw grpc-js clients of the
 * contract's own service definition: they send exactly what a test tells them (nothing of the real
 * agent's manners), record every message and the call's final status, and keep a ledger of what
 * they sent and what the coordinator acknowledged, so a test can check that nothing acknowledged
 * was lost whatever else it did to the server.
 *
 * Every wait here is bounded and event-driven; nothing sleeps to prove that something did not
 * happen.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  Client,
  Metadata,
  credentials,
  status,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientDuplexStream,
  type StatusObject,
} from '@grpc/grpc-js';
import {
  PROTOCOL_VERSION,
  loadContract,
  type AgentMessage,
  type Command__Output,
  type CoordinatorMessage__Output,
  type Hello,
  type Sample,
  type Welcome__Output,
} from '@kage/wire';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { createEventHub, type EventHub } from '../../src/events/event-hub.js';
import {
  createAgentGatewayServer,
  type AgentGatewayServer,
  type GrpcListenOptions,
} from '../../src/grpc/agent-gateway-server.js';
import { createIngestBatcher, type IngestBatcher } from '../../src/ingest/ingest-batcher.js';
import { createNodeRegistry, type NodeRegistry } from '../../src/registry/node-registry.js';
import { createLoadedModelsBoard, type LoadedModelsBoard } from '../../src/registry/loaded-models-board.js';
import { openTelemetryStore, type TelemetryStore } from '../../src/store/telemetry-store.js';

export const CONNECT_PATH = '/kage.v1.AgentGateway/Connect';
/** Default bound of every wait: generous for a loaded CI machine, short next to a test timeout. */
const WAIT_MS = 10_000;

export type LogLine = Record<string, unknown>;

export interface GatewayLabOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 4 MiB (the config's default) */
  maxMessageBytes?: number;
  tls?: GrpcListenOptions['tls'];
  /** Credentials of the lab's agents unless an agent is given its own. @default insecure */
  clientCredentials?: () => ChannelCredentials;
  /** Nodes with a token. @default srv1, srv2 and witness */
  nodes?: readonly string[];
}

export interface GatewayLab {
  readonly gateway: AgentGatewayServer;
  readonly registry: NodeRegistry;
  readonly models: LoadedModelsBoard;
  readonly events: EventHub;
  readonly batcher: IngestBatcher;
  readonly store: TelemetryStore;
  readonly port: number;
  /** `host:port` to dial (IPv6 in brackets). */
  readonly target: string;
  readonly host: string;
  /** Every line the coordinator logged, parsed. */
  readonly logs: LogLine[];
  token(node: string): string;
  /** A raw agent call of `node` (default srv1), not yet sent anything; closed with the test. */
  agent(options?: AgentOptions): RawAgent;
  /** A call whose messages are raw bytes, for what no well-formed client would send. */
  rawCall(options?: { token?: string | null }): TrackedCall<Buffer, Buffer>;
  /** (seq, ts_ms) of `node`'s stored samples, read by a read-only connection of its own. */
  stored(node: string): { seq: number; ts_ms: number }[];
  /**
   * Every sample any agent of this lab sent at or below the highest seq acknowledged to its node
   * is in the database exactly once. (Each test uses one boot per node: the samples table keys
   * by node and seq.)
   */
  assertNothingAckedLost(): void;
}

export interface AgentOptions {
  node?: string;
  /** Null sends no `authorization` entry. @default the node's token */
  token?: string | null;
  /** The whole `authorization` value, verbatim (overrides `token`). */
  authorization?: string;
  /** @default one boot id per node and lab */
  boot?: string;
  credentials?: ChannelCredentials;
}

/** A client call with everything received and its final status recorded. */
export interface TrackedCall<Req, Res> {
  readonly call: ClientDuplexStream<Req, Res>;
  readonly received: Res[];
  /** The final status once the call ended, else null. */
  status(): StatusObject | null;
  /** Resolves with the final status; rejects after `timeoutMs`. */
  ended(timeoutMs?: number): Promise<StatusObject>;
  /** The first received message (from `from` on) that `pick` maps to a value; rejects if the call ends first. */
  waitFor<T>(
    what: string,
    pick: (m: Res) => T | undefined,
    options?: { from?: number; timeoutMs?: number },
  ): Promise<T>;
  /** Cancels the call if still open and closes its channel. */
  close(): void;
}

export interface RawAgent extends TrackedCall<AgentMessage, CoordinatorMessage__Output> {
  readonly node: string;
  readonly boot: string;
  send(message: AgentMessage): void;
  hello(overrides?: Partial<Hello>): void;
  /** Hello, then the Welcome (accepted or not). */
  connect(overrides?: Partial<Hello>): Promise<Welcome__Output>;
  /** One SampleBatch of these seqs (ts = `tsOf(seq)`, default now), each with `extra` fields. */
  samples(seqs: readonly number[], tsOf?: (seq: number) => number, extra?: Partial<Sample>): void;
  /** Waits for an Ack of at least `seq`. */
  waitAck(seq: number, timeoutMs?: number): Promise<void>;
  acks(): number[];
  /** The next command not yet returned by this method. */
  nextCommand(timeoutMs?: number): Promise<Command__Output>;
  /** Answers a service action as the agent would after doing it. */
  answer(command: Command__Output, ok?: boolean): void;
}

export type CodedError = Error & { code?: string };

/**
 * Attaches to a command's promise at once (it may reject before the test gets to await it) and
 * resolves with its error and when it came; fails the test if the command succeeded.
 */
export function failureOf(command: Promise<unknown>): Promise<{ error: CodedError; at: number }> {
  return command.then(
    (value) => assert.fail(`expected the command to fail, it gave ${JSON.stringify(value)}`),
    (error: CodedError) => ({ error, at: Date.now() }),
  );
}

export function tokenOf(node: string): string {
  return `token-${node}-0123456789abcdef`;
}

/** A pino logger whose lines land parsed in `lines` (nothing is printed). */
export function captureLog(): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { log, lines };
}

/** Polls `check` until it returns a value, bounded; for state that has no event of its own. */
export async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export async function startGatewayLab(t: TestContext, o: GatewayLabOptions = {}): Promise<GatewayLab> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-grpc-lab-'));
  const file = join(dir, 'kage.db');
  const { log, lines } = captureLog();
  const nodes = o.nodes ?? ['srv1', 'srv2', 'witness'];
  const store = openTelemetryStore({ path: file, log });
  const events = createEventHub();
  const registry = createNodeRegistry({ store, events, log });
  const models = createLoadedModelsBoard({
    events,
    isOnline: (id) => registry.get(id)?.status === 'online',
    hostnames: () => new Map(registry.list().map((n) => [n.id, n.hostname])),
  });
  // A short commit window: acknowledgements come quickly and the tests stay fast.
  const batcher = createIngestBatcher({ store, log, maxDelayMs: 10 });
  const host = o.host ?? '127.0.0.1';
  const gateway = createAgentGatewayServer({
    listen: {
      host,
      port: 0,
      tls: o.tls ?? null,
      keepaliveTimeMs: 10_000,
      keepaliveTimeoutMs: 5_000,
      maxMessageBytes: o.maxMessageBytes ?? 4 * 1024 * 1024,
    },
    agentTokens: new Map(nodes.map((n) => [n, tokenOf(n)])),
    store,
    batcher,
    registry,
    models,
    log,
    version: '0.1.0-test',
  });
  const closers: Array<() => void> = [];
  // One hook, in this order: clients, then the server, then what it writes to, then the files.
  t.after(async () => {
    for (const close of closers) close();
    await gateway.close();
    batcher.close();
    events.close();
    store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const { port } = await gateway.listen();
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const clientCredentials = o.clientCredentials ?? (() => credentials.createInsecure());

  /** node → every seq sent; node → highest seq acknowledged. */
  const sent = new Map<string, Set<number>>();
  const acked = new Map<string, number>();
  const boots = new Map<string, string>();

  const metadataFor = (token: string | null | undefined, authorization?: string): Metadata => {
    const md = new Metadata();
    if (authorization !== undefined) md.set('authorization', authorization);
    else if (typeof token === 'string') md.set('authorization', `Bearer ${token}`);
    return md;
  };
  // Its own subchannel pool per client: each call gets its own connection, so whatever a hostile
  // call does to its connection never reaches another test client through a shared one.
  const channelOptions: ChannelOptions = { 'grpc.use_local_subchannel_pool': 1 };

  const lab: GatewayLab = {
    gateway,
    registry,
    models,
    events,
    batcher,
    store,
    port,
    target,
    host,
    logs: lines,
    token: tokenOf,
    agent(a = {}) {
      const node = a.node ?? 'srv1';
      let boot = a.boot ?? boots.get(node);
      if (boot === undefined) {
        boot = `boot-${node}-${Math.random().toString(16).slice(2, 10)}`;
        boots.set(node, boot);
      }
      const Gateway = loadContract().kage.v1.AgentGateway;
      const client = new Gateway(target, a.credentials ?? clientCredentials(), channelOptions);
      const call = client.Connect(metadataFor(a.token === undefined ? tokenOf(node) : a.token, a.authorization));
      const tracked = track(call, () => client.close());
      closers.push(() => tracked.close());
      return makeAgent(tracked, node, boot, {
        sent: (seqs) => {
          const set = sent.get(node) ?? new Set<number>();
          for (const s of seqs) set.add(s);
          sent.set(node, set);
        },
        acked: (seq) => acked.set(node, Math.max(acked.get(node) ?? 0, seq)),
      });
    },
    rawCall(r = {}) {
      const client = new Client(target, clientCredentials(), channelOptions);
      const call = client.makeBidiStreamRequest<Buffer, Buffer>(
        CONNECT_PATH,
        (b) => b,
        (b) => b,
        metadataFor(r.token === undefined ? tokenOf('srv1') : r.token),
      );
      const tracked = track(call, () => client.close());
      closers.push(() => tracked.close());
      return tracked;
    },
    stored(node) {
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare('SELECT seq, ts_ms FROM samples WHERE node_id = ? ORDER BY seq').all(node) as {
          seq: number;
          ts_ms: number;
        }[];
      } finally {
        db.close();
      }
    },
    assertNothingAckedLost() {
      for (const [node, high] of acked) {
        const stored = lab.stored(node).map((r) => r.seq);
        assert.deepEqual(
          stored.filter((s, i) => stored.indexOf(s) !== i),
          [],
          `${node}: no seq stored twice`,
        );
        const expected = [...(sent.get(node) ?? [])].filter((s) => s <= high).sort((a, b) => a - b);
        const missing = expected.filter((s) => !stored.includes(s));
        assert.deepEqual(missing, [], `${node}: every acknowledged seq (up to ${high}) is stored`);
      }
    },
  };
  return lab;
}

function track<Req, Res>(call: ClientDuplexStream<Req, Res>, closeChannel: () => void): TrackedCall<Req, Res> {
  const received: Res[] = [];
  let final: StatusObject | null = null;
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of [...listeners]) l();
  };
  call.on('data', (m: Res) => {
    received.push(m);
    notify();
  });
  // A non-OK status also arrives as 'error'; 'status' comes in every case and is what is recorded.
  call.on('error', () => undefined);
  call.on('status', (s: StatusObject) => {
    final = s;
    notify();
  });

  const waitOn = <T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const attempt = (): void => {
        let value: T | undefined;
        try {
          value = check();
        } catch (err) {
          done();
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        if (value !== undefined) {
          done();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describeEnd(final)}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        listeners.delete(attempt);
      };
      listeners.add(attempt);
      attempt();
    });

  return {
    call,
    received,
    status: () => final,
    ended: (timeoutMs = WAIT_MS) => waitOn('the call to end', () => final ?? undefined, timeoutMs),
    waitFor(what, pick, options = {}) {
      return waitOn(
        what,
        () => {
          for (let i = options.from ?? 0; i < received.length; i++) {
            const v = pick(received[i] as Res);
            if (v !== undefined) return v;
          }
          if (final !== null) throw new Error(`the call ended before ${what}${describeEnd(final)}`);
          return undefined;
        },
        options.timeoutMs ?? WAIT_MS,
      );
    },
    close() {
      if (final === null) call.cancel();
      closeChannel();
    },
  };
}

function describeEnd(s: StatusObject | null): string {
  return s === null ? '' : ` (call ended: ${status[s.code]} ${s.details})`;
}

function makeAgent(
  tracked: TrackedCall<AgentMessage, CoordinatorMessage__Output>,
  node: string,
  boot: string,
  ledger: { sent(seqs: readonly number[]): void; acked(seq: number): void },
): RawAgent {
  let commandsTaken = 0;
  const acks = (): number[] => tracked.received.flatMap((m) => (m.body === 'ack' && m.ack ? [m.ack.seq] : []));
  tracked.call.on('data', (m: CoordinatorMessage__Output) => {
    if (m.body === 'ack' && m.ack) ledger.acked(m.ack.seq);
  });
  const send = (message: AgentMessage): void => {
    tracked.call.write(message);
  };
  const hello = (overrides: Partial<Hello> = {}): void =>
    send({
      hello: {
        protocol_version: PROTOCOL_VERSION,
        node_id: node,
        boot_id: boot,
        agent_version: '0.1.0-test',
        inventory: { hostname: `${node}.lab`, kernel: '6.8.0', arch: 'x64', source: 'os', gpus: [] },
        services: [
          {
            name: 'ollama',
            driver: 'process',
            status: {
              name: 'ollama',
              driver: 'process',
              state: 'running',
              restarts: 0,
              healthy: true,
              health: 'healthy',
            },
          },
        ],
        last_seq: 0,
        started_at_ms: Date.now(),
        sample_interval_ms: 1000,
        ...overrides,
      },
    });
  return {
    ...tracked,
    node,
    boot,
    send,
    hello,
    connect(overrides) {
      const from = tracked.received.length;
      hello(overrides);
      return tracked.waitFor('Welcome', (m) => (m.body === 'welcome' ? (m.welcome ?? undefined) : undefined), { from });
    },
    samples(seqs, tsOf = () => Date.now(), extra = {}) {
      ledger.sent(seqs);
      send({ sample_batch: { samples: seqs.map((seq) => sample(seq, tsOf(seq), extra)) } });
    },
    async waitAck(seq, timeoutMs) {
      await tracked.waitFor(
        `an Ack of seq ${seq}`,
        (m) => (m.body === 'ack' && (m.ack?.seq ?? 0) >= seq ? true : undefined),
        {
          timeoutMs,
        },
      );
    },
    acks,
    async nextCommand(timeoutMs) {
      const command = await tracked.waitFor(
        'a command',
        (m) => (m.body === 'command' ? (m.command ?? undefined) : undefined),
        { from: commandIndex(tracked.received, commandsTaken), timeoutMs },
      );
      commandsTaken += 1;
      return command;
    },
    answer(command, ok = true) {
      const service = command.service_action?.service ?? 'ollama';
      send({
        command_result: {
          command_id: command.id,
          ok,
          ...(ok ? {} : { error: { code: 'KAGE_ERR_TEST', message: 'refused by the test agent' } }),
          status: { name: service, driver: 'process', state: 'running', restarts: 1, healthy: true, health: 'healthy' },
        },
      });
    },
  };
}

/** Index just past the `taken`-th command in `received` (0 when none was taken). */
function commandIndex(received: readonly CoordinatorMessage__Output[], taken: number): number {
  let seen = 0;
  for (let i = 0; i < received.length; i++) {
    if (seen === taken) return i;
    if (received[i]?.body === 'command') seen += 1;
  }
  return received.length;
}

export function sample(seq: number, ts: number, extra: Partial<Sample> = {}): Sample {
  return { seq, ts_ms: ts, tick: seq, cpu_pct: 12.5, mem_used_bytes: 2 ** 30, mem_total_bytes: 2 ** 33, ...extra };
}

/** The AgentMessage serializer of the contract, for raw calls that start well-formed. */
export function encodeAgentMessage(message: AgentMessage): Buffer {
  return loadContract().kage.v1.AgentGateway.service.Connect.requestSerialize(message);
}

/** What a raw call received, decoded as the contract's CoordinatorMessage. */
export function decodeCoordinatorMessage(bytes: Buffer): CoordinatorMessage__Output {
  return loadContract().kage.v1.AgentGateway.service.Connect.responseDeserialize(bytes);
}

// ---- A well-behaved agent that must outlive whatever a test does --------------------------------

export interface Witness {
  /**
   * The witness's call that was open all along still works (three more samples acknowledged),
   * a new connection is welcomed with the witness's acknowledged seq, and nothing acknowledged to
   * any agent of the lab is missing from the database.
   */
  proveServed(): Promise<void>;
}

/** Connects the `witness` node and has three samples acknowledged before the test does its worst. */
export async function startWitness(lab: GatewayLab, options: AgentOptions = {}): Promise<Witness> {
  const first = lab.agent({ ...options, node: 'witness' });
  const welcome = await first.connect();
  assert.equal(welcome.accepted, true, welcome.reason);
  let next = welcome.last_acked_seq + 1;
  first.samples([next, next + 1, next + 2]);
  next += 3;
  await first.waitAck(next - 1);
  return {
    async proveServed() {
      first.samples([next, next + 1, next + 2]);
      next += 3;
      await first.waitAck(next - 1);
      first.call.end();
      assert.equal((await first.ended()).code, status.OK, 'the witness ended its own call');
      const again = lab.agent({ ...options, node: 'witness' });
      const w = await again.connect();
      assert.equal(w.accepted, true, w.reason);
      assert.equal(w.last_acked_seq, next - 1, 'the coordinator still holds every witness record');
      again.samples([next]);
      next += 1;
      await again.waitAck(next - 1);
      again.call.end();
      await again.ended();
      lab.assertNothingAckedLost();
    },
  };
}

// ---- Below grpc-js: raw HTTP/2 and raw TCP ---------------------------------------------------

export interface Http2CallResult {
  httpStatus: number | null;
  grpcStatus: number | null;
  grpcMessage: string;
}

/**
 * One request on a fresh HTTP/2 connection made by hand: for bytes grpc-js would never frame, and
 * for a chosen source address (grpc-js cannot pick one). Resolves with the status the server sent.
 */
export async function http2Call(
  lab: Pick<GatewayLab, 'host' | 'port'>,
  o: { headers?: Record<string, string>; body?: Buffer; localAddress?: string; timeoutMs?: number } = {},
): Promise<Http2CallResult> {
  const authority = lab.host.includes(':') ? `http://[${lab.host}]:${lab.port}` : `http://${lab.host}:${lab.port}`;
  const session = http2.connect(authority, {
    createConnection: () =>
      net.connect({
        host: lab.host,
        port: lab.port,
        ...(o.localAddress === undefined ? {} : { localAddress: o.localAddress }),
      }),
  });
  try {
    return await new Promise<Http2CallResult>((resolve, reject) => {
      const result: Http2CallResult = { httpStatus: null, grpcStatus: null, grpcMessage: '' };
      const timer = setTimeout(
        () => reject(new Error(`no gRPC status within ${o.timeoutMs ?? WAIT_MS} ms`)),
        o.timeoutMs ?? WAIT_MS,
      );
      session.on('error', (err: Error) => {
        clearTimeout(timer);
        reject(err);
      });
      const req = session.request({
        ':method': 'POST',
        ':path': CONNECT_PATH,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...o.headers,
      });
      const finish = (): void => {
        clearTimeout(timer);
        resolve(result);
      };
      // The status ends the server's side only; ours stays open, so the stream never closes itself.
      const read = (h: http2.IncomingHttpHeaders): void => {
        if (h[':status'] !== undefined) result.httpStatus = Number(h[':status']);
        if (typeof h['grpc-message'] === 'string') result.grpcMessage = decodeURIComponent(h['grpc-message']);
        if (h['grpc-status'] !== undefined) {
          result.grpcStatus = Number(h['grpc-status']);
          finish();
        }
      };
      req.on('response', read);
      req.on('trailers', read);
      req.on('error', () => undefined);
      req.on('close', finish);
      req.resume();
      // The request side stays open, as a live agent's does: the server must end the call itself.
      if (o.body !== undefined) req.write(o.body);
    });
  } finally {
    session.destroy();
  }
}

/** Opens a TCP connection, writes `bytes` and resolves once the server closed it (bounded). */
export function tcpGarbage(lab: Pick<GatewayLab, 'host' | 'port'>, bytes: Buffer, timeoutMs = WAIT_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: lab.host, port: lab.port }, () => socket.write(bytes));
    socket.on('error', () => undefined);
    socket.resume();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept a connection of garbage open for ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

// ---- A throwaway PKI ------------------------------------------------------------------------

export const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

export interface Pki {
  ca: Buffer;
  serverKey: Buffer;
  serverCert: Buffer;
  clientKey: Buffer;
  clientCert: Buffer;
  /** A client certificate signed by another CA. */
  rogueKey: Buffer;
  rogueCert: Buffer;
}

/** A CA, a server certificate for 127.0.0.1 and client certificates (one from a second CA), with openssl. */
export async function makePki(t: TestContext): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-grpc-pki-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const run = (...args: string[]): void => {
    const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'rogue-ca']) {
    run('req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '1', '-subj', `/CN=kage-${ca}`);
  }
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, ca, ext] of [
    ['server', 'ca', 'server.ext'],
    ['client', 'ca', 'client.ext'],
    ['rogue', 'rogue-ca', 'client.ext'],
  ] as const) {
    run('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-extfile',
      ext,
      '-CAcreateserial',
    );
  }
  const read = (file: string): Promise<Buffer> => readFile(join(dir, file));
  return {
    ca: await read('ca.pem'),
    serverKey: await read('server.key'),
    serverCert: await read('server.pem'),
    clientKey: await read('client.key'),
    clientCert: await read('client.pem'),
    rogueKey: await read('rogue.key'),
    rogueCert: await read('rogue.pem'),
  };
}
