/**
 * `kage bench run|resume|list|selftest`: standalone benchmark runs in this process, stored in a
 * SQLite file. Progress goes to stderr; the run id is the last line on stdout.
 */
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import type { BenchStore, RunCommonOptions, RunOutcome } from '@kage/bench';
import { createLogger } from '../logger.js';
import { createRunProgressView } from '../run-progress.js';
import { EXIT_INTERRUPTED, withInterrupt } from '../interrupt.js';

const DEFAULT_DB = './kage.db';

function finish(outcome: RunOutcome): void {
  process.stderr.write(
    `run ${outcome.runId} ${outcome.status}: ${outcome.cells.completed} cells completed, ` +
      `${outcome.cells.failed} failed, ${outcome.cells.pending} pending` +
      `${outcome.recommendation ? `; recommendation: ${outcome.recommendation.verdict}` : ''}\n`,
  );
  if (outcome.status === 'interrupted' || outcome.status === 'cancelled') {
    process.stderr.write(`resume with: kage bench resume ${outcome.runId}\n`);
    process.exitCode = EXIT_INTERRUPTED;
  } else if (outcome.status !== 'completed') {
    process.exitCode = 1;
  }
  // Scripts read the run id from the last line of stdout, so nothing may follow it.
  process.stdout.write(`${outcome.runId}\n`);
}

/** The benchmark engine, loaded on use: the SQLite addon and clients cost memory other commands do not need. */
const loadBench = () => import('@kage/bench');

async function withStore<T>(path: string, readonly: boolean, use: (store: BenchStore) => Promise<T>): Promise<T> {
  const { openBenchStore } = await loadBench();
  const store = openBenchStore({ path, readonly });
  try {
    return await use(store);
  } finally {
    store.close();
  }
}

/**
 * Runs (or resumes) a run on the database with a progress view on stderr and Ctrl-C turned into
 * an interrupted, resumable run; prints the outcome.
 */
async function executeRun(db: string, execute: (common: RunCommonOptions) => Promise<RunOutcome>): Promise<void> {
  // The progress view already reports every failed cell and unhealthy target in plain words;
  // JSON log lines would repeat them, so only errors are logged unless KAGE_LOG_LEVEL says otherwise.
  const log = createLogger({ destination: 'stderr', level: process.env['KAGE_LOG_LEVEL'] ?? 'error' });
  await withStore(db, false, async (store) => {
    const view = createRunProgressView();
    const outcome = await withInterrupt((signal) =>
      execute({ store, signal, onEvent: (e) => view.onEvent(e), logger: log }),
    ).finally(() => view.stop());
    finish(outcome);
  });
}

export function createBenchCommand(): Command {
  const bench = new Command('bench').description('run benchmark matrices and list stored runs');

  bench
    .command('run')
    .description('run a matrix file (YAML or JSON) against its targets and store every request')
    .requiredOption('--matrix <file>', 'matrix file, YAML or JSON (see docs/benchmarks.md)')
    .option('--db <path>', 'SQLite results database', DEFAULT_DB)
    .action(async (flags: { matrix: string; db: string }) => {
      const { loadMatrix, runMatrix } = await loadBench();
      // Validate the whole file before touching the database or the network.
      const matrix = await loadMatrix(flags.matrix);
      await executeRun(flags.db, (common) => runMatrix({ matrix, ...common }));
    });

  bench
    .command('resume')
    .description('finish an interrupted run without redoing its finished cells')
    .argument('<run>', 'run id, or "latest"')
    .option('--db <path>', 'SQLite results database', DEFAULT_DB)
    .action(async (runId: string, flags: { db: string }) => {
      const { resumeRun } = await loadBench();
      await executeRun(flags.db, (common) => resumeRun({ runId, ...common }));
    });

  bench
    .command('list')
    .description('list stored runs, newest first')
    .option('--db <path>', 'SQLite results database', DEFAULT_DB)
    .option('--json', 'print JSON')
    .action(async (flags: { db: string; json?: boolean }) => {
      if (!existsSync(flags.db)) {
        process.stdout.write(flags.json ? '[]\n' : `no runs: ${flags.db} does not exist\n`);
        return;
      }
      const { listRuns } = await loadBench();
      await withStore(flags.db, false, (store) => {
        // A run whose process was killed still says `running` until someone notices; do it here.
        store.reapStaleRuns();
        const runs = listRuns(store);
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
          return Promise.resolve();
        }
        if (runs.length === 0) {
          process.stdout.write(`no runs in ${flags.db}\n`);
          return Promise.resolve();
        }
        const rows = runs.map((r) => [r.id, r.name, r.status, r.started_at, r.finished_at ?? '']);
        const header = ['id', 'name', 'status', 'started_at', 'finished_at'];
        const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
        const line = (cells: string[]): string =>
          cells
            .map((c, i) => c.padEnd(widths[i] ?? 0))
            .join('  ')
            .trimEnd();
        process.stdout.write(`${[line(header), ...rows.map(line)].join('\n')}\n`);
        return Promise.resolve();
      });
    });

  bench
    .command('selftest')
    .description("measure the harness's own timing error and ingest rate against a server with a known schedule")
    .option('--out <file>', 'also write the result JSON here')
    .action(async (flags: { out?: string }) => {
      const { runSelftest } = await loadBench();
      const result = await runSelftest({
        ...(flags.out !== undefined && { outFile: flags.out }),
        onProgress: (p) =>
          process.stderr.write(`selftest ${p.protocol}: repetition ${p.repetition}/${p.repetitions}\n`),
      });
      const f = result.figures;
      const t = result.targets;
      const mark = (ok: boolean): string => (ok ? 'ok' : 'FAILED');
      process.stdout.write(
        [
          `machine: ${result.machine.cpu_model}, ${result.machine.cpu_cores} cores, node ${result.machine.node_version}`,
          `TTFT error      p50 ${f.ttft_error_ms.p50.toFixed(3)} ms, p99 ${f.ttft_error_ms.p99.toFixed(3)} ms (target p99 ≤ ${t.ttft_error_p99_ms} ms) ${mark(result.pass.ttft_error_p99_ms)}`,
          `decode error    p50 ${f.decode_error_pct.p50.toFixed(3)} %, p99 ${f.decode_error_pct.p99.toFixed(3)} % (target ≤ ${t.decode_error_p99_pct} %) ${mark(result.pass.decode_error_p99_pct)}`,
          `ingest          ${Math.round(f.ingest_events_per_s).toLocaleString('en-US')} token events/s (target ≥ ${t.ingest_events_per_s.toLocaleString('en-US')}) ${mark(result.pass.ingest_events_per_s)}`,
          '',
        ].join('\n'),
      );
      if (!result.pass.all) process.exitCode = 1;
    });

  return bench;
}
