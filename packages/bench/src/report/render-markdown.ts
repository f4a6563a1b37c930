/**
 * Markdown rendering of a report (`kage report --format md`): the seed plan's comparison table
 * (models × targets: tok/s, TTFT, total time), the per-model decisions and the overall
 * recommendation, with a legend tied to the seed's decision matrix. Pure: no I/O, no clock.
 */
import type { KageReport } from '../report-json.js';
import { escapeMarkdown, truncate } from './escape.js';
import { DASH, formatDuration, formatRatio, formatSignedPercent, formatSpeedup, formatTps } from './format.js';
import { markdownTable } from './markdown-table.js';
import { promptPolicyText } from './prompt-policy.js';
import {
  EMULATED_NOTICE,
  resolveThresholds,
  legendNotes,
  verdictLegend,
  type DecisionThresholds,
  type RenderOptions,
} from './render-options.js';
import {
  NO_SAMPLES,
  UTILIZATION_HEADER,
  UTILIZATION_HINT,
  UTILIZATION_TITLE,
  utilizationLines,
} from './utilization-table.js';
import {
  buildReportView,
  cellNotes,
  cellSummaryText,
  okText,
  sortedDecisions,
  type ReportView,
} from './report-view.js';

/** Longest failure reason shown inside a table cell; the full text is listed under "Cell notes". */
const TABLE_REASON_CHARS = 40;

/** Renders a report as markdown (GitHub-flavoured; tables padded to line up in a terminal). */
export function renderMarkdown(report: KageReport, options: RenderOptions): string {
  const t = resolveThresholds(options);
  const view = buildReportView(report);
  const md = (s: string): string => escapeMarkdown(s);
  const out: string[] = [];

  const title = report.run.name.trim() === '' ? report.run.id : report.run.name;
  out.push(`# Kage benchmark report: ${md(title)}${options.emulated ? ' (EMULATED)' : ''}`);
  if (options.emulated) out.push(`> **${EMULATED_NOTICE}**`);
  out.push(runSummary(report, t));

  const primary = view.levels[0];
  if (primary === undefined) {
    out.push('## Comparison', 'No cells: nothing was measured in this run.');
  } else {
    out.push(
      `## Comparison: models × targets${view.levels.length > 1 ? ` (concurrency ${primary})` : ''}`,
      'Each cell: decode tok/s (median) · TTFT ms (median) · total s (end-to-end median). ' +
        `A dash (${DASH}) means the target has no cell for this model; failed (reason): no measured request succeeded; ` +
        'a success rate is shown where it is below 100 %.',
      comparisonTable(view, primary, false),
    );
  }
  if (view.levels.length > 1) {
    out.push(
      '## By concurrency',
      'Same cells at every concurrency level, plus agg = aggregate output tok/s of all parallel requests.',
    );
    for (const level of view.levels) out.push(`### Concurrency ${level}`, comparisonTable(view, level, true));
  }

  out.push('## Decisions', decisionsSection(report, view));
  out.push(recommendationSection(report, t));
  const notes = cellNotesSection(view);
  if (notes !== null) out.push('## Cell notes', notes);
  const utilization = utilizationSection(report);
  if (utilization !== null) out.push(`## ${UTILIZATION_TITLE}`, UTILIZATION_HINT, utilization);
  out.push('## How to read this', legendSection(t));
  if (options.emulated) out.push(`> **${EMULATED_NOTICE}**`);
  return `${out.join('\n\n')}\n`;
}

function runSummary(report: KageReport, t: DecisionThresholds): string {
  const r = report.run;
  const lines = [
    `- Run: ${escapeMarkdown(r.id)}${r.name.trim() === '' ? '' : ` (${escapeMarkdown(r.name)})`}`,
    `- Status: ${escapeMarkdown(r.status)}`,
    `- Started: ${escapeMarkdown(r.started_at)}`,
    `- Finished: ${r.finished_at === null ? 'not yet' : escapeMarkdown(r.finished_at)}` +
      withDuration(formatDuration(r.started_at, r.finished_at)),
  ];
  if (r.error !== null && r.error.trim() !== '') lines.push(`- Error: ${escapeMarkdown(r.error)}`);
  lines.push(`- ${escapeMarkdown(promptPolicyText(report))}`);
  const rec = report.recommendation;
  if (rec !== null) lines.push(`- Recommendation: **${rec.verdict}**: ${actionFor(rec.verdict, t)}`);
  return lines.join('\n');
}

function withDuration(d: string | null): string {
  return d === null ? '' : ` (took ${d})`;
}

function actionFor(verdict: string, t: DecisionThresholds): string {
  return verdictLegend(t).find((e) => e.verdict === verdict)?.action ?? '';
}

