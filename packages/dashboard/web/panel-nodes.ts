/**
 * Node cards: live CPU, memory, GPU busy and GPU memory (value and five-minute sparkline), and each
 * service's state with start / stop / restart buttons that show the agent's answer. Cards are built
 * once and updated in place, so keyboard focus stays on a button while samples stream in. A card is
 * redrawn only when its node changed; what moves with time alone (stale or not, "last seen", "down
 * … s ago") has its own cheap pass, `tickNodeCards`, that writes only the texts that changed.
 */
import { post } from './api.js';
import type { ServiceView } from './api-types.js';
import { el, setData, setText } from './dom.js';
import { ago, bytes, pct } from './format.js';
import { isStale, lastHeard, type LabState, type NodeState, type SeriesPoint } from './lab-state.js';
import { createSparkline, type Sparkline } from './sparkline.js';
import { ensureToken, forgetToken } from './token-dialog.js';

interface ServiceRow {
  row: HTMLTableRowElement;
  state: HTMLElement;
  pid: HTMLElement;
  restarts: HTMLElement;
  health: HTMLElement;
  down: HTMLElement;
}

interface Card {
  root: HTMLElement;
  status: HTMLElement;
  seen: HTMLElement;
  metrics: { metric: Metric; value: HTMLElement; spark: Sparkline }[];
  services: HTMLTableSectionElement;
  rows: Map<string, ServiceRow>;
  answer: HTMLElement;
}

interface Metric {
  key: string;
  label: string;
  pick: (p: SeriesPoint) => number | null;
}

const METRICS: Metric[] = [
  { key: 'cpu', label: 'CPU', pick: (p) => p.cpu },
  { key: 'mem', label: 'Memory', pick: (p) => p.mem },
  { key: 'gpu-busy', label: 'GPU busy', pick: (p) => p.gpuBusy },
  { key: 'gpu-mem', label: 'GPU memory', pick: (p) => p.gpuMem },
];

const cards = new Map<string, Card>();

function buildCard(id: string, hostname: string): Card {
  const headingId = `node-${id}-title`;
  const status = el('span', { class: 'badge' });
  const seen = el('span', { class: 'muted' });
  const metrics = METRICS.map((metric) => ({
    metric,
    value: el('span', { class: 'value', 'data-metric': metric.key }),
    spark: createSparkline(),
  }));
  const rows = metrics.map((m) =>
    el('div', { class: 'metric' }, el('dt', {}, m.metric.label), el('dd', {}, m.value, m.spark.element)),
  );
  const services = el('tbody');
  const answer = el('p', { class: 'answer', role: 'status', 'aria-live': 'polite' });
  const root = el(
    'article',
    { class: 'card node-card', 'data-node': id, 'aria-labelledby': headingId },
    el(
      'h3',
      { id: headingId },
      id,
      hostname === id ? null : el('span', { class: 'muted' }, ` (host ${hostname})`),
      ' ',
      status,
    ),
    el('p', {}, seen),
    el('dl', { class: 'metrics' }, ...rows),
    el(
      'table',
      { class: 'services' },
      el('caption', { class: 'sr-only' }, `services on ${id}`),
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...['Service', 'State', 'Restarts', 'Health', 'Actions'].map((h) => el('th', { scope: 'col' }, h)),
        ),
      ),
      services,
    ),
    answer,
  );
  return { root, status, seen, metrics, services, rows: new Map(), answer };
}

