/** Its own file so that each part of the loader (listen, TLS, db, auth) depends on it, not on the loader. */
import type { Problem, Segment } from '@kage/common';

/** What the parts of the loader share while checking one file; everything is collected, nothing thrown. */
export interface Ctx {
  /** The config file as given. */
  file: string;
  /** Directory of the config file: relative paths in the file start here. */
  baseDir: string;
  fileMode: number | null;
  /** Records a violation at a key path of the config file. */
  problem(path: readonly Segment[], reason: string): void;
  /** Records a violation already positioned (in a token file the config names). */
  add(problem: Problem): void;
}
