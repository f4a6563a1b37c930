/**
 * `kage demo` stops cleanly on Ctrl-C: the run is left resumable, the emulators are closed, and
 * the process exits 130 instead of hanging or dying with a stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KAGE_BIN, runKage } from './src/kage-process.js';

test('kage demo on Ctrl-C: exit 130, the run interrupted and listed, no stack trace', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kage-demo-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [KAGE_BIN, 'demo', '--out', dir, '--deterministic'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  t.after(() => clearTimeout(killer));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // Interrupt once the first cell has started: the lab is up and requests are in flight.
      if (/cell 1\/9 .*started/.test(stderr)) resolve();
    });
    // With the lab's own logs: what a node did is the only way to tell a flaky start from a bug.
    void exited.then(async () => reject(new Error(`demo exited early:\n${stderr}\n${await labLogTails(dir)}`)));
  });
  child.kill('SIGINT');
  const [code] = await exited;
  assert.equal(code, 130, stderr);
  assert.match(stderr, /SIGINT: stopping after the requests in flight/);
  assert.match(stderr, /interrupted/);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');

  const list = await runKage(['bench', 'list', '--db', join(dir, 'kage.db')]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /kage-demo: the seed matrix\s+interrupted/);
});

/** The last lines of every log of the demo's lab, for a failure message. */
async function labLogTails(dir: string): Promise<string> {
  const lab = join(dir, 'lab');
  const names = (await readdir(lab).catch(() => [] as string[])).filter((n) => n.endsWith('.log')).sort();
  const tails = await Promise.all(
    names.map(async (n) => {
      const lines = (await readFile(join(lab, n), 'utf8').catch(() => '')).trimEnd().split('\n');
      return `--- ${n}\n${lines.slice(-15).join('\n')}`;
    }),
  );
  return tails.join('\n');
}
