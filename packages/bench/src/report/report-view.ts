/**
 * The shape both renderers draw from a report: which models, targets and concurrency levels it
 * has, in run order, and what each model × target cell says. Keeping this in one place makes the
 * markdown and HTML outputs agree cell for cell.
 */
import type { KageReport, ReportCell, ReportDecision } from '../report-json.js';
import { formatMs, formatPercent, formatSecondsFromMs, formatTps } from './format.js';

/** What one model × target × concurrency cell shows. */
export type CellView =
  /** The target has no cell for this model (not in the matrix, or not reached). */
  | { kind: 'missing' }
  /** No measured request succeeded. */
  | { kind: 'failed'; cell: ReportCell; reason: string }
  /** At least one success. */
  | { kind: 'ok'; cell: ReportCell };

/** Models, targets and levels of a report, each in first-seen (run) order. */
export interface ReportView {
  models: string[];
  targets: string[];
  /** Ascending; the first is the primary (single-stream) level. */
  levels: number[];
  /** The decisions' candidate, when there are decisions. */
  candidate: string | null;
  /** Looks up one cell. */
  cell(model: string, target: string, concurrency: number): CellView;
  /** Decisions in report order. */
  decisions: ReportDecision[];
}

/** Builds the view of a report. */
export function buildReportView(report: KageReport): ReportView {
  const models = unique(report.cells.map((c) => c.model).concat(report.decisions.map((d) => d.model)));
  const targets = unique(report.cells.map((c) => c.target));
  const levels = unique(report.cells.map((c) => c.concurrency)).sort((a, b) => a - b);
  const byKey = new Map<string, ReportCell>();
  for (const c of report.cells) byKey.set(key(c.model, c.target, c.concurrency), c);
  const candidate = report.decisions[0]?.candidate ?? null;
  // A candidate with no cell at all still gets a column, so its absence is visible.
  if (candidate !== null && !targets.includes(candidate)) targets.push(candidate);
  return {
    models,
    targets,
    levels,
    candidate,
    decisions: report.decisions,
    cell(model, target, concurrency) {
      const c = byKey.get(key(model, target, concurrency));
      if (c === undefined) return { kind: 'missing' };
      if (c.successes <= 0) return { kind: 'failed', cell: c, reason: failureReason(c) };
      return { kind: 'ok', cell: c };
    },
  };
}

function key(model: string, target: string, concurrency: number): string {
  return JSON.stringify([model, target, concurrency]);
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

/** Why a cell has no success, in a few words: the cell's own error, else the failure kinds, else the count. */
export function failureReason(cell: ReportCell): string {
  if (cell.error !== null && cell.error.trim() !== '') return cell.error.trim();
  const kinds = failureKinds(cell);
  if (kinds !== '') return kinds;
  if (cell.attempts === 0) return cell.status === 'completed' ? 'no measured request' : `cell ${cell.status}`;
  return `0/${cell.attempts} succeeded`;
}

/** Failed attempts by kind (`oom ×5, timeout ×1`), largest first; empty when none are recorded. */
export function failureKinds(cell: ReportCell): string {
  return Object.entries(cell.failures)
    .filter((e): e is [string, number] => typeof e[1] === 'number' && e[1] > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([kind, n]) => `${kind} ×${n}`)
    .join(', ');
}

/** The seed table's cell text: `tok/s · TTFT ms · total s`, plus the success rate when below 100 %. */
export function cellSummaryText(cell: ReportCell): string {
  const parts = [
    `${formatTps(cell.decode_tps.median)} tok/s`,
    `${formatMs(cell.ttft_ms.median)} ms`,
    `${formatSecondsFromMs(cell.e2e_ms.median)} s`,
  ];
  const rate = successRateText(cell);
  if (rate !== null) parts.push(rate);
  return parts.join(' · ');
}

/** `4/5 ok (80 %)` when the success rate is below 100 %, else `null`. */
export function successRateText(cell: ReportCell): string | null {
  if (cell.attempts > 0 && cell.successes >= cell.attempts) return null;
  return `${cell.successes}/${cell.attempts} ok (${formatPercent(cell.success_rate)})`;
}

/** Cells worth a note: any failed attempt, a cell-level error, or Ollama unhealthy around the cell. */
export function cellNotes(cell: ReportCell): string[] {
  const notes: string[] = [];
  if (cell.successes < cell.attempts || cell.attempts === 0 || cell.status === 'failed') {
    const kinds = failureKinds(cell);
    notes.push(`${cell.successes}/${cell.attempts} measured requests succeeded${kinds === '' ? '' : ` (${kinds})`}`);
  }
  if (cell.error !== null && cell.error.trim() !== '') notes.push(cell.error.trim());
  const h = cell.ollama_health;
  if (h !== null && (h.before === false || h.after === false)) {
    const when = [h.before === false ? 'before' : null, h.after === false ? 'after' : null].filter((w) => w !== null);
    notes.push(`Ollama health check failed ${when.join(' and ')} the cell`);
  }
  return notes;
}

/** Decisions by model (run order), then concurrency. */
export function sortedDecisions(decisions: readonly ReportDecision[], view: ReportView): ReportDecision[] {
  return [...decisions].sort(
    (a, b) => view.models.indexOf(a.model) - view.models.indexOf(b.model) || a.concurrency - b.concurrency,
  );
}

/** `ok` / `NOT ok` / `not checked` for a criterion that may be unknown. */
export function okText(ok: boolean | null): string {
  return ok === null ? 'not checked' : ok ? 'ok' : 'NOT ok';
}
