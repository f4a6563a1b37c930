/**
 * Which model is loaded where, end to end: a real coordinator and two real agents, each
 * supervising an emulated Ollama and an emulated EXO node of one cluster. Loading and unloading
 * an Ollama model, placing an EXO instance over both nodes, stopping a service and restarting the
 * coordinator must each show in `GET /api/v1/models` and as `models` events, the sizes exactly as
 * the servers' own APIs give them.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  allocateNodePorts,
  freePort,
  spawnDaemon,
  startLabAgents,
  waitFor,
  writeCoordinatorConfig,
  type CoordinatorFiles,
  type DaemonProcess,
} from './src/coordinator-lab.js';

const NODES = ['srv1', 'srv2'] as const;
const OLLAMA_MODEL = 'qwen2.5:3b';
const EXO_MODEL = 'mlx-community/Llama-3.2-3B-Instruct-4bit';
/** The EXO emulator's card for EXO_MODEL (its storageSize). */
const EXO_MODEL_BYTES = 1_863_319_552;

interface ModelsView {
  sources: { node: string; service: string; api: string; read_at: string; error: string | null }[];
  ollama: {
    node: string;
    model: string;
    size_bytes: number | null;
    vram_bytes: number | null;
    expires_at: string | null;
  }[];
  exo: {
    instance_id: string;
    model: string;
    state: string;
    reported_by: string;
    runners: {
      host: string;
      node: string | null;
      state: string;
      start_layer: number | null;
      end_layer: number | null;
      n_layers: number | null;
      weights_bytes: number | null;
    }[];
  }[];
}

