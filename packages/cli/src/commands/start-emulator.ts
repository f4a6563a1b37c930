/**
 * Turns the `kage emulate` flags into a running emulator: resolves the hardware profile, the model
 * subset, faults and peers, and reports a bad address as a CLI error naming the flag. Imported on
 * use by emulate-command.ts, so other commands (notably the agent daemon) do not load the
 * emulators.
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
import type { CommonEmulateFlags, ExoEmulateFlags, OllamaEmulateFlags } from './emulate-command.js';

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

function pickModels<T>(
  all: readonly T[],
  wanted: string[] | undefined,
  nameOf: (m: T) => string,
  flag = '--models',
): readonly T[] {
  if (!wanted) return all;
  return wanted.map((name) => {
    const found = all.find((m) => nameOf(m) === name);
    if (!found) {
      throw new CliError(
        'KAGE_ERR_CLI_MODEL_UNKNOWN',
        `${flag}: ${JSON.stringify(name)} is not in the catalogue; known: ${all.map(nameOf).join(', ')}`,
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
  if (flags.promptCache === false) faults.promptCache = false;
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
      faults: { ...faultsFrom(flags), ...(flags.promptCache === false && { promptCache: false }) },
      logger: log,
      onCrash,
    }),
  );
}

export async function startExo(flags: ExoEmulateFlags, log: Logger, onCrash: () => void): Promise<RunningEmulator> {
  const listen = parseListenAddress(flags.listen);
  const profile = resolveProfile(flags.hardware);
  const models = pickModels(DEFAULT_EXO_MODELS, flags.models, (m) => m.id);
  const downloaded =
    flags.downloaded === undefined
      ? undefined
      : flags.downloaded.length === 1 && flags.downloaded[0] === 'none'
        ? []
        : pickModels(models, flags.downloaded, (m) => m.id, '--downloaded').map((m) => m.id);
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
      ...(flags.downloadRateMbps !== undefined && { downloadRateMbps: flags.downloadRateMbps }),
      ...(downloaded !== undefined && { downloadedModels: downloaded }),
      deterministic: flags.deterministic ?? false,
      ...(flags.seed !== undefined && { seed: flags.seed }),
      faults: faultsFrom(flags),
      logger: log,
      onCrash,
    }),
  );
}
