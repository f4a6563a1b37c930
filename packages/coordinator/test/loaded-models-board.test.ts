// The lab's loaded models from the agents' reports: Ollama per node, EXO from one report (the
// newest of an online node), EXO's hosts named by their Kage node, one `models` event per change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadedModels__Output } from '@kage/wire';
import { createEventHub, type HubEvent } from '../src/events/event-hub.js';
import { createLoadedModelsBoard } from '../src/registry/loaded-models-board.js';
import type { ModelsView } from '../src/registry/models-view.js';

type Service = LoadedModels__Output['services'][number];

const ollama = (models: Service['models'], error?: string): Service => ({
  service: 'ollama',
  api: 'ollama',
  models,
  instances: [],
  ...(error === undefined ? {} : { error }),
});
const exo = (instances: Service['instances']): Service => ({ service: 'exo', api: 'exo', models: [], instances });
const runner = (host: string, state: string, start: number, end: number) => ({
  host,
  state,
  start_layer: start,
  end_layer: end,
  n_layers: 28,
  weights_bytes: (end - start) * 100,
});
const instance = (id: string, runners: ReturnType<typeof runner>[]) => ({
  instance_id: id,
  model: 'mlx-community/Qwen2.5-3B-Instruct-4bit',
  kind: 'MlxRingInstance',
  runners,
});

function setup() {
  const events = createEventHub({ firstId: 1 });
  const published: HubEvent[] = [];
  events.subscribe((e) => published.push(e));
  const online = new Set(['srv1', 'srv2', 'rog']);
  const board = createLoadedModelsBoard({
    events,
    isOnline: (id) => online.has(id),
    // rog's machine is called rog-x1: EXO names it by hostname.
    hostnames: () =>
      new Map([
        ['srv1', 'srv1'],
        ['srv2', 'srv2'],
        ['rog', 'rog-x1'],
      ]),
  });
  return { board, published, online };
}

test('Ollama models per node with their sizes; a server that cannot be read is a source with an error', () => {
  const { board, published } = setup();
  board.report('srv1', {
    ts_ms: Date.parse('2026-12-03T10:00:00Z'),
    services: [
      ollama([
        {
          name: 'qwen2.5:3b',
          size_bytes: 2_000,
          vram_bytes: 500,
          expires_at_ms: Date.parse('2026-12-03T10:05:00Z'),
          parameter_size: '3.1B',
          quantization: 'Q4_K_M',
        },
      ]),
    ],
  });
  board.report('srv2', {
    ts_ms: Date.parse('2026-12-03T10:00:01Z'),
    services: [ollama([], 'ollama is not running (exited)')],
  });
  const view = board.view();
  assert.deepEqual(view.ollama, [
    {
      node: 'srv1',
      service: 'ollama',
      model: 'qwen2.5:3b',
      size_bytes: 2_000,
      vram_bytes: 500,
      processor: '75%/25% CPU/GPU',
      expires_at: '2026-12-03T10:05:00.000Z',
      context_length: null,
      parameter_size: '3.1B',
      quantization: 'Q4_K_M',
    },
  ]);
  assert.deepEqual(view.sources, [
    { node: 'srv1', service: 'ollama', api: 'ollama', read_at: '2026-12-03T10:00:00.000Z', error: null },
    {
      node: 'srv2',
      service: 'ollama',
      api: 'ollama',
      read_at: '2026-12-03T10:00:01.000Z',
      error: 'ollama is not running (exited)',
    },
  ]);
  assert.deepEqual(
    published.map((e) => e.type),
    ['models', 'models'],
  );
  assert.deepEqual(published.at(-1)?.data, view, 'the event carries the whole view');

  // Where each model runs, worded as `ollama ps` words it; unknown without both sizes.
  board.report('rog', {
    ts_ms: Date.parse('2026-12-03T10:00:02Z'),
    services: [
      ollama([
        { name: 'a:1b', size_bytes: 1_000, vram_bytes: 1_000, parameter_size: '', quantization: '' },
        { name: 'b:1b', size_bytes: 1_000, vram_bytes: 0, parameter_size: '', quantization: '' },
        { name: 'c:1b', size_bytes: 1_000, parameter_size: '', quantization: '' },
      ]),
    ],
  });
  assert.deepEqual(
    board
      .view()
      .ollama.filter((m) => m.node === 'rog')
      .map((m) => [m.model, m.processor]),
    [
      ['a:1b', '100% GPU'],
      ['b:1b', '100% CPU'],
      ['c:1b', null],
    ],
  );
});

test('EXO comes from the newest report of an online node; hosts are named by their node; one event per change', () => {
  const { board, published, online } = setup();
  const loading = instance('i1', [runner('srv1', 'RunnerLoading', 0, 14), runner('rog-x1', 'RunnerReady', 14, 28)]);
  const ready = instance('i1', [runner('srv1', 'RunnerReady', 0, 14), runner('rog-x1', 'RunnerRunning', 14, 28)]);
  board.report('srv1', { ts_ms: 1000, services: [exo([loading])] });
  let view: ModelsView = board.view();
  assert.equal(view.exo[0]?.state, 'loading');
  assert.deepEqual(
    view.exo[0]?.runners.map((r) => [r.host, r.node]),
    [
      ['srv1', 'srv1'],
      ['rog-x1', 'rog'],
    ],
  );
  board.report('rog', { ts_ms: 2000, services: [exo([ready])] });
  view = board.view();
  assert.equal(view.exo[0]?.state, 'ready', 'RunnerRunning is a ready runner at work');
  assert.equal(view.exo[0]?.reported_by, 'rog');

  // The same again, only read later: nothing new to publish.
  const before = published.length;
  board.report('rog', { ts_ms: 3000, services: [exo([ready])] });
  assert.equal(published.length, before);

  // rog goes quiet: srv1's older view counts again, though rog's is newer.
  online.delete('rog');
  board.report('srv1', { ts_ms: 2500, services: [exo([])] });
  assert.deepEqual(board.view().exo, [], 'the instance srv1 no longer sees is gone');
  assert.equal(published.length, before + 1);

  // A failed runner fails the instance; an unknown host has no node.
  board.report('srv1', {
    ts_ms: 4000,
    services: [
      exo([
        instance('i2', [
          { ...runner('n9', 'RunnerFailed', 0, 28), error: 'insufficient memory' } as ReturnType<typeof runner>,
        ]),
      ]),
    ],
  });
  const failed = board.view().exo[0];
  assert.equal(failed?.state, 'failed');
  assert.equal(failed?.runners[0]?.node, null);
  assert.equal(failed?.runners[0]?.error, 'insufficient memory');
});
