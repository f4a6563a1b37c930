/**
 * A stand-in coordinator for the operator command tests: a real HTTP server on 127.0.0.1:0 that
 * answers the REST API with canned JSON in the shapes the coordinator documents, serves
 * `GET /api/v1/events` as Server-Sent Events the test writes to, and records every request. Also
 * runs the built `kage` as a child process, bounded, so no test leaves one behind.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export const KAGE_BIN = fileURLToPath(new URL('../../src/bin.js', import.meta.url));
/** Every wait in these tests ends by this bound at the latest. */
export const WAIT_MS = 10_000;
export const GIB = 1024 ** 3;
/** The token the fake coordinator accepts. */
export const API_TOKEN = 's3cret-token';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface Answer {
  status: number;
  body?: unknown;
}

/** A route answers with JSON, or `hang` to never answer (a coordinator that does not respond). */
export type Route = (request: RecordedRequest) => Answer | 'hang';

export interface FakeCoordinator {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** The answer of `GET /api/v1/nodes`; replace it to change the next snapshot. */
  nodes: () => unknown[];
  /** Answers `METHOD /path` (exact path, query included) from now on. */
  route(method: string, path: string, route: Route): void;
  /** Open event streams, oldest first (closed ones stay listed). */
  readonly streams: EventStreamClient[];
  /** Resolves once `count` event streams have been opened. */
  waitForStreams(count: number): Promise<EventStreamClient>;
  close(): Promise<void>;
}

export interface EventStreamClient {
  /** The `Last-Event-ID` the client sent, if any. */
  readonly lastEventId: string | undefined;
  send(event: string, data: unknown, id?: number): void;
  /** Ends the stream from the server side, as a coordinator restart or a proxy would. */
  drop(): void;
}

/** Three nodes: two online (one with a GPU and a failing EXO), one offline. */
export function cannedNodes(now: number = Date.now()): unknown[] {
  const iso = (ms: number): string => new Date(ms).toISOString();
  return [
    {
      id: 'srv1',
      hostname: 'srv1.lan',
      status: 'online',
      last_seen: iso(now - 2000),
      agent_version: '0.1.0',
      services: [
        {
          name: 'ollama',
          driver: 'systemd',
          state: 'running',
          pid: 123,
          restarts: 0,
          healthy: true,
          health: 'healthy',
          reason: null,
        },
      ],
      latest: { ts: iso(now - 1000), cpu_pct: 12.5, mem_used_bytes: 8 * GIB, mem_total_bytes: 32 * GIB, gpus: [] },
      clock_skew_ms: 3,
    },
    {
      id: 'rog',
      hostname: 'rog-flow-z13',
      status: 'online',
      last_seen: iso(now - 1000),
      agent_version: '0.1.0',
      services: [
        {
          name: 'ollama',
          driver: 'systemd',
          state: 'running',
          pid: 77,
          restarts: 0,
          healthy: true,
          health: 'healthy',
          reason: null,
        },
        {
          name: 'exo',
          driver: 'process',
          state: 'backoff',
          pid: null,
          restarts: 3,
          healthy: false,
          health: 'unhealthy',
          reason: 'exited with code 1',
        },
      ],
      latest: {
        ts: iso(now - 1000),
        cpu_pct: 3.25,
        mem_used_bytes: 20 * GIB,
        mem_total_bytes: 64 * GIB,
        gpus: [{ name: 'Radeon 8060S', busy_pct: 45, mem_used_bytes: 10 * GIB, mem_total_bytes: 96 * GIB }],
      },
      clock_skew_ms: -2,
    },
    {
      id: 'srv2',
      hostname: 'srv2.lan',
      status: 'offline',
      last_seen: iso(now - 5 * 60_000 - 5000),
      agent_version: '0.0.9',
      services: [],
      latest: {
        ts: iso(now - 5 * 60_000 - 5000),
        cpu_pct: 99,
        mem_used_bytes: GIB,
        mem_total_bytes: 16 * GIB,
        gpus: [],
      },
      clock_skew_ms: null,
    },
  ];
}

