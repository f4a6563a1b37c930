/**
 * The `services` map: each entry is checked against its driver's schema (so "unknown key" means
 * unknown for *that* driver), then against the rules that span keys or touch the file system.
 * Resolved entries are what `createServiceRegistry` takes, with every default filled in.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { SupervisionError } from '../supervision/errors.js';
import { checkServiceName } from '../supervision/service-options.js';
import { isValidUnitName } from '../supervision/systemctl.js';
import type { VersionSource } from '../supervision/types.js';
import { DEFAULT_LOADED_MODELS_INTERVAL_MS, type LoadedModelsSource } from '../models/loaded-models-watcher.js';
import type { ResolvedProcessServiceConfig, ResolvedServiceConfig } from './agent-config-types.js';
import {
  AGENT_CONFIG_DEFAULTS,
  DRIVER_KEYS,
  ProcessServiceSchema,
  SystemdServiceSchema,
  type ProcessServiceFile,
  type SystemdServiceFile,
} from './agent-config-schema.js';
import { describeFsError, isRecord } from '@kage/common';
import { resolveConfigPath, type ConfigContext } from './config-context.js';
import { describeValue, schemaViolations, type Segment } from '@kage/common';

const DRIVERS = ['systemd', 'process'] as const;
type Driver = (typeof DRIVERS)[number];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Checks every entry; returns the resolved map, or null when any entry is wrong. */
export async function resolveServices(
  ctx: ConfigContext,
  raw: unknown,
): Promise<Record<string, ResolvedServiceConfig> | null> {
  if (raw === undefined) return {};
  if (!isRecord(raw)) return null; // the schema already reported it
  const out: Record<string, ResolvedServiceConfig> = {};
  const unitOwner = new Map<string, string>();
  let ok = true;
  for (const [name, entry] of Object.entries(raw)) {
    const base: Segment[] = ['services', name];
    try {
      checkServiceName(name);
    } catch (err) {
      if (!(err instanceof SupervisionError)) throw err;
      ctx.problem(base, `invalid service name: must be 1-63 letters, digits, ".", "_" or "-"`);
      ok = false;
    }
    const unit = isRecord(entry) && entry['driver'] === 'systemd' ? entry['unit'] : undefined;
    if (typeof unit === 'string') {
      const first = unitOwner.get(unit);
      if (first !== undefined) {
        ctx.problem([...base, 'unit'], `${unit} is already supervised as service "${first}"`);
        ok = false;
      } else {
        unitOwner.set(unit, name);
      }
    }
    const resolved = await resolveService(ctx, base, entry);
    if (resolved === null) {
      ok = false;
      continue;
    }
    out[name] = resolved;
  }
  return ok ? out : null;
}

async function resolveService(
  ctx: ConfigContext,
  base: Segment[],
  entry: unknown,
): Promise<ResolvedServiceConfig | null> {
  if (!isRecord(entry)) {
    ctx.problem(base, `must be a mapping with a driver (systemd or process), got ${describeValue(entry)}`);
    return null;
  }
  const driver = entry['driver'];
  if (driver === undefined) {
    ctx.problem(base, 'required key driver is missing: systemd (an existing unit) or process (a child)');
    return null;
  }
  if (typeof driver !== 'string' || !(DRIVERS as readonly string[]).includes(driver)) {
    ctx.problem([...base, 'driver'], `must be "systemd" or "process", got ${describeValue(driver)}`);
    return null;
  }
  const d = driver as Driver;
  const schema = d === 'systemd' ? SystemdServiceSchema : ProcessServiceSchema;
  let ok = true;
  for (const v of schemaViolations(schema, entry, base)) {
    ctx.problem(v.path, v.reason === 'unknown key' ? unknownKeyReason(d, v.path) : v.reason);
    ok = false;
  }
  if (!checkUrl(ctx, [...base, 'health'], entry['health'])) ok = false;
  const version = resolveVersionSource(ctx, base, entry);
  if (version === null) ok = false;
  const models = resolveLoadedModels(ctx, base, entry['loaded_models']);
  if (models === null) ok = false;
  const extras = { ...version, ...models };
  if (d === 'systemd') {
    const unit = entry['unit'];
    if (typeof unit === 'string' && !(isValidUnitName(unit) && unit.endsWith('.service'))) {
      ctx.problem([...base, 'unit'], `"${unit}" is not a service unit name (e.g. ollama.service)`);
      ok = false;
    }
    if (!ok) return null;
    const e = entry as SystemdServiceFile;
    return { driver: 'systemd', unit: e.unit, ...(e.health === undefined ? {} : { health: e.health }), ...extras };
  }
  // Cross-key rules run even when the schema found problems: every violation is reported at once.
  const resolved = await resolveProcess(ctx, base, entry);
  return ok && resolved !== null ? { ...resolved, ...extras } : null;
}

/** `loaded_models` with its interval filled in ({} when absent); null when its URL is wrong. */
function resolveLoadedModels(
  ctx: ConfigContext,
  base: Segment[],
  raw: unknown,
): { loaded_models?: LoadedModelsSource } | null {
  if (!isRecord(raw)) return {}; // absent, or the schema reported it
  const { api, url, interval_ms: interval } = raw;
  if (!checkUrl(ctx, [...base, 'loaded_models', 'url'], url)) return null;
  if ((api !== 'ollama' && api !== 'exo') || typeof url !== 'string' || url === '') return {};
  return {
    loaded_models: {
      api,
      url,
      interval_ms: typeof interval === 'number' ? interval : DEFAULT_LOADED_MODELS_INTERVAL_MS,
    },
  };
}

