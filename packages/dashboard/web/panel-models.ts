/**
 * Models: which model ran on which target in the latest finished run, and the most memory each
 * node used while it did. The API does not report which models a server holds right now, so this
 * is what the lab last measured, and the panel says so.
 */
import type { KageReport } from './api-types.js';
import { el, replace } from './dom.js';
import { bytes, num } from './format.js';

export function renderModels(root: HTMLElement, report: KageReport | null): void {
  if (report === null) {
    replace(root, el('p', {}, 'No finished run yet: models show here once one has run.'));
    return;
  }
  const nodes = [...new Set(report.cells.flatMap((c) => Object.keys(c.utilization ?? {})))].sort();
  const th = (h: string): HTMLElement => el('th', { scope: 'col' }, h);
  replace(
    root,
    el('p', { class: 'muted' }, `From run ${report.run.name} (the API does not list the models loaded right now).`),
    el(
      'table',
      { class: 'models' },
      el('caption', { class: 'sr-only' }, 'Models per target, with the peak memory per node while each ran'),
      el(
        'thead',
        {},
        el('tr', {}, th('Model'), th('Target'), th('Decode tok/s'), ...nodes.map((n) => th(`${n} memory`))),
      ),
      el(
        'tbody',
        {},
        ...report.cells.map((c) =>
          el(
            'tr',
            {},
            el('th', { scope: 'row' }, c.model),
            el('td', {}, c.target),
            el('td', {}, c.successes > 0 ? num(c.decode_tps.median) : 'did not run'),
            ...nodes.map((n) => el('td', {}, bytes(c.utilization?.[n]?.mem_used_bytes?.max))),
          ),
        ),
      ),
    ),
  );
}
