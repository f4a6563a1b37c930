/**
 * Shared fixtures of the Ollama emulator tests: a quiet logger, a fast-loading test profile, a
 * start helper that closes the emulator after the test, and small NDJSON / SSE readers.
 */
import type { TestContext } from 'node:test';
import { pino, type Logger } from 'pino';
import {
  findHardwareProfile,
  startOllamaEmulator,
  type HardwareProfile,
  type OllamaEmulatorOptions,
  type RunningEmulator,
} from '../src/index.js';

export const quietLogger = pino({ level: 'silent' });

function profile(id: string): HardwareProfile {
  const found = findHardwareProfile(id);
  if (!found) throw new Error(`missing hardware profile ${id}`);
  return found;
}

/** The RTX 4090 desktop with a very fast disk: cold loads take ~0.4 s (runner start only). */
export const FAST_GPU_PROFILE: HardwareProfile = {
  ...profile('rtx4090-desktop'),
  id: 'test-fast-gpu',
  diskReadBytesPerSec: 1e13,
};

/** The seed's 32 GiB CPU server with a fast disk: llama3.2:1b decodes at ~43 ms/token. */
export const FAST_CPU_PROFILE: HardwareProfile = {
  ...profile('cpu-server-ddr4'),
  id: 'test-fast-cpu',
  diskReadBytesPerSec: 1e13,
};

/** The seed's CPU server as it is (32 GiB RAM, 28 GiB available). */
export const CPU_SERVER_PROFILE: HardwareProfile = profile('cpu-server-ddr4');

/** Starts an emulator on 127.0.0.1:0 and closes it when the test ends. */
export async function startEmulator(
  t: TestContext,
  options: Partial<OllamaEmulatorOptions> = {},
): Promise<RunningEmulator> {
  const emu = await startOllamaEmulator({
    listen: { host: '127.0.0.1', port: 0 },
    profile: FAST_GPU_PROFILE,
    logger: quietLogger,
    ...options,
  });
  t.after(() => emu.close());
  return emu;
}

export async function postJson(url: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
}

/** A streamed line with the time it arrived (ms, performance clock). */
export interface TimedLine {
  readonly at: number;
  readonly text: string;
}

/** Reads a streamed body line by line (NDJSON), stopping after `limit` lines if given. */
export async function readLines(response: Response, limit = Infinity): Promise<TimedLine[]> {
  const lines: TimedLine[] = [];
  const body = response.body;
  if (!body) return lines;
  const reader = body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const decoder = new TextDecoder();
  let pending = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      lines.push({ at: performance.now(), text: pending.slice(0, newline) });
      pending = pending.slice(newline + 1);
      if (lines.length >= limit) {
        await reader.cancel();
        return lines;
      }
      newline = pending.indexOf('\n');
    }
  }
  if (pending.trim() !== '') lines.push({ at: performance.now(), text: pending });
  return lines;
}

/** NDJSON objects of a whole streamed body. */
export async function readNdjson(response: Response): Promise<Record<string, unknown>[]> {
  return (await readLines(response)).map((l) => JSON.parse(l.text) as Record<string, unknown>);
}

/** The `data:` payloads of an SSE body. */
export async function readSse(response: Response): Promise<string[]> {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((event) => event.startsWith('data: '))
    .map((event) => event.slice('data: '.length));
}

/** Polls `check` every `intervalMs` until it returns true or `timeoutMs` passes. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  intervalMs = 25,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return check();
}

/** `GET /api/ps` models. */
export async function psModels(url: string): Promise<Record<string, unknown>[]> {
  const body = (await (await fetch(`${url}/api/ps`)).json()) as { models: Record<string, unknown>[] };
  return body.models;
}

/** A debug-level logger that keeps the messages it logs, so a test can wait for server events. */
export interface LogCapture {
  readonly logger: Logger;
  /** How many records with this `msg` were logged so far. */
  count(msg: string): number;
}

export function captureLog(): LogCapture {
  const counts = new Map<string, number>();
  const logger = pino(
    { level: 'debug' },
    {
      write(line: string): void {
        const msg = (JSON.parse(line) as { msg?: unknown }).msg;
        if (typeof msg === 'string') counts.set(msg, (counts.get(msg) ?? 0) + 1);
      },
    },
  );
  return { logger, count: (msg) => counts.get(msg) ?? 0 };
}
