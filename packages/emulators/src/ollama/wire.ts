/**
 * Low-level response writing with the exact headers and bodies Ollama's gin server produces:
 * `c.JSON` (`application/json; charset=utf-8`, no trailing newline), `json.Encoder` bodies of the
 * OpenAI middleware (`application/json`, trailing newline), and streamed NDJSON / SSE whose
 * status line is only written with the first chunk (so an early error can still carry a status).
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import { goMarshal } from './go-json.js';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
export const ENCODER_JSON_CONTENT_TYPE = 'application/json';
export const PLAIN_CONTENT_TYPE = 'text/plain; charset=utf-8';
export const NDJSON_CONTENT_TYPE = 'application/x-ndjson';
export const SSE_CONTENT_TYPE = 'text/event-stream';

/** Writes a complete response on a raw (hijacked) Node response. */
export function writeComplete(res: ServerResponse, status: number, contentType: string, body: string): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Answers through the raw response so headers are exactly ours (fastify would add a charset). */
export function replyRaw(reply: FastifyReply, status: number, contentType: string, body: string): void {
  reply.hijack();
  writeComplete(reply.raw, status, contentType, body);
}

/** `{"error":"..."}` as gin writes it. */
export function goErrorBody(message: string): string {
  return goMarshal({ error: message });
}

/** `openai.NewError`: the error type follows the status. */
export function openAiErrorBody(status: number, message: string): string {
  const type = status === 400 ? 'invalid_request_error' : status === 404 ? 'not_found_error' : 'api_error';
  return goMarshal({ error: { message, type, param: null, code: null } });
}

/**
 * A chunked response that starts on the first write. Each write goes straight to the socket
 * (Node does not buffer `res.write`; Nagle is off on Node's HTTP sockets).
 */
export class ChunkedResponse {
  private headersSent = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly contentType: string,
  ) {}

  /** True once the status line and a first chunk are out. */
  get started(): boolean {
    return this.headersSent;
  }

  write(chunk: string): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    if (!this.headersSent) {
      this.res.writeHead(200, { 'Content-Type': this.contentType });
      this.headersSent = true;
    }
    this.res.write(chunk);
  }

  end(): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    if (!this.headersSent) {
      this.res.writeHead(200, { 'Content-Type': this.contentType });
      this.headersSent = true;
    }
    this.res.end();
  }

  /** Drops the connection mid-response (a cut stream: the client sees no terminator). */
  cut(): void {
    destroyConnection(this.res);
  }
}

/** Destroys the socket under a response. */
export function destroyConnection(res: ServerResponse): void {
  const socket = res.socket;
  if (!socket || socket.destroyed) {
    res.destroy();
    return;
  }
  // Let the chunks already written reach the client first; only then drop the connection.
  socket.write('', () => socket.destroy());
}

/**
 * An AbortSignal that fires when the client goes away before the response is finished, or when
 * the server closes. (Hand-rolled rather than AbortSignal.any so no listener outlives a request.)
 */
export function disconnectSignal(res: ServerResponse, serverSignal: AbortSignal): AbortSignal {
  const controller = new AbortController();
  if (serverSignal.aborted || res.destroyed || res.socket?.destroyed === true) {
    controller.abort();
    return controller.signal;
  }
  const abort = (): void => controller.abort();
  serverSignal.addEventListener('abort', abort, { once: true });
  res.once('close', () => {
    serverSignal.removeEventListener('abort', abort);
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}
