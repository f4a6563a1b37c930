import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { describe, test, type TestContext } from 'node:test';
import { createExoClient, readExoState, type PrepareProgress, type ProtocolClient } from '../src/index.js';
import {
  json,
  sleep,
  sseData,
  sseHead,
  startScriptedServer,
  write,
  type ScriptedServer,
} from './helpers/scripted-server.js';

const MODEL = 'mlx-community/Qwen2.5-3B-Instruct-4bit';
const NODES = ['rog', 'srv1', 'srv2'];

interface FakeExoOptions {
  /** Hostnames present in /state. */
  present?: string[];
  /** Model ids with a card (listed by GET /models). */
  cards?: string[];
  /** An instance that already exists: its hostnames and whether it is ready. */
  existing?: { nodes: string[]; ready: boolean };
  /** /state polls after placement before runners are ready. */
  readyAfterPolls?: number;
  /** Runner on this node fails while loading. */
  failOn?: string;
  /** Runners never become ready. */
  neverReady?: boolean;
  placeStatus?: number;
}

interface FakeExo {
  server: ScriptedServer;
  client: ProtocolClient;
  posts: () => Array<{ path: string; body: unknown }>;
}

/** A scripted EXO 1.x master: /state, /models, /models/add, /place_instance. */
async function fakeExo(t: TestContext, o: FakeExoOptions = {}): Promise<FakeExo> {
  const present = o.present ?? NODES;
  const ids = new Map(present.map((name, i) => [name, `node-${i}-${name}`]));
  const cards = new Set(o.cards ?? []);
  let instance: { nodes: string[]; pollsSincePlaced: number; ready: boolean } | null =
    o.existing === undefined ? null : { nodes: o.existing.nodes, pollsSincePlaced: 0, ready: o.existing.ready };

  const state = (): unknown => {
    const nodeIdentities: Record<string, unknown> = {};
    for (const name of present) {
      nodeIdentities[ids.get(name) ?? name] = { modelId: 'x', chipId: 'cpu', friendlyName: name, osVersion: 'Linux' };
    }
    const instances: Record<string, unknown> = {};
    const runners: Record<string, unknown> = {};
    if (instance !== null) {
      instance.pollsSincePlaced += 1;
      const loaded = instance.ready || (!o.neverReady && instance.pollsSincePlaced > (o.readyAfterPolls ?? 2));
      const nodeToRunner: Record<string, string> = {};
      instance.nodes.forEach((name, i) => {
        const runnerId = `runner-${i}`;
        nodeToRunner[ids.get(name) ?? name] = runnerId;
        if (o.failOn === name && instance !== null && instance.pollsSincePlaced > 1) {
          runners[runnerId] = { RunnerFailed: { errorMessage: 'Insufficient memory', diagnostics: [] } };
        } else if (loaded) {
          // one runner busy serving: Running counts as ready
          runners[runnerId] = i === 0 ? { RunnerRunning: {} } : { RunnerReady: { prefillServerPort: null } };
        } else if (instance !== null && instance.pollsSincePlaced > 1) {
          runners[runnerId] = { RunnerLoading: { layersLoaded: 3 * instance.pollsSincePlaced, totalLayers: 12 } };
        }
      });
      instances['inst-1'] = {
        MlxRingInstance: {
          instanceId: 'inst-1',
          ephemeralPort: 53123,
          shardAssignments: { modelId: MODEL, nodeToRunner, runnerToShard: {} },
        },
      };
    }
    return {
      topology: { nodes: [...ids.values()], connections: {} },
      nodeIdentities,
      instances,
      runners,
      downloads: {},
    };
  };

  const server = await startScriptedServer((req, res) => {
    if (req.method === 'GET' && req.path === '/state') return json(res, 200, state());
    if (req.method === 'GET' && req.path === '/models') {
      return json(res, 200, { object: 'list', data: [...cards].map((id) => ({ id, hugging_face_id: id, name: id })) });
    }
    if (req.method === 'POST' && req.path === '/models/add') {
      const id = (req.body as { model_id: string }).model_id;
      cards.add(id);
      return json(res, 200, { id, hugging_face_id: id, name: id.split('/')[1], is_custom: true });
    }
    if (req.method === 'POST' && req.path === '/place_instance') {
      if (o.placeStatus !== undefined) {
        return json(res, o.placeStatus, {
          error: { message: 'No cycles found with sufficient memory', type: 'Bad Request', param: null, code: 400 },
        });
      }
      instance = { nodes: present, pollsSincePlaced: 0, ready: false };
      return json(res, 200, { message: 'Command received.', command_id: 'cmd-1', model_card: {} });
    }
    return json(res, 404, { detail: 'Not Found' });
  });
  t.after(() => server.close());
  const client = createExoClient({ url: server.url, nodes: NODES, pollIntervalMs: 10 });
  t.after(() => client.close());
  return {
    server,
    client,
    posts: () => server.requests.filter((r) => r.method === 'POST').map((r) => ({ path: r.path, body: r.body })),
  };
}

