/**
 * `kage demo`: the whole product on an emulated lab. Starts the seed's three nodes (an Ollama and
 * an EXO emulator each) on loopback, runs the seed's benchmark matrix, prints the comparison table
 * and the verdicts, writes the reports, and stops every emulator — also on Ctrl-C. Every figure
 * comes from emulators and is labelled so.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { createLogger } from '../logger.js';
import { createRunProgressView } from '../run-progress.js';
import { EXIT_INTERRUPTED, withInterrupt } from '../interrupt.js';
import { renderReport } from './report-command.js';

export function createDemoCommand(): Command {
  return new Command('demo')
    .description('run the seed benchmark matrix on an emulated 3-node lab (Ollama + EXO per node) on loopback')
    .option('--out <dir>', 'where the database and the reports go', 'kage-demo')
    .option('--deterministic', 'no jitter, fixed seeds: the same figures every run')
    .action(async (flags: { out: string; deterministic?: boolean }) => {
      // The progress view already reports every failed cell and unhealthy target in plain words;
      // JSON log lines would repeat them, so only errors are logged unless KAGE_LOG_LEVEL says otherwise.
      const log = createLogger({ destination: 'stderr', level: process.env['KAGE_LOG_LEVEL'] ?? 'error' });
      const { buildReport, openBenchStore, renderMarkdown, runMatrix } = await import('@kage/bench');
      const { startDemoCluster, waitForExoCluster } = await import('./demo-cluster.js');
      const { demoMatrix } = await import('./demo-matrix.js');
      await mkdir(flags.out, { recursive: true });
      const dbPath = join(flags.out, 'kage.db');
      process.stderr.write('starting the emulated lab: srv1, srv2 (CPU servers) and rog (Radeon 8060S laptop)\n');
      const cluster = await startDemoCluster(log, { deterministic: flags.deterministic ?? false });
      const store = openBenchStore({ path: dbPath });
      try {
        const first = cluster.nodes[0];
        if (!first) throw new Error('no demo nodes started');
        const members = await waitForExoCluster(
          first.exo.url,
          cluster.nodes.map((n) => n.hostname),
          15_000,
        );
        process.stderr.write(`EXO cluster formed: ${members.join(', ')}\n`);
        const view = createRunProgressView();
        const outcome = await withInterrupt((signal) =>
          runMatrix({
            matrix: demoMatrix(cluster),
            store,
            signal,
            onEvent: (e) => view.onEvent(e),
            logger: log,
          }),
        ).finally(() => view.stop());
        if (outcome.status !== 'completed') {
          process.stderr.write(
            `demo run ${outcome.runId} ${outcome.status}${outcome.error ? `: ${outcome.error}` : ''}\n`,
          );
          process.exitCode = outcome.status === 'interrupted' || outcome.status === 'cancelled' ? EXIT_INTERRUPTED : 1;
          return;
        }
        const report = buildReport(store, outcome.runId);
        for (const format of ['md', 'json', 'html'] as const) {
          await writeFile(join(flags.out, `report.${format}`), await renderReport(report, format, true));
        }
        process.stdout.write(renderMarkdown(report, { emulated: true }));
        process.stdout.write(
          `\nReports: ${join(flags.out, 'report.md')}, report.json, report.html · database: ${dbPath} · run ${outcome.runId}\n`,
        );
      } finally {
        store.close();
        await cluster.close();
      }
    });
}
