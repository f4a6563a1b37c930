// Finds a program the benchmarks compare Kage with or install one with (nginx, node_exporter,
// apt-get): in PATH, then in directories a user's PATH may leave out (Debian puts daemons in sbin).
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** The first executable `name` in PATH and then in `moreDirs`, in that order; null when there is none. */
export async function which(name, moreDirs) {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), ...moreDirs]) {
    if (!dir) continue;
    const p = join(dir, name);
    if (
      await access(p, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return p;
  }
  return null;
}
