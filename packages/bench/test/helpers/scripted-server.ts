/**
 * A tiny in-process HTTP server for client tests: each test scripts exactly what goes on the wire
 * and when, and the server records what it received and when it wrote each token (on the same
 * monotonic clock the client uses, so timings can be compared exactly).
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A request as the server saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  body: unknown;
  /** Monotonic ms when the body was fully received. */
  atMs: number;
}

/** Handler: write the scripted answer with `res`. */
export type Handler = (req: SeenRequest, res: http.ServerResponse) => Promise<void> | void;

export interface ScriptedServer {
  url: string;
  port: number;
  requests: SeenRequest[];
  /** TCP connections open on the server side now (a client's pooled keep-alive sockets count). */
  openConnections(): number;
  close(): Promise<void>;
}

/** Monotonic ms on the same base as the client's `t_send_ms`. */
export const hrMs = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;

export async function startScriptedServer(handler: Handler): Promise<ScriptedServer> {
  const requests: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      let body: unknown = null;
      try {
        body = raw === '' ? null : JSON.parse(raw);
      } catch {
        body = raw;
      }
      const seen: SeenRequest = { method: req.method ?? '', path: req.url ?? '', body, atMs: hrMs() };
      requests.push(seen);
      Promise.resolve(handler(seen, res)).catch(() => {
        // the client may have gone (timeout and abort tests): writing after that is expected to fail
        res.destroy();
      });
    });
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    openConnections: () => sockets.size,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      return closing;
    },
  };
}

/** Writes and waits for the write to be handed to the socket. */
export function write(res: http.ServerResponse, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (res.destroyed) {
      reject(new Error('response destroyed'));
      return;
    }
    res.write(text, (err) => (err ? reject(err) : resolve()));
  });
}

export { sleep };

/** A long wait that does not keep the test process alive (for "server hangs" scripts). */
export function hang(ms: number): Promise<void> {
  return sleep(ms, undefined, { ref: false });
}

/** Starts an NDJSON (Ollama) 200 answer. */
export function ndjsonHead(res: http.ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
  res.flushHeaders();
}

/** Starts an SSE 200 answer. */
export function sseHead(res: http.ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  res.flushHeaders();
}

/** A JSON answer with a status. */
export function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** One Ollama /api/chat streaming line. */
export function ollamaChunk(content: string, extra: Record<string, unknown> = {}): string {
  return (
    JSON.stringify({
      model: 'qwen2.5:3b',
      created_at: new Date().toISOString(),
      message: { role: 'assistant', content, ...extra },
      done: false,
    }) + '\n'
  );
}

/** The final Ollama /api/chat line, with counters (ns). */
export function ollamaDone(counters: Record<string, number> = {}): string {
  return (
    JSON.stringify({
      model: 'qwen2.5:3b',
      created_at: new Date().toISOString(),
      message: { role: 'assistant', content: '' },
      done_reason: 'stop',
      done: true,
      ...counters,
    }) + '\n'
  );
}

/** One SSE data event. */
export function sseData(payload: unknown): string {
  return `data: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}\n\n`;
}

/** An OpenAI chat.completion.chunk with one choice. */
export function openaiChunk(
  delta: Record<string, unknown>,
  extra: { finish_reason?: string | null; usage?: unknown; object?: string } = {},
): string {
  return sseData({
    id: 'chatcmpl-1',
    object: extra.object ?? 'chat.completion.chunk',
    created: 1730000000,
    model: 'qwen2.5:3b',
    choices: [{ index: 0, delta, finish_reason: extra.finish_reason ?? null }],
    ...(extra.usage === undefined ? {} : { usage: extra.usage }),
  });
}

/** A port that refuses connections (bound then released). */
export async function refusedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** EXO `/state` of a srv1+srv2 cluster with `modelId` placed across both and every runner ready. */
export function readyExoState(modelId: string): Record<string, unknown> {
  return {
    nodeIdentities: { n1: { friendlyName: 'srv1' }, n2: { friendlyName: 'srv2' } },
    instances: {
      i1: {
        MlxRingInstance: {
          instanceId: 'i1',
          shardAssignments: { modelId, nodeToRunner: { n1: 'r1', n2: 'r2' } },
        },
      },
    },
    runners: { r1: { RunnerReady: {} }, r2: { RunnerReady: {} } },
  };
}
