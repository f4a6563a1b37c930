/**
 * The EXO 1.x (v1.0.71) emulator: one process-like node with EXO's HTTP API on fastify. Several of
 * them form one cluster through `peers` (the other nodes' API addresses), elect a master that owns
 * instances and runners, and serve the same `/state`, as real EXO nodes do over libp2p.
 *
 * @example
 * const node = await startExoEmulator({ listen: { host: '127.0.0.1', port: 0 }, name: 'srv1',
 *   profile: findHardwareProfile('cpu-server-ddr4')!, logger });
 * // … GET `${node.url}/state` …
 * await node.close();
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { mergeFaults, NO_FAULTS, type FaultOptions } from '../faults.js';
import type { HardwareProfile } from '../hardware-profiles.js';
import { DEFAULT_EXO_MODELS, type ExoModel } from '../model-catalogue.js';
// One RunningEmulator type for both emulators (declared with the Ollama one).
import type { RunningEmulator } from '../ollama/ollama-emulator.js';
import { createRandom } from '../random.js';
import { registerApiRoutes } from './api-routes.js';
import { registerChatRoutes } from './chat-routes.js';
import { joinAddress, splitAddress } from './cluster-membership.js';
import { ExoNode } from './exo-node.js';
import { sendUnhandledError } from './http-errors.js';
import { registerInternalRoutes } from './internal-routes.js';

export interface ExoEmulatorOptions {
  /** Address to bind; port 0 picks a free port (read it back from `RunningEmulator.port`). */
  listen: { host: string; port: number };
  /** This node's hostname, reported as `nodeIdentities[id].friendlyName`. */
  name: string;
  /** `host:port` of other emulator nodes' HTTP API; unreachable ones are retried forever. */
  peers?: readonly string[];
  profile: HardwareProfile;
  /** @default DEFAULT_EXO_MODELS */
  models?: readonly ExoModel[];
  /** A node unseen this long is dropped and its instances deleted. @default 30000 (EXO's 30 s) */
  peerTimeoutMs?: number;
  /** @default 1000 */
  heartbeatIntervalMs?: number;
  /** EXO_MAX_CONCURRENT_REQUESTS: decode batch size per instance. @default 8 */
  maxConcurrentRequests?: number;
  /** One-way latency per pipeline hop. @default profile.linkLatencyMs */
  linkLatencyMs?: number;
  /** The node's link to Hugging Face for model downloads, megabits per second. @default 1000 */
  downloadRateMbps?: number;
  /**
   * Catalogue models whose files the node has at start; any other must be downloaded before a runner
   * loads it. Cards outside the catalogue are never on disk at start. @default every catalogue model
   * (no node downloads anything, as `kage demo` wants)
   */
  downloadedModels?: readonly string[];
  /** `EXO_DEFAULT_MODELS_DIR`, shown as downloads' `modelDirectory`. @default ~/.local/share/exo/models */
  modelsDir?: string;
  /** Fixed seed and no jitter. */
  deterministic?: boolean;
  seed?: number;
  faults?: Partial<FaultOptions>;
  logger: Logger;
  /** Called instead of `process.exit(1)` when the crash fault fires. */
  onCrash?: () => void;
}

const DEFAULT_SEED = 0x5eed;
/** A gigabit link: what a wired node typically gets from Hugging Face's CDN. */
const DEFAULT_DOWNLOAD_RATE_MBPS = 1000;

