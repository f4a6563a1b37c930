/** `db`: the rules for the SQLite database path. */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Ctx } from './config-context.js';
import { resolveConfigPath } from './named-files.js';
import { describeFsError } from '@kage/common';

export async function resolveDb(ctx: Ctx, raw: string): Promise<string | null> {
  if (raw === ':memory:') {
    ctx.problem(
      ['db'],
      'an in-memory database loses every node, sample and run when the coordinator stops; give a file path, e.g. /var/lib/kage/kage.db',
    );
    return null;
  }
  const file = resolveConfigPath(ctx, ['db'], raw);
  if (file === null) return null;
  try {
    if ((await stat(file)).isDirectory()) {
      ctx.problem(['db'], `${file} is a directory; give the database file, e.g. ${join(file, 'kage.db')}`);
      return null;
    }
  } catch (err) {
    // A missing database is created at the first start; anything else would fail there as well.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      ctx.problem(['db'], `cannot reach ${file}: ${describeFsError(err)}`);
      return null;
    }
  }
  return file;
}
