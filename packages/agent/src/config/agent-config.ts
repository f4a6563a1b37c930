/**
 * Loads `agent.yaml` (docs/agent.md, "Every key"): parse with positions, validate every key against
 * the schema and the cross-key rules, read the secrets it names, and return one deep-frozen
 * `AgentConfig`. Every violation is reported at once, each as `file:line:col: key.path: reason`, in
 * one `KAGE_ERR_CONFIG_INVALID` error (the CLI exits 78 on it).
 */
import { readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { AgentConfig } from './agent-config-types.js';
import { AGENT_CONFIG_DEFAULTS, AgentConfigFileSchema, type AgentConfigFile } from './agent-config-schema.js';
import { describeFsError, isRecord } from '@kage/common';
import { resolveConfigPath, type ConfigContext } from './config-context.js';
import { resolveCoordinator } from './coordinator-config.js';
import { readDaemonEnv } from '@kage/common';
import { AgentConfigError, type ConfigProblem } from './errors.js';
import { resolveServices } from './services-config.js';
import { parseYaml, problemAt, schemaViolations, type YamlSource } from '@kage/common';

/** Time the agent allows itself, beyond the children's grace, to end the stream and flush. */
const SHUTDOWN_DRAIN_MS = 5000;
/** Backstop after the graceful budget: the process exits whatever is still pending. */
const SHUTDOWN_FORCE_MARGIN_MS = 3000;

export interface LoadAgentConfigOptions {
  /** Environment for defaults (`$STATE_DIRECTORY` for `buffer.dir`). @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default of `node`. @default os.hostname() */
  hostname?: string;
  /** When given, each warning is also logged here at warn. */
  log?: Logger;
}

/**
 * Reads, validates and resolves an agent config file.
 *
 * @param file - path of `agent.yaml`; shown in problems as given
 * @throws {@link AgentConfigError} `KAGE_ERR_CONFIG_READ` when the file cannot be read, and
 *   `KAGE_ERR_CONFIG_INVALID` listing every problem when it is not a valid config (including an
 *   unreadable token or TLS file it names)
 */
export async function loadAgentConfig(file: string, options: LoadAgentConfigOptions = {}): Promise<AgentConfig> {
  let text: string;
  let mode: number | null = null;
  try {
    mode = (await stat(file)).mode;
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new AgentConfigError(
      'KAGE_ERR_CONFIG_READ',
      file,
      [{ file, path: '', line: null, column: null, reason: `cannot read the agent config: ${describeFsError(err)}` }],
      { cause: err, hint: 'pass the path of agent.yaml with --config' },
    );
  }
  return parseAgentConfig(text, { ...options, file, fileMode: mode });
}

/**
 * Validates config text as if it were read from `options.file` (relative paths start at its
 * directory). Secrets it names are read from disk.
 *
 * @throws {@link AgentConfigError} `KAGE_ERR_CONFIG_INVALID` listing every problem
 */
export async function parseAgentConfig(
  text: string,
  options: LoadAgentConfigOptions & { file: string; fileMode?: number | null },
): Promise<AgentConfig> {
  const file = options.file;
  const configFile = resolve(file);
  const parsed = parseYaml(text, file);
  if (!('source' in parsed)) throw invalid(file, parsed.problems);
  const { source, value } = parsed;

  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const ctx: ConfigContext = {
    baseDir: dirname(configFile),
    problem: (path, reason) => problems.push(problemAt(source, file, path, reason)),
    warn: (message) => warnings.push(message),
  };
  if (!isRecord(value)) {
    ctx.problem([], 'must be a mapping of keys (node, coordinator, sample_interval_ms, buffer, services)');
    throw invalid(file, problems);
  }
  for (const v of schemaViolations(AgentConfigFileSchema, value, [])) ctx.problem(v.path, v.reason);

  const f = value as Partial<AgentConfigFile>;
  const coordinator = await resolveCoordinator(ctx, f.coordinator, options.fileMode ?? null);
  const services = await resolveServices(ctx, f.services);
  const env = readDaemonEnv(options.env ?? process.env);
  const bufferDir =
    typeof f.buffer?.dir === 'string'
      ? resolveConfigPath(ctx, ['buffer', 'dir'], f.buffer.dir)
      : (env.stateDirectory ?? AGENT_CONFIG_DEFAULTS.buffer_dir);

  if (problems.length > 0 || coordinator === null || services === null || bufferDir === null) {
    throw invalid(file, problems, source);
  }
  for (const w of warnings) options.log?.warn({ configFile }, w);

  const d = AGENT_CONFIG_DEFAULTS;
  let stopGraceMs: number = d.grace_ms;
  for (const s of Object.values(services)) if (s.driver === 'process') stopGraceMs = Math.max(stopGraceMs, s.grace_ms);
  const shutdownGraceMs = stopGraceMs + SHUTDOWN_DRAIN_MS;
  const config: AgentConfig = {
    configFile,
    node: f.node ?? options.hostname ?? hostname(),
    coordinator,
    sampleIntervalMs: f.sample_interval_ms ?? d.sample_interval_ms,
    buffer: {
      dir: bufferDir,
      maxAgeS: f.buffer?.max_age_s ?? d.buffer_max_age_s,
      maxBytes: f.buffer?.max_bytes ?? null,
    },
    stateDir: bufferDir,
    services,
    stopGraceMs,
    shutdownGraceMs,
    shutdownForceMs: shutdownGraceMs + SHUTDOWN_FORCE_MARGIN_MS,
    warnings,
  };
  return deepFreeze(config);
}

/** The error for `problems`, which must not be empty; ordered by position in the file. */
function invalid(file: string, problems: ConfigProblem[], source?: YamlSource): AgentConfigError {
  if (problems.length === 0) {
    // A section resolved to null without saying why: a bug here, but still never a bad config accepted.
    problems.push(problemAt(source ?? null, file, [], 'invalid configuration'));
  }
  const ordered = problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => byPosition(a.p, b.p) || a.i - b.i)
    .map(({ p }) => p);
  return new AgentConfigError('KAGE_ERR_CONFIG_INVALID', file, ordered, {
    hint: 'fix every listed key, then start the agent again (exit 78 = configuration error)',
  });
}

/** Line, then column; problems without a position go last. NaN (both unknown) counts as a tie. */
function byPosition(a: ConfigProblem, b: ConfigProblem): number {
  return (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? Infinity) - (b.column ?? Infinity) || 0;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}
