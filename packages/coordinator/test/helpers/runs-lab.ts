/**
 * A small lab for the run service tests: a real coordinator database in a temp directory, the real
 * node registry and event hub, an in-process Ollama stand-in on 127.0.0.1:0 whose requests can be
 * held, and an agent commander whose probes really send the request with the bench client (so the
 * metrics are measured, not made up) while recording which node each probe went to.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createClient, type RequestMetrics } from '@kage/bench';
import type { Hello__Output } from '@kage/wire';
import { pino } from 'pino';
import { CoordinatorError, type CoordinatorErrorCode } from '../../src/coordinator-error.js';
import { createEventHub, type EventHub, type HubEvent } from '../../src/events/event-hub.js';
import type { AgentCommander, ProbeRequest, ServiceActionResult } from '../../src/grpc/agent-commander.js';
import { createNodeRegistry, type NodeRegistry } from '../../src/registry/node-registry.js';
import {
  createRunService,
  type RunHubEvent,
  type RunService,
  type RunServiceOptions,
} from '../../src/runs/run-service.js';
import type { SampleRow } from '../../src/store/sample-row.js';
import { openTelemetryStore, type TelemetryStore } from '../../src/store/telemetry-store.js';

export const silent = pino({ level: 'silent' });

// ---- Ollama stand-in --------------------------------------------------------------------------

/** A chat request the server holds until the test lets it go. */
export interface HeldChat {
  /** Streams the answer. */
  release(): void;
}

export interface FakeOllama {
  url: string;
  /** `/api/chat` requests received. */
  chats(): number;
  /** Holds the `nth` chat request (1-based, counted since start; default: the next one); resolves once it arrived. */
  hold(nth?: number): Promise<HeldChat>;
  close(): Promise<void>;
}

/**
 * Answers `GET /` like Ollama ("Ollama is running") and streams `/api/chat` as NDJSON: four tokens
 * `tokenMs` apart, then the final line with Ollama's counters.
 */
