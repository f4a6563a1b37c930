/**
 * Node cards: live CPU, memory, GPU busy and GPU memory (value and five-minute sparkline), and each
 * service's state with start / stop / restart buttons that show the agent's answer. Cards are built
 * once and updated in place, so keyboard focus stays on a button while samples stream in.
 */
import { post } from './api.js';
import type { ServiceView } from './api-types.js';
import { el, setText } from './dom.js';
import { ago, bytes, pct } from './format.js';
import { isStale, type LabState, type NodeState, type SeriesPoint } from './lab-state.js';
import { createSparkline, type Sparkline } from './sparkline.js';
import { ensureToken, forgetToken } from './token-dialog.js';

interface Card {
  root: HTMLElement;
  status: HTMLElement;
  seen: HTMLElement;
  metrics: Map<string, { value: HTMLElement; spark: Sparkline }>;
  services: HTMLTableSectionElement;
  answer: HTMLElement;
}

const METRICS: { key: string; label: string; pick: (p: SeriesPoint) => number | null }[] = [
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
  const metrics = new Map<string, { value: HTMLElement; spark: Sparkline }>();
  const rows = METRICS.map((m) => {
    const value = el('span', { class: 'value', 'data-metric': m.key });
    const spark = createSparkline();
    metrics.set(m.key, { value, spark });
    return el('div', { class: 'metric' }, el('dt', {}, m.label), el('dd', {}, value, spark.element));
  });
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
  return { root, status, seen, metrics, services, answer };
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

function serviceRows(card: Card, node: NodeState, state: LabState): void {
  const id = node.view.id;
  const now = Date.now();
  const existing = new Map<string, HTMLTableRowElement>();
  for (const row of Array.from(card.services.rows)) existing.set(row.dataset['service'] ?? '', row);
  for (const s of node.view.services) {
    let row = existing.get(s.name);
    if (row === undefined) {
      const buttons = ['start', 'stop', 'restart'].map((action) => {
        const b = el(
          'button',
          { type: 'button', 'data-action': action, 'aria-label': `${action} ${s.name} on ${id}` },
          action,
        );
        b.addEventListener('click', () => void act(card, id, s.name, action, b));
        return b;
      });
      row = el(
        'tr',
        { 'data-service': s.name },
        el('th', { scope: 'row' }, s.name),
        el('td', {}, el('span', { 'data-field': 'state' }), el('span', { class: 'muted sub', 'data-field': 'pid' })),
        el('td', { 'data-field': 'restarts' }),
        el('td', {}, el('span', { 'data-field': 'health' }), el('span', { class: 'muted sub', 'data-field': 'down' })),
        el('td', {}, el('div', { class: 'actions' }, ...buttons)),
      );
      card.services.appendChild(row);
    }
    const cell = (f: string): HTMLElement => row.querySelector(`[data-field="${f}"]`) as HTMLElement;
    setText(cell('state'), s.state);
    row.dataset['state'] = s.state;
    setText(cell('pid'), s.pid === null ? 'no pid' : `pid ${s.pid}`);
    setText(cell('restarts'), String(s.restarts));
    setText(cell('health'), s.healthy ? 'healthy' : s.health);
    row.classList.toggle('down', s.state !== 'running' || !s.healthy);
    const down = state.lastDown.get(`${id}/${s.name}`);
    if (down !== undefined) row.dataset['lastDown'] = new Date(down.at).toISOString();
    setText(cell('down'), down === undefined ? '' : `down (${down.state}) ${Math.round((now - down.at) / 1000)} s ago`);
  }
}

export function renderNodeCard(root: HTMLElement, state: LabState, id: string, now = Date.now()): void {
  const node = state.nodes.get(id);
  if (node === undefined) return;
  let card = cards.get(id);
  if (card === undefined || !root.contains(card.root)) {
    card = buildCard(id, node.view.hostname);
    cards.set(id, card);
    root.appendChild(card.root);
  }
  const stale = isStale(node, now);
  setText(card.status, stale ? (node.view.status === 'online' ? 'stale' : 'offline (stale)') : 'online');
  card.root.classList.toggle('stale', stale);
  card.root.dataset['status'] = stale ? 'stale' : 'online';
  setText(card.seen, `last seen ${ago(node.view.last_seen, now)}`);
  const latest = node.view.latest;
  if (latest !== null) card.root.dataset['sampleTs'] = latest.ts;
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
  for (const m of METRICS) {
    const slot = card.metrics.get(m.key);
    if (slot === undefined) continue;
    setText(slot.value, values[m.key] ?? '');
    // The right edge is the newest sample: an agent whose clock differs still draws in place.
    const edge = last?.t ?? now;
    slot.spark.update(node.series, m.pick, maxes[m.key] ?? 1, edge);
  }
  serviceRows(card, node, state);
}

export function renderNodeCards(root: HTMLElement, state: LabState): void {
  const now = Date.now();
  for (const id of [...state.nodes.keys()].sort()) renderNodeCard(root, state, id, now);
}
