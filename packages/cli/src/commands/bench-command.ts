/**
 * `kage bench run|resume|list|selftest`: standalone benchmark runs in this process, stored in a
 * SQLite file, or (`bench run --coordinator URL`) a run handed to the coordinator, which sends the
 * requests through the node agents. Progress goes to stderr; the run id is the last line on stdout.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import { formatProblem } from '@kage/common';
import type { BenchStore, RunCommonOptions, RunOutcome } from '@kage/bench';
import {
  CoordinatorClient,
  CoordinatorRequestError,
  displayUrl,
  readApiToken,
  resolveCoordinatorUrl,
  type RunDetail,
} from '../coordinator-client.js';
import { CliError } from '../errors.js';
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

/** How often a coordinator run's progress is read. */
const RUN_POLL_MS = 1000;
/** How long the coordinator may stay unreachable while a run is followed before the command gives up. */
const RUN_FOLLOW_GIVE_UP_MS = 60_000;

/** The matrix file's content as the plain value the API takes (YAML and JSON alike). */
async function readMatrixDocument(file: string): Promise<unknown> {
  const { parseYaml } = await import('@kage/common');
  const parsed = parseYaml(await readFile(file, 'utf8'), file);
  // loadMatrix has parsed the same file already; this only guards against it changing meanwhile.
  if (!('source' in parsed)) throw new CliError('KAGE_ERR_CLI_USAGE', `${file} changed while it was read; run again`);
  return parsed.value;
}

function describeProgress(run: RunDetail): string {
  const { cells_done, cells_total, current } = run.progress;
  const now = current
    ? `; now ${current.model} × ${current.target}${current.concurrency > 1 ? ` c=${current.concurrency}` : ''}`
    : '';
  return `run ${run.id} (${run.name}): ${cells_done}/${cells_total} cells done${now}`;
}

/**
 * Reads the run every second until it ends or `signal` aborts (then resolves with null). A
 * coordinator that cannot be reached for a while is waited for, up to a bound: the run goes on
 * there either way.
 */
async function followRun(client: CoordinatorClient, id: string, signal: AbortSignal): Promise<RunDetail | null> {
  let lastLine = '';
  let unreachableSince: number | null = null;
  while (!signal.aborted) {
    try {
      const run = await client.getRun(id, { signal });
      unreachableSince = null;
      const line = describeProgress(run);
      if (line !== lastLine) process.stderr.write(`${line}\n`);
      lastLine = line;
      if (run.status !== 'running') return run;
    } catch (err) {
      if (signal.aborted) return null;
      const code = err instanceof CoordinatorRequestError ? err.code : undefined;
      if (code !== 'KAGE_ERR_COORDINATOR_UNREACHABLE' && code !== 'KAGE_ERR_COORDINATOR_TIMEOUT') throw err;
      const now = Date.now();
      if (unreachableSince === null) {
        unreachableSince = now;
        process.stderr.write(`kage: ${(err as Error).message}; still trying\n`);
      } else if (now - unreachableSince > RUN_FOLLOW_GIVE_UP_MS) {
        throw new CoordinatorRequestError(
          code,
          `${(err as Error).message}; run ${id} goes on there (follow it with GET /api/v1/runs/${id})`,
          { cause: err },
        );
      }
    }
    await sleep(RUN_POLL_MS, undefined, { signal }).catch(() => undefined);
  }
  return null;
}

/**
 * `bench run --coordinator`: the matrix is validated here first (the same errors as a standalone
 * run), then started on the coordinator and followed until it ends. Ctrl-C cancels it there.
 */
async function runOnCoordinator(matrixFile: string, coordinator: string, tokenFile: string | undefined): Promise<void> {
  const url = resolveCoordinatorUrl(coordinator);
  const token = await readApiToken(tokenFile);
  const client = new CoordinatorClient({ url, token });
  const { id } = await client.startRun(await readMatrixDocument(matrixFile));
  process.stderr.write(`run ${id} started on ${displayUrl(url)}\n`);
  const run = await withInterrupt((signal) => followRun(client, id, signal));
  if (run === null) {
    try {
      const cancelled = await client.cancelRun(id);
      process.stderr.write(`run ${id} ${cancelled.status} on ${displayUrl(url)}\n`);
    } catch (err) {
      process.stderr.write(`kage: could not cancel run ${id}: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    process.exitCode = EXIT_INTERRUPTED;
  } else {
    const { cells_done, cells_total } = run.progress;
    process.stderr.write(
      `run ${id} ${run.status}: ${cells_done}/${cells_total} cells done${run.error ? ` (${run.error})` : ''}\n`,
    );
    if (run.status === 'interrupted') {
      process.stderr.write('the coordinator stopped during the run; it resumes the run when it starts again\n');
    }
    if (run.status === 'interrupted' || run.status === 'cancelled') process.exitCode = EXIT_INTERRUPTED;
    else if (run.status !== 'completed') process.exitCode = 1;
  }
  // Scripts read the run id from the last line of stdout, so nothing may follow it.
  process.stdout.write(`${id}\n`);
}

export function createBenchCommand(): Command {
  const bench = new Command('bench').description('run benchmark matrices and list stored runs');

  bench
    .command('run')
    .description('run a matrix file (YAML or JSON) against its targets and store every request')
    .requiredOption('--matrix <file>', 'matrix file, YAML or JSON (see docs/benchmarks.md)')
    .option('--db <path>', 'SQLite results database', DEFAULT_DB)
    .option(
      '--coordinator <url>',
      'run it on this coordinator, through the node agents, instead of in this process (--db is then unused)',
    )
    .option('--token-file <file>', 'with --coordinator: file holding the API token (default: $KAGE_API_TOKEN)')
    .action(async (flags: { matrix: string; db: string; coordinator?: string; tokenFile?: string }) => {
      if (flags.tokenFile !== undefined && flags.coordinator === undefined) {
        throw new CliError('KAGE_ERR_CLI_USAGE', '--token-file is only used with --coordinator URL');
      }
      const { loadMatrixChecked, runMatrix } = await loadBench();
      // Validate the whole file before touching the database or the network.
      const { matrix, warnings } = await loadMatrixChecked(flags.matrix);
      for (const w of warnings) process.stderr.write(`warning: ${formatProblem(w)}\n`);
      if (flags.coordinator !== undefined) {
        await runOnCoordinator(flags.matrix, flags.coordinator, flags.tokenFile);
        return;
      }
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
