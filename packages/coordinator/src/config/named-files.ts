/**
 * Files the config names (token files, TLS material): resolved against the config's directory and
 * read with every problem recorded at the key that names them.
 */
import { isAbsolute, resolve } from 'node:path';
import { formatMode, isGroupOrWorldReadable, type Segment } from '@kage/common';
import type { Ctx } from './config-context.js';
import { MAX_TEXT_BYTES, decodeText, findControlCharacter, readSmallFile, tooLarge } from './small-file.js';

/** Makes a path from the file absolute. `~` is not expanded: the daemon's user is not the operator. */
export function resolveConfigPath(ctx: Ctx, path: readonly Segment[], value: string): string | null {
  if (value.startsWith('~')) {
    ctx.problem(path, `"~" is not expanded; write an absolute path or one relative to this file`);
    return null;
  }
  return isAbsolute(value) ? resolve(value) : resolve(ctx.baseDir, value);
}

/** A file named at `path`, as text; a binary file is a problem, not parsed. */
export async function readTextAt(
  ctx: Ctx,
  path: readonly Segment[],
  file: string,
  secret: boolean,
  maxBytes: number = MAX_TEXT_BYTES,
): Promise<string | null> {
  const bytes = await readFileAt(ctx, path, file, maxBytes, secret);
  if (bytes === null) return null;
  const decoded = decodeText(bytes);
  if ('reason' in decoded) {
    ctx.problem(path, `${file} is ${decoded.reason}`);
    return null;
  }
  const control = findControlCharacter(decoded.text);
  if (control !== null) {
    ctx.problem(path, `${file} is ${control.reason} at line ${control.line}, column ${control.column}`);
    return null;
  }
  return decoded.text;
}

/**
 * A small file named at `path`. A secret readable by group or others is refused (and still read,
 * so that its other problems are reported in the same run).
 */
export async function readFileAt(
  ctx: Ctx,
  path: readonly Segment[],
  file: string,
  maxBytes: number,
  secret: boolean,
): Promise<Buffer | null> {
  const read = await readSmallFile(file, maxBytes);
  if ('error' in read) {
    ctx.problem(path, `cannot read ${file}: ${read.error}`);
    return null;
  }
  if ('tooLarge' in read) {
    ctx.problem(path, `${file} is ${tooLarge(read.size, maxBytes, 'this key')}`);
    return null;
  }
  if (secret && isGroupOrWorldReadable(read.mode)) {
    ctx.problem(
      path,
      `${file} is readable by group/others (mode ${formatMode(read.mode)}); ` +
        `make it owned by the coordinator's user with mode 0600`,
    );
  }
  return read.bytes;
}
