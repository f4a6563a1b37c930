/**
 * `kage demo`: the whole product on an emulated lab. Starts a coordinator and one agent per seed
 * node (srv1, srv2, rog), each agent supervising that node's emulated Ollama and EXO; runs the
 * seed's benchmark matrix through the coordinator, so every request is sent by the agent on the
 * target's node; prints the comparison table, the verdicts and each node's utilization per cell;
 * writes the reports; and stops everything — also on Ctrl-C, which leaves the run interrupted.
 * With `--serve` the lab keeps running after the run, for the dashboard, until Ctrl-C.
 * Every figure comes from emulators and is labelled so.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KageReport } from '@kage/bench';
import { Command } from 'commander';
import type { CoordinatorClient } from '../coordinator-client.js';
import { EXIT_INTERRUPTED, withInterrupt } from '../interrupt.js';
import { renderReport } from './report-command.js';

/** How often the run's progress is read from the coordinator. */
const PROGRESS_POLL_MS = 500;

export function createDemoCommand(): Command {
  return new Command('demo')
    .description('run the seed benchmark matrix through a coordinator and three agents on an emulated lab (loopback)')
    .option('--out <dir>', 'where the database, the reports and the lab logs go', 'kage-demo')
    .option('--deterministic', 'no jitter, fixed seeds: the same figures every run')
    .option('--serve', 'keep the lab running after the run and print the dashboard URL (Ctrl-C stops it)')
    .action(async (flags: { out: string; deterministic?: boolean; serve?: boolean }) => {
      const { renderMarkdown } = await import('@kage/bench');
      const { startDemoLab, waitForExoCluster, waitForLab } = await import('./demo-lab.js');
      const { demoMatrix } = await import('./demo-matrix.js');
      await mkdir(flags.out, { recursive: true });
      const dbPath = join(flags.out, 'kage.db');
      process.stderr.write(
        'starting the emulated lab: a coordinator, and an agent on srv1, srv2 (CPU servers) and rog (Radeon 8060S laptop)\n',
      );
      const lab = await startDemoLab(flags.out, { deterministic: flags.deterministic ?? false });
      try {
        const outcome = await withInterrupt(async (signal) => {
          const nodes = await waitForLab(lab, 60_000);
          process.stderr.write(
            `agents online: ${nodes.map((n) => `${n.id} (${n.services.map((s) => s.name).join(' + ')})`).join(', ')}\n`,
          );
          const first = lab.nodes[0];
          if (first === undefined) throw new Error('no demo nodes started');
          const members = await waitForExoCluster(
            first.exo.url,
            lab.nodes.map((n) => n.hostname),
            20_000,
          );
          process.stderr.write(`EXO cluster formed: ${members.join(', ')}\n`);
          const { id } = await lab.client.startRun(demoMatrix(lab.nodes));
          process.stderr.write(
            `run ${id} started on the coordinator (${lab.apiUrl}); requests are sent by the agents\n`,
          );
          return { id, status: await followRun(lab.client, id, signal) };
        });
        if (outcome.status !== 'completed') {
          process.stderr.write(`demo run ${outcome.id} ${outcome.status}\n`);
          process.exitCode = outcome.status === 'interrupted' || outcome.status === 'cancelled' ? EXIT_INTERRUPTED : 1;
          return;
        }
        const report = JSON.parse(await lab.client.runReport(outcome.id, 'json')) as KageReport;
        for (const format of ['md', 'json', 'html'] as const) {
          await writeFile(join(flags.out, `report.${format}`), await renderReport(report, format, true));
        }
        process.stdout.write(renderMarkdown(report, { emulated: true }));
        process.stdout.write(
          `\nReports: ${join(flags.out, 'report.md')}, report.json, report.html · database: ${dbPath} · run ${outcome.id} · lab logs: ${join(flags.out, 'lab')}\n`,
        );
        if (flags.serve === true) {
          process.stdout.write(
            `\nDashboard: ${lab.apiUrl}/ (API token in ${join(flags.out, 'lab', 'api.token')})\n` +
              `Gateway: ${lab.gatewayUrl} (OLLAMA_HOST=${lab.gatewayUrl} ollama run qwen2.5:3b) · Ctrl-C stops the lab\n`,
          );
          await withInterrupt((signal) => untilAborted(signal));
        }
      } finally {
        await lab.close();
      }
    });
}

/** Resolves when `signal` aborts (Ctrl-C): the lab serves the dashboard until then. */
function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** Prints one line when a cell starts and one when it ends; resolves with the run's final status. */
async function followRun(client: CoordinatorClient, id: string, signal: AbortSignal): Promise<string> {
  let announced = '';
  let done = 0;
  for (;;) {
    if (signal.aborted) return 'interrupted';
    const run = await client.getRun(id);
    const { cells_done: cellsDone, cells_total: total, current } = run.progress;
    if (cellsDone > done) {
      process.stderr.write(`  ${cellsDone}/${total} cells done\n`);
      done = cellsDone;
    }
    const key = current === null ? '' : `${current.model} × ${current.target}`;
    if (run.status === 'running' && current !== null && key !== announced) {
      announced = key;
      process.stderr.write(`cell ${Math.min(cellsDone + 1, total)}/${total} ${key} started\n`);
    }
    if (run.status !== 'running') return run.status;
    await new Promise<void>((resolve) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, PROGRESS_POLL_MS);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
