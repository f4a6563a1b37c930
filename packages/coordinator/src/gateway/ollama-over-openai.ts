/**
 * An Ollama client (`/api/chat`, `/api/generate`) served by EXO, which speaks only OpenAI's chat
 * completions: the request is translated (protocol-translate.ts), sent to EXO's
 * `/v1/chat/completions`, and EXO's SSE stream (or single answer) is turned back into Ollama's
 * NDJSON chunk by chunk as it arrives, with the name the client asked for.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createParser } from 'eventsource-parser';
import type { Exchange, Outcome, RelayHooks } from './exchange.js';
import {
  ollamaChatToOpenAI,
  ollamaGenerateToOpenAI,
  OpenAIToOllamaStream,
  openAICompletionToOllama,
  ollamaStreamErrorLine,
} from './protocol-translate.js';

export function translateOllamaRequest(
  route: 'api_chat' | 'api_generate',
  body: Record<string, unknown>,
  backendModel: string,
  requested: string,
): Exchange {
  const kind = route === 'api_chat' ? 'chat' : 'generate';
  const openai = kind === 'chat' ? ollamaChatToOpenAI(body, backendModel) : ollamaGenerateToOpenAI(body, backendModel);
  const stream = body['stream'] !== false; // Ollama streams unless told not to
  return {
    path: '/v1/chat/completions',
    body: Buffer.from(JSON.stringify({ ...openai, stream })),
    relay: (upstream, client, hooks) => relayOllamaOverOpenAI(upstream, client, hooks, { kind, requested, stream }),
  };
}

export function relayOllamaOverOpenAI(
  upstream: IncomingMessage,
  client: ServerResponse,
  hooks: RelayHooks,
  o: { kind: 'chat' | 'generate'; requested: string; stream: boolean },
): Promise<Outcome> {
  const status = upstream.statusCode ?? 502;
  const started = process.hrtime.bigint();
  let first: bigint | null = null;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (kind: Outcome['kind'], rates: { prefillTps: number | null; decodeTps: number | null }): void => {
      if (settled) return;
      settled = true;
      resolve({ kind, status, ttftMs: first === null ? null : Number(first - started) / 1e6, ...rates });
    };
    const noRates = { prefillTps: null, decodeTps: null };
    const head = (): void => {
      if (client.headersSent) return;
      client.writeHead(status, {
        'content-type': o.stream && status === 200 ? 'application/x-ndjson' : 'application/json; charset=utf-8',
        'x-kage-backend': hooks.backendId,
      });
    };
    const mark = (): void => {
      if (first !== null) return;
      first = process.hrtime.bigint();
      hooks.onFirstByte();
    };

    client.on('close', () => {
      if (!upstream.complete) {
        upstream.destroy();
        settle('client-gone', noRates);
      }
    });

    if (status !== 200 || !o.stream) {
      // A whole answer (or EXO's error): read it, convert it, send it.
      const chunks: Buffer[] = [];
      upstream.on('data', (c: Buffer) => chunks.push(c));
      upstream.on('end', () => {
        mark();
        const text = Buffer.concat(chunks).toString('utf8');
        head();
        if (status !== 200) {
          client.end(JSON.stringify({ error: exoErrorMessage(text, status) }));
          settle('ok', noRates);
          return;
        }
        try {
          client.end(
            JSON.stringify(
              openAICompletionToOllama(JSON.parse(text), { kind: o.kind, model: o.requested, startedNs: started }),
            ),
          );
          settle('ok', noRates);
        } catch {
          client.end(JSON.stringify({ error: 'the backend sent an answer that is not JSON' }));
          settle('cut', noRates);
        }
      });
      upstream.on('error', () => settle('cut', noRates));
      return;
    }

    head();
    client.flushHeaders();
    const converter = new OpenAIToOllamaStream({ kind: o.kind, model: o.requested });
    const write = (text: string): void => {
      if (text === '') return;
      mark();
      client.write(text);
    };
    let done = false;
    const parser = createParser({
      onEvent(event) {
        if (event.data === '[DONE]') {
          done = true;
          return;
        }
        let chunk: unknown;
        try {
          chunk = JSON.parse(event.data);
        } catch {
          return;
        }
        for (const line of converter.push(chunk)) write(line);
      },
    });
    upstream.setEncoding('utf8');
    upstream.on('data', (text: string) => parser.feed(text));
    upstream.on('end', () => {
      if (converter.failed()) {
        client.end();
        settle('cut', noRates);
        return;
      }
      if (!done && !converter.finished()) {
        client.end(ollamaStreamErrorLine('the backend ended the stream before its last chunk'));
        settle('cut', noRates);
        return;
      }
      client.end(converter.finish());
      settle('ok', converter.rates());
    });
    const cut = (): void => {
      if (settled || client.writableEnded) return;
      client.end(ollamaStreamErrorLine('the backend closed the connection mid-answer'));
      settle('cut', noRates);
    };
    upstream.on('error', cut);
    upstream.on('aborted', cut);
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
