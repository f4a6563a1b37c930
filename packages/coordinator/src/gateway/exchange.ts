/**
 * One request's exchange with the backend the router chose: the path and body sent to it, and how
 * its answer reaches the client. Where the backend speaks the client's protocol (an Ollama client
 * and an Ollama node; an OpenAI client and Ollama's `/v1` or EXO) the bytes are relayed as they
 * arrive, only the model name rewritten in the request; an Ollama client reaching EXO gets EXO's
 * OpenAI stream converted to Ollama's NDJSON (ollama-over-openai.ts).
 *
 * While relaying, the exchange also measures what the router learns from: prefill and decode
 * speed (from Ollama's final chunk, or counted SSE events). The first byte is reported through
 * `onFirstByte`, so the caller times it from the request's arrival.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { translateOllamaRequest } from './ollama-over-openai.js';
import { ollamaFinalRates } from './ollama-response.js';
import { OPENAI_SSE_DONE, ollamaErrorLine, openAIErrorEvent } from './protocol-errors.js';

export type Outcome = {
  /** `ok`: the backend's answer was relayed whole; `cut`: it failed mid-answer; `client-gone`: the client left. */
  kind: 'ok' | 'cut' | 'client-gone';
  status: number;
  prefillTps: number | null;
  decodeTps: number | null;
  /** Ollama's `load_duration` of this request, ms, when it says. */
  loadMs?: number | null;
};

export interface RelayHooks {
  backendId: string;
  onFirstByte(): void;
}

export interface Exchange {
  /** Path on the backend, e.g. `/api/chat`. */
  path: string;
  body: Buffer;
  relay(upstream: IncomingMessage, client: ServerResponse, hooks: RelayHooks): Promise<Outcome>;
}

const PATHS = { api_chat: '/api/chat', api_generate: '/api/generate', v1_chat: '/v1/chat/completions' } as const;
/** Bytes of an Ollama answer kept to read its final chunk (the counts and durations). */
const TAIL_BYTES = 4096;

export function prepareExchange(
  route: keyof typeof PATHS,
  body: Record<string, unknown>,
  raw: Buffer,
  kind: 'ollama' | 'exo',
  backendModel: string,
  requested: string,
): Exchange {
  if (kind === 'exo' && route !== 'v1_chat') return translateOllamaRequest(route, body, backendModel, requested);
  const protocol = route === 'v1_chat' ? 'openai' : 'ollama';
  return {
    path: PATHS[route],
    // The client's own bytes when the backend knows the model by the name the client used: nothing
    // to rewrite, nothing to serialise again on the way to the first token.
    body: backendModel === requested ? raw : Buffer.from(JSON.stringify({ ...body, model: backendModel })),
    relay: (upstream, client, hooks) => relayAsIs(upstream, client, hooks, protocol),
  };
}

/** Writes the backend's status, type and every body chunk as it comes; measures on the way. */
export function relayAsIs(
  upstream: IncomingMessage,
  client: ServerResponse,
  hooks: RelayHooks,
  protocol: 'ollama' | 'openai',
): Promise<Outcome> {
  const status = upstream.statusCode ?? 502;
  client.writeHead(status, {
    'content-type': upstream.headers['content-type'] ?? 'application/json; charset=utf-8',
    'x-kage-backend': hooks.backendId,
    ...(upstream.headers['cache-control'] === undefined ? {} : { 'cache-control': upstream.headers['cache-control'] }),
  });
  // Headers leave now: a streaming client sees the answer begin without waiting for a token.
  client.flushHeaders();
  let first: bigint | null = null;
  let last: bigint | null = null;
  let events = 0;
  let tail = '';
  let endedWithNewline = true;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (kind: Outcome['kind']): void => {
      if (settled) return;
      settled = true;
      const rates =
        kind === 'ok' ? measuredRates(protocol, tail, events, first, last) : { prefillTps: null, decodeTps: null };
      resolve({ kind, status, ...rates });
    };
    upstream.on('data', (chunk: Buffer) => {
      const now = process.hrtime.bigint();
      if (first === null) {
        first = now;
        hooks.onFirstByte();
      }
      last = now;
      if (protocol === 'openai') events += countEvents(chunk);
      else tail = (tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
      endedWithNewline = chunk[chunk.length - 1] === 0x0a;
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
    upstream.on('end', () => {
      client.end();
      settle('ok');
    });
    upstream.on('error', () => cut());
    upstream.on('aborted', () => cut());
    client.on('close', () => {
      if (!upstream.complete) {
        upstream.destroy();
        settle('client-gone');
      }
    });
    // The backend failed after bytes were sent: end the stream the way the protocol says a
    // server error mid-stream looks, so a client sees an error and not a short, clean answer.
    function cut(): void {
      if (settled || client.writableEnded) return;
      const message = 'the backend closed the connection mid-answer';
      const prefix = endedWithNewline ? '' : '\n';
      client.end(
        prefix +
          (protocol === 'openai' ? openAIErrorEvent(message, 'api_error') + OPENAI_SSE_DONE : ollamaErrorLine(message)),
      );
      settle('cut');
    }
  });
}

/** SSE events in a chunk: every `data:` at the start of a line. */
function countEvents(chunk: Buffer): number {
  let n = 0;
  let i = chunk.indexOf('data:');
  while (i !== -1) {
    if (i === 0 || chunk[i - 1] === 0x0a) n += 1;
    i = chunk.indexOf('data:', i + 5);
  }
  return n;
}

function measuredRates(
  protocol: 'ollama' | 'openai',
  tail: string,
  events: number,
  first: bigint | null,
  last: bigint | null,
): { prefillTps: number | null; decodeTps: number | null; loadMs?: number | null } {
  if (protocol === 'openai') {
    // One content event per token, less the role event and the [DONE] marker.
    const tokens = events - 2;
    if (first === null || last === null || tokens < 2) return { prefillTps: null, decodeTps: null };
    const seconds = Number(last - first) / 1e9;
    return { prefillTps: null, decodeTps: seconds > 0 ? tokens / seconds : null };
  }
  const lines = tail.trim().split('\n');
  try {
    return ollamaFinalRates(JSON.parse(lines[lines.length - 1] ?? '') as Record<string, unknown>);
  } catch {
    return { prefillTps: null, decodeTps: null };
  }
}
