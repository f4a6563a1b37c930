/**
 * EXO v1.0.71 API of a single emulated node: node id, state, models, custom cards, placement,
 * instances, error shapes and the fault routes, over a real socket.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import {
  LLAMA_3B,
  LLAMA_70B,
  QWEN_3B,
  chatBody,
  getState,
  placeAndWait,
  postJson,
  request,
  startNode,
  testProfile,
  waitFor,
  type InstanceView,
  type ShardView,
} from './exo-helpers.js';

const GiB = 1024 ** 3;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function httpError(status: number, type: string, message: string) {
  return { error: { message, type, param: null, code: status } };
}

describe('node identity and state', () => {
  test('GET /node_id is a bare JSON string, random per start', async (t) => {
    const a = await startNode(t);
    const b = await startNode(t, { name: 'srv2' });
    const first = await request(a.url, '/node_id');
    assert.equal(first.status, 200);
    assert.match(first.contentType ?? '', /^application\/json/);
    assert.match(first.text, /^"12D3KooW[1-9A-HJ-NP-Za-km-z]{44}"$/);
    assert.equal((await request(a.url, '/node_id')).text, first.text);
    assert.notEqual((await request(b.url, '/node_id')).text, first.text);
  });

  test('options are validated; port 0 is read back', async (t) => {
    const node = await startNode(t);
    assert.ok(node.port > 0);
    assert.equal(node.url, `http://127.0.0.1:${node.port}`);
    await assert.rejects(startNode(t, { peers: ['http://srv2'] }), /peer must be HOST:PORT/);
    await assert.rejects(startNode(t, { faults: { jitter: 3 } }), /invalid faults: jitter: must be between 0 and 1/);
    await assert.rejects(startNode(t, { heartbeatIntervalMs: 0 }), /heartbeatIntervalMs must be a positive number/);
  });

  test('GET /state has v1.0.71 keys in camelCase with this node in it', async (t) => {
    const node = await startNode(t, { name: 'srv1', profile: testProfile(12) });
    const nodeId = (await request(node.url, '/node_id')).body as string;
    const state = await getState(node.url);
    assert.deepEqual(Object.keys(state).sort(), [
      'downloads',
      'instances',
      'lastEventAppliedIdx',
      'lastSeen',
      'nodeDisk',
      'nodeIdentities',
      'nodeMemory',
      'nodeNetwork',
      'nodeRdmaCtl',
      'nodeSystem',
      'nodeThunderbolt',
      'nodeThunderboltBridge',
      'runners',
      'tasks',
      'thunderboltBridgeCycles',
      'topology',
    ]);
    assert.deepEqual(state.topology, { nodes: [nodeId], connections: {} });
    assert.deepEqual(state.nodeIdentities[nodeId], {
      modelId: 'Unknown Model',
      chipId: 'Unknown Chip',
      friendlyName: 'srv1',
      osVersion: 'Linux',
      osBuildVersion: 'Unknown',
    });
    assert.deepEqual(state.nodeMemory[nodeId], {
      ramTotal: { inBytes: 16 * GiB },
      ramAvailable: { inBytes: 12 * GiB },
      swapTotal: { inBytes: 0 },
      swapAvailable: { inBytes: 0 },
    });
    assert.match(state.lastSeen[nodeId] ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.deepEqual(state.instances, {});
    assert.deepEqual(state.runners, {});
  });

  test('GET /state/{path} walks the JSON and 404s on a bad path', async (t) => {
    const node = await startNode(t);
    const nodeId = (await request(node.url, '/node_id')).body as string;
    assert.equal((await request(node.url, '/state/topology/nodes/0')).body, nodeId);
    assert.deepEqual((await request(node.url, '/state/instances')).body, {});
    const missing = await request(node.url, '/state/topology/nope');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, httpError(404, 'Not Found', "unable to find path 'topology.nope' in state json"));
  });

  test('paths outside the API fall through to the dashboard: 404 / 405 detail bodies', async (t) => {
    const node = await startNode(t);
    const get = await request(node.url, '/health');
    assert.equal(get.status, 404);
    assert.deepEqual(get.body, { detail: 'Not Found' });
    const post = await request(node.url, '/state', { method: 'POST' });
    assert.equal(post.status, 405);
    assert.deepEqual(post.body, { detail: 'Method Not Allowed' });
  });
});

describe('models and cards', () => {
  test('GET /models and /v1/models list the built-in cards only', async (t) => {
    const node = await startNode(t);
    for (const path of ['/models', '/v1/models']) {
      const res = await request(node.url, path);
      assert.equal(res.status, 200);
      const list = res.body as { object: string; data: Record<string, unknown>[] };
      assert.equal(list.object, 'list');
      // v1.0.71 ships 120 inference cards; Qwen2.5 is not among them.
      const ids = list.data.map((m) => m.id);
      assert.equal(ids.length, 120);
      assert.ok(ids.includes(LLAMA_70B));
      assert.ok(!ids.includes(QWEN_3B));
      const llama = list.data.find((m) => m.id === LLAMA_3B)!;
      assert.deepEqual(
        { ...llama, created: 0 },
        {
          id: LLAMA_3B,
          object: 'model',
          created: 0,
          owned_by: 'exo',
          hugging_face_id: LLAMA_3B,
          name: 'Llama-3.2-3B-Instruct-4bit',
          description: '',
          context_length: 131072,
          tags: [],
          storage_size_megabytes: 1777,
          supports_tensor: true,
          tasks: ['TextGeneration'],
          is_custom: false,
          family: 'llama',
          quantization: '4bit',
          base_model: 'Llama 3.2 3B',
          capabilities: ['text'],
        },
      );
    }
    // A node starts with every catalogue model on disk unless told otherwise (`downloadedModels`).
    const downloaded = (await request(node.url, '/models?status=downloaded')).body as { data: { id: string }[] };
    assert.deepEqual(
      downloaded.data.map((m) => m.id),
      [LLAMA_3B, LLAMA_70B],
    );
  });

  test('POST /models/add fetches a Qwen2.5 card; unknown repos fail with 400', async (t) => {
    const node = await startNode(t);
    const added = await postJson(node.url, '/models/add', { model_id: QWEN_3B });
    assert.equal(added.status, 200);
    const card = added.body as Record<string, unknown>;
    assert.equal(card.id, QWEN_3B);
    assert.equal(card.is_custom, true);
    assert.equal(card.supports_tensor, false);
    assert.equal(card.context_length, 0);
    const ids = ((await request(node.url, '/models')).body as { data: { id: string }[] }).data.map((m) => m.id);
    assert.ok(ids.includes(QWEN_3B));

    const unknown = await postJson(node.url, '/models/add', { model_id: 'nobody/nothing' });
    assert.equal(unknown.status, 400);
    assert.deepEqual(
      unknown.body,
      httpError(
        400,
        'Bad Request',
        "Failed to fetch model: Model 'nobody/nothing' requires authentication. Set HF_TOKEN in the app's " +
          'Advanced settings, set the HF_TOKEN environment variable, or run `hf auth login`. ' +
          'Get a token at https://huggingface.co/settings/tokens',
      ),
    );
    const invalid = await postJson(node.url, '/models/add', {});
    assert.equal(invalid.status, 422);
    assert.deepEqual(invalid.body, {
      detail: [{ type: 'missing', loc: ['body', 'model_id'], msg: 'Field required', input: {} }],
    });
  });

  test('GET /models/search asks the hub: mlx-community first, changes nothing, validates limit', async (t) => {
    const node = await startNode(t);
    const found = await request(node.url, `/models/search?query=${encodeURIComponent(QWEN_3B)}`);
    assert.equal(found.status, 200);
    assert.deepEqual(found.body, [
      { id: QWEN_3B, author: 'mlx-community', downloads: 0, likes: 0, last_modified: '', tags: [] },
    ]);
    const ids = ((await request(node.url, '/models')).body as { data: { id: string }[] }).data.map((m) => m.id);
    assert.ok(!ids.includes(QWEN_3B), 'a search adds no card');

    const qwen = (await request(node.url, '/models/search?query=qwen2.5&limit=2')).body as { id: string }[];
    assert.equal(qwen.length, 2);
    for (const r of qwen) assert.match(r.id, /^mlx-community\/Qwen2\.5-/i);
    assert.deepEqual((await request(node.url, '/models/search?query=nobody/nothing')).body, []);

    const bad = await request(node.url, '/models/search?limit=many');
    assert.equal(bad.status, 422);
    assert.equal((bad.body as { detail: { loc: string[] }[] }).detail[0]?.loc.join('.'), 'query.limit');
  });
});

describe('placement and instances', () => {
  test('a model the hub does not know fails placement with a plain 500; /models/add is no prerequisite', async (t) => {
    const node = await startNode(t);
    const unknown = await postJson(node.url, '/place_instance', { model_id: 'nobody/nothing' });
    assert.equal(unknown.status, 500);
    assert.match(unknown.contentType ?? '', /^text\/plain/);
    assert.equal(unknown.text, 'Internal Server Error');
    const instance = await placeAndWait(node.url, QWEN_3B);
    assert.equal(instance.shardAssignments.modelId, QWEN_3B);
  });

  test('POST /place_instance validates like pydantic', async (t) => {
    const node = await startNode(t);
    const bad = await postJson(node.url, '/place_instance', { model_id: LLAMA_3B, sharding: 'Ring', min_nodes: 'x' });
    assert.equal(bad.status, 422);
    assert.deepEqual(bad.body, {
      detail: [
        {
          type: 'enum',
          loc: ['body', 'sharding'],
          msg: "Input should be 'Tensor' or 'Pipeline'",
          input: 'Ring',
          ctx: { expected: "'Tensor' or 'Pipeline'" },
        },
        {
          type: 'int_parsing',
          loc: ['body', 'min_nodes'],
          msg: 'Input should be a valid integer, unable to parse string as an integer',
          input: 'x',
        },
      ],
    });
    const broken = await request(node.url, '/place_instance', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model_id": 1',
    });
    assert.equal(broken.status, 422);
    assert.equal((broken.body as { detail: { type: string }[] }).detail[0]!.type, 'json_invalid');
    // FastAPI only parses JSON content types; any other body is raw bytes and fails the model.
    const plain = await request(node.url, '/place_instance', { method: 'POST', body: `{"model_id":"${LLAMA_3B}"}` });
    assert.equal(plain.status, 422);
    assert.deepEqual((plain.body as { detail: unknown[] }).detail[0], {
      type: 'model_attributes_type',
      loc: ['body'],
      msg: 'Input should be a valid dictionary or object to extract fields from',
      input: `{"model_id":"${LLAMA_3B}"}`,
    });
  });

  test('an instance is placed asynchronously and its runner loads, then is ready', async (t) => {
    // A slower disk (1.86 GB at 2 GB/s) keeps RunnerLoading visible for about a second, long
    // enough for a poll to see it even when the machine is busy.
    const node = await startNode(t, { profile: testProfile(16, { diskReadBytesPerSec: 2e9 }) });
    const nodeId = (await request(node.url, '/node_id')).body as string;
    const placed = await postJson(node.url, '/place_instance', {
      model_id: LLAMA_3B,
      sharding: 'Pipeline',
      instance_meta: 'MlxRing',
      min_nodes: 1,
    });
    assert.equal(placed.status, 200);
    const answer = placed.body as { message: string; command_id: string; model_card: Record<string, unknown> };
    assert.equal(answer.message, 'Command received.');
    assert.match(answer.command_id, UUID);
    assert.equal(answer.model_card.modelId, LLAMA_3B);
    assert.deepEqual(answer.model_card.storageSize, { inBytes: 1_863_319_552 });
    assert.equal(answer.model_card.nLayers, 28);

    const seen = new Set<string>();
    let loading: { layersLoaded?: number; totalLayers?: number } | undefined;
    const instance = await waitFor('runner ready', async () => {
      const state = await getState(node.url);
      const inst = Object.values(state.instances)[0]?.MlxRingInstance;
      if (!inst) return undefined;
      const status = state.runners[Object.values(inst.shardAssignments.nodeToRunner)[0]!]!;
      const name = Object.keys(status)[0]!;
      seen.add(name);
      if (name === 'RunnerLoading') loading = status.RunnerLoading;
      return name === 'RunnerReady' ? inst : undefined;
    });
    assert.ok(seen.has('RunnerLoading'), `statuses seen: ${[...seen].join(', ')}`);
    assert.equal(loading?.totalLayers, 28);
    assert.deepEqual(Object.keys(instance.shardAssignments.nodeToRunner), [nodeId]);
    assert.match(instance.instanceId, UUID);
    assert.ok(instance.ephemeralPort >= 49152 && instance.ephemeralPort <= 65535);

    // psutil's available RAM drops by the loaded weights. Like EXO's periodic memory sampling, the
    // node refreshes it once per heartbeat round, so it may trail the runner status by a round.
    const state = await waitFor('available RAM to drop by the weights', async () => {
      const current = await getState(node.url);
      return current.nodeMemory[nodeId]!.ramAvailable.inBytes === 16 * GiB - 1_863_319_552 ? current : undefined;
    });
    // The start-up scan reports every card (120 built in): the served models' files were there, so
    // nothing was downloaded; every other card is pending.
    const scan = state.downloads[nodeId] as DownloadState[];
    assert.equal(scan.length, 120);
    const completed = scan.filter((d) => tagOf(d) === 'DownloadCompleted').map(modelOf);
    assert.deepEqual(completed.sort(), [LLAMA_3B, LLAMA_70B].sort());
    assert.ok(scan.filter((d) => tagOf(d) !== 'DownloadCompleted').every((d) => tagOf(d) === 'DownloadPending'));
  });

  test('GET and DELETE /instance/{id}, with 404 for unknown ids', async (t) => {
    const node = await startNode(t);
    const instance = await placeAndWait(node.url);
    const got = await request(node.url, `/instance/${instance.instanceId}`);
    assert.equal(got.status, 200);
    assert.equal((got.body as { MlxRingInstance: InstanceView }).MlxRingInstance.instanceId, instance.instanceId);

    for (const method of ['GET', 'DELETE']) {
      const missing = await request(node.url, '/instance/00000000-0000-4000-8000-000000000000', { method });
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.body, httpError(404, 'Not Found', 'Instance not found'));
    }

    const deleted = await request(node.url, `/instance/${instance.instanceId}`, { method: 'DELETE' });
    assert.equal(deleted.status, 200);
    const body = deleted.body as { message: string; command_id: string; instance_id: string };
    assert.equal(body.message, 'Command received.');
    assert.match(body.command_id, UUID);
    assert.equal(body.instance_id, instance.instanceId);
    await waitFor('instance gone', async () =>
      Object.keys((await getState(node.url)).instances).length === 0 ? true : undefined,
    );
    const chat = await postJson(node.url, '/v1/chat/completions', chatBody());
    assert.equal(chat.status, 404);
  });

  test('a model that does not fit: the placement error, and place_instance creates nothing', async (t) => {
    const logged: { level: number; msg: string; error?: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as never) });
    const node = await startNode(t, { profile: testProfile(8), logger });
    const placement = await request(node.url, `/instance/placement?model_id=${encodeURIComponent(LLAMA_70B)}`);
    assert.equal(placement.status, 400);
    assert.deepEqual(placement.body, httpError(400, 'Bad Request', 'No cycles found with sufficient memory'));

    // v1.0.71 answers the command and logs the master's ValueError; no instance ever appears.
    const placed = await postJson(node.url, '/place_instance', { model_id: LLAMA_70B });
    assert.equal(placed.status, 200);
    assert.equal((placed.body as { message: string }).message, 'Command received.');
    // The master ran the command and logged its ValueError: nothing can create the instance after.
    const failures = await waitFor('the command processor error', () => {
      const found = logged.filter((e) => e.msg === 'Error in command processor');
      return Promise.resolve(found.length > 0 ? found : undefined);
    });
    assert.deepEqual(
      failures.map((e) => [e.level, e.error]),
      [[40, 'No cycles found with sufficient memory']],
    );
    assert.deepEqual((await getState(node.url)).instances, {});

    const previews = (await request(node.url, `/instance/previews?model_id=${encodeURIComponent(LLAMA_70B)}`)).body as {
      previews: Record<string, unknown>[];
    };
    assert.deepEqual(
      previews.previews.map((p) => [p.sharding, p.instance_meta, p.instance, p.error]),
      [
        ['Pipeline', 'MlxRing', null, 'No cycles found with sufficient memory'],
        ['Pipeline', 'MlxJaccl', null, 'No cycles found with sufficient memory'],
        ['Tensor', 'MlxRing', null, 'No cycles found with sufficient memory'],
        ['Tensor', 'MlxJaccl', null, 'No cycles found with sufficient memory'],
      ],
    );
  });

  test('GET /instance/placement previews a fitting placement without creating it', async (t) => {
    const node = await startNode(t);
    const res = await request(node.url, `/instance/placement?model_id=${encodeURIComponent(LLAMA_3B)}&min_nodes=1`);
    assert.equal(res.status, 200);
    const instance = (res.body as { MlxRingInstance: InstanceView }).MlxRingInstance;
    assert.equal(instance.shardAssignments.modelId, LLAMA_3B);
    assert.deepEqual((await getState(node.url)).instances, {});
    const missing = await request(node.url, '/instance/placement');
    assert.equal(missing.status, 422);
    assert.deepEqual(missing.body, {
      detail: [{ type: 'missing', loc: ['query', 'model_id'], msg: 'Field required', input: null }],
    });
  });
});

/** A download state as `/state` serves it: `{"DownloadOngoing": {…}}` and its siblings. */
type DownloadState = Record<string, Record<string, unknown>>;

