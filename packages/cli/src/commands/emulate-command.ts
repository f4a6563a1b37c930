/**
 * `kage emulate ollama|exo`: start one protocol-faithful emulator and keep it running. Defines the
 * flags, their defaults from the environment variables the real servers read, and the process
 * lifetime (until SIGINT/SIGTERM, see run-daemon.ts); start-emulator.ts turns the flags into an
 * emulator.
 */
import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import type { RunningEmulator } from '@kage/emulators';
import { createLogger } from '../logger.js';
import {
  intFromEnv,
  parseCommaList,
  parseFraction,
  parseNonNegativeInt,
  parseNonNegativeNumber,
  parsePositiveInt,
  parsePositiveNumber,
} from '../option-parsers.js';
import { runDaemon } from '../run-daemon.js';

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
  /** False with `--no-prompt-cache`. */
  promptCache?: boolean;
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
  downloadRateMbps?: number;
  /** `none` (one element) means no model. */
  downloaded?: string[];
}

function addCommonFlags(cmd: Command): Command {
  return cmd
    .requiredOption('--listen <host:port>', 'address to listen on (port 0 picks a free port)')
    .option('--hardware <profile>', 'hardware profile driving the timing model (default: the seed CPU server)')
    .option('--models <names>', 'comma-separated subset of the default catalogue', parseCommaList)
    .option('--deterministic', 'no jitter, fixed seed: identical output and timing every run')
    .option('--seed <n>', 'random seed', parseNonNegativeInt)
    .option('--extra-latency-ms <ms>', 'fault: delay before every response starts', parseNonNegativeNumber)
    .option('--jitter <fraction>', 'fault: relative spread of every timed step (0-1)', parseFraction)
    .option('--slow-first-token-ms <ms>', 'fault: extra delay before the first token', parseNonNegativeNumber)
    .option('--cut-after-tokens <n>', 'fault: drop the connection after n tokens', parseNonNegativeInt)
    .option('--error-after-tokens <n>', "fault: send the server's mid-stream error after n tokens", parseNonNegativeInt)
    .option('--http500-rate <fraction>', 'fault: share of generation requests answered 500', parseFraction)
    .option('--crash-after-requests <n>', 'fault: exit(1) once n generation requests started', parseNonNegativeInt)
    .option('--no-prompt-cache', 'fault: no reuse of cached prompt prefixes (the prompt cache is off)');
}

function printListening(emulator: RunningEmulator): void {
  // Scripts and tests wait for this line: the bound address on stdout once ready, and nothing else
  // on stdout (logs go to stderr).
  process.stdout.write(`listening on ${emulator.url}\n`);
}

export function createEmulateCommand(env: NodeJS.ProcessEnv): Command {
  const emulate = new Command('emulate').description('run a protocol-faithful Ollama or EXO 1.x emulator');

  addCommonFlags(
    emulate
      .command('ollama')
      .description('Ollama: native /api and OpenAI-compatible /v1, with load, keep-alive, queueing and OOM'),
  )
    .addOption(
      new Option('--num-parallel <n>', 'parallel requests per model (OLLAMA_NUM_PARALLEL)')
        .argParser(parsePositiveInt)
        .default(intFromEnv(env, 'OLLAMA_NUM_PARALLEL', 1) || 1),
    )
    .addOption(
      new Option('--max-queue <n>', 'waiting requests before 503 (OLLAMA_MAX_QUEUE)')
        .argParser(parseNonNegativeInt)
        .default(intFromEnv(env, 'OLLAMA_MAX_QUEUE', 512)),
    )
    .option(
      '--keep-alive <duration>',
      'default keep_alive (OLLAMA_KEEP_ALIVE), e.g. 5m, 30s, -1',
      env['OLLAMA_KEEP_ALIVE'],
    )
    .addOption(
      new Option('--context-length <n>', 'default num_ctx (OLLAMA_CONTEXT_LENGTH; default: by VRAM, 4k/32k/256k)')
        .argParser(parsePositiveInt)
        .default(intFromEnv(env, 'OLLAMA_CONTEXT_LENGTH', 0) || undefined),
    )
    .option('--server-version <v>', 'version reported by /api/version (< 0.32.6: classic /v1 chunks)')
    .action(async (flags: OllamaEmulateFlags) => {
      const log = createLogger({ destination: 'stderr' });
      // Loaded on use, so other commands (notably the agent daemon) do not carry the emulators.
      const { startOllama } = await import('./start-emulator.js');
      await runDaemon({
        log,
        start: (hooks) => startOllama(flags, log, () => hooks.onCrash('crash fault triggered')),
        onReady: printListening,
      });
    });

  addCommonFlags(emulate.command('exo').description('EXO 1.x (v1.0.71): cluster state, placement, SSE chat'))
    .option('--name <hostname>', 'hostname this node reports (nodeIdentities friendlyName)', hostname())
    .option('--peers <host:port,...>', "other emulators' HTTP addresses", parseCommaList)
    .option('--peer-timeout-ms <ms>', 'drop a peer unseen for this long (EXO: 30 s)', parsePositiveInt)
    .option('--heartbeat-interval-ms <ms>', 'how often peers are contacted', parsePositiveInt)
    .addOption(
      new Option('--max-concurrent-requests <n>', 'batch size per runner (EXO_MAX_CONCURRENT_REQUESTS)')
        .argParser(parsePositiveInt)
        .default(intFromEnv(env, 'EXO_MAX_CONCURRENT_REQUESTS', 8) || 8),
    )
    .option('--link-latency-ms <ms>', 'one-way latency per pipeline hop', parseNonNegativeNumber)
    .option(
      '--download-rate-mbps <mbps>',
      'link to Hugging Face for model downloads (default 1000)',
      parsePositiveNumber,
    )
    .option(
      '--downloaded <models>',
      "models whose files this node already has, or 'none' (default: all; others download first)",
      parseCommaList,
    )
    .action(async (flags: ExoEmulateFlags) => {
      const log = createLogger({ destination: 'stderr' });
      const { startExo } = await import('./start-emulator.js');
      await runDaemon({
        log,
        start: (hooks) => startExo(flags, log, () => hooks.onCrash('crash fault triggered')),
        onReady: printListening,
      });
    });

  return emulate;
}
