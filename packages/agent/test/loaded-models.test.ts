// What the node's model servers hold: Ollama's /api/ps and EXO's /state read into the wire's
// shapes, polled while the service is up, published once per change; the agent.yaml key checked
// like every other.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { chmod, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { AgentMessage, LoadedModels } from '@kage/wire';
import {
  AgentConfigError,
  createLoadedModelsWatcher,
  loadAgentConfig,
  readExoInstances,
  readOllamaPs,
} from '../src/index.js';
import { captureLog, tempDir, waitFor } from './helpers/supervision-fixtures.js';

const NOW = Date.parse('2026-06-04T03:40:00Z');

// Ollama's own example of /api/ps (one model, fully on the GPU, a context length).
const PS = {
  models: [
    {
      name: 'qwen2.5-coder:32b',
      model: 'qwen2.5-coder:32b',
      size: 28433574788,
      digest: 'b92d6a0bd47ee79114298de0177bf920c05a706d12633950b3936778492bef41',
      details: {
        parent_model: '',
        format: 'gguf',
        family: 'qwen2',
        families: ['qwen2'],
        parameter_size: '32.8B',
        quantization_level: 'Q4_K_M',
      },
      expires_at: '2026-06-04T03:48:04.305574107-06:00',
      size_vram: 28433574788,
      context_length: 16384,
    },
  ],
};

test('readOllamaPs: every field of /api/ps; "kept for ever" and missing fields are unset, not 0', () => {
  assert.deepEqual(readOllamaPs(PS, NOW), [
    {
      name: 'qwen2.5-coder:32b',
      size_bytes: 28433574788,
      vram_bytes: 28433574788,
      expires_at_ms: Date.parse('2026-06-04T09:48:04.305Z'),
      context_length: 16384,
      parameter_size: '32.8B',
      quantization: 'Q4_K_M',
    },
  ]);
  // keep_alive < 0 is stored as MaxInt64: /api/ps shows an expiry centuries ahead.
  const forever = readOllamaPs({ models: [{ name: 'm:1b', expires_at: '2318-09-13T00:00:00Z' }] }, NOW);
  assert.deepEqual(forever, [{ name: 'm:1b', parameter_size: '', quantization: '' }]);
  assert.deepEqual(readOllamaPs({ models: [] }, NOW), []);
  assert.throws(() => readOllamaPs({ error: 'x' }, NOW), /no "models" list.*\/api\/ps/);
  assert.throws(() => readOllamaPs([1], NOW), /no "models" list/);
});

/** A two-node pipeline instance and a failed one, shaped as EXO 1.0.71 serialises /state. */
function exoState(): unknown {
  const card = (id: string) => ({ modelId: id, storageSize: { inBytes: 2_800_000_000 }, nLayers: 28 });
  const shard = (id: string, start: number, end: number) => ({
    PipelineShardMetadata: {
      modelCard: card(id),
      deviceRank: 0,
      worldSize: 2,
      startLayer: start,
      endLayer: end,
      nLayers: 28,
    },
  });
  return {
    topology: { nodes: ['n1', 'n2', 'n3'], connections: {} },
    nodeIdentities: { n1: { friendlyName: 'srv1' }, n2: { friendlyName: 'srv2' } },
    instances: {
      i1: {
        MlxRingInstance: {
          instanceId: 'i1',
          shardAssignments: {
            modelId: 'mlx-community/Qwen2.5-3B-Instruct-4bit',
            // srv2 holds the first layers: the runners come out in pipeline order, not map order.
            nodeToRunner: { n1: 'r1', n2: 'r2' },
            runnerToShard: { r1: shard('q', 21, 28), r2: shard('q', 0, 21) },
          },
        },
      },
      i2: {
        MlxRingInstance: {
          instanceId: 'i2',
          shardAssignments: {
            modelId: 'mlx-community/Llama-3.2-1B-Instruct-4bit',
            nodeToRunner: { n3: 'r3', n1: 'r4' },
            runnerToShard: {
              r3: {
                TensorShardMetadata: { modelCard: card('l'), worldSize: 2, startLayer: 0, endLayer: 28, nLayers: 28 },
              },
            },
          },
        },
      },
    },
    runners: {
      r1: { RunnerReady: {} },
      r2: { RunnerLoading: { layersLoaded: 7, totalLayers: 21 } },
      r3: { RunnerFailed: { errorMessage: 'Node n3 has insufficient memory' } },
    },
  };
}

test('readExoInstances: runners in pipeline order, by friendly name, with their layers and share of the weights', () => {
  const [llama, qwen] = readExoInstances(exoState());
  assert.deepEqual(qwen, {
    instance_id: 'i1',
    model: 'mlx-community/Qwen2.5-3B-Instruct-4bit',
    kind: 'MlxRingInstance',
    runners: [
      {
        host: 'srv2',
        state: 'RunnerLoading',
        layers_loaded: 7,
        total_layers: 21,
        start_layer: 0,
        end_layer: 21,
        n_layers: 28,
        weights_bytes: 2_100_000_000,
      },
      { host: 'srv1', state: 'RunnerReady', start_layer: 21, end_layer: 28, n_layers: 28, weights_bytes: 700_000_000 },
    ],
  });
  // A node without an identity keeps EXO's id; a runner EXO has not listed is pending; a tensor
  // shard holds 1/worldSize of every layer.
  assert.deepEqual(llama?.runners, [
    {
      host: 'n3',
      state: 'RunnerFailed',
      start_layer: 0,
      end_layer: 28,
      n_layers: 28,
      weights_bytes: 1_400_000_000,
      error: 'Node n3 has insufficient memory',
    },
    { host: 'srv1', state: 'pending' },
  ]);
  assert.deepEqual(readExoInstances({ topology: { nodes: [] } }), []);
  assert.throws(() => readExoInstances({ models: [] }), /no "topology".*\/state/);
  assert.throws(() => readExoInstances('RunnerReady'), /no "topology"/);
});

