/**
 * A grouped horizontal bar chart as inline SVG (no script, no external resource): one group per
 * model, one bar per target, a 95 % CI whisker where known, and the value and target written next
 * to every bar so the chart reads without colour. Horizontal bars keep long, user-chosen target
 * names legible however many there are.
 */
import { escapeHtml, truncate } from './escape.js';
import { formatTick } from './format.js';

/** One bar (or, without a value, one note such as `failed (oom ×5)`). */
export interface BarDatum {
  group: string;
  series: string;
  /** `null`: no bar; `note` is written instead. */
  value: number | null;
  ci95: readonly [number, number] | null;
  note?: string;
}

/** What to draw. */
export interface BarChartSpec {
  /** Unique within the page (used for ARIA ids). */
  id: string;
  title: string;
  /** Label of the value axis, with its unit. */
  axisLabel: string;
  /** Groups (models) top to bottom. */
  groups: readonly string[];
  /** Series (targets) in legend and colour order. */
  series: readonly string[];
  data: readonly BarDatum[];
  formatValue: (v: number) => string;
  /** Unit written after each value label (`tok/s`). */
  unit: string;
  /** Series to mark `(candidate)` in labels and legend. */
  highlight?: string | null;
  /** Writes a "not real measurements" line under the title. */
  emulated: boolean;
}

/** Okabe–Ito palette: distinguishable with the common colour-vision deficiencies. */
export const SERIES_COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#555555'];

const WIDTH = 960;
const CHAR_PX = 7; // rough advance of a 12 px sans-serif character
const ROW_H = 22;
const BAR_H = 14;
const GROUP_H = 22;
const RIGHT_MARGIN = 110;

/** Renders the chart as an `<svg>` element. */
export function renderBarChart(spec: BarChartSpec): string {
  const seriesLabel = (s: string): string => (s === spec.highlight ? `${s} (candidate)` : s);
  const labelChars = Math.min(38, Math.max(10, ...spec.series.map((s) => seriesLabel(s).length)));
  const x0 = 24 + labelChars * CHAR_PX + 10;
  const plotW = WIDTH - x0 - RIGHT_MARGIN;

  const values = spec.data.flatMap((d) => (d.value === null ? [] : [d.value, ...(d.ci95 ?? [])]));
  const { max, ticks } = niceScale(Math.max(0, ...values.filter((v) => Number.isFinite(v))));
  const sx = (v: number): number => x0 + (Math.min(Math.max(v, 0), max) / max) * plotW;

  const parts: string[] = [];
  let y = 24;
  parts.push(`<text class="chart-title" x="8" y="${y}">${escapeHtml(spec.title)}</text>`);
  if (spec.emulated) {
    y += 18;
    parts.push(`<text class="chart-emulated" x="8" y="${y}">EMULATED: not real measurements</text>`);
  }
  y += 12;
  y = legend(spec.series.map(seriesLabel), y, parts);

  // The category axis' title sits over the label column: a rotated title would not fit a short chart.
  parts.push(`<text class="axis-label" x="${x0 - 8}" y="${y + 14}" text-anchor="end">model / target</text>`);
  const plotTop = y + 22;
  y = plotTop;
  const rows: string[] = [];
  for (const group of spec.groups) {
    const inGroup = spec.series
      .map((s, i) => ({ s, i, d: spec.data.find((d) => d.group === group && d.series === s) }))
      .filter((e): e is { s: string; i: number; d: BarDatum } => e.d !== undefined);
    if (inGroup.length === 0) continue;
    rows.push(
      `<text class="chart-group" x="8" y="${y + 15}">${escapeHtml(truncate(group, (WIDTH - 16) / CHAR_PX))}</text>`,
    );
    y += GROUP_H;
    for (const { s, i, d } of inGroup) {
      const cy = y + ROW_H / 2;
      const label = truncate(seriesLabel(s), labelChars);
      rows.push(`<text class="chart-label" x="${x0 - 8}" y="${cy + 4}" text-anchor="end">${escapeHtml(label)}</text>`);
      if (d.value === null || !Number.isFinite(d.value)) {
        const note = truncate(d.note ?? 'no value', Math.floor(plotW / CHAR_PX));
        rows.push(`<text class="chart-note" x="${x0 + 4}" y="${cy + 4}">${escapeHtml(note)}</text>`);
      } else {
        rows.push(bar(spec, d, i, sx, x0, cy, d.value));
      }
      y += ROW_H;
    }
  }
  const plotBottom = Math.max(y, plotTop + ROW_H);
  const axis = axisMarkup(ticks, sx, plotTop, plotBottom, x0, plotW, spec.axisLabel);
  const height = plotBottom + 52;
  if (rows.length === 0) {
    rows.push(`<text class="chart-note" x="${x0 + 4}" y="${plotTop + 15}">no cells to chart</text>`);
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" ` +
      `height="${height}" role="img" aria-labelledby="${escapeHtml(spec.id)}-title">`,
    `<title id="${escapeHtml(spec.id)}-title">${escapeHtml(spec.title)}${spec.emulated ? ' (emulated)' : ''}</title>`,
    ...parts,
    ...axis,
    ...rows,
    '</svg>',
  ].join('\n');
}