const tagOf = (d: DownloadState): string => Object.keys(d)[0]!;
const bodyOf = (d: DownloadState): Record<string, unknown> => Object.values(d)[0]!;
function modelOf(d: DownloadState): string {
  const shard = bodyOf(d).shardMetadata as Record<string, { modelCard: { modelId: string } }>;
  return Object.values(shard)[0]!.modelCard.modelId;
}

async function downloadOf(base: string, nodeId: string, model: string): Promise<DownloadState | undefined> {
  const list = (await request(base, `/state/downloads/${nodeId}`)).body as DownloadState[];
  return list.find((d) => modelOf(d) === model);
}

async function previewInstance(base: string, model = LLAMA_3B): Promise<{ MlxRingInstance: InstanceView }> {
  const res = await request(base, `/instance/previews?model_id=${encodeURIComponent(model)}`);
  const previews = (res.body as { previews: { instance: { MlxRingInstance: InstanceView } | null }[] }).previews;
  const found = previews.find((p) => p.instance !== null)?.instance;
  assert.ok(found, `no feasible preview: ${res.text}`);
  return found;
}

describe('model downloads', () => {
  // 8000 Mbit/s = 1 GB/s: the 3B model (1.88 GB with its tokenizer) takes about two seconds.
  const fresh = { downloadedModels: [], downloadRateMbps: 8000, modelsDir: '/srv/exo/models' };

  test('a node without the files downloads before its runner loads: Pending, Ongoing with progress, Completed', async (t) => {
    const node = await startNode(t, fresh);
    const nodeId = (await request(node.url, '/node_id')).body as string;

    // The start-up scan: every card is listed, pending with the repository's size.
    const before = (await request(node.url, `/state/downloads/${nodeId}`)).body as DownloadState[];
    assert.equal(before.length, 120);
    assert.ok(before.every((d) => tagOf(d) === 'DownloadPending'));
    const scanned = bodyOf((await downloadOf(node.url, nodeId, LLAMA_3B))!);
    assert.deepEqual(Object.keys(scanned), ['nodeId', 'shardMetadata', 'modelDirectory', 'downloaded', 'total']);
    assert.equal(scanned.nodeId, nodeId);
    assert.equal(scanned.modelDirectory, '/srv/exo/models/mlx-community--Llama-3.2-3B-Instruct-4bit');
    assert.deepEqual(scanned.downloaded, { inBytes: 0 });
    const repoBytes = (scanned.total as { inBytes: number }).inBytes;
    assert.ok(repoBytes > 1_863_319_552 && repoBytes < 1_863_319_552 + 30e6, `repository bytes ${repoBytes}`);
    const fullShard = (scanned.shardMetadata as { PipelineShardMetadata: ShardView }).PipelineShardMetadata;
    assert.deepEqual(
      [fullShard.deviceRank, fullShard.worldSize, fullShard.startLayer, fullShard.endLayer],
      [0, 1, 0, 28],
    );
    assert.deepEqual((await request(node.url, '/models?status=downloaded')).body, { object: 'list', data: [] });

    assert.equal((await postJson(node.url, '/place_instance', { model_id: LLAMA_3B })).status, 200);
    const tags = new Set<string>();
    const ongoing: Record<string, unknown>[] = [];
    const runnerWhileDownloading = new Set<string>();
    const done = await waitFor(
      'the download to complete and the runner to be ready',
      async () => {
        const state = await getState(node.url);
        const d = (state.downloads[nodeId] as DownloadState[]).find((x) => modelOf(x) === LLAMA_3B)!;
        tags.add(tagOf(d));
        if ('DownloadOngoing' in d) ongoing.push(d.DownloadOngoing);
        const inst = Object.values(state.instances)[0]?.MlxRingInstance;
        const runner = inst ? state.runners[Object.values(inst.shardAssignments.nodeToRunner)[0]!] : undefined;
        if (runner && !('DownloadCompleted' in d)) runnerWhileDownloading.add(Object.keys(runner)[0]!);
        return runner && 'RunnerReady' in runner ? d : undefined;
      },
      15_000,
    );
    assert.ok(tags.has('DownloadOngoing'), `states seen: ${[...tags].join(', ')}`);
    // The runner waits for the files (worker plan: no LoadModel before DownloadCompleted).
    assert.deepEqual([...runnerWhileDownloading], ['RunnerIdle']);

    const mid = ongoing.find((o) => {
      const p = o.downloadProgress as { downloaded: { inBytes: number } };
      return p.downloaded.inBytes > 0;
    });
    assert.ok(mid, 'an ongoing report with bytes');
    assert.deepEqual(Object.keys(mid), ['nodeId', 'shardMetadata', 'modelDirectory', 'downloadProgress']);
    const progress = mid.downloadProgress as {
      total: { inBytes: number };
      downloaded: { inBytes: number };
      downloadedThisSession: { inBytes: number };
      completedFiles: number;
      totalFiles: number;
      speed: number;
      etaMs: number;
      files: Record<string, { total: { inBytes: number }; totalFiles: number; files: object }>;
    };
    assert.deepEqual(Object.keys(progress), [
      'total',
      'downloaded',
      'downloadedThisSession',
      'completedFiles',
      'totalFiles',
      'speed',
      'etaMs',
      'files',
    ]);
    assert.equal(progress.total.inBytes, repoBytes);
    assert.ok(progress.downloaded.inBytes < repoBytes);
    assert.equal(progress.downloadedThisSession.inBytes, progress.downloaded.inBytes);
    assert.ok(Math.abs(progress.speed - 1e9) < 1e6, `speed ${progress.speed} B/s on a 1 GB/s link`);
    const expectedEta = ((repoBytes - progress.downloaded.inBytes) / progress.speed) * 1000;
    assert.ok(Math.abs(progress.etaMs - expectedEta) <= 1, `etaMs ${progress.etaMs}, expected ${expectedEta}`);
    assert.equal(progress.totalFiles, Object.keys(progress.files).length);
    assert.ok(progress.files['model.safetensors'] && progress.files['config.json'] && progress.files['tokenizer.json']);
    assert.equal(progress.files['model.safetensors'].totalFiles, 1);
    assert.deepEqual(progress.files['model.safetensors'].files, {});
    const sum = Object.values(progress.files).reduce((s, f) => s + f.total.inBytes, 0);
    assert.equal(sum, repoBytes);

    assert.deepEqual(Object.keys(done.DownloadCompleted!), [
      'nodeId',
      'shardMetadata',
      'modelDirectory',
      'total',
      'readOnly',
    ]);
    assert.deepEqual(done.DownloadCompleted!.total, { inBytes: repoBytes });
    assert.equal(done.DownloadCompleted!.readOnly, false);
    assert.equal(done.DownloadCompleted!.modelDirectory, '/srv/exo/models/mlx-community--Llama-3.2-3B-Instruct-4bit');
    const listed = (await request(node.url, '/models?status=downloaded')).body as { data: { id: string }[] };
    assert.deepEqual(
      listed.data.map((m) => m.id),
      [LLAMA_3B],
    );
  });

  test('POST /download/start, then skipped once complete; DELETE /download leaves it pending; cancel keeps the bytes', async (t) => {
    const node = await startNode(t, fresh);
    const nodeId = (await request(node.url, '/node_id')).body as string;
    const instance = await previewInstance(node.url);
    const shard = Object.values(instance.MlxRingInstance.shardAssignments.runnerToShard)[0];

    const started = await postJson(node.url, '/download/start', { targetNodeId: nodeId, shardMetadata: shard });
    assert.equal(started.status, 200);
    assert.deepEqual(Object.keys(started.body as object), ['commandId']);
    assert.match((started.body as { commandId: string }).commandId, UUID);
    // Right after the command: pending with zero bytes while the file list is fetched.
    const first = await waitFor('the download to begin', async () => {
      const d = await downloadOf(node.url, nodeId, LLAMA_3B);
      return d && 'DownloadPending' in d && (d.DownloadPending.total as { inBytes: number }).inBytes === 0
        ? d
        : undefined;
    });
    assert.deepEqual(first.DownloadPending!.downloaded, { inBytes: 0 });
    await waitFor('the download to complete', async () => {
      const d = await downloadOf(node.url, nodeId, LLAMA_3B);
      return d && 'DownloadCompleted' in d ? d : undefined;
    });
    // Starting again is a no-op for a completed model (the coordinator skips it).
    assert.equal(
      (await postJson(node.url, '/download/start', { target_node_id: nodeId, shard_metadata: shard })).status,
      200,
    );
    assert.ok('DownloadCompleted' in (await downloadOf(node.url, nodeId, LLAMA_3B))!);

    const deleted = await request(node.url, `/download/${nodeId}/${LLAMA_3B}`, { method: 'DELETE' });
    assert.equal(deleted.status, 200);
    assert.match((deleted.body as { commandId: string }).commandId, UUID);
    const pending = await waitFor('the files to go', async () => {
      const d = await downloadOf(node.url, nodeId, LLAMA_3B);
      return d && 'DownloadPending' in d ? d.DownloadPending : undefined;
    });
    assert.deepEqual([pending.downloaded, pending.total], [{ inBytes: 0 }, { inBytes: 0 }]);

    // Start again and cancel once bytes flow: pending keeps what was fetched.
    assert.equal(
      (await postJson(node.url, '/download/start', { targetNodeId: nodeId, shardMetadata: shard })).status,
      200,
    );
    await waitFor('bytes to flow', async () => {
      const d = await downloadOf(node.url, nodeId, LLAMA_3B);
      const p = d?.DownloadOngoing?.downloadProgress as { downloaded: { inBytes: number } } | undefined;
      return p && p.downloaded.inBytes > 0 ? true : undefined;
    });
    const cancelled = await postJson(node.url, '/download/cancel', { targetNodeId: nodeId, modelId: LLAMA_3B });
    assert.equal(cancelled.status, 200);
    const kept = await waitFor('the cancel', async () => {
      const d = await downloadOf(node.url, nodeId, LLAMA_3B);
      return d && 'DownloadPending' in d ? d.DownloadPending : undefined;
    });
    assert.ok((kept.downloaded as { inBytes: number }).inBytes > 0);
    assert.ok((kept.total as { inBytes: number }).inBytes > (kept.downloaded as { inBytes: number }).inBytes);
  });

  test('download commands: EXO answers 200 for an unknown node and never finishes a repository the hub lacks', async (t) => {
    const node = await startNode(t, fresh);
    const nodeId = (await request(node.url, '/node_id')).body as string;
    const instance = await previewInstance(node.url);
    const shard = Object.values(instance.MlxRingInstance.shardAssignments.runnerToShard)[0]!;

    const unknownNode = await postJson(node.url, '/download/start', {
      targetNodeId: 'no-such-node',
      shardMetadata: shard,
    });
    assert.equal(unknownNode.status, 200);
    const missingPath = await request(node.url, '/state/downloads/no-such-node');
    assert.equal(missingPath.status, 404);
    assert.deepEqual(
      missingPath.body,
      httpError(404, 'Not Found', "unable to find path 'downloads.no-such-node' in state json"),
    );

    // A repository Hugging Face does not serve: EXO v1.0.71 stays ongoing at zero bytes.
    const body = structuredClone(shard.PipelineShardMetadata!) as unknown as { modelCard: { modelId: string } };
    body.modelCard.modelId = 'nobody/no-such-model';
    assert.equal(
      (
        await postJson(node.url, '/download/start', {
          targetNodeId: nodeId,
          shardMetadata: { PipelineShardMetadata: body },
        })
      ).status,
      200,
    );
    const stuck = await waitFor('the unknown repository to be ongoing', async () => {
      const d = await downloadOf(node.url, nodeId, 'nobody/no-such-model');
      return d && 'DownloadOngoing' in d ? d.DownloadOngoing : undefined;
    });
    assert.deepEqual(stuck.downloadProgress, {
      total: { inBytes: 0 },
      downloaded: { inBytes: 0 },
      downloadedThisSession: { inBytes: 0 },
      completedFiles: 0,
      totalFiles: 0,
      speed: 0,
      etaMs: 0,
      files: {},
    });
  });

  test('download commands validate their bodies like pydantic (strict, no extra keys)', async (t) => {
    const node = await startNode(t, fresh);
    const empty = await postJson(node.url, '/download/start', {});
    assert.equal(empty.status, 422);
    assert.deepEqual(empty.body, {
      detail: [
        { type: 'missing', loc: ['body', 'targetNodeId'], msg: 'Field required', input: {} },
        { type: 'missing', loc: ['body', 'shardMetadata'], msg: 'Field required', input: {} },
      ],
    });
    const typed = await postJson(node.url, '/download/cancel', { targetNodeId: 5, modelId: LLAMA_3B, extra: true });
    assert.equal(typed.status, 422);
    assert.deepEqual(typed.body, {
      detail: [
        { type: 'string_type', loc: ['body', 'targetNodeId'], msg: 'Input should be a valid string', input: 5 },
        { type: 'extra_forbidden', loc: ['body', 'extra'], msg: 'Extra inputs are not permitted', input: true },
      ],
    });
    const badShard = await postJson(node.url, '/download/start', {
      targetNodeId: 'x',
      shardMetadata: { PipelineShardMetadata: { deviceRank: '0' } },
    });
    assert.equal(badShard.status, 422);
    const locs = (badShard.body as { detail: { loc: unknown[]; type: string }[] }).detail.map((e) => [
      e.loc.join('.'),
      e.type,
    ]);
    assert.deepEqual(locs.slice(0, 3), [
      ['body.shardMetadata.PipelineShardMetadata.modelCard', 'missing'],
      ['body.shardMetadata.PipelineShardMetadata.deviceRank', 'int_type'],
      ['body.shardMetadata.PipelineShardMetadata.worldSize', 'missing'],
    ]);
  });
});

