/**
 * Models: which model is loaded where right now, as each node's agent read it from its servers
 * (Ollama `/api/ps`, EXO `/state`): one row per Ollama model per node and per EXO instance, with
 * the memory each holds on each node, then the totals per node beside what the node uses. Rows of
 * a node that has gone quiet stay, marked as last read; a server that could not be read says why.
 */
import type { ExoInstanceView, ExoRunnerView, ModelsView, OllamaModelView } from './api-types.js';
import { el, replace, type Child } from './dom.js';
import { bytes, NONE } from './format.js';
import { isStale, type LabState } from './lab-state.js';

export function renderModels(root: HTMLElement, state: LabState): void {
  const models = state.models;
  const stale = (node: string | null): boolean => {
    const n = node === null ? undefined : state.nodes.get(node);
    return n !== undefined && isStale(n);
  };
  if (models.sources.length === 0) {
    replace(
      root,
      el(
        'p',
        {},
        'No agent reports loaded models yet. Each service needs a loaded_models source in agent.yaml ',
        '(kage deploy files writes them).',
      ),
    );
    return;
  }
  const rows = [
    ...models.ollama.map((m) => ollamaRow(m, stale(m.node))),
    ...models.exo.map((i) =>
      exoRow(
        i,
        i.runners.some((r) => stale(r.node)),
      ),
    ),
  ];
  const errors = models.sources.filter((s) => s.error !== null);
  replace(
    root,
    rows.length === 0
      ? el('p', { class: 'models-empty' }, 'No model is loaded on any node.')
      : table(
          'Models loaded now, where, and the memory each holds',
          ['Model', 'Server', 'Where', 'State', 'Memory'],
          rows,
          'models',
        ),
    memoryTable(models, state),
    errors.length === 0
      ? null
      : el(
          'ul',
          { class: 'models-errors' },
          ...errors.map((s) => el('li', {}, `${s.node} ${s.service}: not read (${s.error ?? ''})`)),
        ),
  );
}

function table(caption: string, headers: string[], rows: HTMLElement[], cls: string): HTMLElement {
  return el(
    'table',
    { class: cls },
    el('caption', { class: 'sr-only' }, caption),
    el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...rows),
  );
}

function ollamaRow(m: OllamaModelView, stale: boolean): HTMLElement {
  const detail = [m.parameter_size, m.quantization].filter((x) => x !== null).join(' ');
  return el(
    'tr',
    { 'data-model': m.model, 'data-server': 'ollama', 'data-node': m.node, class: stale ? 'stale' : null },
    el('th', { scope: 'row' }, m.model, detail === '' ? null : el('span', { class: 'muted' }, ` ${detail}`)),
    el('td', {}, 'Ollama'),
    el('td', {}, m.node, stale ? el('span', { class: 'muted' }, ' (node quiet: as last read)') : null),
    el('td', {}, 'loaded', m.expires_at === null ? ', kept' : `, until ${timeOfDay(m.expires_at)}`),
    el('td', {}, bytes(m.size_bytes), el('span', { class: 'muted' }, ` ${m.processor ?? ''}`)),
  );
}

function exoRow(i: ExoInstanceView, stale: boolean): HTMLElement {
  const total = i.runners.reduce<number | null>(
    (sum, r) => (sum === null || r.weights_bytes === null ? null : sum + r.weights_bytes),
    0,
  );
  return el(
    'tr',
    {
      'data-model': i.model,
      'data-server': 'exo',
      'data-instance': i.instance_id,
      'data-state': i.state,
      class: stale ? 'stale' : null,
    },
    el('th', { scope: 'row' }, i.model),
    el('td', {}, 'EXO'),
    el('td', {}, el('ul', { class: 'runners' }, ...i.runners.map(runnerItem))),
    el('td', {}, instanceState(i)),
    el('td', {}, total === null ? NONE : `${bytes(total)} weights`),
  );
}

function runnerItem(r: ExoRunnerView): HTMLElement {
  const layers = r.start_layer !== null && r.end_layer !== null ? ` layers ${r.start_layer}–${r.end_layer - 1}` : '';
  return el(
    'li',
    { 'data-host': r.host, 'data-state': r.state },
    r.node ?? r.host,
    layers,
    r.weights_bytes === null ? null : el('span', { class: 'muted' }, ` ${bytes(r.weights_bytes)}`),
  );
}

function instanceState(i: ExoInstanceView): Child {
  if (i.state === 'failed') {
    const failed = i.runners.find((r) => r.state === 'RunnerFailed');
    return `failed on ${failed?.node ?? failed?.host ?? '?'}${failed?.error ? `: ${failed.error}` : ''}`;
  }
  if (i.state === 'ready') return 'ready';
  const loading = i.runners.filter((r) => r.layers_loaded !== null && r.total_layers !== null);
  const done = loading.reduce((s, r) => s + (r.layers_loaded ?? 0), 0);
  const of = loading.reduce((s, r) => s + (r.total_layers ?? 0), 0);
  return of > 0 ? `loading (${done}/${of} layers)` : 'loading';
}

/**
 * Per node: what the loaded models hold, against the node's memory (on an APU the GPU's memory is
 * the same DRAM). Live use is on the node cards; this panel redraws only when the models change.
 */
function memoryTable(models: ModelsView, state: LabState): HTMLElement {
  const ollama = new Map<string, number>();
  const exo = new Map<string, number>();
  for (const m of models.ollama) ollama.set(m.node, (ollama.get(m.node) ?? 0) + (m.size_bytes ?? 0));
  for (const i of models.exo) {
    for (const r of i.runners) {
      const node = r.node ?? r.host;
      exo.set(node, (exo.get(node) ?? 0) + (r.weights_bytes ?? 0));
    }
  }
  const nodes = [...new Set([...state.nodes.keys(), ...ollama.keys(), ...exo.keys()])].sort();
  return table(
    'Memory held by loaded models per node',
    ['Node', 'Ollama models', 'EXO weights', 'Together', 'Node memory'],
    nodes.map((node) => {
      const held = (ollama.get(node) ?? 0) + (exo.get(node) ?? 0);
      return el(
        'tr',
        { 'data-node': node },
        el('th', { scope: 'row' }, node),
        el('td', {}, ollama.has(node) ? bytes(ollama.get(node)) : NONE),
        el('td', {}, exo.has(node) ? bytes(exo.get(node)) : NONE),
        el('td', {}, ollama.has(node) || exo.has(node) ? bytes(held) : NONE),
        el('td', {}, bytes(state.nodes.get(node)?.view.latest?.mem_total_bytes)),
      );
    }),
    'models-memory',
  );
}

function timeOfDay(iso: string): string {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : NONE;
}