/** Requires `Authorization: Bearer API_TOKEN` as the coordinator does for state-changing requests. */
export function authorized(route: Route): Route {
  return (request) => {
    if (request.headers.authorization !== `Bearer ${API_TOKEN}`) {
      return {
        status: 401,
        body: { code: 'KAGE_ERR_UNAUTHORIZED', message: 'the bearer token is not the coordinator API token' },
      };
    }
    return route(request);
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

export async function startFakeCoordinator(): Promise<FakeCoordinator> {
  const routes = new Map<string, Route>();
  const requests: RecordedRequest[] = [];
  const streams: EventStreamClient[] = [];
  const open = new Set<ServerResponse>();
  const hanging = new Set<ServerResponse>();
  const streamWaiters: { count: number; resolve: (s: EventStreamClient) => void }[] = [];

  const openStream = (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    res.flushHeaders();
    open.add(res);
    res.on('close', () => open.delete(res));
    const header = req.headers['last-event-id'];
    const client: EventStreamClient = {
      lastEventId: Array.isArray(header) ? header[0] : header,
      send(event, data, id) {
        res.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      },
      drop() {
        res.destroy();
      },
    };
    streams.push(client);
    for (const waiter of [...streamWaiters]) {
      if (streams.length >= waiter.count) {
        streamWaiters.splice(streamWaiters.indexOf(waiter), 1);
        waiter.resolve(client);
      }
    }
  };

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const path = req.url ?? '/';
      const request: RecordedRequest = { method: req.method ?? 'GET', path, headers: req.headers, body };
      requests.push(request);
      if (request.method === 'GET' && path === '/api/v1/events') {
        openStream(req, res);
        return;
      }
      const route = routes.get(`${request.method} ${path}`);
      const answer: Answer | 'hang' = route
        ? route(request)
        : request.method === 'GET' && path === '/api/v1/nodes'
          ? { status: 200, body: fake.nodes() }
          : { status: 404, body: { code: 'KAGE_ERR_NOT_FOUND', message: `no route ${request.method} ${path}` } };
      if (answer === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  const fake: FakeCoordinator = {
    url: `http://127.0.0.1:${port}`,
    requests,
    nodes: () => cannedNodes(),
    route(method, path, route) {
      routes.set(`${method} ${path}`, route);
    },
    streams,
    waitForStreams(count) {
      const ready = streams[count - 1];
      if (ready !== undefined) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const waiter = { count, resolve };
        streamWaiters.push(waiter);
        setTimeout(() => {
          const at = streamWaiters.indexOf(waiter);
          if (at === -1) return;
          streamWaiters.splice(at, 1);
          reject(new Error(`no event stream #${count} within ${WAIT_MS} ms`));
        }, WAIT_MS).unref();
      });
    },
    async close() {
      for (const res of [...open, ...hanging]) res.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
  return fake;
}

/** The environment for a child `kage`: without the operator variables of whoever runs the tests. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = { ...process.env };
  delete base['KAGE_COORDINATOR'];
  delete base['KAGE_API_TOKEN'];
  return { ...base, ...env };
}

export interface KageResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `kage …args` to completion, killing it after WAIT_MS. */
export async function runKage(args: readonly string[], env: Record<string, string> = {}): Promise<KageResult> {
  const child = spawn(process.execPath, [KAGE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(env) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), WAIT_MS);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export interface RunningKage {
  readonly child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout (or stderr) matches, or rejects after WAIT_MS with both outputs. */
  stdoutMatches(pattern: RegExp): Promise<void>;
  stderrMatches(pattern: RegExp): Promise<void>;
  /** Resolves with the exit code, or SIGKILLs the child and rejects after WAIT_MS. */
  exited(): Promise<number | null>;
}

/** Starts a `kage` that keeps running (`status --watch`, a followed run); the test ends it. */
export function startKage(
  t: { after: (fn: () => void) => void },
  args: readonly string[],
  env: Record<string, string> = {},
): RunningKage {
  const child = spawn(process.execPath, [KAGE_BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: childEnv(env) });
  let stdout = '';
  let stderr = '';
  const exit = (once(child, 'close') as Promise<[number | null]>).then(([code]) => code);
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const listeners = new Set<() => void>();
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const l of [...listeners]) l();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const l of [...listeners]) l();
  });
  const describe = (): string => `stdout:\n${stdout}\nstderr:\n${stderr}`;
  const matches = (text: () => string, pattern: RegExp, stream: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const done = (): void => {
        listeners.delete(check);
        clearTimeout(timer);
      };
      const check = (): void => {
        if (!pattern.test(text())) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${pattern} on ${stream} within ${WAIT_MS} ms\n${describe()}`));
      }, WAIT_MS);
      listeners.add(check);
      void exit.then(() => {
        if (!listeners.has(check)) return;
        done();
        if (pattern.test(text())) resolve();
        else reject(new Error(`exited before ${pattern} on ${stream}\n${describe()}`));
      });
      check();
    });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    stdoutMatches: (pattern) => matches(() => stdout, pattern, 'stdout'),
    stderrMatches: (pattern) => matches(() => stderr, pattern, 'stderr'),
    async exited() {
      const timer = setTimeout(() => child.kill('SIGKILL'), WAIT_MS);
      const code = await exit;
      clearTimeout(timer);
      if (child.signalCode === 'SIGKILL') throw new Error(`kage did not exit within ${WAIT_MS} ms\n${describe()}`);
      return code;
    },
  };
}