void describe('exo client: preparation', () => {
  void test('adds the card, places a pipeline across all nodes and waits for every runner', async (t) => {
    const exo = await fakeExo(t, { readyAfterPolls: 3 });
    const progress: PrepareProgress[] = [];
    const r = await exo.client.prepare(MODEL, { timeoutMs: 5000, onProgress: (p) => progress.push(p) });
    assert.equal(r.ok, true, JSON.stringify(r.error));
    assert.equal(r.cluster_ok, true);
    assert.deepEqual(r.nodes_seen, NODES);
    assert.deepEqual(r.nodes_missing, []);
    assert.equal(r.model_added, true);
    assert.equal(r.placed, true);
    assert.equal(r.instance_id, 'inst-1');
    assert.deepEqual(r.instance_nodes, NODES);
    assert.deepEqual(exo.posts(), [
      { path: '/models/add', body: { model_id: MODEL } },
      {
        path: '/place_instance',
        body: { model_id: MODEL, sharding: 'Pipeline', instance_meta: 'MlxRing', min_nodes: 3 },
      },
    ]);
    const phases = progress.map((p) => p.phase);
    for (const phase of ['checking', 'adding-model', 'placing', 'loading', 'ready'] as const) {
      assert.ok(phases.includes(phase), `phase ${phase} reported: ${phases.join(',')}`);
    }
    const loading = progress.find((p) => p.phase === 'loading' && p.runners.some((x) => x.status === 'RunnerLoading'));
    assert.ok(loading, 'loading progress names runner states');
    assert.equal(loading.runners[0]?.totalLayers, 12);
    assert.equal(progress.at(-1)?.phase, 'ready');
  });

  void test('a known card is not added again; a ready instance is reused without placing', async (t) => {
    const known = await fakeExo(t, { cards: [MODEL] });
    assert.equal((await known.client.prepare(MODEL, { timeoutMs: 5000 })).model_added, false);
    assert.deepEqual(
      known.posts().map((p) => p.path),
      ['/place_instance'],
    );

    const reuse = await fakeExo(t, { existing: { nodes: NODES, ready: true } });
    const r = await reuse.client.prepare(MODEL, { timeoutMs: 5000 });
    assert.equal(r.ok, true);
    assert.equal(r.placed, false);
    assert.deepEqual(reuse.posts(), []);
  });

  void test('a missing node fails the preparation with cluster_ok false', async (t) => {
    const exo = await fakeExo(t, { present: ['srv1', 'srv2'] });
    const r = await exo.client.prepare(MODEL, { timeoutMs: 5000 });
    assert.equal(r.ok, false);
    assert.equal(r.error?.code, 'KAGE_ERR_EXO_NODES_MISSING');
    assert.match(r.error?.message ?? '', /lacks rog/);
    assert.equal(r.cluster_ok, false);
    assert.deepEqual(r.nodes_missing, ['rog']);
    assert.deepEqual(exo.posts(), [], 'nothing placed');
  });

  void test('RunnerFailed ends the wait early', async (t) => {
    const exo = await fakeExo(t, { failOn: 'srv2', readyAfterPolls: 50 });
    const started = Date.now();
    const r = await exo.client.prepare(MODEL, { timeoutMs: 10_000 });
    assert.equal(r.ok, false);
    assert.equal(r.error?.code, 'KAGE_ERR_EXO_RUNNER_FAILED');
    assert.match(r.error?.message ?? '', /srv2 failed: Insufficient memory/);
    assert.ok(Date.now() - started < 5000);
  });

  void test('readiness timeout, placement error and a mismatched existing instance', async (t) => {
    const slow = await fakeExo(t, { neverReady: true });
    const a = await slow.client.prepare(MODEL, { timeoutMs: 150 });
    assert.equal(a.error?.code, 'KAGE_ERR_EXO_READY_TIMEOUT');
    assert.ok(a.elapsed_ms >= 140);

    const refused = await fakeExo(t, { placeStatus: 400 });
    const b = await refused.client.prepare(MODEL, { timeoutMs: 5000 });
    assert.equal(b.error?.code, 'KAGE_ERR_EXO_PLACEMENT');
    assert.match(b.error?.message ?? '', /\(400\): No cycles found with sufficient memory/);

    const other = await fakeExo(t, { existing: { nodes: ['srv1'], ready: true } });
    const c = await other.client.prepare(MODEL, { timeoutMs: 5000 });
    assert.equal(c.error?.code, 'KAGE_ERR_EXO_PLACEMENT_MISMATCH');
    assert.deepEqual(c.instance_nodes, ['srv1']);
  });

  void test('abort during the wait', async (t) => {
    const exo = await fakeExo(t, { neverReady: true });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 60);
    const r = await exo.client.prepare(MODEL, { timeoutMs: 10_000, signal: ac.signal });
    assert.equal(r.error?.code, 'KAGE_ERR_ABORTED');
  });

  void test('readExoState unwraps tagged unions and accepts snake_case', () => {
    const s = readExoState({
      node_identities: { a: { friendly_name: 'srv1' } },
      topology: { nodes: ['a', 'b'] },
      instances: {
        i: {
          MlxRingInstance: { instance_id: 'i', shard_assignments: { model_id: 'm/x', node_to_runner: { a: 'r' } } },
        },
      },
      runners: { r: { RunnerLoading: { layers_loaded: 1, total_layers: 4 } } },
    });
    assert.equal(s.nodeNames.get('a'), 'srv1');
    assert.equal(s.nodeNames.get('b'), 'b');
    assert.deepEqual(s.instances, [{ instanceId: 'i', modelId: 'm/x', nodeToRunner: { a: 'r' } }]);
    assert.deepEqual(s.runners.get('r'), {
      status: 'RunnerLoading',
      layersLoaded: 1,
      totalLayers: 4,
      errorMessage: null,
    });
  });
});

