/**
 * `kage emulate ollama|exo`: start one protocol-faithful emulator and keep it running.
 */
import type { Logger } from 'pino';
import {
  DEFAULT_EXO_MODELS,
  DEFAULT_OLLAMA_MODELS,
  DEFAULT_PROFILE_ID,
  HARDWARE_PROFILES,
  findHardwareProfile,
  startExoEmulator,
  startOllamaEmulator,
  type FaultOptions,
  type HardwareProfile,
  type RunningEmulator,
} from '@kage/emulators';
import { CliError, EXIT_UNAVAILABLE } from '../errors.js';
import { parseListenAddress, urlHost } from '../listen-address.js';

/** Flags common to both emulators, as commander hands them over. */
export interface CommonEmulateFlags {
  listen: string;
  hardware?: string;
  models?: string[];
  deterministic?: boolean;
  seed?: number;
  extraLatencyMs?: number;
  jitter?: number;
  slowFirstTokenMs?: number;
  cutAfterTokens?: number;
  errorAfterTokens?: number;
  http500Rate?: number;
  crashAfterRequests?: number;
}

export interface OllamaEmulateFlags extends CommonEmulateFlags {
  numParallel: number;
  maxQueue: number;
  keepAlive?: string;
  contextLength?: number;
  serverVersion?: string;
}

export interface ExoEmulateFlags extends CommonEmulateFlags {
  name: string;
  peers?: string[];
  peerTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  maxConcurrentRequests: number;
  linkLatencyMs?: number;
}

function resolveProfile(id: string = DEFAULT_PROFILE_ID): HardwareProfile {
  const profile = findHardwareProfile(id);
  if (!profile) {
    throw new CliError(
      'KAGE_ERR_CLI_PROFILE_UNKNOWN',
      `--hardware ${JSON.stringify(id)}: unknown profile; known: ${[...HARDWARE_PROFILES.keys()].join(', ')}`,
    );
  }
  return profile;
}

function pickModels<T>(all: readonly T[], wanted: string[] | undefined, nameOf: (m: T) => string): readonly T[] {
  if (!wanted) return all;
  return wanted.map((name) => {
    const found = all.find((m) => nameOf(m) === name);
    if (!found) {
      throw new CliError(
        'KAGE_ERR_CLI_MODEL_UNKNOWN',
        `--models: ${JSON.stringify(name)} is not in the catalogue; known: ${all.map(nameOf).join(', ')}`,
      );
    }
    return found;
  });
}

function faultsFrom(flags: CommonEmulateFlags): Partial<FaultOptions> {
  const faults: Partial<FaultOptions> = {};
  if (flags.extraLatencyMs !== undefined) faults.extraLatencyMs = flags.extraLatencyMs;
  if (flags.jitter !== undefined) faults.jitter = flags.jitter;
  if (flags.slowFirstTokenMs !== undefined) faults.slowFirstTokenMs = flags.slowFirstTokenMs;
  if (flags.cutAfterTokens !== undefined) faults.cutAfterTokens = flags.cutAfterTokens;
  if (flags.errorAfterTokens !== undefined) faults.errorAfterTokens = flags.errorAfterTokens;
  if (flags.http500Rate !== undefined) faults.http500Rate = flags.http500Rate;
  if (flags.crashAfterRequests !== undefined) faults.crashAfterRequests = flags.crashAfterRequests;
  return faults;
}

/** Turns a listen failure into a message that names the address. */
async function withListenErrors(listen: string, start: () => Promise<RunningEmulator>): Promise<RunningEmulator> {
  try {
    return await start();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new CliError('KAGE_ERR_CLI_PORT_IN_USE', `--listen ${listen}: address already in use`, EXIT_UNAVAILABLE, {
        cause: err,
      });
    }
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EACCES') {
      throw new CliError('KAGE_ERR_CLI_LISTEN_INVALID', `--listen ${listen}: cannot bind (${code})`, EXIT_UNAVAILABLE, {
        cause: err,
      });
    }
    throw err;
  }
}

export async function startOllama(
  flags: OllamaEmulateFlags,
  log: Logger,
  onCrash: () => void,
): Promise<RunningEmulator> {
  const listen = parseListenAddress(flags.listen);
  const profile = resolveProfile(flags.hardware);
  const models = pickModels(DEFAULT_OLLAMA_MODELS, flags.models, (m) => m.name);
  return withListenErrors(flags.listen, () =>
    startOllamaEmulator({
      listen,
      profile,
      models,
      numParallel: flags.numParallel,
      maxQueue: flags.maxQueue,
      ...(flags.keepAlive !== undefined && { keepAlive: flags.keepAlive }),
      ...(flags.contextLength !== undefined && { contextLength: flags.contextLength }),
      ...(flags.serverVersion !== undefined && { version: flags.serverVersion }),
      deterministic: flags.deterministic ?? false,
      ...(flags.seed !== undefined && { seed: flags.seed }),
      faults: faultsFrom(flags),
      logger: log,
      onCrash,
    }),
  );
}

export async function startExo(flags: ExoEmulateFlags, log: Logger, onCrash: () => void): Promise<RunningEmulator> {
  const listen = parseListenAddress(flags.listen);
  const profile = resolveProfile(flags.hardware);
  const models = pickModels(DEFAULT_EXO_MODELS, flags.models, (m) => m.id);
  const peers = (flags.peers ?? []).map((peer) => {
    const address = parseListenAddress(peer, '--peers');
    if (address.port === 0) {
      throw new CliError('KAGE_ERR_CLI_LISTEN_INVALID', `--peers ${JSON.stringify(peer)}: a peer's port cannot be 0`);
    }
    return `${urlHost(address.host)}:${address.port}`;
  });
  return withListenErrors(flags.listen, () =>
    startExoEmulator({
      listen,
      name: flags.name,
      peers,
      profile,
      models,
      maxConcurrentRequests: flags.maxConcurrentRequests,
      ...(flags.peerTimeoutMs !== undefined && { peerTimeoutMs: flags.peerTimeoutMs }),
      ...(flags.heartbeatIntervalMs !== undefined && { heartbeatIntervalMs: flags.heartbeatIntervalMs }),
      ...(flags.linkLatencyMs !== undefined && { linkLatencyMs: flags.linkLatencyMs }),
      deterministic: flags.deterministic ?? false,
      ...(flags.seed !== undefined && { seed: flags.seed }),
      faults: faultsFrom(flags),
      logger: log,
      onCrash,
    }),
  );
}
