/**
 * The gateway as the coordinator runs it from coordinator.yaml: it starts with the daemon, its
 * series are in `/metrics`, and while a benchmark run measures a backend the gateway sends that
 * backend nothing (the run lock), then uses it again once the cell is over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createCoordinatorDaemon, loadCoordinatorConfig } from '@kage/coordinator';
import { DEFAULT_OLLAMA_MODELS, startOllamaEmulator } from '@kage/emulators';
import { profile } from './src/emulated-lab.js';
import { writeCoordinatorConfig } from './src/coordinator-lab.js';

const silent = pino({ level: 'silent' });
const MODEL = 'qwen2.5:3b';
const NO_SYSTEMD = {
  notifySocket: null,
  watchdogUsec: null,
  journalStream: null,
  stateDirectory: null,
  logLevel: null,
};

test('coordinator.yaml gateway: started with the daemon, in /metrics, and a run locks the backend it measures', async (t) => {
  const nodes = await Promise.all(
    ['rtx4090-desktop', 'cpu-server-ddr4'].map((id) =>
      startOllamaEmulator({
        listen: { host: '127.0.0.1', port: 0 },
        profile: profile(id),
        models: DEFAULT_OLLAMA_MODELS.filter((m) => m.name === MODEL),
        deterministic: true,
        logger: silent,
      }),
    ),
  );
  t.after(() => Promise.all(nodes.map((n) => n.close())));
  const [fast, slow] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
  const dir = await mkdtemp(join(tmpdir(), 'kage-gateway-coord-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const files = await writeCoordinatorConfig(dir, { grpcPort: 0, httpPort: 0, nodes: ['srv1'] });
  await appendFile(
    files.config,
    [
      'gateway:',
      '  listen: "127.0.0.1:0"',
      '  health_interval_ms: 200',
      '  backends:',
      `    - { id: fast, kind: ollama, url: "${fast.url}" }`,
      `    - { id: slow, kind: ollama, url: "${slow.url}" }`,
      '',
    ].join('\n'),
  );
  const daemon = createCoordinatorDaemon({
    config: await loadCoordinatorConfig(files.config),
    env: NO_SYSTEMD,
    log: silent,
    version: 'test',
    resumeRuns: false,
  });
  t.after(() => daemon.close());
  const { httpPort, gatewayPort } = await daemon.start();
  assert.ok(gatewayPort !== null && gatewayPort > 0);
  const api = `http://127.0.0.1:${httpPort}`;
  const gateway = `http://127.0.0.1:${gatewayPort}`;
  const ask = async (): Promise<string | null> => {
    const res = await fetch(`${gateway}/api/generate`, {
      method: 'POST',
      body: JSON.stringify({ model: MODEL, prompt: 'hi', stream: false, options: { num_predict: 2 } }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    await res.arrayBuffer();
    return res.headers.get('x-kage-backend');
  };
  assert.equal(await ask(), 'fast', 'the faster node, with nothing loaded anywhere');

  // A run measuring the fast node: while its cell runs, the gateway uses the slow one.
  const started = await fetch(`${api}/api/v1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${files.apiToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'lock',
      prompt: 'Write a long story.',
      max_tokens: 300,
      repetitions: 3,
      warmup: 0,
      targets: [{ id: 'fast-node', kind: 'ollama', url: fast.url }],
      models: [{ name: MODEL }],
    }),
  });
  assert.equal(started.status, 201, await started.clone().text());
  const { id } = (await started.json()) as { id: string };
  const run = async () =>
    (await (await fetch(`${api}/api/v1/runs/${id}`)).json()) as {
      status: string;
      progress: { current: unknown };
    };
  const deadline = Date.now() + 30_000;
  while ((await run()).progress.current === null) {
    if (Date.now() > deadline) throw new Error('the run never started its cell');
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(await ask(), 'slow', 'the measured node gets nothing from the gateway');
  while ((await run()).status === 'running') {
    if (Date.now() > deadline + 60_000) throw new Error('the run did not end');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(await ask(), 'fast', 'free again after the run');

  const metrics = await (await fetch(`${api}/metrics`)).text();
  assert.match(metrics, /^kage_gateway_requests_total\{route="api_generate",backend="slow",status="200"\} 1$/m);
  assert.match(metrics, /^kage_gateway_requests_total\{route="api_generate",backend="fast",status="200"\} 2$/m);

  // The same decisions, readable: GET /api/v1/gateway (what the dashboard shows).
  const unknown = await fetch(`${gateway}/api/generate`, {
    method: 'POST',
    body: JSON.stringify({ model: 'nope:1b', prompt: 'x' }),
  });
  assert.equal(unknown.status, 404);
  type View = {
    enabled: boolean;
    listen: string;
    backends: {
      id: string;
      healthy: boolean;
      loaded: string[];
      in_flight: number;
      rates: { model: string; source: string; decode_tps: number | null }[];
    }[];
    routes: {
      totals: { backend: string; reason: string; count: number }[];
      recent: {
        backend: string;
        model: string;
        reason: string;
        status: number;
        outcome: string;
        ttft_ms: number | null;
      }[];
    };
  };
  const gatewayView = async (): Promise<View> => (await (await fetch(`${api}/api/v1/gateway`)).json()) as View;
  // The monitor reads /api/ps every 200 ms: the last answer's load shows within a few reads.
  const loadedBy = Date.now() + 5000;
  let view = await gatewayView();
  while (!(view.backends.find((b) => b.id === 'fast')?.loaded.includes(MODEL) ?? false)) {
    if (Date.now() > loadedBy) assert.fail(`fast never showed ${MODEL} loaded: ${JSON.stringify(view.backends)}`);
    await new Promise((r) => setTimeout(r, 100));
    view = await gatewayView();
  }
  assert.equal(view.enabled, true);
  assert.equal(view.listen, `127.0.0.1:${gatewayPort}`);
  assert.deepEqual(
    view.backends.map((b) => [b.id, b.healthy, b.in_flight]),
    [
      ['fast', true, 0],
      ['slow', true, 0],
    ],
  );
  const fastRate = view.backends.find((b) => b.id === 'fast')?.rates.find((r) => r.model === MODEL);
  assert.equal(fastRate?.source, 'live', 'measured by the gateway itself');
  assert.ok((fastRate?.decode_tps ?? 0) > 0);
  // Newest first: the refused name, then fast (after the run), slow (during it), fast (first).
  assert.deepEqual(
    view.routes.recent.map((r) => [r.backend, r.model, r.status, r.outcome]),
    [
      ['none', 'nope:1b', 404, 'unknown-model'],
      ['fast', MODEL, 200, 'ok'],
      ['slow', MODEL, 200, 'ok'],
      ['fast', MODEL, 200, 'ok'],
    ],
  );
  assert.ok(view.routes.recent.slice(1).every((r) => r.ttft_ms !== null && r.ttft_ms > 0));
  assert.equal(
    view.routes.totals.filter((c) => c.backend === 'fast').reduce((n, c) => n + c.count, 0),
    2,
  );
  const snapshot = (await (await fetch(`${api}/api/v1/snapshot`)).json()) as { gateway: unknown };
  assert.deepEqual(snapshot.gateway, { enabled: true, listen: `127.0.0.1:${gatewayPort}` });
});
