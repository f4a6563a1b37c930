/**
 * One request to a backend, on node:http with a keep-alive agent per backend, bounded where a
 * bound is safe: the TCP connect, and the response head. The body has no deadline (a long prefill
 * or a long answer is not a fault); the client's disconnect aborts it instead. node:http rather
 * than fetch: each body chunk is handed on as it arrives, with no stream layer buffering it.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';

/** Why a request to a backend failed before its response head arrived: safe to retry elsewhere. */
export class UpstreamError extends Error {
  readonly phase: 'connect' | 'first-byte' | 'network';
  constructor(phase: UpstreamError['phase'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpstreamError';
    this.phase = phase;
  }
}

export interface UpstreamOptions {
  url: string;
  method: 'GET' | 'POST';
  body?: Buffer | undefined;
  headers?: Record<string, string>;
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  /** Aborts the request at any point (the client went away). */
  signal: AbortSignal;
}

export interface UpstreamAgents {
  agentFor(url: URL): http.Agent;
  close(): void;
}

export function createUpstreamAgents(): UpstreamAgents {
  const plain = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const secure = new https.Agent({ keepAlive: true, maxSockets: 256 });
  return {
    agentFor: (url) => (url.protocol === 'https:' ? secure : plain),
    close() {
      plain.destroy();
      secure.destroy();
    },
  };
}

/** Resolves with the response (head received); rejects with {@link UpstreamError} before that. */
export function upstreamRequest(agents: UpstreamAgents, o: UpstreamOptions): Promise<IncomingMessage> {
  const url = new URL(o.url);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: UpstreamError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(headTimer);
      req.destroy();
      reject(err);
    };
    const req = transport.request(url, {
      method: o.method,
      agent: agents.agentFor(url),
      headers: {
        ...(o.body === undefined
          ? {}
          : { 'content-type': 'application/json', 'content-length': String(o.body.length) }),
        ...o.headers,
      },
      signal: o.signal,
    });
    req.setNoDelay(true);
    const connectTimer = setTimeout(
      () => fail(new UpstreamError('connect', `no connection within ${o.connectTimeoutMs} ms`)),
      o.connectTimeoutMs,
    );
    const headTimer = setTimeout(
      () => fail(new UpstreamError('first-byte', `no response within ${o.firstByteTimeoutMs} ms`)),
      o.firstByteTimeoutMs,
    );
    req.on('socket', (socket) => {
      // A pooled socket is connected already.
      if (!socket.connecting) clearTimeout(connectTimer);
      else socket.once('connect', () => clearTimeout(connectTimer));
    });
    req.on('response', (res) => {
      if (settled) {
        res.destroy();
        return;
      }
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(headTimer);
      resolve(res);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const phase =
        err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH'
          ? 'connect'
          : 'network';
      fail(new UpstreamError(phase, err.code ?? err.message, { cause: err }));
    });
    req.end(o.body);
  });
}