/** A server whose answer the test sets; counts the requests. */
async function fakeServer(t: TestContext) {
  const server = createServer((req, res) => {
    s.requests++;
    if (s.status !== 200) {
      res.writeHead(s.status).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(s.body);
  });
  const s = { body: JSON.stringify({ models: [] }), status: 200, requests: 0, url: '' };
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/ps`;
  t.after(() => server.close());
  return s;
}

test('the watcher publishes once per change, says why a server cannot be read, and leaves a stopped service alone', async (t) => {
  const ollama = await fakeServer(t);
  const { log, entries } = captureLog();
  let state = 'running';
  const watcher = createLoadedModelsWatcher({
    sources: { ollama: { api: 'ollama', url: ollama.url, interval_ms: 60_000 } },
    serviceState: () => state,
    log,
  });
  t.after(() => watcher.close());
  const sent: LoadedModels[] = [];
  watcher.subscribe((m: AgentMessage) => {
    if (m.loaded_models) sent.push(m.loaded_models);
  });
  assert.equal(watcher.current(), null, 'nothing to say before the first read');
  watcher.start();
  await waitFor('the first reading', () => sent[0]);
  assert.deepEqual(sent[0]?.services, [{ service: 'ollama', api: 'ollama', models: [], instances: [] }]);

  await watcher.refresh();
  assert.equal(sent.length, 1, 'an unchanged answer is not sent again');

  ollama.body = JSON.stringify(PS);
  await watcher.refresh();
  assert.equal(sent.length, 2);
  assert.equal(sent[1]?.services?.[0]?.models?.[0]?.name, 'qwen2.5-coder:32b');
  assert.deepEqual(watcher.current(), { loaded_models: sent[1] }, 'what a new stream sends first');

  ollama.status = 503;
  await watcher.refresh();
  assert.match(String(sent[2]?.services?.[0]?.error), /\/api\/ps: HTTP 503/);
  assert.deepEqual(sent[2]?.services?.[0]?.models, [], 'unknown, not "none"');
  ollama.status = 200;
  ollama.body = '<html>';
  await watcher.refresh();
  assert.match(String(sent[3]?.services?.[0]?.error), /not JSON/);

  const asked = ollama.requests;
  state = 'exited';
  await watcher.refresh();
  assert.equal(ollama.requests, asked, 'a stopped service is not asked');
  assert.match(String(sent[4]?.services?.[0]?.error), /ollama is not running \(exited\)/);
  // One line when reading starts failing; none for each further failure.
  assert.equal(entries.filter((e) => e.msg === 'loaded models cannot be read').length, 1);
});

test('agent.yaml loaded_models: the interval defaults; a bad api, URL, key or interval names the key', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'agent.token'), 'tok-0123456789abcdef\n', { mode: 0o600 });
  const file = join(dir, 'agent.yaml');
  const write = async (services: string) => {
    await writeFile(
      file,
      `node: srv1\ncoordinator: { url: "127.0.0.1:1", token_file: agent.token }\nservices:\n${services}`,
    );
    await chmod(file, 0o600);
  };
  await write(
    [
      '  ollama: { driver: systemd, unit: ollama.service, loaded_models: { api: ollama, url: "http://127.0.0.1:11434/api/ps" } }',
      '  exo: { driver: process, command: [sleep, "60"], loaded_models: { api: exo, url: "http://127.0.0.1:52415/state", interval_ms: 5000 } }',
      '',
    ].join('\n'),
  );
  const config = await loadAgentConfig(file, { env: {} });
  assert.deepEqual(config.services['ollama']?.loaded_models, {
    api: 'ollama',
    url: 'http://127.0.0.1:11434/api/ps',
    interval_ms: 2000,
  });
  assert.equal(config.services['exo']?.loaded_models?.interval_ms, 5000);

  await write(
    [
      '  a: { driver: systemd, unit: a.service, loaded_models: { api: vllm, url: "http://127.0.0.1:8000/" } }',
      '  b: { driver: systemd, unit: b.service, loaded_models: { api: ollama, url: "ftp://x/api/ps" } }',
      '  c: { driver: systemd, unit: c.service, loaded_models: { api: exo } }',
      '  d: { driver: process, command: [sleep, "60"], loaded_models: { api: exo, url: "http://x/state", every: 5 } }',
      '  e: { driver: process, command: [sleep, "60"], loaded_models: { api: exo, url: "http://x/state", interval_ms: 10 } }',
      '  f: { driver: process, command: [sleep, "60"], loaded_models: "http://x/api/ps" }',
      '',
    ].join('\n'),
  );
  const err = await loadAgentConfig(file, { env: {} }).then(
    () => assert.fail('accepted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AgentConfigError);
  const reason = (path: string) => err.problems.find((p) => p.path === path)?.reason ?? `no problem at ${path}`;
  assert.match(reason('services.a.loaded_models.api'), /"ollama" \(url is its \/api\/ps\) or "exo"/);
  assert.match(reason('services.b.loaded_models.url'), /must use http or https, not ftp/);
  assert.match(reason('services.c.loaded_models.url'), /required|missing/);
  assert.match(reason('services.d.loaded_models.every'), /unknown key/);
  assert.match(reason('services.e.loaded_models.interval_ms'), /from 500 to 600000/);
  assert.match(reason('services.f.loaded_models'), /mapping|object/);
});
