/**
 * Speedup with its 95 % confidence interval, one bar per model on a shared axis through 0 (no
 * gain): the interval as a bar, the point estimate as a tick. The table beside it gives the same
 * numbers as text, so the drawing is hidden from screen readers.
 */
import type { ReportDecision } from './api-types.js';
import { svg } from './dom.js';

const W = 320;
const ROW = 22;

export function ciBars(decisions: readonly ReportDecision[]): SVGElement {
  const values = decisions
    .flatMap((d) => [d.speedup, ...(d.speedup_ci95 ?? [])])
    .filter((v): v is number => v !== null);
  const lo = Math.min(-0.1, ...values);
  const hi = Math.max(0.4, ...values);
  const x = (v: number): number => 90 + ((v - lo) / (hi - lo)) * (W - 100);
  const height = decisions.length * ROW + 18;
  const parts: SVGElement[] = [
    svg('line', { x1: x(0), x2: x(0), y1: 0, y2: height - 14, class: 'axis' }),
    svg('text', { x: x(0), y: height - 2, 'text-anchor': 'middle', class: 'tick' }, '0'),
    svg('text', { x: x(hi), y: height - 2, 'text-anchor': 'end', class: 'tick' }, `+${(hi * 100).toFixed(0)} %`),
  ];
  decisions.forEach((d, i) => {
    const y = i * ROW + 4;
    parts.push(svg('text', { x: 0, y: y + 12, class: 'label' }, d.model.slice(0, 14)));
    if (d.speedup_ci95 !== null) {
      const [a, b] = d.speedup_ci95;
      parts.push(
        svg('rect', { x: x(a), y: y + 3, width: Math.max(2, x(b) - x(a)), height: 12, class: `ci ${d.verdict}` }),
      );
    }
    if (d.speedup !== null) parts.push(svg('rect', { x: x(d.speedup) - 1, y, width: 3, height: 18, class: 'point' }));
  });
  return svg(
    'svg',
    { class: 'ci-bars', viewBox: `0 0 ${W} ${height}`, width: W, height, 'aria-hidden': 'true', focusable: 'false' },
    ...parts,
  );
}