describe('POST /instance', () => {
  test("a preview's instance is created as given, loads and is deleted", async (t) => {
    const node = await startNode(t);
    const instance = await previewInstance(node.url);
    const id = instance.MlxRingInstance.instanceId;
    const created = await postJson(node.url, '/instance', { instance });
    assert.equal(created.status, 200);
    const answer = created.body as { message: string; command_id: string; model_card: { modelId: string } };
    assert.deepEqual(Object.keys(answer), ['message', 'command_id', 'model_card']);
    assert.equal(answer.message, 'Command received.');
    assert.equal(answer.model_card.modelId, LLAMA_3B);
    await waitFor('the instance to be ready', async () => {
      const state = await getState(node.url);
      const runnerId = Object.values(instance.MlxRingInstance.shardAssignments.nodeToRunner)[0]!;
      return state.instances[id] && state.runners[runnerId] && 'RunnerReady' in state.runners[runnerId]
        ? true
        : undefined;
    });
    // The same instance again changes nothing.
    assert.equal((await postJson(node.url, '/instance', { instance })).status, 200);
    assert.equal(Object.keys((await getState(node.url)).instances).length, 1);
    assert.equal((await request(node.url, `/instance/${id}`, { method: 'DELETE' })).status, 200);
    await waitFor('the instance to be gone', async () =>
      (await request(node.url, `/instance/${id}`)).status === 404 ? true : undefined,
    );
  });

  test('bad bodies: pydantic 422s, an unknown model 500s, a model larger than all free RAM 400s', async (t) => {
    const node = await startNode(t);
    const missing = await postJson(node.url, '/instance', {});
    assert.equal(missing.status, 422);
    assert.deepEqual(missing.body, {
      detail: [{ type: 'missing', loc: ['body', 'instance'], msg: 'Field required', input: {} }],
    });
    const instance = await previewInstance(node.url);
    const runnerIds = Object.keys(instance.MlxRingInstance.shardAssignments.runnerToShard);
    const broken = structuredClone(instance);
    broken.MlxRingInstance.shardAssignments.nodeToRunner = { someNode: 'not-a-runner' };
    const invalid = await postJson(node.url, '/instance', { instance: broken });
    assert.equal(invalid.status, 422);
    assert.deepEqual(invalid.body, {
      detail: [
        {
          type: 'value_error',
          loc: ['body', 'instance', 'MlxRingInstance', 'shardAssignments'],
          msg: 'Value error, Runner not-a-runner in node_to_runner does not exist in runner_to_shard',
          input: broken.MlxRingInstance.shardAssignments,
          ctx: { error: 'Runner not-a-runner in node_to_runner does not exist in runner_to_shard' },
        },
      ],
    });
    assert.equal(runnerIds.length, 1);
    const noTag = await postJson(node.url, '/instance', { instance: { instanceId: 'x' } });
    assert.equal(noTag.status, 422);
    const members = (noTag.body as { detail: { loc: string[] }[] }).detail.map((e) => e.loc[2]);
    assert.deepEqual([...new Set(members)], ['MlxRingInstance', 'MlxJacclInstance']);

    const unknown = structuredClone(instance);
    unknown.MlxRingInstance.shardAssignments.modelId = 'nobody/no-such-model';
    const failed = await postJson(node.url, '/instance', { instance: unknown });
    assert.equal(failed.status, 500);
    assert.equal(failed.text, 'Internal Server Error');

    const big = structuredClone(instance);
    big.MlxRingInstance.shardAssignments.modelId = LLAMA_70B;
    const tooBig = await postJson(node.url, '/instance', { instance: big });
    assert.equal(tooBig.status, 400);
    assert.deepEqual(
      tooBig.body,
      httpError(400, 'Bad Request', 'Insufficient memory to create instance. Required: 37.9GB, Available: 16.0GB'),
    );
    assert.deepEqual((await getState(node.url)).instances, {});
  });
});

