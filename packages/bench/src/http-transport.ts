/**
 * One HTTP exchange on node:http with the timestamps the metrics need: `t_send` just before the
 * request is written, the response head, and every body chunk as it arrives. node:http (not fetch)
 * because it lets us stamp the write itself and hand each chunk over synchronously, with no
 * buffering layer between the socket and the clock.
 */
import http from 'node:http';
import https from 'node:https';
import { BenchError } from './errors.js';

/** Keep-alive agents for both schemes; warm connections keep TCP setup out of TTFT. */
export interface AgentPair {
  http: http.Agent;
  https: https.Agent;
}

/** Creates keep-alive agents. Destroy them with {@link destroyAgents} when the client closes. */
export function createAgents(): AgentPair {
  return { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
}

/** Closes every pooled socket. Idempotent. */
export function destroyAgents(agents: AgentPair): void {
  agents.http.destroy();
  agents.https.destroy();
}

/** Monotonic clock in nanoseconds. */
export const nowNs = (): bigint => process.hrtime.bigint();

/** How an exchange ended. */
export type ExchangeEnd =
  /** The server finished the body, or the protocol's terminator arrived. */
  | { kind: 'ended' }
  /** The body consumer asked to stop reading (e.g. after a malformed line). */
  | { kind: 'stopped' }
  /** The whole exchange took longer than its timeout. */
  | { kind: 'timeout' }
  /** The caller's AbortSignal fired. */
  | { kind: 'aborted' }
  /** No response head arrived: refused, reset, DNS, TLS... */
  | { kind: 'connection'; error: Error }
  /** The connection broke after the head, mid-body. */
  | { kind: 'reset'; error: Error };

/** What happened on the wire, with monotonic timestamps. */
export interface ExchangeResult {
  tSendNs: bigint;
  tHeadNs: bigint | null;
  tEndNs: bigint;
  status: number | null;
  /** Body of a non-2xx answer (first 64 KiB), which the stream consumer never sees. */
  errorBody: string | null;
  end: ExchangeEnd;
}

/** Request parameters of {@link exchange}. */
export interface ExchangeRequest {
  url: URL;
  method: 'GET' | 'POST' | 'DELETE';
  /** JSON text; sent with `Content-Type: application/json`. */
  body?: string;
  accept?: string;
  agents: AgentPair;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/**
 * Receives 2xx body text as it arrives. `'stop'` ends the exchange and drops the connection (the
 * body is unusable); `'done'` means the protocol's terminator arrived: the exchange ends now, but
 * the connection is left to finish so the keep-alive socket can be reused.
 */
export type ChunkSink = (text: string, atNs: bigint) => 'continue' | 'stop' | 'done';

/** After a terminator, how long the server may take to end the body before the socket is dropped. */
const DRAIN_AFTER_DONE_MS = 5000;

const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * Performs one exchange. Never rejects: every failure is described in the result, because a
 * benchmark records failures rather than throwing them away.
 */
export function exchange(req: ExchangeRequest, sink: ChunkSink): Promise<ExchangeResult> {
  const isHttps = req.url.protocol === 'https:';
  const headers: Record<string, string> = { Accept: req.accept ?? 'application/json' };
  if (req.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(req.body));
  }
  return new Promise((resolve) => {
    let tSendNs = nowNs();
    let tHeadNs: bigint | null = null;
    let status: number | null = null;
    let errorBody: string | null = null;
    let settled = false;

    const client = (isHttps ? https : http).request(req.url, {
      method: req.method,
      headers,
      agent: isHttps ? req.agents.https : req.agents.http,
    });

    const finish = (end: ExchangeEnd): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      resolve({ tSendNs, tHeadNs, tEndNs: nowNs(), status, errorBody, end });
    };
    const onAbort = (): void => {
      finish({ kind: 'aborted' });
      client.destroy();
    };
    const timer = setTimeout(() => {
      finish({ kind: 'timeout' });
      client.destroy();
    }, req.timeoutMs);

    client.on('error', (error) => {
      finish(tHeadNs === null ? { kind: 'connection', error } : { kind: 'reset', error });
    });
    client.on('response', (res) => {
      tHeadNs = nowNs();
      status = res.statusCode ?? 0;
      res.setEncoding('utf8'); // a StringDecoder: multi-byte characters split across chunks stay whole
      const ok = status >= 200 && status < 300;
      if (!ok) errorBody = '';
      res.on('data', (chunk: string) => {
        if (settled) return;
        const at = nowNs();
        if (!ok) {
          if (errorBody !== null && errorBody.length < ERROR_BODY_LIMIT) errorBody += chunk;
          return;
        }
        const verdict = sink(chunk, at);
        if (verdict === 'stop') {
          finish({ kind: 'stopped' });
          client.destroy();
        } else if (verdict === 'done') {
          finish({ kind: 'ended' });
          const drain = setTimeout(() => client.destroy(), DRAIN_AFTER_DONE_MS);
          drain.unref();
          res.once('close', () => clearTimeout(drain));
        }
      });
      res.on('end', () => finish({ kind: 'ended' }));
      res.on('error', (error) => finish({ kind: 'reset', error }));
      res.on('close', () => {
        if (!res.complete)
          finish({ kind: 'reset', error: new Error('connection closed before the response completed') });
      });
    });

    if (req.signal?.aborted === true) {
      onAbort();
      return;
    }
    req.signal?.addEventListener('abort', onAbort, { once: true });
    tSendNs = nowNs();
    client.end(req.body);
  });
}

/** Result of {@link requestJson}. */
export interface JsonResponse {
  status: number;
  body: unknown;
}

/**
 * A small non-streaming JSON call (EXO `/state`, `/place_instance`...). Non-2xx answers are
 * returned, not thrown, so callers can read the server's reason.
 *
 * @throws {@link BenchError} `KAGE_ERR_HTTP` on connection failure, timeout or a non-JSON body;
 *   `KAGE_ERR_ABORTED` when the signal fires
 */
export async function requestJson(req: Omit<ExchangeRequest, 'accept'>): Promise<JsonResponse> {
  let text = '';
  const r = await exchange(req, (chunk) => {
    text += chunk;
    return 'continue';
  });
  const what = `${req.method} ${req.url.href}`;
  switch (r.end.kind) {
    case 'aborted':
      throw new BenchError('KAGE_ERR_ABORTED', `${what}: aborted`);
    case 'timeout':
      throw new BenchError('KAGE_ERR_HTTP', `${what}: no answer within ${req.timeoutMs} ms`);
    case 'connection':
    case 'reset':
      throw new BenchError('KAGE_ERR_HTTP', `${what}: ${r.end.error.message}`, { cause: r.end.error });
    case 'ended':
    case 'stopped':
      break;
  }
  const status = r.status ?? 0;
  const raw = r.errorBody ?? text;
  if (raw.trim() === '') return { status, body: null };
  try {
    return { status, body: JSON.parse(raw) as unknown };
  } catch (err) {
    if (status >= 300) return { status, body: raw };
    throw new BenchError('KAGE_ERR_HTTP', `${what}: answer is not JSON: ${raw.slice(0, 200)}`, { cause: err });
  }
}

/** Milliseconds between two monotonic stamps. */
export function msBetween(fromNs: bigint, toNs: bigint): number {
  return Number(toNs - fromNs) / 1e6;
}
