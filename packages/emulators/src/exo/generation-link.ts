/**
 * Carries a generation between the node that took the HTTP request and the master that runs the
 * instance's batch (EXO: the API node sends a TextGeneration command and receives the runner's
 * ChunkGenerated events). Internal wire: `POST /_emulator/generate`, answered with NDJSON events.
 */
import type { ServerResponse } from 'node:http';
import type { GenerationFinal, GenerationSink } from './instance-scheduler.js';

export interface GenerateRequest {
  readonly modelId: string;
  readonly promptTokens: number;
  /** The templated prompt's token ids, for the master's prefix cache. */
  readonly promptTokenIds: readonly number[];
  readonly usePrefixCache: boolean;
  readonly systemPromptTokens: number;
  /** The API's command id and the request as `TextGenerationTaskParams`, for `state.tasks`. */
  readonly commandId: string;
  readonly taskParams: Record<string, unknown>;
  readonly maxTokens: number;
  readonly banEos: boolean;
  readonly jitter: number;
}

export type GenerationEvent =
  | { readonly t: 'prefill'; readonly processed: number; readonly total: number }
  | { readonly t: 'token'; readonly text: string; readonly final: GenerationFinal | null }
  | { readonly t: 'error'; readonly message: string };

/** A sink that writes NDJSON events to an internal response and ends it on the last one. */
export function ndjsonSink(res: ServerResponse): GenerationSink {
  const write = (event: GenerationEvent, last: boolean): void => {
    if (res.destroyed || res.writableEnded) return;
    res.write(`${JSON.stringify(event)}\n`);
    if (last) res.end();
  };
  return {
    prefill: (processed, total) => write({ t: 'prefill', processed, total }, false),
    token: (text, final) => write({ t: 'token', text, final }, final !== null),
    error: (message) => write({ t: 'error', message }, true),
  };
}

/**
 * Runs a generation on the master at `address` and replays its events into `sink`. A broken link
 * (master gone mid-stream) becomes an error chunk, as a failed runner's ErrorChunk would.
 */
export async function forwardGeneration(
  address: string,
  req: GenerateRequest,
  sink: GenerationSink,
  signal: AbortSignal,
): Promise<void> {
  let finished = false;
  try {
    const res = await fetch(`http://${address}/_emulator/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(req),
      signal,
    });
    if (!res.ok || !res.body) throw new Error(`master answered ${res.status}`);
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(piece, { stream: true });
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        if (line.length === 0) continue;
        const event = JSON.parse(line) as GenerationEvent;
        switch (event.t) {
          case 'prefill':
            sink.prefill(event.processed, event.total);
            break;
          case 'token':
            sink.token(event.text, event.final);
            if (event.final) finished = true;
            break;
          case 'error':
            sink.error(event.message);
            finished = true;
            break;
        }
      }
    }
  } catch (err) {
    if (signal.aborted) return;
    if (!finished) {
      sink.error(`Lost connection to the master node: ${err instanceof Error ? err.message : String(err)}`);
      finished = true;
    }
  }
  if (!finished && !signal.aborted) sink.error('Lost connection to the master node: stream ended early');
}
