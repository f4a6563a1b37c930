/**
 * Topology: the coordinator, the nodes that report to it, and where EXO runs. The API gives each
 * node's services; the EXO cluster is named by the hostnames whose EXO service is running and
 * healthy, by the name each node gives EXO (EXO 1.x identifies nodes by that name; its ids change on
 * every start). Built once and updated in place; staleness (and so the EXO cluster) and "last seen"
 * move with time alone and have their own pass, `tickTopology`, that writes only what changed.
 */
import { el, replace, setData, setText } from './dom.js';
import { ago } from './format.js';
import { isStale, lastHeard, type LabState } from './lab-state.js';

interface Item {
  li: HTMLElement;
  hostname: string;
  badge: HTMLElement;
  seen: HTMLElement;
  services: HTMLElement;
}

interface View {
  root: HTMLElement;
  version: Text;
  list: HTMLElement;
  /** By node id, in the order shown (by id). */
  items: Map<string, Item>;
  exo: HTMLElement;
  members: Text;
}

let view: View | null = null;

function build(root: HTMLElement): View {
  const version = document.createTextNode('');
  const list = el('ul', { class: 'topo-nodes', 'aria-label': 'nodes' });
  const members = document.createTextNode('');
  const exo = el('p', { class: 'topo-exo' }, el('strong', {}, 'EXO cluster: '), members);
  replace(
    root,
    el(
      'div',
      { class: 'topo' },
      el('div', { class: 'topo-coordinator' }, el('strong', {}, 'coordinator'), version),
      list,
      exo,
    ),
  );
  return { root, version, list, items: new Map(), exo, members };
}

function buildItem(id: string, hostname: string): Item {
  const badge = el('span', { class: 'badge' });
  const seen = el('span', { class: 'muted' });
  const services = el('span', { class: 'topo-services' });
  const li = el(
    'li',
    { class: 'topo-node', 'data-node': id },
    el('strong', {}, id),
    hostname === id ? null : el('span', { class: 'muted' }, ` (host ${hostname})`),
    ' ',
    badge,
    seen,
    services,
  );
  return { li, hostname, badge, seen, services };
}

/** What moves with time alone: each node stale or not, when it was last heard of, and the EXO cluster. */
function updateTimes(v: View, state: LabState, now: number): void {
  const exo: string[] = [];
  for (const [id, item] of v.items) {
    const n = state.nodes.get(id);
    if (n === undefined) continue;
    const stale = isStale(n, now);
    item.li.classList.toggle('stale', stale);
    item.li.classList.toggle('online', !stale);
    setText(item.badge, stale ? 'stale' : 'online');
    setText(item.seen, ` last seen ${ago(lastHeard(n), now)}`);
    if (!stale && n.view.services.some((s) => s.name === 'exo' && s.state === 'running' && s.healthy)) exo.push(id);
  }
  setData(v.exo, 'exoMembers', exo.join(','));
  setText(v.members, exo.length === 0 ? 'no healthy EXO node' : exo.join(', '));
}

export function renderTopology(root: HTMLElement, state: LabState, now = Date.now()): void {
  if (view === null || view.root !== root) view = build(root);
  const v = view;
  setText(v.version, ` version ${state.version}`);
  const ids = [...state.nodes.keys()].sort((a, b) => a.localeCompare(b));
  let added = false;
  for (const id of ids) {
    const n = state.nodes.get(id);
    if (n === undefined) continue;
    let item = v.items.get(id);
    if (item === undefined || item.hostname !== n.view.hostname) {
      const fresh = buildItem(id, n.view.hostname);
      if (item === undefined) added = true;
      else item.li.replaceWith(fresh.li);
      item = fresh;
      v.items.set(id, item);
    }
    setText(
      item.services,
      n.view.services.map((s) => `${s.name} ${s.state}${s.healthy ? '' : ' (unhealthy)'}`).join(' · '),
    );
  }
  // A node came: items and list are put in id order again (appending moves an item already there).
  if (added) {
    const sorted = ids.flatMap((id) => {
      const item = v.items.get(id);
      return item === undefined ? [] : [[id, item] as const];
    });
    v.items = new Map(sorted);
    for (const [, item] of sorted) v.list.appendChild(item.li);
  }
  updateTimes(v, state, now);
}

/** The per-second pass: only staleness, "last seen" and the EXO cluster, written where they changed. */
export function tickTopology(state: LabState, now = Date.now()): void {
  if (view !== null) updateTimes(view, state, now);
}
