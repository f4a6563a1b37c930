/**
 * `kage report [RUN|latest] --format md|json|html [--out FILE]`: renders a stored run.
 */
import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import type { KageReport } from '@kage/bench';
import { CliError, EXIT_CANTCREAT } from '../errors.js';

export type ReportFormat = 'md' | 'json' | 'html';

/** Renders a report in one of the three formats. `emulated` labels every figure as not real. */
export async function renderReport(report: KageReport, format: ReportFormat, emulated: boolean): Promise<string> {
  const { renderHtml, renderMarkdown } = await import('@kage/bench');
  switch (format) {
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'md':
      return renderMarkdown(report, { emulated });
    case 'html':
      return renderHtml(report, { emulated });
  }
}

export function createReportCommand(): Command {
  return new Command('report')
    .description('render a stored run as markdown, JSON (kage.report/v1) or a self-contained HTML page')
    .argument('[run]', 'run id, or "latest"', 'latest')
    .option('--db <path>', 'SQLite results database', './kage.db')
    .addOption(new Option('--format <format>', 'output format').choices(['md', 'json', 'html']).default('md'))
    .option('--out <file>', 'write to a file instead of stdout')
    .option('--emulated', 'label every figure as coming from emulators')
    .action(async (runId: string, flags: { db: string; format: ReportFormat; out?: string; emulated?: boolean }) => {
      const { buildReport, openBenchStore } = await import('@kage/bench');
      const store = openBenchStore({ path: flags.db, readonly: true });
      let text: string;
      try {
        text = await renderReport(buildReport(store, runId), flags.format, flags.emulated ?? false);
      } finally {
        store.close();
      }
      if (flags.out) {
        try {
          await writeFile(flags.out, text);
        } catch (err) {
          const reason = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
          throw new CliError(
            'KAGE_ERR_CLI_OUTPUT',
            `--out ${flags.out}: cannot write the report (${reason})`,
            EXIT_CANTCREAT,
            {
              cause: err,
            },
          );
        }
        process.stderr.write(`wrote ${flags.out}\n`);
      } else {
        process.stdout.write(text);
      }
    });
}
