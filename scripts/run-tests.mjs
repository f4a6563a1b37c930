// Runs every compiled test file once, from the root, and ends with one summary line.
// Node 20's `node --test` neither expands globs nor discovers .ts, so the file list is built here.
//
// Two phases: every test under c8 (coverage gate) with two files at a time, then the system tests
// (`test/dist/system/`: booted systemd containers, minutes each) alone, one at a time, so that they
// neither slow the timing-sensitive tests down nor get slowed by them.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filter = process.argv[2];

function findTests(dir) {
  let found = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return found;
  }
  for (const name of entries) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) found = found.concat(findTests(full));
    else if (name.endsWith('.test.js')) found.push(full);
  }
  return found;
}

const roots = readdirSync(join(root, 'packages'))
  .map((name) => join(root, 'packages', name, 'dist', 'test'))
  .concat([join(root, 'test', 'dist')]);
const files = roots
  .flatMap(findTests)
  .map((file) => relative(root, file))
  .filter((file) => !filter || file.includes(filter))
  .sort();
if (files.length === 0) {
  console.error('no compiled test files found: run `pnpm build` first');
  process.exit(1);
}
const isSystemTest = (file) => file.startsWith(join('test', 'dist', 'system') + '/');
const unitFiles = files.filter((file) => !isSystemTest(file));
const systemFiles = files.filter(isSystemTest);

mkdirSync(join(root, 'coverage'), { recursive: true });

/** Runs `node --test` over `testFiles` (under c8 when `coverage`); returns its exit status and totals. */
function runPhase(name, testFiles, { coverage, concurrency }) {
  // The totals line is written to a file by the summary reporter and read back, so that it can be
  // printed last, after c8's coverage table.
  const summaryFile = join(root, 'coverage', `test-summary-${name}.txt`);
  rmSync(summaryFile, { force: true });
  const nodeArgs = [
    'node',
    '--enable-source-maps',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-timeout=300000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/summary-reporter.mjs',
    `--test-reporter-destination=${summaryFile}`,
    ...testFiles,
  ];
  const c8 = [
    'exec',
    'c8',
    '--reporter=text-summary',
    '--check-coverage',
    '--lines=90',
    '--branches=80',
    '--exclude=**/test/**',
    '--exclude=**/node_modules/**',
    '--exclude=scripts/**',
  ];
  const result = coverage
    ? spawnSync('pnpm', [...c8, ...nodeArgs], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] })
    : spawnSync(nodeArgs[0], nodeArgs.slice(1), { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  let totals = { passed: 0, failed: 1, skipped: 0 }; // no summary written: count the phase as failed
  try {
    const m = /tests: (\d+) passed, (\d+) failed, (\d+) skipped/.exec(readFileSync(summaryFile, 'utf8'));
    if (m) totals = { passed: Number(m[1]), failed: Number(m[2]), skipped: Number(m[3]) };
  } catch {
    // keep the failure counted above
  }
  return { status: result.status ?? 1, totals };
}

const phases = [];
if (unitFiles.length > 0) phases.push(runPhase('unit', unitFiles, { coverage: true, concurrency: 2 }));
if (systemFiles.length > 0) phases.push(runPhase('system', systemFiles, { coverage: false, concurrency: 1 }));
const sum = (key) => phases.reduce((n, p) => n + p.totals[key], 0);
process.stdout.write(`tests: ${sum('passed')} passed, ${sum('failed')} failed, ${sum('skipped')} skipped\n`);
process.exit(phases.some((p) => p.status !== 0) ? 1 : 0);
