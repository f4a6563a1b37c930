/**
 * One HTTP health request: GET, short timeout, 2xx means healthy. Uses node:http with `agent: false`
 * so no keep-alive socket outlives the probe (fetch's pool would keep connections, and the event
 * loop, alive between probes).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export type HttpProbeResult = { ok: true; status: number } | { ok: false; reason: string };

/** GET `url`; never rejects. A refused connection, a timeout or a non-2xx status is `ok: false`. */
export function probeHttp(url: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<HttpProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: HttpProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const target = new URL(url);
    const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(target, {
      method: 'GET',
      agent: false,
      headers: { connection: 'close', accept: '*/*' },
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    // One deadline for connect + headers; a socket timeout alone would not bound a slow connect.
    const timer = setTimeout(
      () => finish({ ok: false, reason: `timed out after ${options.timeoutMs} ms` }),
      options.timeoutMs,
    );
    timer.unref();
    req.on('response', (res: IncomingMessage) => {
      res.resume(); // drain so the socket can close
      const status = res.statusCode ?? 0;
      finish(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, reason: `HTTP ${status}` });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      finish({ ok: false, reason: describeError(err) });
    });
    req.end();
  });
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ABORT_ERR: 'aborted',
};

function describeError(err: NodeJS.ErrnoException): string {
  if (err.code === undefined) return err.message;
  return ERRNO_TEXT[err.code] ?? `${err.code}: ${err.message}`;
}
