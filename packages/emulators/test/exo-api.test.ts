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
    assert.deepEqual((await request(node.url, '/models?status=downloaded')).body, { object: 'list', data: [] });
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
    assert.equal(state.downloads[nodeId]!.length, 1);
    const downloaded = (await request(node.url, '/models?status=downloaded')).body as { data: { id: string }[] };
    assert.deepEqual(
      downloaded.data.map((m) => m.id),
      [LLAMA_3B],
    );
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
