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