describe('loaded models through agents and the coordinator', () => {
  let dir: string;
  let files: CoordinatorFiles;
  let coordinator: DaemonProcess;
  let api: string;
  const agents: DaemonProcess[] = [];
  const ollama = new Map<string, string>();
  const exo = new Map<string, string>();

  const models = async (): Promise<ModelsView> => {
    const res = await fetch(`${api}/api/v1/models`);
    assert.equal(res.status, 200);
    return (await res.json()) as ModelsView;
  };
  const startCoordinator = (): DaemonProcess => spawnDaemon(['coordinator', '--config', files.config]);
  const generate = async (node: string, body: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const res = await fetch(`${ollama.get(node)}/api/generate`, {
      method: 'POST',
      body: JSON.stringify({ model: OLLAMA_MODEL, prompt: '', stream: false, ...body }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as Record<string, unknown>;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kage-loaded-models-'));
    const grpcPort = await freePort();
    const httpPort = await freePort();
    api = `http://127.0.0.1:${httpPort}`;
    files = await writeCoordinatorConfig(dir, { grpcPort, httpPort, nodes: NODES });
    coordinator = startCoordinator();
    await coordinator.waitForLog((l) => l['msg'] === 'coordinator started', 'coordinator started');
    const ports = await allocateNodePorts(NODES);
    for (const [node, p] of ports) {
      ollama.set(node, `http://127.0.0.1:${p.ollama}`);
      exo.set(node, `http://127.0.0.1:${p.exo}`);
    }
    const started = await startLabAgents(dir, { nodes: NODES, grpcPort, tokens: files.tokens, ports });
    agents.push(...[...started.values()].map((a) => a.process));
  });

  after(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await coordinator?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('every server is read, and nothing is loaded at first', async () => {
    const view = await waitFor('both servers of both nodes read without error', async () => {
      const v = await models();
      return v.sources.length === 4 && v.sources.every((s) => s.error === null) ? v : undefined;
    });
    assert.deepEqual(
      view.sources.map((s) => `${s.node}/${s.service}/${s.api}`),
      ['srv1/ollama/ollama', 'srv1/exo/exo', 'srv2/ollama/ollama', 'srv2/exo/exo'],
    );
    assert.deepEqual(view.ollama, []);
    assert.deepEqual(view.exo, []);
  });

  test('an Ollama model loaded on srv1 shows on srv1 with /api/ps sizes, and a models event says so', async () => {
    const { event_id: since } = (await (await fetch(`${api}/api/v1/snapshot`)).json()) as { event_id: number };
    const loaded = await generate('srv1', {});
    assert.equal(loaded['done_reason'], 'load');
    const ps = (await (await fetch(`${ollama.get('srv1')}/api/ps`)).json()) as {
      models: { name: string; size: number; size_vram: number }[];
    };
    const truth = ps.models.find((m) => m.name === OLLAMA_MODEL);
    assert.ok(truth, 'the emulator lists the model it loaded');
    const row = await waitFor('the model on srv1', async () => (await models()).ollama.find((m) => m.node === 'srv1'));
    assert.equal(row.model, OLLAMA_MODEL);
    assert.equal(row.size_bytes, truth.size, 'size exactly as /api/ps says');
    assert.equal(row.vram_bytes, truth.size_vram);
    assert.ok(row.expires_at !== null && Date.parse(row.expires_at) > Date.now(), 'expires in the future');
    assert.equal((await models()).ollama.filter((m) => m.node === 'srv2').length, 0, 'srv2 loaded nothing');

    // The event stream replays what happened since the snapshot: the models event is among it.
    const events = await readEvents(
      `${api}/api/v1/events?last_event_id=${since}`,
      (text) => text.includes(`"model":"${OLLAMA_MODEL}"`) && text.includes('event: models'),
    );
    const modelEvents = events.filter((e) => e.event === 'models');
    assert.ok(modelEvents.length >= 1);
    const last = JSON.parse(modelEvents.at(-1)?.data ?? '{}') as ModelsView;
    assert.equal(last.ollama[0]?.model, OLLAMA_MODEL);
  });

  test('an EXO instance over both nodes shows each runner, its layers and its share of the weights', async () => {
    // EXO places across both nodes only once it knows the link between them (its workers check
    // reachability every few seconds after a join): wait for a feasible placement, as Kage's runs
    // do, and place again if a settling cluster dropped the command.
    const query = new URLSearchParams({
      model_id: EXO_MODEL,
      sharding: 'Pipeline',
      instance_meta: 'MlxRing',
      min_nodes: '2',
    });
    await waitFor(
      'a placement across both nodes',
      async () =>
        (await fetch(`${exo.get('srv1')}/instance/placement?${query.toString()}`)).status === 200 ? true : undefined,
      30_000,
    );
    let instance: ModelsView['exo'][number] | undefined;
    for (let attempt = 0; attempt < 3 && instance === undefined; attempt++) {
      const placed = await fetch(`${exo.get('srv1')}/place_instance`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model_id: EXO_MODEL, sharding: 'Pipeline', instance_meta: 'MlxRing', min_nodes: 2 }),
      });
      assert.equal(placed.status, 200, await placed.clone().text());
      instance = await waitFor(
        'the instance ready on both nodes',
        async () => (await models()).exo.find((i) => i.model === EXO_MODEL && i.state === 'ready'),
        10_000,
      ).catch(() => undefined);
    }
    assert.ok(instance, 'the instance shows, ready, within three placements');
    assert.deepEqual(instance.runners.map((r) => r.node).sort(), ['srv1', 'srv2'], 'hosts named by their Kage node');
    assert.ok(instance.runners.every((r) => r.state === 'RunnerReady' || r.state === 'RunnerRunning'));
    // Pipeline shards: contiguous, from layer 0 to the last, each node holding its share.
    const layers = instance.runners[0]?.n_layers ?? 0;
    assert.ok(layers > 0);
    let next = 0;
    for (const r of instance.runners) {
      assert.equal(r.start_layer, next, 'runners in pipeline order, no gap');
      next = r.end_layer ?? -1;
    }
    assert.equal(next, layers, 'the last runner ends at the last layer');
    const weights = instance.runners.reduce((sum, r) => sum + (r.weights_bytes ?? 0), 0);
    assert.ok(
      Math.abs(weights - EXO_MODEL_BYTES) <= instance.runners.length,
      `the shares add up to the card: ${weights}`,
    );
  });

  test('a stopped Ollama is reported as not read, and read again once started', async () => {
    const act = (action: string) =>
      fetch(`${api}/api/v1/nodes/srv2/services/ollama/${action}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${files.apiToken}` },
      });
    assert.equal((await act('stop')).status, 200);
    const source = await waitFor('srv2 ollama not read', async () =>
      (await models()).sources.find((s) => s.node === 'srv2' && s.service === 'ollama' && s.error !== null),
    );
    assert.match(source.error ?? '', /ollama is not running/);
    assert.equal((await act('start')).status, 200);
    await waitFor('srv2 ollama read again', async () =>
      (await models()).sources.find((s) => s.node === 'srv2' && s.service === 'ollama' && s.error === null),
    );
  });

  test('unloading removes the model; a restarted coordinator has the EXO instance back from the agents', async () => {
    const unloaded = await generate('srv1', { keep_alive: 0 });
    assert.equal(unloaded['done_reason'], 'unload');
    await waitFor('srv1 unloaded', async () => ((await models()).ollama.length === 0 ? true : undefined));

    assert.equal(await coordinator.stop(), 0);
    coordinator = startCoordinator();
    await coordinator.waitForLog((l) => l['msg'] === 'coordinator started', 'coordinator started again');
    const instance = await waitFor('the instance reported again', async () =>
      (await models()).exo.find((i) => i.model === EXO_MODEL),
    );
    assert.equal(instance.runners.length, 2);
  });
});

/** Server-Sent Events read from `url` until `done(text so far)`, bounded by time; parsed. */
async function readEvents(
  url: string,
  done: (text: string) => boolean,
  timeoutMs = 10_000,
): Promise<{ event: string; data: string }[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  assert.equal(res.status, 200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (!done(text)) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text
    .split('\n\n')
    .map((block) => ({
      event: /^event: (.*)$/m.exec(block)?.[1] ?? '',
      data: /^data: (.*)$/m.exec(block)?.[1] ?? '',
    }))
    .filter((e) => e.event !== '');
}
