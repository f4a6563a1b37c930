/**
 * Three `kage emulate exo` processes form one cluster through --peers, place a model across all
 * three, stream a chat, and notice when one of them is killed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startKage, waitFor, type KageProcess } from './src/kage-process.js';

interface ExoState {
  nodeIdentities: Record<string, { friendlyName: string }>;
  instances: Record<
    string,
    { MlxRingInstance?: { shardAssignments: { modelId: string; nodeToRunner: Record<string, string> } } }
  >;
  runners: Record<string, Record<string, unknown>>;
}

const MODEL = 'mlx-community/Llama-3.2-3B-Instruct-4bit';
const TIMING = ['--heartbeat-interval-ms', '200', '--peer-timeout-ms', '2500', '--deterministic'];

async function state(node: KageProcess): Promise<ExoState> {
  return (await (await fetch(`${node.url}/state`)).json()) as ExoState;
}

function friendlyNames(s: ExoState): string[] {
  return Object.values(s.nodeIdentities)
    .map((i) => i.friendlyName)
    .sort();
}

test('three exo emulator processes form one cluster, serve a pipelined chat and drop a killed node', async (t) => {
  const nodes: KageProcess[] = [];
  t.after(() => Promise.all(nodes.map((n) => n.stop())));
  const peerArgs = (): string[] =>
    nodes.length === 0 ? [] : ['--peers', nodes.map((n) => n.url.replace('http://', '')).join(',')];
  for (const name of ['srv1', 'srv2', 'rog']) {
    const hardware = name === 'rog' ? 'strix-halo-8060s-32gb' : 'cpu-server-ddr4';
    nodes.push(
      await startKage([
        'emulate',
        'exo',
        '--listen',
        '127.0.0.1:0',
        '--name',
        name,
        '--hardware',
        hardware,
        ...peerArgs(),
        ...TIMING,
      ]),
    );
  }
  const [srv1, srv2, rog] = nodes as [KageProcess, KageProcess, KageProcess];

  // Every node, including srv1 which was started with no peers, serves the same membership.
  for (const node of nodes) {
    await waitFor(
      `${node.url} to see all three nodes`,
      async () => (friendlyNames(await state(node)).join(',') === 'rog,srv1,srv2' ? true : undefined),
      10_000,
    );
  }

  // Membership comes before the links between nodes: like real EXO, a placement only succeeds once
  // the topology has a 3-node cycle, which GET /instance/placement reports without side effects.
  const query = new URLSearchParams({
    model_id: MODEL,
    sharding: 'Pipeline',
    instance_meta: 'MlxRing',
    min_nodes: '3',
  });
  await waitFor(
    'a feasible 3-node placement',
    async () => ((await fetch(`${srv2.url}/instance/placement?${query.toString()}`)).status === 200 ? true : undefined),
    10_000,
  );

  const placed = await fetch(`${srv2.url}/place_instance`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model_id: MODEL, sharding: 'Pipeline', instance_meta: 'MlxRing', min_nodes: 3 }),
  });
  assert.equal(placed.status, 200, await placed.clone().text());
  assert.equal(((await placed.json()) as { message: string }).message, 'Command received.');

  // The instance spans all three nodes and every runner becomes ready, as seen from another node.
  await waitFor(
    'all runners ready',
    async () => {
      const s = await state(srv1);
      const instance = Object.values(s.instances)[0]?.MlxRingInstance;
      if (!instance || Object.keys(instance.shardAssignments.nodeToRunner).length !== 3) return undefined;
      const runnerIds = Object.values(instance.shardAssignments.nodeToRunner);
      return runnerIds.every((id) => s.runners[id] && 'RunnerReady' in s.runners[id]) ? true : undefined;
    },
    20_000,
  );

  const chat = await fetch(`${rog.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 6, stream: true }),
  });
  assert.equal(chat.status, 200);
  const body = await chat.text();
  assert.match(body, /^: keep-alive/m);
  assert.match(body, /"object":"chat\.completion"/);
  assert.match(body, /: generation_stats /);
  assert.match(body, /data: \[DONE\]\s*$/);

  // Kill rog like a crashed machine: the others drop it and delete the instance that used it.
  await rog.kill();
  for (const node of [srv1, srv2]) {
    await waitFor(
      `${node.url} to drop rog and its instance`,
      async () => {
        const s = await state(node);
        return friendlyNames(s).join(',') === 'srv1,srv2' && Object.keys(s.instances).length === 0 ? true : undefined;
      },
      10_000,
    );
  }
  const after = await fetch(`${srv1.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
  });
  assert.equal(after.status, 404);
  assert.match(await after.text(), /No instance found for model/);
});
