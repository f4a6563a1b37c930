/**
 * HTML rendering of a report (`kage report --format html`): one self-contained page (inline CSS
 * and SVG, no script, no external resource, and a Content-Security-Policy that forbids both) with
 * the markdown report's tables plus grouped bar charts of decode rate and TTFT. Every string from
 * the report is escaped: names come from user files. Pure: no I/O, no clock.
 */
import type { KageReport, ReportCell } from '../report-json.js';
import { escapeHtml, truncate } from './escape.js';
import {
  DASH,
  formatDuration,
  formatMs,
  formatRatio,
  formatSecondsFromMs,
  formatSignedPercent,
  formatSpeedup,
  formatTps,
} from './format.js';
import { HTML_STYLE } from './html-style.js';
import {
  EMULATED_NOTICE,
  resolveThresholds,
  legendNotes,
  verdictLegend,
  type DecisionThresholds,
  type RenderOptions,
} from './render-options.js';
import {
  buildReportView,
  cellNotes,
  okText,
  sortedDecisions,
  successRateText,
  type ReportView,
} from './report-view.js';
import { renderBarChart, type BarDatum } from './svg-bar-chart.js';
import {
  NO_SAMPLES,
  UTILIZATION_HEADER,
  UTILIZATION_HINT,
  UTILIZATION_TITLE,
  utilizationLines,
} from './utilization-table.js';
import { promptPolicyText } from './prompt-policy.js';

const h = escapeHtml;
/** Longest failure reason shown in a table cell or chart; the full text is under "Cell notes". */
const REASON_CHARS = 60;

