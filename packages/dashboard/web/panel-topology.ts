/**
 * Topology: the coordinator, the nodes that report to it, and where EXO runs. The API gives each
 * node's services; the EXO cluster is named by the hostnames whose EXO service is running and
 * healthy, by the name each node gives EXO (EXO 1.x identifies nodes by that name; its ids change on
 * every start).
 */
import { el, replace } from './dom.js';
import { ago } from './format.js';
import { isStale, type LabState } from './lab-state.js';

export function renderTopology(root: HTMLElement, state: LabState): void {
  const now = Date.now();
  const nodes = [...state.nodes.values()].sort((a, b) => a.view.id.localeCompare(b.view.id));
  const exo = nodes.filter(
    (n) => !isStale(n, now) && n.view.services.some((s) => s.name === 'exo' && s.state === 'running' && s.healthy),
  );
  replace(
    root,
    el(
      'div',
      { class: 'topo' },
      el('div', { class: 'topo-coordinator' }, el('strong', {}, 'coordinator'), ` version ${state.version}`),
      el(
        'ul',
        { class: 'topo-nodes', 'aria-label': 'nodes' },
        ...nodes.map((n) => {
          const stale = isStale(n, now);
          return el(
            'li',
            { class: `topo-node ${stale ? 'stale' : 'online'}`, 'data-node': n.view.id },
            el('strong', {}, n.view.id),
            n.view.hostname === n.view.id ? null : el('span', { class: 'muted' }, ` (host ${n.view.hostname})`),
            ' ',
            el('span', { class: 'badge' }, stale ? 'stale' : 'online'),
            el('span', { class: 'muted' }, ` last seen ${ago(n.view.last_seen, now)}`),
            el(
              'span',
              { class: 'topo-services' },
              n.view.services.map((s) => `${s.name} ${s.state}${s.healthy ? '' : ' (unhealthy)'}`).join(' · '),
            ),
          );
        }),
      ),
      el(
        'p',
        { class: 'topo-exo', 'data-exo-members': exo.map((n) => n.view.id).join(',') },
        el('strong', {}, 'EXO cluster: '),
        exo.length === 0 ? 'no healthy EXO node' : exo.map((n) => n.view.id).join(', '),
      ),
    ),
  );
}
