/**
 * The only way the agent touches systemd: `systemctl start|stop|restart UNIT` and
 * `systemctl show UNIT --property=…` (docs/agent.md's polkit section says which verbs need rights),
 * run with execa (no shell), a timeout and a bounded output. The agent never edits units;
 * configuration changes need root and stay out of it.
 */
import { execa } from 'execa';
import { SupervisionError } from './errors.js';

/** The `systemctl show` properties the systemd driver reads. */
export const SHOW_PROPERTIES = [
  'LoadState',
  'ActiveState',
  'SubState',
  'MainPID',
  'NRestarts',
  'ExecMainStatus',
  'ControlGroup',
] as const;

export type ShowProperty = (typeof SHOW_PROPERTIES)[number];

/** A parsed `systemctl show` answer: property → raw value (absent when systemd did not print it). */
export type UnitProperties = Partial<Record<ShowProperty, string>>;

/** Parse `key=value` lines. Only the first '=' splits: values (ControlGroup paths) may contain '='. */
export function parseShowOutput(text: string): UnitProperties {
  const wanted = new Set<string>(SHOW_PROPERTIES);
  const out: UnitProperties = {};
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    if (wanted.has(key)) out[key as ShowProperty] = line.slice(eq + 1);
  }
  return out;
}

// Characters systemd allows in unit names (systemd.unit(5)); a leading '-' would read as an option.
const UNIT = /^[A-Za-z0-9:_.\\@-]{1,255}$/;

export function isValidUnitName(unit: string): boolean {
  return UNIT.test(unit) && !unit.startsWith('-');
}

export interface SystemctlOptions {
  /** Path of the systemctl binary; tests point it at a fake. @default 'systemctl' */
  path: string;
  timeoutMs: number;
}

export type UnitVerb = 'start' | 'stop' | 'restart';

/** Run a verb on a unit; throws `KAGE_ERR_AGENT_SYSTEMCTL_FAILED` with systemctl's own message. */
export async function systemctlVerb(options: SystemctlOptions, verb: UnitVerb, unit: string): Promise<void> {
  await run(options, [verb, unit]);
}

/** Read the driver's properties of a unit. */
export async function systemctlShow(options: SystemctlOptions, unit: string): Promise<UnitProperties> {
  return parseShowOutput(await run(options, ['show', unit, `--property=${SHOW_PROPERTIES.join(',')}`]));
}

async function run(options: SystemctlOptions, args: string[]): Promise<string> {
  const result = await execa(options.path, args, {
    reject: false,
    shell: false,
    stdin: 'ignore',
    timeout: options.timeoutMs,
    maxBuffer: 1024 * 1024,
    // Plain, untranslated, unpaged output whatever the agent's environment says.
    env: { LC_ALL: 'C', SYSTEMD_PAGER: '', SYSTEMD_COLORS: '0' },
    extendEnv: true,
  });
  if (!result.failed) return result.stdout;
  const what = `systemctl ${args.join(' ')}`;
  const detail = result.timedOut
    ? `timed out after ${options.timeoutMs} ms`
    : result.exitCode !== undefined
      ? `exit ${result.exitCode}${result.stderr ? `: ${firstLine(result.stderr)}` : ''}`
      : (result.originalMessage ?? result.shortMessage);
  throw new SupervisionError('KAGE_ERR_AGENT_SYSTEMCTL_FAILED', `${what} failed: ${detail}`, { cause: result });
}

function firstLine(text: string): string {
  return text.trim().split('\n', 1)[0] ?? '';
}
