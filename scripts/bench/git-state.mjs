// The code a result was measured with, written into the result file: the commit, and the files
// that differed from it when the benchmark ran.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The commit and the uncommitted files under `paths` (relative to the repository); null where git cannot say. */
export async function gitState(paths) {
  const git = (args) =>
    promisify(execFile)('git', args, { cwd: root }).then(
      (r) => r.stdout.trimEnd(),
      () => null,
    );
  const status = await git(['status', '--porcelain', '--', ...paths]);
  return {
    commit: await git(['rev-parse', '--short=12', 'HEAD']),
    uncommitted_files:
      status === null
        ? null
        : status
            .split('\n')
            .filter(Boolean)
            .map((l) => l.slice(3)),
  };
}