/** Renders a report as one self-contained HTML document. */
export function renderHtml(report: KageReport, options: RenderOptions): string {
  const t = resolveThresholds(options);
  const view = buildReportView(report);
  const title = report.run.name.trim() === '' ? report.run.id : report.run.name;
  const banner = options.emulated
    ? `<div class="emulated-banner" role="alert"><span class="tag">EMULATED</span>${h(EMULATED_NOTICE)}</div>`
    : '';
  const body = [
    banner,
    `<header><h1>Kage benchmark report: ${h(title)}${options.emulated ? ' (emulated)' : ''}</h1>${runList(report)}</header>`,
    recommendationSection(report, t),
    comparisonSection(view),
    chartsSection(view, options.emulated),
    concurrencySection(view),
    decisionsSection(report, view),
    notesSection(view),
    utilizationSection(report),
    legendSection(t),
    `<footer>${banner === '' ? '' : `<p><strong>${h(EMULATED_NOTICE)}</strong></p>`}` +
      `<p>Report schema ${h(report.schema)} · run ${h(report.run.id)}</p></footer>`,
  ];
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    // Defence in depth: even a missed escape could neither run a script nor fetch anything.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${options.emulated ? '[EMULATED] ' : ''}Kage report: ${h(title)}</title>`,
    `<style>${HTML_STYLE}</style>`,
    '</head>',
    '<body>',
    ...body.filter((s) => s !== ''),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function runList(report: KageReport): string {
  const r = report.run;
  const duration = formatDuration(r.started_at, r.finished_at);
  const rows: Array<[string, string]> = [
    ['Run', `${h(r.id)}${r.name.trim() === '' ? '' : ` (${h(r.name)})`}`],
    ['Status', h(r.status)],
    ['Started', h(r.started_at)],
    [
      'Finished',
      (r.finished_at === null ? 'not yet' : h(r.finished_at)) + (duration === null ? '' : ` (took ${duration})`),
    ],
  ];
  if (r.error !== null && r.error.trim() !== '') rows.push(['Error', h(r.error)]);
  rows.push(['Prompts', h(promptPolicyText(report).replace(/^Prompts: /, ''))]);
  return `<dl class="run">${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

/** A verdict as a badge: the word itself, coloured as a second cue. */
function verdictBadge(verdict: string): string {
  return `<span class="verdict ${verdictClass(verdict)}">${h(verdict)}</span>`;
}

function verdictClass(verdict: string): string {
  return `v-${verdict.replace(/[^a-z0-9-]/gi, '')}`;
}

function recommendationSection(report: KageReport, t: DecisionThresholds): string {
  const rec = report.recommendation;
  if (rec === null) {
    return `<section class="recommendation"><h2>Recommendation</h2><p>No recommendation yet: the run is ${h(report.run.status)}.</p></section>`;
  }
  const action = verdictLegend(t).find((e) => e.verdict === rec.verdict)?.action ?? '';
  const reasons = rec.reasons.length === 0 ? '<p>No reasons were recorded.</p>' : list(rec.reasons);
  return (
    `<section class="recommendation ${verdictClass(rec.verdict)}"><h2>Recommendation: ${verdictBadge(rec.verdict)}</h2>` +
    `<p class="action">${h(action)}</p>${reasons}</section>`
  );
}

function list(items: readonly string[], cls?: string): string {
  return `<ul${cls === undefined ? '' : ` class="${cls}"`}>${items.map((i) => `<li>${h(i)}</li>`).join('')}</ul>`;
}

function comparisonSection(view: ReportView): string {
  const primary = view.levels[0];
  if (primary === undefined)
    return '<section><h2>Comparison</h2><p>No cells: nothing was measured in this run.</p></section>';
  return (
    `<section><h2>Comparison: models × targets${view.levels.length > 1 ? ` (concurrency ${primary})` : ''}</h2>` +
    '<p class="hint">Each cell: decode tok/s (median) · TTFT ms (median) · total s (end-to-end median). ' +
    `A dash (${DASH}) means the target has no cell for this model; failed (reason): no measured request succeeded; ` +
    'a success rate is shown where it is below 100 %.</p>' +
    `${matrixTable(view, primary, false)}</section>`
  );
}

function matrixTable(view: ReportView, level: number, withAggregate: boolean): string {
  const head = view.targets
    .map(
      (id) => `<th scope="col">${h(id)}${id === view.candidate ? ' <span class="muted">(candidate)</span>' : ''}</th>`,
    )
    .join('');
  const rows = view.models.map((model) => {
    const tds = view.targets.map((target) => {
      const c = view.cell(model, target, level);
      switch (c.kind) {
        case 'missing':
          return `<td class="cell missing">${DASH}</td>`;
        case 'failed':
          return `<td class="cell failed">failed (${h(truncate(c.reason, REASON_CHARS))})</td>`;
        case 'ok':
          return `<td class="cell">${okCell(c.cell, withAggregate)}</td>`;
      }
    });
    return `<tr><td class="model">${h(model)}</td>${tds.join('')}</tr>`;
  });
  return `<div class="scroll"><table class="matrix"><thead><tr><th scope="col">Model</th>${head}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

function okCell(cell: ReportCell, withAggregate: boolean): string {
  const rate = successRateText(cell);
  const agg = withAggregate && cell.aggregate_tps !== null ? ` · agg ${formatTps(cell.aggregate_tps)} tok/s` : '';
  return (
    `<div class="tps">${formatTps(cell.decode_tps.median)} tok/s</div>` +
    `<div class="sub">${formatMs(cell.ttft_ms.median)} ms · ${formatSecondsFromMs(cell.e2e_ms.median)} s${agg}</div>` +
    (rate === null ? '' : `<div class="warn">${h(rate)}</div>`)
  );
}

function chartsSection(view: ReportView, emulated: boolean): string {
  if (view.levels.length === 0) return '';
  const charts: string[] = [];
  for (const level of view.levels) {
    const suffix = view.levels.length > 1 ? ` at concurrency ${level}` : '';
    const tps: BarDatum[] = [];
    const ttft: BarDatum[] = [];
    for (const model of view.models) {
      for (const target of view.targets) {
        const c = view.cell(model, target, level);
        if (c.kind === 'missing') continue;
        const note = c.kind === 'failed' ? `failed (${truncate(c.reason, REASON_CHARS)})` : 'not measured';
        const cell = c.cell;
        tps.push({
          group: model,
          series: target,
          value: ok(c.kind, cell.decode_tps.median),
          ci95: cell.decode_tps.ci95,
          note,
        });
        ttft.push({
          group: model,
          series: target,
          value: ok(c.kind, cell.ttft_ms.median),
          ci95: cell.ttft_ms.ci95 ?? null,
          note,
        });
      }
    }
    const common = { groups: view.models, series: view.targets, highlight: view.candidate, emulated };
    charts.push(
      renderBarChart({
        ...common,
        id: `chart-tps-${level}`,
        title: `Decode rate, median tok/s with 95 % CI${suffix} (higher is better)`,
        axisLabel: 'decode tokens per second (median; whiskers: 95 % CI)',
        data: tps,
        formatValue: formatTps,
        unit: 'tok/s',
      }),
      renderBarChart({
        ...common,
        id: `chart-ttft-${level}`,
        title: `Time to first token, median ms with 95 % CI${suffix} (lower is better)`,
        axisLabel: 'time to first token, ms (median; whiskers: 95 % CI)',
        data: ttft,
        formatValue: formatMs,
        unit: 'ms',
      }),
    );
  }
  return `<section><h2>Charts</h2><div class="charts">${charts.join('\n')}</div></section>`;
}

function ok(kind: 'failed' | 'ok', v: number | null): number | null {
  return kind === 'ok' ? v : null;
}

function concurrencySection(view: ReportView): string {
  if (view.levels.length <= 1) return '';
  const parts = view.levels.map((level) => `<h3>Concurrency ${level}</h3>${matrixTable(view, level, true)}`);
  return (
    '<section><h2>By concurrency</h2><p class="hint">Same cells at every concurrency level, plus agg = aggregate ' +
    `output tok/s of all parallel requests.</p>${parts.join('')}</section>`
  );
}

function decisionsSection(report: KageReport, view: ReportView): string {
  if (report.decisions.length === 0) {
    const why =
      report.run.status === 'completed'
        ? 'No decision: no model was compared.'
        : `No decisions yet: the run is ${h(report.run.status)}.`;
    return `<section><h2>Decisions</h2><p>${why}</p></section>`;
  }
  const multi = view.levels.length > 1 || new Set(report.decisions.map((d) => d.concurrency)).size > 1;
  const okCls = (v: boolean | null): string => `<td class="nowrap${v === false ? ' not-ok' : ''}">${okText(v)}</td>`;
  const head = [
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
  const rows = sortedDecisions(report.decisions, view).map((d) => {
    const ttft =
      d.ttft_ratio === null
        ? `<td>${DASH}</td>`
        : `<td class="nowrap${d.ttft_ok === false ? ' not-ok' : ''}">${formatRatio(d.ttft_ratio)} ${okText(d.ttft_ok)}</td>`;
    return (
      `<tr><td class="model">${h(d.model)}</td>${multi ? `<td class="num">${d.concurrency}</td>` : ''}` +
      `<td>${h(d.candidate)} vs ${d.baseline === null ? `${DASH} (no baseline ran it)` : h(d.baseline)}</td>` +
      `<td class="num">${formatSpeedup(d.speedup, d.speedup_ci95)}</td>` +
      (multi ? `<td class="num">${formatSignedPercent(d.aggregate_speedup)}</td>` : '') +
      `${ttft}${okCls(d.success_ok)}${okCls(d.cluster_ok)}<td>${verdictBadge(d.verdict)}</td></tr>`
    );
  });
  // Decision reasons usually reappear in the recommendation's reasons; list only those that do not.
  const recText = (report.recommendation?.reasons ?? []).join('\n');
  const extra = sortedDecisions(report.decisions, view).flatMap((d) =>
    d.reasons.filter((r) => !recText.includes(r)).map((r) => `${d.model} @ concurrency ${d.concurrency}: ${r}`),
  );
  return (
    `<section><h2>Decisions</h2><div class="scroll"><table class="decisions"><thead><tr>${head.map((x) => `<th scope="col">${x}</th>`).join('')}` +
    `</tr></thead><tbody>${rows.join('')}</tbody></table></div>${extra.length === 0 ? '' : list(extra, 'notes')}</section>`
  );
}

function notesSection(view: ReportView): string {
  const items: string[] = [];
  for (const level of view.levels) {
    for (const model of view.models) {
      for (const target of view.targets) {
        const c = view.cell(model, target, level);
        if (c.kind === 'missing') continue;
        const notes = cellNotes(c.cell);
        if (notes.length > 0) items.push(`${model} on ${target} (concurrency ${level}): ${notes.join('; ')}`);
      }
    }
  }
  return items.length === 0 ? '' : `<section><h2>Cell notes</h2>${list(items, 'notes')}</section>`;
}

/** The per-cell node utilization table; nothing for a report without utilization (standalone run). */
function utilizationSection(report: KageReport): string {
  const lines = utilizationLines(report);
  if (lines === null) return '';
  const head = `<section><h2>${h(UTILIZATION_TITLE)}</h2><p class="hint">${h(UTILIZATION_HINT)}</p>`;
  if (lines.length === 0) return `${head}<p>No cell measured anything yet.</p></section>`;
  const rows = lines.map(
    (l) =>
      `<tr><td class="model">${h(l.model)}</td><td>${h(l.target)}</td><td class="num">${l.concurrency}</td>` +
      `<td>${l.node === null ? `<span class="muted">${NO_SAMPLES}</span>` : h(l.node)}</td>` +
      l.values.map((v) => `<td class="num">${h(v)}</td>`).join('') +
      '</tr>',
  );
  return (
    `${head}<div class="scroll"><table class="utilization"><thead><tr>` +
    UTILIZATION_HEADER.map((x) => `<th scope="col">${h(x)}</th>`).join('') +
    `</tr></thead><tbody>${rows.join('')}</tbody></table></div></section>`
  );
}

function legendSection(t: DecisionThresholds): string {
  const rows = verdictLegend(t)
    .map((e) => `<tr><td>${verdictBadge(e.verdict)}</td><td>${h(e.condition)}</td><td>${h(e.action)}</td></tr>`)
    .join('');
  return (
    '<section><h2>How to read this</h2><div class="scroll"><table class="legend"><thead><tr><th scope="col">Verdict</th>' +
    `<th scope="col">When</th><th scope="col">Action (seed decision matrix)</th></tr></thead><tbody>${rows}</tbody></table></div>` +
    list(legendNotes(t), 'legend-notes') +
    '</section>'
  );
}
