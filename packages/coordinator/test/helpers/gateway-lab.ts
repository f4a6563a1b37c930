/**
 * The two backends the gateway translates between, as the project's emulators on 127.0.0.1:0:
 * an Ollama that has the model pulled under its Ollama tag, and a one-node EXO cluster with an
 * instance of the same model placed and ready. Both write the emulators' canned answer, token for
 * token, so a translated EXO stream can be compared line by line with Ollama's own.
 */
import { createParser } from 'eventsource-parser';
import { pino } from 'pino';
import {
  DEFAULT_EXO_MODELS,
  DEFAULT_OLLAMA_MODELS,
  findHardwareProfile,
  startExoEmulator,
  startOllamaEmulator,
  type FaultOptions,
  type OllamaModel,
  type RunningEmulator,
} from '@kage/emulators';

export const EXO_ID = 'mlx-community/Llama-3.2-3B-Instruct-4bit';
export const OLLAMA_TAG = 'llama3.2:3b';

const silent = pino({ level: 'silent' });
// The fastest profile keeps each generation to milliseconds.
const profile = findHardwareProfile('rtx4090-desktop')!;

export interface GatewayLab {
  readonly ollama: RunningEmulator;
  readonly exo: RunningEmulator;
  /** Patches both emulators' fault knobs (keys not given keep their value). */
  faults(patch: Partial<FaultOptions>): Promise<void>;
  close(): Promise<void>;
}

/** `llama3.2:3b` for the Ollama emulator: its catalogue has the 1b build; only the name and shape matter here. */
function ollamaLlama32_3b(): OllamaModel {
  const base = DEFAULT_OLLAMA_MODELS.find((m) => m.name === 'llama3.2:1b')!;
  const shape = DEFAULT_EXO_MODELS.find((m) => m.id === EXO_ID)!.shape;
  return { ...base, name: OLLAMA_TAG, parameterSize: '3.2B', quantizationLevel: 'Q4_K_M', shape };
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export async function startGatewayLab(): Promise<GatewayLab> {
  const ollama = await startOllamaEmulator({
    listen: { host: '127.0.0.1', port: 0 },
    profile,
    models: [ollamaLlama32_3b()],
    deterministic: true,
    logger: silent,
  });
  const exo = await startExoEmulator({
    listen: { host: '127.0.0.1', port: 0 },
    name: 'srv1',
    profile,
    deterministic: true,
    heartbeatIntervalMs: 100,
    logger: silent,
  });
  const close = async (): Promise<void> => {
    await Promise.all([ollama.close(), exo.close()]);
  };
  try {
    await placeInstance(exo);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    ollama,
    exo,
    close,
    async faults(patch) {
      for (const url of [ollama.url, exo.url]) {
        const res = await fetch(`${url}/_emulator/faults`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(patch),
        });
        if (!res.ok) throw new Error(`faults: ${res.status} ${await res.text()}`);
      }
    },
  };
}

/** Places the model on the one-node cluster and waits until its runner is ready. */
async function placeInstance(exo: RunningEmulator): Promise<void> {
  const placed = await fetch(`${exo.url}/place_instance`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model_id: EXO_ID }),
  });
  if (placed.status !== 200) throw new Error(`place_instance: ${placed.status} ${await placed.text()}`);
  await waitFor(
    'the EXO runner to be ready',
    async () => {
      const state = (await (await fetch(`${exo.url}/state`)).json()) as { runners: Record<string, object> };
      const runners = Object.values(state.runners);
      return runners.length > 0 && runners.every((r) => 'RunnerReady' in r);
    },
    20_000,
  );
}

/** POSTs JSON (EXO's FastAPI refuses a body without the JSON content type). */
export function postJson(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** The objects of an NDJSON body. */
export async function ndjsonObjects(res: Response): Promise<Record<string, unknown>[]> {
  const text = await res.text();
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** What an SSE body delivered, as it arrived: parsed `data:` objects, `[DONE]`, then the end. */
export type SseItem = { kind: 'data'; value: unknown } | { kind: 'done' } | { kind: 'end' };

/** Reads an SSE body incrementally, calling `onItem` for each event as soon as it is complete. */
export async function readSse(res: Response, onItem: (item: SseItem) => void): Promise<void> {
  const parser = createParser({
    onEvent(event) {
      if (event.data === '[DONE]') onItem({ kind: 'done' });
      else onItem({ kind: 'data', value: JSON.parse(event.data) });
    },
  });
  const decoder = new TextDecoder();
  for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
    parser.feed(decoder.decode(bytes, { stream: true }));
  }
  onItem({ kind: 'end' });
}