function comparisonTable(view: ReportView, level: number, withAggregate: boolean): string {
  const header = [
    'Model',
    ...view.targets.map((id) => escapeMarkdown(id) + (id === view.candidate ? ' (candidate)' : '')),
  ];
  const rows = view.models.map((model) => [
    escapeMarkdown(model),
    ...view.targets.map((target) => {
      const c = view.cell(model, target, level);
      switch (c.kind) {
        case 'missing':
          return DASH;
        case 'failed':
          return `failed (${escapeMarkdown(truncate(c.reason, TABLE_REASON_CHARS))})`;
        case 'ok': {
          const agg = withAggregate && c.cell.aggregate_tps !== null ? ` · agg ${formatTps(c.cell.aggregate_tps)}` : '';
          return cellSummaryText(c.cell) + agg;
        }
      }
    }),
  ]);
  return markdownTable(header, rows);
}

function decisionsSection(report: KageReport, view: ReportView): string {
  if (report.decisions.length === 0) {
    return report.run.status === 'completed'
      ? 'No decision: no model was compared.'
      : `No decisions yet: the run is ${escapeMarkdown(report.run.status)}.`;
  }
  const multi = view.levels.length > 1 || new Set(report.decisions.map((d) => d.concurrency)).size > 1;
  const header = [
    'Model',
    ...(multi ? ['Conc.'] : []),
    'Candidate vs baseline',
    'Speedup (95 % CI)',
    ...(multi ? ['Aggregate speedup'] : []),
    'TTFT ratio',
    'Success',
    'Cluster',
    'Verdict',
  ];
  const rows = sortedDecisions(report.decisions, view).map((d) => [
    escapeMarkdown(d.model),
    ...(multi ? [String(d.concurrency)] : []),
    `${escapeMarkdown(d.candidate)} vs ${d.baseline === null ? `${DASH} (no baseline ran it)` : escapeMarkdown(d.baseline)}`,
    formatSpeedup(d.speedup, d.speedup_ci95),
    ...(multi ? [formatSignedPercent(d.aggregate_speedup)] : []),
    d.ttft_ratio === null ? DASH : `${formatRatio(d.ttft_ratio)} ${okText(d.ttft_ok)}`,
    okText(d.success_ok),
    okText(d.cluster_ok),
    `**${d.verdict}**`,
  ]);
  const parts = [markdownTable(header, rows)];
  // Decision reasons usually reappear in the recommendation's reasons; list only those that do not.
  const recText = (report.recommendation?.reasons ?? []).join('\n');
  const extra = sortedDecisions(report.decisions, view).flatMap((d) =>
    d.reasons
      .filter((r) => !recText.includes(r))
      .map((r) => `- ${escapeMarkdown(d.model)} @ concurrency ${d.concurrency}: ${escapeMarkdown(r)}`),
  );
  if (extra.length > 0) parts.push(extra.join('\n'));
  return parts.join('\n\n');
}

function recommendationSection(report: KageReport, t: DecisionThresholds): string {
  const rec = report.recommendation;
  if (rec === null)
    return `## Recommendation\n\nNo recommendation yet: the run is ${escapeMarkdown(report.run.status)}.`;
  const reasons = rec.reasons.map((r) => `- ${escapeMarkdown(r)}`).join('\n');
  return [
    `## Recommendation: ${rec.verdict}`,
    `**${actionFor(rec.verdict, t)}**`,
    reasons === '' ? 'No reasons were recorded.' : reasons,
  ].join('\n\n');
}

function cellNotesSection(view: ReportView): string | null {
  const lines: string[] = [];
  for (const level of view.levels) {
    for (const model of view.models) {
      for (const target of view.targets) {
        const c = view.cell(model, target, level);
        if (c.kind === 'missing') continue;
        const notes = cellNotes(c.cell);
        if (notes.length === 0) continue;
        lines.push(
          `- ${escapeMarkdown(model)} on ${escapeMarkdown(target)} (concurrency ${level}): ` +
            notes.map(escapeMarkdown).join('; '),
        );
      }
    }
  }
  return lines.length === 0 ? null : lines.join('\n');
}

/** The per-cell node utilization table; null for a report without utilization (standalone run). */
function utilizationSection(report: KageReport): string | null {
  const lines = utilizationLines(report);
  if (lines === null) return null;
  if (lines.length === 0) return 'No cell measured anything yet.';
  const rows = lines.map((l) => [
    escapeMarkdown(l.model),
    escapeMarkdown(l.target),
    String(l.concurrency),
    l.node === null ? NO_SAMPLES : escapeMarkdown(l.node),
    ...l.values,
  ]);
  return markdownTable(UTILIZATION_HEADER, rows, ['left', 'left', 'right', 'left', 'right', 'right', 'right', 'right']);
}

function legendSection(t: DecisionThresholds): string {
  const table = markdownTable(
    ['Verdict', 'When', 'Action (seed decision matrix)'],
    verdictLegend(t).map((e) => [e.verdict, e.condition, e.action]),
  );
  return [
    table,
    legendNotes(t)
      .map((n) => `- ${n}`)
      .join('\n'),
  ].join('\n\n');
}
