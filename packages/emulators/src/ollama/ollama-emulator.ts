/**
 * A protocol-faithful Ollama server for tests and demos: the native API and the OpenAI-compatible
 * `/v1` subset, with a scheduler (load, keep-alive, parallel slots, queue, OOM) and timings from
 * the physical timing model, really slept so a client's clock agrees with the reported durations.
 *
 * ```ts
 * const emu = await startOllamaEmulator({ listen: { host: '127.0.0.1', port: 0 }, profile, logger });
 * // ... point a client at emu.url ...
 * await emu.close();
 * ```
 */
import { setTimeout as delay } from 'node:timers/promises';
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { NO_FAULTS, mergeFaults, type FaultOptions } from '../faults.js';
import type { HardwareProfile } from '../hardware-profiles.js';
import { DEFAULT_OLLAMA_MODELS, type OllamaModel } from '../model-catalogue.js';
import { createRandom } from '../random.js';
import { totalVramBytes, vramTierNumCtx } from './context-size.js';
import { versionBefore, type EmulatorContext } from './emulator-context.js';
import { parseKeepAliveSetting } from './go-time.js';
import { ModelStore } from './model-store.js';
import { installRoutes } from './routes.js';
import { Scheduler } from './scheduler.js';
import { JSON_CONTENT_TYPE, goErrorBody } from './wire.js';

/** Options of {@link startOllamaEmulator}. */
export interface OllamaEmulatorOptions {
  /** Address to bind; port 0 picks a free port (read it back from `port` / `url`). */
  listen: { host: string; port: number };
  /** The node's hardware: decides GPU vs CPU placement, memory limits and all timings. */
  profile: HardwareProfile;
  /** The pulled models. @default DEFAULT_OLLAMA_MODELS */
  models?: readonly OllamaModel[];
  /** Version reported by `/api/version`; versions before 0.32.6 use the classic OpenAI chunk layout. @default '0.32.15' */
  version?: string;
  /** `OLLAMA_NUM_PARALLEL`: concurrent generations per model. @default 1 */
  numParallel?: number;
  /** `OLLAMA_MAX_QUEUE`: waiting requests before 503. @default 512 */
  maxQueue?: number;
  /** `OLLAMA_KEEP_ALIVE`: Go duration or seconds; negative keeps models forever. @default '5m' */
  keepAlive?: string | number;
  /**
   * `OLLAMA_CONTEXT_LENGTH`: default `num_ctx` when a request sets none. @default automatic: 4096,
   * 32768 or 262144 by the profile's total VRAM (< 23, ≥ 23, ≥ 47 GiB), capped at the model's trained
   * context, lowered a step when the load runs out of memory
   */
  contextLength?: number;
  /** No jitter and a fixed seed, so runs repeat exactly. @default false */
  deterministic?: boolean;
  /** Seed of the emulator's randomness (jitter, `http500Rate`, ids). */
  seed?: number;
  /** Initial fault knobs (validated like `PUT /_emulator/faults`). */
  faults?: Partial<FaultOptions>;
  logger: Logger;
  /** Called by the crash fault. @default destroy every connection and close the server */
  onCrash?: () => void;
}

/** A listening emulator. */
export interface RunningEmulator {
  /** `http://HOST:PORT` with the bound port. */
  readonly url: string;
  readonly port: number;
  /** Stops listening, drops connections and clears every timer. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_OLLAMA_VERSION = '0.32.15';
const DEFAULT_SEED = 0x6b616765;

function formatUrl(host: string, port: number): string {
  return host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}

/** Starts an Ollama emulator; resolves once it listens. */
export async function startOllamaEmulator(options: OllamaEmulatorOptions): Promise<RunningEmulator> {
  const log = options.logger.child({ component: 'ollama-emulator' });
  const initialFaults = mergeFaults(NO_FAULTS, options.faults ?? {});
  if (!initialFaults.ok) throw new TypeError(`invalid fault options: ${initialFaults.errors.join('; ')}`);
  let faults: FaultOptions = initialFaults.faults;
  const deterministic = options.deterministic ?? false;
  const random = createRandom(options.seed ?? (deterministic ? DEFAULT_SEED : Math.floor(Math.random() * 2 ** 31)));
  const jitter = (): number => (deterministic ? 1 : random.jitter(faults.jitter));
  const version = options.version ?? DEFAULT_OLLAMA_VERSION;
  const numParallel = Math.max(1, Math.floor(options.numParallel ?? 1));
  const closing = new AbortController();

  const scheduler = new Scheduler({
    profile: options.profile,
    numParallel,
    maxQueue: Math.max(0, Math.floor(options.maxQueue ?? 512)),
    llamaServerRunner: !versionBefore(version, '0.30.0'),
    jitter,
    log,
  });
  const pulled = options.models ?? DEFAULT_OLLAMA_MODELS;
  const store = new ModelStore(pulled, [...DEFAULT_OLLAMA_MODELS, ...pulled]);

  const app = Fastify({
    logger: false,
    exposeHeadRoutes: false,
    forceCloseConnections: true,
    bodyLimit: 256 * 1024 ** 2,
  });
  // Bodies are read raw and decoded the way Go's json.Decoder would, whatever the content type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.setErrorHandler((err: { statusCode?: number; message: string }, _request, reply) => {
    void reply
      .code(err.statusCode ?? 500)
      .header('content-type', JSON_CONTENT_TYPE)
      .send(goErrorBody(err.message));
  });
  app.addHook('onRequest', async (request) => {
    const extraMs = faults.extraLatencyMs;
    if (extraMs > 0 && !request.url.startsWith('/_emulator/')) {
      await delay(extraMs, undefined, { signal: closing.signal });
    }
  });

  let generationRequests = 0;
  let closePromise: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closePromise ??= (async () => {
      closing.abort();
      scheduler.close();
      await app.close();
      log.info('stopped');
    })();
    return closePromise;
  };
  const defaultCrash = (): void => {
    log.warn('crash fault: dropping every connection');
    app.server.closeAllConnections();
    void close();
  };

  const ctx: EmulatorContext = {
    store,
    scheduler,
    profile: options.profile,
    version,
    classicOpenAiChunks: versionBefore(version, '0.32.6'),
    llamaServerRunner: !versionBefore(version, '0.30.0'),
    numParallel,
    contextLength: options.contextLength,
    defaultNumCtx: vramTierNumCtx(totalVramBytes(options.profile)),
    defaultKeepAliveMs: parseKeepAliveSetting(options.keepAlive ?? '5m'),
    random,
    log,
    closing: closing.signal,
    faults: () => faults,
    setFaults: (next) => {
      faults = next;
    },
    jitter,
    countGenerationRequest: () => {
      generationRequests += 1;
      return faults.crashAfterRequests !== null && generationRequests >= faults.crashAfterRequests;
    },
    crash: () => (options.onCrash ?? defaultCrash)(),
  };
  installRoutes(app, ctx);

  await app.listen({ host: options.listen.host, port: options.listen.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.listen.port;
  const url = formatUrl(options.listen.host, port);
  log.info({ url, version, profile: options.profile.id, models: pulled.map((m) => m.name) }, 'listening');
  return { url, port, close };
}
