/**
 * An Ollama client (`/api/chat`, `/api/generate`) served by EXO, which speaks only OpenAI's chat
 * completions: the request is translated (protocol-translate.ts), sent to EXO's
 * `/v1/chat/completions`, and EXO's SSE stream (or single answer) is turned back into Ollama's
 * NDJSON (ollama-response.ts) line by line as it arrives, with the name the client asked for.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createParser } from 'eventsource-parser';
import type { Exchange, Outcome, RelayHooks } from './exchange.js';
import { GatewayError } from './gateway-error.js';
import { ndjsonLine } from './ollama-json.js';
import {
  OllamaStreamConverter,
  ollamaFinalRates,
  openAICompletionToOllama,
  type OllamaStreamLine,
} from './ollama-response.js';
import { ollamaChatToOpenAI, ollamaGenerateToOpenAI } from './protocol-translate.js';

type Rates = { prefillTps: number | null; decodeTps: number | null };
const NO_RATES: Rates = { prefillTps: null, decodeTps: null };

/** @throws GatewayError for a request EXO cannot be given (a field it does not take): the client's 400 */
export function translateOllamaRequest(
  route: 'api_chat' | 'api_generate',
  body: Record<string, unknown>,
  backendModel: string,
  requested: string,
): Exchange {
  const endpoint = route === 'api_chat' ? 'chat' : 'generate';
  const openai =
    endpoint === 'chat' ? ollamaChatToOpenAI(body, backendModel) : ollamaGenerateToOpenAI(body, backendModel);
  const stream = openai.stream !== false;
  const startedNs = process.hrtime.bigint();
  return {
    path: '/v1/chat/completions',
    body: Buffer.from(JSON.stringify(openai)),
    relay: (upstream, client, hooks) =>
      relayOllamaOverOpenAI(upstream, client, hooks, { endpoint, requested, stream, startedNs }),
  };
}

function relayOllamaOverOpenAI(
  upstream: IncomingMessage,
  client: ServerResponse,
  hooks: RelayHooks,
  o: { endpoint: 'chat' | 'generate'; requested: string; stream: boolean; startedNs: bigint },
): Promise<Outcome> {
  const status = upstream.statusCode ?? 502;
  let first = false;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (kind: Outcome['kind'], rates: Rates): void => {
      if (settled) return;
      settled = true;
      resolve({ kind, status, ...rates });
    };
    const mark = (): void => {
      if (first) return;
      first = true;
      hooks.onFirstByte();
    };
    client.on('close', () => {
      if (!upstream.complete) {
        upstream.destroy();
        settle('client-gone', NO_RATES);
      }
    });

    if (status !== 200 || !o.stream) {
      relayWhole(upstream, client, hooks, o, status, mark, settle);
      return;
    }

    client.writeHead(200, { 'content-type': 'application/x-ndjson', 'x-kage-backend': hooks.backendId });
    client.flushHeaders();
    const converter = new OllamaStreamConverter({ endpoint: o.endpoint, model: o.requested, startedNs: o.startedNs });
    converter.backendResponded();
    let final: OllamaStreamLine | undefined;
    const write = (lines: OllamaStreamLine[]): void => {
      for (const line of lines) {
        mark();
        final = line;
        client.write(ndjsonLine(line));
      }
    };
    // SSE comments (EXO's keep-alive and prefill progress) never reach onEvent: only data counts.
    const parser = createParser({
      onEvent(event) {
        if (event.data === '[DONE]') {
          write(converter.done());
          return;
        }
        let chunk: unknown;
        try {
          chunk = JSON.parse(event.data);
        } catch {
          write(converter.fail('the backend sent a stream event that is not JSON'));
          return;
        }
        write(converter.push(chunk));
      },
    });
    upstream.setEncoding('utf8');
    upstream.on('data', (text: string) => parser.feed(text));
    upstream.on('end', () => {
      write(converter.end());
      client.end();
      const last = final as Record<string, unknown> | undefined;
      if (last === undefined || 'error' in last) settle('cut', NO_RATES);
      else settle('ok', ollamaFinalRates(last));
    });
    const cut = (): void => {
      if (settled || client.writableEnded) return;
      client.end(
        converter
          .fail('the backend closed the connection mid-answer')
          .map((l) => ndjsonLine(l))
          .join(''),
      );
      settle('cut', NO_RATES);
    };
    upstream.on('error', cut);
    upstream.on('aborted', cut);
  });
}

/** A non-streamed answer, or EXO's error: read whole, converted, sent with the backend's status. */
function relayWhole(
  upstream: IncomingMessage,
  client: ServerResponse,
  hooks: RelayHooks,
  o: { endpoint: 'chat' | 'generate'; requested: string; startedNs: bigint },
  status: number,
  mark: () => void,
  settle: (kind: Outcome['kind'], rates: Rates) => void,
): void {
  const chunks: Buffer[] = [];
  upstream.on('data', (c: Buffer) => chunks.push(c));
  upstream.on('error', () => settle('cut', NO_RATES));
  upstream.on('end', () => {
    mark();
    const text = Buffer.concat(chunks).toString('utf8');
    const send = (code: number, body: unknown): void => {
      client.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'x-kage-backend': hooks.backendId });
      client.end(JSON.stringify(body));
    };
    if (status !== 200) {
      send(status, { error: exoErrorMessage(text, status) });
      settle('ok', NO_RATES);
      return;
    }
    try {
      const parsed: unknown = JSON.parse(text);
      send(200, openAICompletionToOllama(parsed, { endpoint: o.endpoint, model: o.requested, startedNs: o.startedNs }));
      settle('ok', NO_RATES);
    } catch (err) {
      const reason = err instanceof GatewayError ? err.message : 'the backend sent an answer that is not JSON';
      send(502, { error: reason });
      settle('cut', NO_RATES);
    }
  });
}

/** EXO's error body (`{"detail": …}` from FastAPI, or OpenAI's `{"error": {"message"}}`) as one line. */
function exoErrorMessage(text: string, status: number): string {
  try {
    const body = JSON.parse(text) as { detail?: unknown; error?: { message?: unknown } };
    if (typeof body.error?.message === 'string') return body.error.message;
    if (typeof body.detail === 'string') return body.detail;
    if (body.detail !== undefined) return JSON.stringify(body.detail);
  } catch {
    // not JSON: the text itself
  }
  return text.trim().slice(0, 500) || `the backend answered ${status}`;
}