function validateOptions(options: ExoEmulatorOptions): FaultOptions {
  const positive = (name: string, value: number | undefined): void => {
    if (value !== undefined && (!Number.isFinite(value) || value <= 0)) {
      throw new TypeError(`${name} must be a positive number, got ${value}`);
    }
  };
  positive('peerTimeoutMs', options.peerTimeoutMs);
  positive('heartbeatIntervalMs', options.heartbeatIntervalMs);
  positive('maxConcurrentRequests', options.maxConcurrentRequests);
  if (options.linkLatencyMs !== undefined && !(options.linkLatencyMs >= 0)) {
    throw new TypeError(`linkLatencyMs must be a non-negative number, got ${options.linkLatencyMs}`);
  }
  if (!options.name) throw new TypeError('name must be a non-empty string');
  positive('downloadRateMbps', options.downloadRateMbps);
  const known = (options.models ?? DEFAULT_EXO_MODELS).map((m) => m.id);
  for (const id of options.downloadedModels ?? []) {
    if (!known.includes(id)) {
      throw new TypeError(`downloadedModels: ${JSON.stringify(id)} is not a served model; known: ${known.join(', ')}`);
    }
  }
  for (const peer of options.peers ?? []) {
    if (!splitAddress(peer)) throw new TypeError(`peer must be HOST:PORT, got ${JSON.stringify(peer)}`);
  }
  const faults = mergeFaults(NO_FAULTS, options.faults ?? {});
  if (!faults.ok) throw new TypeError(`invalid faults: ${faults.errors.join('; ')}`);
  return faults.faults;
}

/** Starts one EXO node and resolves once it listens. */
export async function startExoEmulator(options: ExoEmulatorOptions): Promise<RunningEmulator> {
  const faults = validateOptions(options);
  const log = options.logger.child({ component: 'exo-emulator', node: options.name });
  const deterministic = options.deterministic ?? false;
  const node = new ExoNode({
    name: options.name,
    peers: options.peers ?? [],
    profile: options.profile,
    models: options.models ?? DEFAULT_EXO_MODELS,
    peerTimeoutMs: options.peerTimeoutMs ?? 30_000,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1000,
    maxConcurrentRequests: Math.floor(options.maxConcurrentRequests ?? 8),
    linkLatencyMs: options.linkLatencyMs ?? options.profile.linkLatencyMs,
    downloadBytesPerSecond: ((options.downloadRateMbps ?? DEFAULT_DOWNLOAD_RATE_MBPS) * 1e6) / 8,
    // A node has the files of the models it serves unless told otherwise; other cards are not on disk.
    downloadedModels: options.downloadedModels
      ? [...options.downloadedModels]
      : (options.models ?? DEFAULT_EXO_MODELS).map((m) => m.id),
    modelsDir: options.modelsDir ?? join(homedir(), '.local', 'share', 'exo', 'models'),
    deterministic,
    random: createRandom(options.seed ?? (deterministic ? DEFAULT_SEED : Date.now() % 2 ** 31)),
    faults,
    log,
    ...(options.onCrash ? { onCrash: options.onCrash } : {}),
  });

  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 64 * 1024 * 1024 });
  // FastAPI parses bodies itself (422 on bad JSON), so every body reaches the handlers as text.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  // Unknown paths fall through to the dashboard's StaticFiles mount.
  app.setNotFoundHandler((request, reply) =>
    request.method === 'GET' || request.method === 'HEAD'
      ? reply.code(404).send({ detail: 'Not Found' })
      : reply.code(405).send({ detail: 'Method Not Allowed' }),
  );
  app.setErrorHandler((err: { statusCode?: number; message: string }, _request, reply) => {
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ detail: err.message });
    }
    log.error({ err }, 'unhandled error');
    return sendUnhandledError(reply);
  });

  registerApiRoutes(app, node);
  registerChatRoutes(app, node);
  registerInternalRoutes(app, node);

  await app.listen({ host: options.listen.host, port: options.listen.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.listen.port;
  node.start(options.listen.host, port);
  const url = `http://${joinAddress(options.listen.host, port)}`;
  log.info({ url, nodeId: node.nodeId, peers: options.peers ?? [] }, 'exo emulator listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close(): Promise<void> {
      closing ??= (async () => {
        await node.close();
        await app.close();
        log.info('exo emulator closed');
      })();
      return closing;
    },
  };
}
