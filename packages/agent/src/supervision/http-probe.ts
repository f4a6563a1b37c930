/**
 * One HTTP health request: GET, short timeout, 2xx means healthy. Uses node:http with `agent: false`
 * so no keep-alive socket outlives the probe (fetch's pool would keep connections, and the event
 * loop, alive between probes).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export type HttpProbeResult = { ok: true; status: number; body?: string } | { ok: false; reason: string };

export interface HttpProbeOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * Also read the body of a 2xx answer (as UTF-8, within the same deadline), up to this many bytes;
   * a longer body is `ok: false`. Without it the body is drained unread.
   */
  bodyLimitBytes?: number;
}

/** GET `url`; never rejects. A refused connection, a timeout or a non-2xx status is `ok: false`. */
export function probeHttp(url: string, options: HttpProbeOptions): Promise<HttpProbeResult> {
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
      const status = res.statusCode ?? 0;
      const limit = options.bodyLimitBytes;
      if (limit === undefined || status < 200 || status > 299) {
        res.resume(); // drain so the socket can close
        finish(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, reason: `HTTP ${status}` });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) finish({ ok: false, reason: `answer longer than ${limit} bytes` });
        else chunks.push(chunk);
      });
      res.on('end', () => finish({ ok: true, status, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, reason: describeError(err) }));
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