describe('fault knobs', () => {
  test('GET/PUT /_emulator/faults validates with mergeFaults', async (t) => {
    const node = await startNode(t, { faults: { extraLatencyMs: 5 } });
    const initial = await request(node.url, '/_emulator/faults');
    assert.equal((initial.body as { extraLatencyMs: number }).extraLatencyMs, 5);
    const bad = await postJson(node.url, '/_emulator/faults', { jitter: 2, nope: 1 }, 'PUT');
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body, {
      error: 'invalid fault options',
      errors: ['jitter: must be between 0 and 1', 'nope: unknown fault knob'],
    });
    const ok = await postJson(node.url, '/_emulator/faults', { errorAfterTokens: 3 }, 'PUT');
    assert.equal(ok.status, 200);
    assert.equal((ok.body as { errorAfterTokens: number; extraLatencyMs: number }).errorAfterTokens, 3);
    assert.equal((ok.body as { extraLatencyMs: number }).extraLatencyMs, 5);
  });
});

describe('built-in cards and the emulated hub', () => {
  test('/models carries the real v1.0.71 card fields', async (t) => {
    const node = await startNode(t);
    const list = (await request(node.url, '/models')).body as { data: Record<string, unknown>[] };
    const qwen3 = list.data.find((m) => m.id === 'mlx-community/Qwen3-30B-A3B-4bit');
    assert.deepEqual(
      { ...qwen3, created: 0 },
      {
        id: 'mlx-community/Qwen3-30B-A3B-4bit',
        object: 'model',
        created: 0,
        owned_by: 'exo',
        hugging_face_id: 'mlx-community/Qwen3-30B-A3B-4bit',
        name: 'Qwen3-30B-A3B-4bit',
        description: '',
        context_length: 32768,
        tags: [],
        storage_size_megabytes: Math.round(17_612_931_072 / 1024 ** 2),
        supports_tensor: true,
        tasks: ['TextGeneration'],
        is_custom: false,
        family: 'qwen',
        quantization: '4bit',
        base_model: 'Qwen3 30B',
        capabilities: ['text', 'thinking', 'thinking_toggle'],
      },
    );
    assert.ok(list.data.every((m) => m.is_custom === false));
  });

  test('the card in /place_instance has the sampling defaults, thinking variants included', async (t) => {
    const node = await startNode(t, { profile: testProfile(24) });
    const placed = await postJson(node.url, '/place_instance', { model_id: 'mlx-community/Qwen3-30B-A3B-4bit' });
    assert.equal(placed.status, 200);
    const card = (placed.body as { model_card: Record<string, unknown> }).model_card;
    assert.deepEqual(card.samplingDefaults, {
      temperature: 0.6,
      topP: 0.95,
      topK: 20,
      minP: 0,
      repetitionPenalty: null,
      presencePenalty: null,
      frequencyPenalty: null,
      thinking: null,
      nonThinking: {
        temperature: 0.7,
        topP: 0.8,
        topK: 20,
        minP: 0,
        repetitionPenalty: null,
        presencePenalty: null,
        frequencyPenalty: null,
      },
    });
  });

  test('placement and previews load a card-less id from the hub and keep it on that node only', async (t) => {
    const a = await startNode(t);
    const b = await startNode(t, { name: 'srv2', peers: [] });
    const placement = await request(a.url, `/instance/placement?model_id=${encodeURIComponent(QWEN_3B)}`);
    assert.equal(placement.status, 200);
    const body = (placement.body as { MlxRingInstance: InstanceView }).MlxRingInstance;
    assert.equal(body.shardAssignments.modelId, QWEN_3B);
    const listed = ((await request(a.url, '/models')).body as { data: Record<string, unknown>[] }).data.find(
      (m) => m.id === QWEN_3B,
    );
    assert.equal(listed?.is_custom, true);
    assert.equal(listed?.supports_tensor, false);
    assert.equal(listed?.context_length, 32768);
    const otherIds = ((await request(b.url, '/models')).body as { data: { id: string }[] }).data.map((m) => m.id);
    assert.ok(!otherIds.includes(QWEN_3B));

    const previews = await request(b.url, `/instance/previews?model_id=${encodeURIComponent(QWEN_3B)}`);
    assert.equal(previews.status, 200);
    assert.ok((previews.body as { previews: { error: string | null }[] }).previews.some((p) => p.error === null));

    const unknownPreview = await request(a.url, '/instance/previews?model_id=nobody/nothing');
    assert.equal(unknownPreview.status, 400);
    assert.deepEqual(
      unknownPreview.body,
      httpError(
        400,
        'Bad Request',
        "Failed to load model card: Model 'nobody/nothing' requires authentication. Set HF_TOKEN in the app's " +
          'Advanced settings, set the HF_TOKEN environment variable, or run `hf auth login`. ' +
          'Get a token at https://huggingface.co/settings/tokens',
      ),
    );
    const unknownPlacement = await request(a.url, '/instance/placement?model_id=nobody/nothing');
    assert.equal(unknownPlacement.status, 500);
    assert.equal(unknownPlacement.text, 'Internal Server Error');
  });
});

describe('runner teardown', () => {
  test('a deleted instance leaves its runner RunnerShuttingDown, then removed from runners', async (t) => {
    const node = await startNode(t);
    const instance = await placeAndWait(node.url);
    const runnerId = Object.values(instance.shardAssignments.nodeToRunner)[0]!;
    assert.equal((await request(node.url, `/instance/${instance.instanceId}`, { method: 'DELETE' })).status, 200);
    const seen = await waitFor('the instance to go', async () => {
      const state = await getState(node.url);
      return Object.keys(state.instances).length === 0 ? state : undefined;
    });
    // The instance goes first; the runner reports its teardown for a moment, then disappears.
    assert.deepEqual(Object.keys(seen.runners[runnerId] ?? {}), ['RunnerShuttingDown']);
    await waitFor('the runner to be removed', async () =>
      (await getState(node.url)).runners[runnerId] === undefined ? true : undefined,
    );
  });
});
