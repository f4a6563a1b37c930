/**
 * `kage status --watch` as a real child process on a pipe (not a TTY: one fresh table per change)
 * against a stand-in coordinator whose event stream the test writes to: a `sample` event changes
 * the table, a dropped stream is resumed with `Last-Event-ID`, a `reset` reloads the nodes, and
 * Ctrl-C ends the watch with exit 0. Every step waits for output or a request, bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GIB, cannedNodes, startFakeCoordinator, startKage } from './helpers/operator-coordinator.js';

test('status --watch redraws on a sample event and exits 0 on SIGINT', async (t) => {
  const fake = await startFakeCoordinator();
  t.after(() => fake.close());
  const kage = startKage(t, ['status', '--watch', '--coordinator', fake.url]);
  const stream = await fake.waitForStreams(1);
  assert.equal(stream.lastEventId, undefined);
  await kage.stdoutMatches(/^srv1 +online +12\.5 +8\.0\/32\.0/m);

  stream.send(
    'sample',
    {
      node: 'srv1',
      ts: new Date().toISOString(),
      cpu_pct: 77.7,
      mem_used_bytes: 16 * GIB,
      mem_total_bytes: 32 * GIB,
      gpus: [],
    },
    1,
  );
  await kage.stdoutMatches(/^srv1 +online +77\.7 +16\.0\/32\.0/m);
  // A fresh table, not an edit of the old one: the first is still there above it.
  assert.equal(kage.stdout().match(/^NODE /gm)?.length, 2, kage.stdout());

  kage.child.kill('SIGINT');
  assert.equal(await kage.exited(), 0, kage.stderr());
});

test('status --watch resumes a dropped stream with Last-Event-ID and reloads the nodes on reset', async (t) => {
  const fake = await startFakeCoordinator();
  t.after(() => fake.close());
  const kage = startKage(t, ['status', '--watch', '--coordinator', fake.url]);
  const first = await fake.waitForStreams(1);
  await kage.stdoutMatches(/^ {2}ollama: running ✓ \(pid 123, 0 restarts\)$/m);

  first.send(
    'service',
    {
      node: 'srv1',
      kind: 'transition',
      service: {
        name: 'ollama',
        driver: 'systemd',
        state: 'running',
        pid: 124,
        restarts: 1,
        healthy: true,
        health: 'healthy',
        reason: null,
      },
    },
    7,
  );
  await kage.stdoutMatches(/^ {2}ollama: running ✓ \(pid 124, 1 restart\)$/m);
  const snapshotsBefore = fake.requests.filter((q) => q.path === '/api/v1/nodes').length;

  first.drop();
  const second = await fake.waitForStreams(2);
  assert.equal(second.lastEventId, '7');
  await kage.stderrMatches(/lost the event stream from .*; reconnecting in 0\.5 s/);

  // The coordinator no longer holds what was missed: the client must reload the nodes.
  fake.nodes = () => {
    const nodes = cannedNodes() as { id: string; latest: { cpu_pct: number } }[];
    nodes[0]!.latest.cpu_pct = 55.5;
    return nodes;
  };
  second.send('reset', { reason: 'events after 7 are no longer held; reload the state' }, 9);
  await kage.stdoutMatches(/^srv1 +online +55\.5 /m);
  assert.equal(fake.requests.filter((q) => q.path === '/api/v1/nodes').length, snapshotsBefore + 1);

  kage.child.kill('SIGINT');
  assert.equal(await kage.exited(), 0, kage.stderr());
});

test('status --watch reloads when an event names a node it has not seen', async (t) => {
  const fake = await startFakeCoordinator();
  t.after(() => fake.close());
  const kage = startKage(t, ['status', '--watch', '--json', '--coordinator', fake.url]);
  const stream = await fake.waitForStreams(1);
  await kage.stdoutMatches(/"id":"srv2"/);

  fake.nodes = () => [
    ...cannedNodes(),
    {
      id: 'srv3',
      hostname: 'srv3.lan',
      status: 'online',
      last_seen: new Date().toISOString(),
      agent_version: '0.1.0',
      services: [],
      latest: null,
      clock_skew_ms: null,
    },
  ];
  stream.send(
    'node',
    { node: 'srv3', status: 'online', last_seen: new Date().toISOString(), why: 'agent connected' },
    1,
  );
  await kage.stdoutMatches(/"id":"srv3"/);
  // --json with --watch: one JSON document per line.
  for (const line of kage.stdout().trimEnd().split('\n')) assert.ok(Array.isArray(JSON.parse(line)));

  kage.child.kill('SIGINT');
  assert.equal(await kage.exited(), 0, kage.stderr());
});

test('status --watch shows a models event: a model loaded, then unloaded', async (t) => {
  const fake = await startFakeCoordinator();
  t.after(() => fake.close());
  const kage = startKage(t, ['status', '--watch', '--coordinator', fake.url]);
  const stream = await fake.waitForStreams(1);
  await kage.stdoutMatches(/^ {2}ollama: running ✓ \(pid 123, 0 restarts\)$/m);
  const view = (models: string[]) => ({
    sources: [],
    ollama: models.map((model) => ({
      node: 'srv1',
      service: 'ollama',
      model,
      size_bytes: 2 * GIB,
      vram_bytes: 2 * GIB,
      processor: '100% GPU',
      expires_at: null,
      context_length: null,
      parameter_size: null,
      quantization: null,
    })),
    exo: [],
  });
  stream.send('models', view(['qwen2.5:3b']), 3);
  await kage.stdoutMatches(/^ {4}loaded: qwen2\.5:3b 2\.0 GiB, 100% GPU$/m);
  const tables = kage.stdout().match(/^NODE /gm)?.length ?? 0;
  stream.send('models', view([]), 4);
  await kage.stdoutMatches(new RegExp(`(?:^NODE [^]*){${tables + 1}}`, 'm'));
  const last =
    kage
      .stdout()
      .split(/^NODE /m)
      .at(-1) ?? '';
  assert.doesNotMatch(last, /loaded:/, 'the newest table has no loaded model');
  kage.child.kill('SIGINT');
  assert.equal(await kage.exited(), 0, kage.stderr());
});