export async function startFakeOllama(t: TestContext, o: { tokenMs?: number } = {}): Promise<FakeOllama> {
  let chats = 0;
  const holds = new Map<number, (held: HeldChat) => void>();
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Ollama is running');
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      chats += 1;
      const model = (JSON.parse(body) as { model: string }).model;
      const answer = (): void => void streamAnswer(res, model, o.tokenMs ?? 2);
      const hold = holds.get(chats);
      holds.delete(chats);
      if (hold === undefined) return answer();
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        answer();
      };
      // A client that gives up (an aborted run) must not leave the response hanging.
      res.on('close', () => (released = true));
      hold({ release });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const fake: FakeOllama = {
    url: `http://127.0.0.1:${port}`,
    chats: () => chats,
    hold: (nth = chats + 1) => new Promise<HeldChat>((resolve) => holds.set(nth, resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  t.after(() => fake.close());
  return fake;
}

async function streamAnswer(res: http.ServerResponse, model: string, tokenMs: number): Promise<void> {
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
  res.flushHeaders();
  const line = (v: unknown): string => `${JSON.stringify(v)}\n`;
  for (let i = 0; i < 4; i++) {
    await new Promise((resolve) => setTimeout(resolve, tokenMs));
    if (res.destroyed) return;
    res.write(
      line({
        model,
        created_at: new Date().toISOString(),
        message: { role: 'assistant', content: ` t${i}` },
        done: false,
      }),
    );
  }
  res.end(
    line({
      model,
      created_at: new Date().toISOString(),
      message: { role: 'assistant', content: '' },
      done_reason: 'stop',
      done: true,
      eval_count: 4,
      eval_duration: 4 * tokenMs * 1e6,
    }),
  );
}

// ---- Agent commander --------------------------------------------------------------------------

export interface ProbeCall {
  node: string;
  probe: ProbeRequest;
}

/**
 * Nodes in `connected` answer probes by sending the request with the bench client, as an agent
 * does; their metrics carry another monotonic origin (`clockOffsetMs`), as an agent's do. A probe
 * to any other node fails as `KAGE_ERR_NODE_OFFLINE`; `failNext` makes the next probes of a node
 * fail with a given code.
 */
export class FakeCommander implements AgentCommander {
  readonly connected = new Set<string>();
  readonly probes: ProbeCall[] = [];
  readonly failures = new Map<string, CoordinatorErrorCode[]>();
  clockOffsetMs = 7_000_000;

  isConnected(nodeId: string): boolean {
    return this.connected.has(nodeId);
  }

  serviceAction(): Promise<ServiceActionResult> {
    return Promise.reject(new Error('not used by runs'));
  }

  /** The next `count` probes to `node` fail with `code`. */
  failNext(node: string, code: CoordinatorErrorCode, count = 1): void {
    this.failures.set(node, [...(this.failures.get(node) ?? []), ...Array<CoordinatorErrorCode>(count).fill(code)]);
  }

  probesTo(node: string): ProbeCall[] {
    return this.probes.filter((p) => p.node === node);
  }

  async runProbe(nodeId: string, probe: ProbeRequest, options: { signal?: AbortSignal } = {}): Promise<RequestMetrics> {
    this.probes.push({ node: nodeId, probe });
    const code = this.failures.get(nodeId)?.shift();
    if (code !== undefined) throw new CoordinatorError(code, `node ${nodeId}: scripted ${code}`);
    if (!this.connected.has(nodeId)) {
      throw new CoordinatorError('KAGE_ERR_NODE_OFFLINE', `node ${nodeId} has no live stream`);
    }
    const client = createClient({ id: 'probe', kind: probe.target_kind, url: probe.url, nodes: [] });
    try {
      const m = await client.chat({
        model: probe.model,
        prompt: probe.prompt,
        maxTokens: probe.max_tokens,
        numCtx: probe.num_ctx ?? null,
        temperature: probe.temperature ?? null,
        seed: probe.seed ?? null,
        timeoutMs: probe.timeout_ms,
        signal: options.signal,
      });
      return { ...m, t_send_ms: m.t_send_ms + this.clockOffsetMs };
    } finally {
      client.close();
    }
  }
}

// ---- The lab ----------------------------------------------------------------------------------

export interface RunsLab {
  store: TelemetryStore;
  hub: EventHub;
  registry: NodeRegistry;
  commander: FakeCommander;
  /** Makes these nodes known and online (connected), every other known node offline. */
  setNodes(online: readonly string[], offline?: readonly string[]): void;
  /** Commits samples of `node` (seq numbered here). */
  addSamples(node: string, samples: ReadonlyArray<Partial<SampleRow> & { ts_ms: number }>): void;
  /** A run service on the lab's store; closed after the test. */
  service(options?: Partial<RunServiceOptions>): RunService;
  /** `run` events of `runId` published so far. */
  runEvents(runId: string): RunHubEvent[];
  /** Resolves with the first `run` event (published before or after the call) that matches. */
  waitForRunEvent(match: (e: RunHubEvent) => boolean, what: string, timeoutMs?: number): Promise<RunHubEvent>;
}

export function createRunsLab(t: TestContext): RunsLab {
  const dir = mkdtempSync(join(tmpdir(), 'kage-runs-'));
  const store = openTelemetryStore({ path: join(dir, 'kage.db'), log: silent });
  const hub = createEventHub();
  const registry = createNodeRegistry({ store, events: hub, log: silent });
  const commander = new FakeCommander();
  const services: RunService[] = [];
  const seqs = new Map<string, number>();
  t.after(async () => {
    for (const s of services) await s.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const runEventsOf = (events: readonly HubEvent[]): RunHubEvent[] =>
    events.filter((e) => e.type === 'run').map((e) => e.data as RunHubEvent);

  return {
    store,
    hub,
    registry,
    commander,
    setNodes(online, offline = []) {
      const now = Date.now();
      for (const id of [...online, ...offline]) registry.hello(hello(id), now);
      // Silence everyone, then bring the online ones back.
      registry.tick(now + 3_600_000);
      commander.connected.clear();
      for (const id of online) {
        registry.hello(hello(id), now);
        commander.connected.add(id);
      }
    },
    addSamples(node, samples) {
      const rows: SampleRow[] = samples.map((s) => {
        const seq = (seqs.get(node) ?? 0) + 1;
        seqs.set(node, seq);
        return {
          node_id: node,
          seq,
          cpu_pct: null,
          mem_used_bytes: null,
          mem_total_bytes: null,
          gpu_busy_pct: null,
          gpu_mem_used_bytes: null,
          gpu_mem_total_bytes: null,
          gpus: [],
          services: [],
          ...s,
        };
      });
      store.commit([{ node_id: node, boot_id: 'boot-1', samples: rows, events: [] }]);
    },
    service(options = {}) {
      const s = createRunService({
        store,
        commander,
        registry,
        events: hub,
        log: silent,
        utilizationSettleMs: 0,
        ...options,
      });
      services.push(s);
      return s;
    },
    runEvents(runId) {
      return runEventsOf(hub.since(0) ?? []).filter((e) => e.run === runId);
    },
    waitForRunEvent(match, what, timeoutMs = 10_000) {
      const seen = runEventsOf(hub.since(0) ?? []).find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<RunHubEvent>((resolve, reject) => {
        const timer = setTimeout(() => {
          unsubscribe();
          reject(new Error(`no run event within ${timeoutMs} ms: ${what}`));
        }, timeoutMs);
        const unsubscribe = hub.subscribe((e) => {
          if (e.type !== 'run' || !match(e.data as RunHubEvent)) return;
          clearTimeout(timer);
          unsubscribe();
          resolve(e.data as RunHubEvent);
        });
      });
    },
  };
}

function hello(id: string): Hello__Output {
  return {
    protocol_version: 1,
    node_id: id,
    boot_id: 'boot-1',
    agent_version: '0.1.0',
    inventory: null,
    services: [],
    last_seq: 0,
    buffer: null,
    started_at_ms: Date.now(),
    sample_interval_ms: 1000,
  };
}

/** A matrix body as `POST /api/v1/runs` takes it: small and fast, one model. */
export function matrixBody(targets: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'runs-test',
    prompt: 'Say hi.',
    max_tokens: 8,
    repetitions: 2,
    warmup: 0,
    unique_prompt_prefix: false,
    request_timeout_s: 10,
    targets,
    models: [{ name: 'qwen2.5:3b' }],
    ...extra,
  };
}
