/**
 * A sparkline: one metric over the last five minutes, a line over a faint area. It is built once
 * per card and updated in place. Points are placed by time (x in seconds from the first one drawn)
 * and the view box slides to the newest sample, so a drawn point's coordinates never change: each
 * is formatted once, and a new sample costs two `points` writes and a `viewBox` write rather than a
 * new SVG element. Until five minutes have been seen the view box spans what there is, so a page
 * just opened shows a line across the box rather than a sliver at its right edge. The text beside
 * it carries the value for screen readers; the drawing itself is hidden from them.
 */
import { svg } from './dom.js';
import { SPARK_WINDOW_MS, type SeriesPoint } from './lab-state.js';

const WINDOW_S = SPARK_WINDOW_MS / 1000;
/** Height in drawing units, which are CSS pixels vertically (style.css gives the box this height). */
const H = 32;
/** Room above the maximum and below zero, so a 2 px line at either is not cut in half. */
const PAD = 2;
const ZERO_Y = H - PAD;
/** The narrowest view box, so two samples a second apart already make a line across it. */
const MIN_SPAN_S = 1;

export interface Sparkline {
  readonly element: SVGElement;
  /** Draws `series` (oldest first) scaled 0…max, its right edge at `edge` (ms); writes only what changed. */
  update(series: readonly SeriesPoint[], pick: (p: SeriesPoint) => number | null, max: number, edge: number): void;
}

export function createSparkline(): Sparkline {
  const area = svg('polygon', { class: 'spark-area' });
  const line = svg('polyline', { class: 'spark-line' });
  // preserveAspectRatio none: five minutes fill the card's width, whatever it is (the line keeps
  // its width through vector-effect in style.css).
  const element = svg(
    'svg',
    {
      class: 'spark',
      viewBox: `0 0 ${WINDOW_S} ${H}`,
      preserveAspectRatio: 'none',
      'aria-hidden': 'true',
      focusable: 'false',
    },
    area,
    line,
  );
  let origin: number | null = null;
  let scale = Number.NaN;
  let drawn = '';
  let view = '';
  /** Each drawn point's "x,y" by its time. */
  const coords = new Map<number, string>();
  const x = (t: number): string => ((t - (origin ?? t)) / 1000).toFixed(1);

  return {
    element,
    update(series, pick, max, edge) {
      origin ??= series[0]?.t ?? edge;
      // A new maximum (more memory, another GPU) moves every point.
      if (max !== scale) coords.clear();
      scale = max;
      const parts: string[] = [];
      let first: number | null = null;
      let last: number | null = null;
      for (const p of series) {
        const v = pick(p);
        if (v === null) continue;
        let c = coords.get(p.t);
        if (c === undefined) {
          const y = ZERO_Y - (Math.min(Math.max(v, 0), max) / (max || 1)) * (H - 2 * PAD);
          c = `${x(p.t)},${y.toFixed(1)}`;
          coords.set(p.t, c);
        }
        parts.push(c);
        first ??= p.t;
        last = p.t;
      }
      // Points the series no longer holds (older than its window) are forgotten.
      if (coords.size > parts.length) for (const t of coords.keys()) if (first === null || t < first) coords.delete(t);
      // Kept in the layout, so a first sample moves nothing: a metric without data (no GPU) shows no box.
      element.classList.toggle('empty', first === null);
      const points = parts.join(' ');
      if (points !== drawn) {
        drawn = points;
        line.setAttribute('points', points);
        area.setAttribute(
          'points',
          first === null || last === null ? '' : `${x(first)},${ZERO_Y} ${points} ${x(last)},${ZERO_Y}`,
        );
      }
      if (first === null) return;
      const right = (edge - origin) / 1000;
      const span = Math.min(WINDOW_S, Math.max(right - (first - origin) / 1000, MIN_SPAN_S));
      const box = `${(right - span).toFixed(1)} 0 ${span.toFixed(1)} ${H}`;
      if (box !== view) {
        view = box;
        element.setAttribute('viewBox', box);
      }
    },
  };
}