function bar(
  spec: BarChartSpec,
  d: BarDatum,
  colourIndex: number,
  sx: (v: number) => number,
  x0: number,
  cy: number,
  value: number,
): string {
  const colour = SERIES_COLOURS[colourIndex % SERIES_COLOURS.length] ?? '#555555';
  // A tiny but real value still gets a visible sliver.
  const w = Math.max(1, sx(value) - x0);
  const ci = d.ci95 !== null && d.ci95.every(Number.isFinite) ? d.ci95 : null;
  const valueText = `${spec.formatValue(value)} ${spec.unit}`;
  const tip =
    `${d.group} · ${d.series}: ${valueText}` +
    (ci === null ? '' : ` (95 % CI ${spec.formatValue(ci[0])} – ${spec.formatValue(ci[1])})`);
  const out = [
    `<rect class="bar" x="${x0}" y="${cy - BAR_H / 2}" width="${num(w)}" height="${BAR_H}" fill="${colour}">` +
      `<title>${escapeHtml(tip)}</title></rect>`,
  ];
  let end = x0 + w;
  if (ci !== null) {
    const lo = sx(Math.min(ci[0], ci[1]));
    const hi = sx(Math.max(ci[0], ci[1]));
    out.push(
      `<g class="whisker"><line x1="${num(lo)}" y1="${cy}" x2="${num(hi)}" y2="${cy}"/>` +
        `<line x1="${num(lo)}" y1="${cy - 5}" x2="${num(lo)}" y2="${cy + 5}"/>` +
        `<line x1="${num(hi)}" y1="${cy - 5}" x2="${num(hi)}" y2="${cy + 5}"/></g>`,
    );
    end = Math.max(end, hi);
  }
  out.push(`<text class="chart-value" x="${num(end + 5)}" y="${cy + 4}">${escapeHtml(valueText)}</text>`);
  return out.join('');
}

function legend(labels: readonly string[], top: number, parts: string[]): number {
  let x = 8;
  let y = top;
  for (const [i, label] of labels.entries()) {
    const text = truncate(label, 40);
    const w = 22 + text.length * CHAR_PX + 18;
    if (x + w > WIDTH - 8 && x > 8) {
      x = 8;
      y += 20;
    }
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length] ?? '#555555';
    parts.push(
      `<g class="legend-item"><rect x="${x}" y="${y + 2}" width="14" height="14" fill="${colour}"/>` +
        `<text x="${x + 20}" y="${y + 13}">${escapeHtml(text)}</text></g>`,
    );
    x += w;
  }
  return y + 20;
}

function axisMarkup(
  ticks: readonly number[],
  sx: (v: number) => number,
  top: number,
  bottom: number,
  x0: number,
  plotW: number,
  label: string,
): string[] {
  const out = ticks.map(
    (t) =>
      `<line class="grid" x1="${num(sx(t))}" y1="${top}" x2="${num(sx(t))}" y2="${bottom}"/>` +
      `<text class="tick" x="${num(sx(t))}" y="${bottom + 16}" text-anchor="middle">${escapeHtml(formatTick(t))}</text>`,
  );
  out.push(`<line class="axis" x1="${x0}" y1="${bottom}" x2="${x0 + plotW}" y2="${bottom}"/>`);
  out.push(`<line class="axis" x1="${x0}" y1="${top}" x2="${x0}" y2="${bottom}"/>`);
  out.push(
    `<text class="axis-label" x="${num(x0 + plotW / 2)}" y="${bottom + 38}" text-anchor="middle">${escapeHtml(label)}</text>`,
  );
  return out;
}

/** A 0-based axis: a round maximum ≥ `max` and 4–8 evenly spaced round ticks. */
export function niceScale(max: number): { max: number; ticks: number[] } {
  if (!(max > 0) || !Number.isFinite(max)) return { max: 1, ticks: [0, 0.25, 0.5, 0.75, 1] };
  const rough = max / 5;
  const mag = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= rough) ?? 10) * mag;
  const top = Math.ceil(max / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; i * step <= top + step * 1e-9 && i <= 20; i++) ticks.push(Number((i * step).toPrecision(12)));
  return { max: top, ticks };
}

function num(v: number): string {
  return String(Math.round(v * 10) / 10);
}