/** `version_url` (checked like `health`) or `version_git` (made absolute); null when wrong. */
function resolveVersionSource(
  ctx: ConfigContext,
  base: Segment[],
  entry: Record<string, unknown>,
): VersionSource | null {
  const url = entry['version_url'];
  const git = entry['version_git'];
  if (url !== undefined && git !== undefined) {
    ctx.problem([...base, 'version_git'], 'give version_url or version_git, not both: a service has one version');
    return null;
  }
  if (typeof url === 'string' && url !== '') {
    return checkUrl(ctx, [...base, 'version_url'], url) ? { version_url: url } : null;
  }
  if (typeof git === 'string' && git !== '') {
    const dir = resolveConfigPath(ctx, [...base, 'version_git'], git);
    return dir === null ? null : { version_git: dir };
  }
  return {}; // absent, or the schema reported it
}

/** "unknown key", or why the key is wrong for this driver when the other one has it. */
function unknownKeyReason(driver: Driver, path: readonly Segment[]): string {
  const key = path[path.length - 1];
  if (path.length !== 3 || typeof key !== 'string') return 'unknown key';
  if (driver === 'systemd' && key === 'grace_ms') {
    return "unknown key for driver systemd: systemd stops a unit within the unit's own TimeoutStopSec";
  }
  const other: Driver = driver === 'systemd' ? 'process' : 'systemd';
  return DRIVER_KEYS[other].includes(key)
    ? `unknown key for driver ${driver} (${key} belongs to driver ${other})`
    : 'unknown key';
}

function checkUrl(ctx: ConfigContext, path: Segment[], value: unknown): boolean {
  if (typeof value !== 'string' || value === '') return true; // absent, or the schema reported it
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.problem(path, `"${value}" is not a URL (e.g. "http://127.0.0.1:11434/")`);
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.problem(path, `"${value}" must use http or https, not ${url.protocol.slice(0, -1)}`);
    return false;
  }
  return true;
}

async function resolveProcess(
  ctx: ConfigContext,
  base: Segment[],
  entry: Record<string, unknown>,
): Promise<ResolvedProcessServiceConfig | null> {
  let ok = true;
  const d = AGENT_CONFIG_DEFAULTS;
  const rawRestart = isRecord(entry['restart']) ? entry['restart'] : {};
  const initial = rawRestart['initial_delay_ms'] ?? d.restart.initial_delay_ms;
  const max = rawRestart['max_delay_ms'] ?? d.restart.max_delay_ms;
  if (typeof initial === 'number' && typeof max === 'number' && initial > max) {
    const key = rawRestart['initial_delay_ms'] !== undefined ? 'initial_delay_ms' : 'max_delay_ms';
    ctx.problem([...base, 'restart', key], `initial_delay_ms (${initial}) must not exceed max_delay_ms (${max})`);
    ok = false;
  }
  for (const name of Object.keys(isRecord(entry['env']) ? entry['env'] : {})) {
    if (!ENV_NAME.test(name)) {
      ctx.problem([...base, 'env', name], 'not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)');
      ok = false;
    }
  }
  // A bare program name is looked up in PATH when spawned; a path with a slash is relative to the file.
  const command = entry['command'];
  const program = Array.isArray(command) && typeof command[0] === 'string' ? command[0] : '';
  let resolvedProgram = program;
  if (program.includes('/')) {
    const abs = resolveConfigPath(ctx, [...base, 'command', 0], program);
    if (abs === null) ok = false;
    else resolvedProgram = abs;
  }
  let cwd: string | undefined;
  if (typeof entry['cwd'] === 'string' && entry['cwd'] !== '') {
    const abs = resolveConfigPath(ctx, [...base, 'cwd'], entry['cwd']);
    if (abs === null) ok = false;
    else cwd = abs;
  }
  if (!ok || program === '') return null;
  const e = entry as ProcessServiceFile;
  const args = e.command.slice(1);
  // Missing files are warnings, not errors: exo may be installed after the agent. The service
  // then reports `failed` with the spawn error, and the rest of the agent keeps working.
  const service = String(base[1]);
  if (isAbsolute(resolvedProgram)) {
    try {
      await access(resolvedProgram, constants.X_OK);
    } catch (err) {
      ctx.warn(`services.${service}.command[0]: ${resolvedProgram} is not executable: ${describeFsError(err)}`);
    }
  }
  if (cwd !== undefined) {
    try {
      if (!(await stat(cwd)).isDirectory()) ctx.warn(`services.${service}.cwd: ${cwd} is not a directory`);
    } catch (err) {
      ctx.warn(`services.${service}.cwd: ${cwd}: ${describeFsError(err)}`);
    }
  }
  return {
    driver: 'process',
    command: [resolvedProgram, ...args],
    ...(cwd === undefined ? {} : { cwd }),
    ...(e.env === undefined ? {} : { env: { ...e.env } }),
    ...(e.health === undefined ? {} : { health: e.health }),
    restart: { ...d.restart, ...e.restart },
    grace_ms: e.grace_ms ?? d.grace_ms,
  };
}