void describe('exo client: chat stream quirks', () => {
  async function chatServer(t: TestContext, script: (res: ServerResponse) => Promise<void>) {
    const server = await startScriptedServer(async (_req, res) => script(res));
    t.after(() => server.close());
    const client = createExoClient({ url: server.url, nodes: NODES });
    t.after(() => client.close());
    return { server, client };
  }
  const exoChunk = (
    delta: Record<string, unknown>,
    choiceExtra: Record<string, unknown> = {},
    top: Record<string, unknown> = {},
  ): string =>
    sseData({
      id: '6c1e',
      object: 'chat.completion',
      created: 1750000000,
      model: MODEL,
      choices: [{ index: 0, delta, ...choiceExtra }],
      ...top,
    });

  void test('comments, chat.completion chunks, usage on the last content chunk, generation_stats', async (t) => {
    const { server, client } = await chatServer(t, async (res) => {
      sseHead(res);
      await write(res, ': keep-alive\n\n');
      await write(
        res,
        ': prefill_progress {"PrefillProgressChunk":{"model":"m","processed_tokens":8,"total_tokens":15}}\n\n',
      );
      await sleep(30);
      await write(res, exoChunk({ role: 'assistant', content: 'Hel' }));
      await sleep(5);
      await write(res, exoChunk({ role: 'assistant', content: 'lo' }));
      await write(
        res,
        exoChunk(
          { role: 'assistant', content: '!' },
          { finish_reason: 'stop' },
          { usage: { prompt_tokens: 15, completion_tokens: 8, total_tokens: 23 } },
        ),
      );
      await write(
        res,
        ': generation_stats {"prompt_tps":412.3,"generation_tps":21.7,"prompt_tokens":15,"generation_tokens":8,"peak_memory_usage":{"in_bytes":2100000000},"prefix_cache_hit":"none"}\n\n',
      );
      res.end(sseData('[DONE]'));
    });
    const m = await client.chat({ model: MODEL, prompt: 'hi', maxTokens: 8, timeoutMs: 5000, temperature: 0 });
    assert.equal(m.success, true, JSON.stringify(m.error));
    assert.equal(m.protocol, 'exo');
    assert.equal(server.requests[0]?.path, '/v1/chat/completions');
    assert.equal((server.requests[0]?.body as { model: string }).model, MODEL);
    assert.equal(m.client_token_events, 3);
    assert.equal(m.output_tokens, 8);
    assert.equal(m.output_tokens_source, 'server');
    assert.equal(m.prompt_tokens, 15);
    assert.equal(m.server_decode_tps, 21.7);
    assert.equal(m.server.prompt_tps, 412.3);
    assert.equal(m.server.peak_memory_bytes, 2_100_000_000);
    assert.equal(m.comment_events, 3);
    assert.equal(m.finish_reason, 'stop');
    assert.ok(m.ttft_ms !== null && m.ttft_ms >= 25, 'comments are not tokens');
  });

  void test('generation_stats with inBytes and no usage: generation_tokens is the server count', async (t) => {
    const { client } = await chatServer(t, async (res) => {
      sseHead(res);
      await write(res, exoChunk({ role: 'assistant', content: 'a b' }));
      await write(res, exoChunk({ role: 'assistant', content: 'c' }, { finish_reason: 'stop' }));
      await write(
        res,
        ': generation_stats {"generation_tps":9.5,"generation_tokens":3,"peak_memory_usage":{"inBytes":42}}\n\n',
      );
      res.end(sseData('[DONE]'));
    });
    const m = await client.chat({ model: MODEL, prompt: 'hi', maxTokens: 8, timeoutMs: 5000 });
    assert.equal(m.output_tokens, 3);
    assert.equal(m.server.peak_memory_bytes, 42);
    assert.equal(m.server_decode_tps, 9.5);
  });

  void test('mid-stream error event then [DONE]; 404 "No instance found"', async (t) => {
    const { client } = await chatServer(t, async (res) => {
      sseHead(res);
      await write(res, exoChunk({ role: 'assistant', content: 'a' }));
      await write(
        res,
        sseData({ error: { message: 'Generation failed: out of memory', type: 'InternalServerError', code: 500 } }),
      );
      res.end(sseData('[DONE]'));
    });
    const m = await client.chat({ model: MODEL, prompt: 'hi', maxTokens: 8, timeoutMs: 5000 });
    assert.equal(m.success, false);
    assert.equal(m.error?.kind, 'oom');

    const nf = await startScriptedServer((_req, res) =>
      json(res, 404, {
        error: { message: `No instance found for model ${MODEL}`, type: 'Not Found', param: null, code: 404 },
      }),
    );
    t.after(() => nf.close());
    const c2 = createExoClient({ url: nf.url, nodes: NODES });
    t.after(() => c2.close());
    const r = await c2.chat({ model: MODEL, prompt: 'hi', maxTokens: 8, timeoutMs: 5000 });
    assert.deepEqual(r.error, { kind: 'http_status', message: `No instance found for model ${MODEL}`, status: 404 });
  });
});
