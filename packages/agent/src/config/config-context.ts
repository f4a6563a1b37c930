/**
 * What the parts of the agent-config loader share while checking one file: where relative paths
 * start, and where problems and warnings go. Everything is collected, nothing thrown, so that one
 * run reports every violation at once.
 */
import { isAbsolute, resolve } from 'node:path';
import type { Segment } from '@kage/common';

export interface ConfigContext {
  /** Directory of the config file: relative paths in the file start here. */
  baseDir: string;
  /** Record a violation at a key path; the loader turns it into `file:line:col: path: reason`. */
  problem(path: readonly Segment[], reason: string): void;
  /** Record a non-fatal finding (logged at warn, kept in `AgentConfig.warnings`). */
  warn(message: string): void;
}

/**
 * Makes a path from the file absolute. `~` is not expanded (the agent runs as a system user whose
 * home is not the operator's), so a path starting with it is a problem rather than a surprise.
 */
export function resolveConfigPath(ctx: ConfigContext, path: readonly Segment[], value: string): string | null {
  if (value.startsWith('~')) {
    ctx.problem(path, `"~" is not expanded; write an absolute path or one relative to this file`);
    return null;
  }
  return isAbsolute(value) ? resolve(value) : resolve(ctx.baseDir, value);
}

/** True for a plain object (a YAML mapping). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `ENOENT` → "ENOENT (no such file or directory)", for reasons a person reads. */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const meaning: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'is a directory',
    ENOTDIR: 'a parent is not a directory',
    ELOOP: 'too many symbolic links',
  };
  if (typeof code !== 'string') return err instanceof Error ? err.message : String(err);
  return Object.hasOwn(meaning, code) ? `${code} (${meaning[code]})` : code;
}

/** True when `mode` lets the group or others read the file. */
export function isGroupOrWorldReadable(mode: number): boolean {
  return (mode & 0o044) !== 0;
}

/** `0o100640` → `"0640"`. */
export function formatMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}
