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
  /** This many placements are answered "Command received." and then lost (a master election). */
  lostPlacements?: number;
  /**
   * Downloads of the model per hostname, one entry per /state poll after placement (the last one
   * repeats): `pending`, a fraction 0–1 (ongoing), `done`, or `failed`. Runners load after `done`.
   */
  downloads?: Record<string, Array<'pending' | number | 'done' | 'failed'>>;
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
  let lost = o.lostPlacements ?? 0;
  /** /state polls since the instance appeared (download steps follow it; the load starts after them). */
  let polls = 0;
  const TOTAL = 2_000_000_000;
  /** Download step of `name` at this poll; `done` when the node already has the files. */
  const downloadAt = (name: string, poll: number): 'pending' | number | 'done' | 'failed' => {
    const steps = o.downloads?.[name];
    if (steps === undefined || steps.length === 0) return 'done';
    return steps[Math.min(poll - 1, steps.length - 1)] ?? 'done';
  };
  const downloadJson = (nodeId: string, step: 'pending' | number | 'done' | 'failed'): unknown => {
    const base = {
      nodeId,
      shardMetadata: {
        PipelineShardMetadata: { modelCard: { modelId: MODEL }, startLayer: 0, endLayer: 12, nLayers: 36 },
      },
      modelDirectory: '',
    };
    if (step === 'pending')
      return { DownloadPending: { ...base, downloaded: { inBytes: 0 }, total: { inBytes: TOTAL } } };
    if (step === 'failed') return { DownloadFailed: { ...base, errorMessage: 'No space left on device' } };
    if (step === 'done') {
      return {
        DownloadCompleted: {
          ...base,
          modelDirectory: `/root/.exo/models/${MODEL}`,
          total: { inBytes: TOTAL },
          readOnly: false,
        },
      };
    }
    return {
      DownloadOngoing: {
        ...base,
        downloadProgress: {
          total: { inBytes: TOTAL },
          downloaded: { inBytes: Math.round(TOTAL * step) },
          downloadedThisSession: { inBytes: Math.round(TOTAL * step) },
          completedFiles: 0,
          totalFiles: 2,
          speed: 45_000_000,
          etaMs: 18_000,
          files: {},
        },
      },
    };
  };

  const state = (): unknown => {
    const nodeIdentities: Record<string, unknown> = {};
    for (const name of present) {
      nodeIdentities[ids.get(name) ?? name] = { modelId: 'x', chipId: 'cpu', friendlyName: name, osVersion: 'Linux' };
    }
    const instances: Record<string, unknown> = {};
    const runners: Record<string, unknown> = {};
    const downloads: Record<string, unknown[]> = {};
    if (instance !== null) {
      instance.pollsSincePlaced += 1;
      polls += 1;
      const poll = polls;
      let downloading = false;
      for (const name of instance.nodes) {
        const step = downloadAt(name, poll);
        if (step !== 'done') downloading = true;
        const id = ids.get(name) ?? name;
        downloads[id] = [downloadJson(id, step)];
      }
      // Runners wait for the files: the load starts counting once every node has them.
      if (downloading) instance.pollsSincePlaced = Math.min(instance.pollsSincePlaced, 1);
      const loaded =
        !downloading && (instance.ready || (!o.neverReady && instance.pollsSincePlaced > (o.readyAfterPolls ?? 2)));
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
      downloads,
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
      if (lost > 0) lost -= 1;
      else instance = { nodes: present, pollsSincePlaced: 0, ready: false };
      return json(res, 200, { message: 'Command received.', command_id: 'cmd-1', model_card: {} });
    }
    return json(res, 404, { detail: 'Not Found' });
  });
  t.after(() => server.close());
  const client = createExoClient({ url: server.url, nodes: NODES, pollIntervalMs: 10, instanceAppearMs: 100 });
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

  void test('a placement lost in a master election is placed again after the cluster is read once more', async (t) => {
    const exo = await fakeExo(t, { cards: [MODEL], lostPlacements: 1 });
    const seen: PrepareProgress[] = [];
    const r = await exo.client.prepare(MODEL, { timeoutMs: 5000, onProgress: (p) => seen.push(p) });
    assert.equal(r.ok, true, JSON.stringify(r.error));
    assert.equal(exo.posts().filter((p) => p.path === '/place_instance').length, 2);
    const again = seen.find((p) => /placing again \(2 of 3\)/.test(p.message));
    assert.ok(again, 'the reason is on the progress line');
    assert.match(again.message, /no instance of .* 0\.1 s after EXO accepted the placement \(its master rejected it/);

    const never = await fakeExo(t, { cards: [MODEL], lostPlacements: 5 });
    const n = await never.client.prepare(MODEL, { timeoutMs: 5000 });
    assert.equal(n.error?.code, 'KAGE_ERR_EXO_PLACEMENT');
    assert.match(n.error?.message ?? '', /accepted 3 placements .* but created no instance/);
    assert.match(n.error?.message ?? '', /the EXO master's log says why/, 'the hint reaches the stored error');
    assert.equal(never.posts().filter((p) => p.path === '/place_instance').length, 3, 'bounded');
  });

  void test('an instance that shows up late is never placed twice', async (t) => {
    // The instance appears on the poll right before a second placement would be sent.
    const exo = await fakeExo(t, { cards: [MODEL], existing: undefined });
    const slowClient = createExoClient({
      url: exo.server.url,
      nodes: NODES,
      pollIntervalMs: 10,
      instanceAppearMs: 60_000,
    });
    t.after(() => slowClient.close());
    const r = await slowClient.prepare(MODEL, { timeoutMs: 5000 });
    assert.equal(r.ok, true);
    assert.equal(exo.posts().filter((p) => p.path === '/place_instance').length, 1);
  });

  void test('downloads: progress per node, their own timeout, then the load; failures name the node', async (t) => {
    const steps: Array<'pending' | number | 'done'> = ['pending', 0.25, 0.5, 0.75, 0.9, 'done'];
    const exo = await fakeExo(t, { cards: [MODEL], downloads: { srv2: steps }, readyAfterPolls: 2 });
    const seen: PrepareProgress[] = [];
    // A ready timeout far shorter than the download: downloads do not count against it.
    const r = await exo.client.prepare(MODEL, {
      timeoutMs: 1000,
      downloadTimeoutMs: 5000,
      onProgress: (p) => seen.push(p),
    });
    assert.equal(r.ok, true, JSON.stringify(r.error));
    const phases = seen.map((p) => p.phase);
    assert.ok(phases.indexOf('downloading') < phases.lastIndexOf('loading'), 'download first, then the load');
    const lines = seen.filter((p) => p.phase === 'downloading').map((p) => p.message);
    assert.ok(lines.some((l) => l.includes('srv2 waiting to start')));
    assert.ok(
      lines.some((l) => l.includes('srv2 0.50/2.0 GB (25 %) at 45.0 MB/s, 18 s left')),
      lines.join('\n'),
    );
    assert.ok(
      lines.every((l) => !l.includes('srv1')),
      'nodes that have the files are not listed',
    );

    const stuck = await fakeExo(t, { cards: [MODEL], downloads: { rog: ['pending', 0.1] } });
    const s = await stuck.client.prepare(MODEL, { timeoutMs: 60_000, downloadTimeoutMs: 150 });
    assert.equal(s.error?.code, 'KAGE_ERR_EXO_DOWNLOAD_TIMEOUT');
    assert.match(s.error?.message ?? '', /still downloading after 0\.15 s \(rog 0\.20\/2\.0 GB \(10 %\)/);

    const broken = await fakeExo(t, { cards: [MODEL], downloads: { srv1: [0.3, 'failed'] } });
    const b = await broken.client.prepare(MODEL, { timeoutMs: 5000 });
    assert.equal(b.error?.code, 'KAGE_ERR_EXO_DOWNLOAD_FAILED');
    assert.match(b.error?.message ?? '', /on srv1 failed: No space left on device/);
  });

  void test('readExoState reads downloads: tags, bytes, rate and ETA, camelCase or snake_case', () => {
    const s = readExoState({
      downloads: {
        a: [
          {
            DownloadOngoing: {
              nodeId: 'a',
              shardMetadata: { PipelineShardMetadata: { modelCard: { modelId: 'm/x' } } },
              downloadProgress: { total: { inBytes: 100 }, downloaded: { inBytes: 40 }, speed: 10, etaMs: 6000 },
            },
          },
        ],
        b: [
          {
            DownloadPending: {
              node_id: 'b',
              shard_metadata: { TensorShardMetadata: { model_card: { model_id: 'm/x' } } },
              total: { in_bytes: 0 },
            },
          },
          {
            DownloadCompleted: {
              nodeId: 'b',
              shardMetadata: { PipelineShardMetadata: { modelCard: { modelId: 'm/y' } } },
              total: { inBytes: 5 },
            },
          },
          { NotAnEntry: {} },
        ],
        c: 'garbage',
      },
    });
    assert.deepEqual(s.downloads, [
      {
        nodeId: 'a',
        modelId: 'm/x',
        status: 'DownloadOngoing',
        totalBytes: 100,
        downloadedBytes: 40,
        speed: 10,
        etaMs: 6000,
        errorMessage: null,
      },
      {
        nodeId: 'b',
        modelId: 'm/x',
        status: 'DownloadPending',
        totalBytes: 0,
        downloadedBytes: null,
        speed: null,
        etaMs: null,
        errorMessage: null,
      },
      {
        nodeId: 'b',
        modelId: 'm/y',
        status: 'DownloadCompleted',
        totalBytes: 5,
        downloadedBytes: null,
        speed: null,
        etaMs: null,
        errorMessage: null,
      },
    ]);
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
          MlxRingInstance: {
            instance_id: 'i',
            shard_assignments: {
              model_id: 'm/x',
              node_to_runner: { a: 'r' },
              runner_to_shard: {
                r: {
                  PipelineShardMetadata: {
                    model_card: { model_id: 'm/x', storage_size: { in_bytes: 4096 } },
                    start_layer: 0,
                    end_layer: 7,
                    n_layers: 28,
                  },
                },
              },
            },
          },
        },
      },
      runners: { r: { RunnerLoading: { layers_loaded: 1, total_layers: 4 } } },
    });
    assert.equal(s.nodeNames.get('a'), 'srv1');
    assert.equal(s.nodeNames.get('b'), 'b');
    assert.deepEqual(s.instances, [
      {
        instanceId: 'i',
        modelId: 'm/x',
        kind: 'MlxRingInstance',
        nodeToRunner: { a: 'r' },
        shards: new Map([
          [
            'r',
            {
              kind: 'PipelineShardMetadata',
              startLayer: 0,
              endLayer: 7,
              nLayers: 28,
              worldSize: null,
              modelBytes: 4096,
            },
          ],
        ]),
      },
    ]);
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
