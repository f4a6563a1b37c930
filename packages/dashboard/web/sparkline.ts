/**
 * A sparkline: one SVG polyline over the last five minutes, drawn anew on each sample (a few
 * hundred points at most). The text beside it carries the value for screen readers; the drawing
 * itself is hidden from them.
 */
import { svg } from './dom.js';
import { SPARK_WINDOW_MS } from './lab-state.js';

const W = 120;
const H = 28;

export function sparkline(points: readonly { t: number; v: number | null }[], max: number, now: number): SVGElement {
  const coords: string[] = [];
  for (const p of points) {
    if (p.v === null) continue;
    const x = W - ((now - p.t) / SPARK_WINDOW_MS) * W;
    if (x < 0) continue;
    const y = H - 1 - (Math.min(Math.max(p.v, 0), max) / (max || 1)) * (H - 2);
    coords.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  }
  return svg(
    'svg',
    { class: 'spark', viewBox: `0 0 ${W} ${H}`, width: W, height: H, 'aria-hidden': 'true', focusable: 'false' },
    svg('polyline', { points: coords.join(' '), fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5 }),
  );
}