async function act(card: Card, node: string, service: string, action: string, button: HTMLButtonElement) {
  if ((await ensureToken()) === null) {
    setText(card.answer, `${action} ${service}: cancelled (no API token)`);
    return;
  }
  button.disabled = true;
  setText(card.answer, `${action} ${service}: asking the agent…`);
  try {
    const path = `/api/v1/nodes/${encodeURIComponent(node)}/services/${encodeURIComponent(service)}/${action}`;
    const answer = await post(path);
    if (answer.status === 401) forgetToken();
    const body = answer.body as { service?: ServiceView | null } | null;
    const s = body?.service;
    const state = s ? ` — ${s.name} ${s.state}${s.pid === null ? '' : `, pid ${s.pid}`}` : '';
    setText(card.answer, `${action} ${service}: ${answer.ok ? 'ok' : `refused (${answer.message})`}${state}`);
  } catch (err) {
    setText(card.answer, `${action} ${service}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    button.disabled = false;
  }
}

function buildServiceRow(card: Card, id: string, service: string): ServiceRow {
  const buttons = ['start', 'stop', 'restart'].map((action) => {
    const b = el(
      'button',
      { type: 'button', 'data-action': action, 'aria-label': `${action} ${service} on ${id}` },
      action,
    );
    b.addEventListener('click', () => void act(card, id, service, action, b));
    return b;
  });
  const cells = {
    state: el('span', { 'data-field': 'state' }),
    pid: el('span', { class: 'muted sub', 'data-field': 'pid' }),
    restarts: el('td', { 'data-field': 'restarts' }),
    health: el('span', { 'data-field': 'health' }),
    down: el('span', { class: 'muted sub', 'data-field': 'down' }),
  };
  const row = el(
    'tr',
    { 'data-service': service },
    el('th', { scope: 'row' }, service),
    el('td', {}, cells.state, cells.pid),
    cells.restarts,
    el('td', {}, cells.health, cells.down),
    el('td', {}, el('div', { class: 'actions' }, ...buttons)),
  );
  card.services.appendChild(row);
  return { row, ...cells };
}

function serviceRows(card: Card, node: NodeState, state: LabState): void {
  const id = node.view.id;
  for (const s of node.view.services) {
    let r = card.rows.get(s.name);
    if (r === undefined) {
      r = buildServiceRow(card, id, s.name);
      card.rows.set(s.name, r);
    }
    setText(r.state, s.state);
    setData(r.row, 'state', s.state);
    setText(r.pid, s.pid === null ? 'no pid' : `pid ${s.pid}`);
    setText(r.restarts, String(s.restarts));
    setText(r.health, s.healthy ? 'healthy' : s.health);
    r.row.classList.toggle('down', s.state !== 'running' || !s.healthy);
    const down = state.lastDown.get(`${id}/${s.name}`);
    if (down !== undefined) setData(r.row, 'lastDown', new Date(down.at).toISOString());
  }
}

/** What moves with time alone: stale or not, "last seen", and how long ago each service was down. */
function updateTimes(card: Card, node: NodeState, state: LabState, now: number): void {
  const stale = isStale(node, now);
  setText(card.status, stale ? (node.view.status === 'online' ? 'stale' : 'offline (stale)') : 'online');
  card.root.classList.toggle('stale', stale);
  setData(card.root, 'status', stale ? 'stale' : 'online');
  setText(card.seen, `last seen ${ago(lastHeard(node), now)}`);
  for (const [name, r] of card.rows) {
    const down = state.lastDown.get(`${node.view.id}/${name}`);
    setText(r.down, down === undefined ? '' : `down (${down.state}) ${ago(down.at, now)}`);
  }
}

export function renderNodeCard(root: HTMLElement, state: LabState, id: string, now = Date.now()): void {
  const node = state.nodes.get(id);
  if (node === undefined) return;
  let card = cards.get(id);
  if (card === undefined || card.root.parentNode !== root) {
    card = buildCard(id, node.view.hostname);
    cards.set(id, card);
    root.appendChild(card.root);
  }
  const latest = node.view.latest;
  if (latest !== null) setData(card.root, 'sampleTs', latest.ts);
  const gpuTotal = latest?.gpus.reduce((a, g) => a + (g.mem_total_bytes ?? 0), 0) ?? 0;
  const last = node.series.at(-1);
  const values: Record<string, string> = {
    cpu: pct(latest?.cpu_pct, 1),
    mem: `${bytes(latest?.mem_used_bytes)} of ${bytes(latest?.mem_total_bytes)}`,
    'gpu-busy': latest?.gpus.length ? pct(last?.gpuBusy ?? null, 0) : 'no GPU',
    'gpu-mem': latest?.gpus.length ? `${bytes(last?.gpuMem ?? null)} of ${bytes(gpuTotal || null)}` : 'no GPU',
  };
  const maxes: Record<string, number> = {
    cpu: 100,
    mem: latest?.mem_total_bytes ?? 1,
    'gpu-busy': 100,
    'gpu-mem': gpuTotal || 1,
  };
  // The right edge is the newest sample: an agent whose clock differs still draws in place.
  const edge = last?.t ?? now;
  for (const { metric, value, spark } of card.metrics) {
    setText(value, values[metric.key] ?? '');
    spark.update(node.series, metric.pick, maxes[metric.key] ?? 1, edge);
  }
  serviceRows(card, node, state);
  updateTimes(card, node, state, now);
}

export function renderNodeCards(root: HTMLElement, state: LabState): void {
  const now = Date.now();
  for (const id of [...state.nodes.keys()].sort()) renderNodeCard(root, state, id, now);
}

/** The per-second pass: only the time-dependent texts and classes of the cards already drawn. */
export function tickNodeCards(state: LabState, now = Date.now()): void {
  for (const [id, card] of cards) {
    const node = state.nodes.get(id);
    if (node !== undefined) updateTimes(card, node, state, now);
  }
}
