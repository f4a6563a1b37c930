/**
 * Several in-process EXO emulator nodes forming one cluster through `peers`: discovery (including
 * one-sided peer lists, late joiners and peers that appear after start), a 3-node pipeline placed
 * from a non-master, a chat streamed through it, node loss (instance deleted, chat error) and master
 * failover. Who becomes master follows EXO's election (seniority, then node id), so the tests read
 * it from `/_emulator/info` rather than assume one; `exo-election.test.ts` covers the election.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import {
  LLAMA_3B,
  LLAMA_70B,
  bodyReader,
  chatBody,
  getState,
  parseSse,
  placeAndWait,
  postJson,
  readRest,
  readUntil,
  request,
  startNode,
  testProfile,
  waitFor,
  type InstanceView,
  type StateView,
  type TestNode,
} from './exo-helpers.js';

const names = (state: StateView): string[] =>
  Object.values(state.nodeIdentities)
    .map((i) => i.friendlyName)
    .sort();

async function waitForNames(nodes: readonly TestNode[], expected: readonly string[]): Promise<void> {
  await waitFor(`every node to list ${expected.join(', ')}`, async () => {
    for (const node of nodes) {
      const state = await getState(node.url);
      if (names(state).join() !== [...expected].sort().join()) return undefined;
    }
    return true;
  });
}

/** Waits until every node's view has every directed edge between `nodes` (placement reads them). */
async function waitForFullMesh(nodes: readonly TestNode[]): Promise<void> {
  const expected = nodes.length * (nodes.length - 1);
  await waitFor('full mesh in every view', async () => {
    const states = await Promise.all(nodes.map((n) => getState(n.url)));
    const edges = states.map((s) =>
      Object.values(s.topology.connections).reduce((sum, sinks) => sum + Object.keys(sinks).length, 0),
    );
    return edges.every((e) => e === expected) ? true : undefined;
  });
}

async function nodeId(node: TestNode): Promise<string> {
  return (await request(node.url, '/node_id')).body as string;
}

async function masterId(node: TestNode): Promise<string> {
  return ((await request(node.url, '/_emulator/info')).body as { masterId: string }).masterId;
}

/** Layers per friendly name of a pipeline instance. */
function layersByName(instance: InstanceView, state: StateView): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const [node, runner] of Object.entries(instance.shardAssignments.nodeToRunner)) {
    const shard = instance.shardAssignments.runnerToShard[runner]!.PipelineShardMetadata!;
    out[state.nodeIdentities[node]!.friendlyName] = [shard.startLayer, shard.endLayer];
  }
  return out;
}

describe('a three-node cluster', () => {
  test('forms, places a 3-node pipeline, streams from a non-master, then loses a node', async (t) => {
    // Each node only lists nodes started before it; the others learn it from its heartbeats.
    const srv1 = await startNode(t, { name: 'srv1', profile: testProfile(8) });
    const srv2 = await startNode(t, { name: 'srv2', profile: testProfile(16), peers: [`127.0.0.1:${srv1.port}`] });
    const rog = await startNode(t, {
      name: 'rog',
      profile: testProfile(24),
      peers: [`127.0.0.1:${srv1.port}`, `127.0.0.1:${srv2.port}`],
    });
    const nodes = [srv1, srv2, rog];
    await waitForNames(nodes, ['srv1', 'srv2', 'rog']);

    // Every node serves the same state: same master, same topology with a full mesh of edges.
    const ids = await Promise.all(nodes.map(nodeId));
    assert.equal(new Set(ids).size, 3);
    const master = await masterId(rog);
    assert.ok(ids.includes(master));
    for (const node of nodes) assert.equal(await masterId(node), master, 'one session');
    await waitForFullMesh(nodes);
    const views = await Promise.all(nodes.map((n) => getState(n.url)));
    for (const view of views) assert.deepEqual(view.topology.nodes, views[0]!.topology.nodes);
    const edge = views[0]!.topology.connections[ids[0]!]![ids[1]!]![0]!;
    assert.deepEqual(edge.sinkMultiaddr, {
      address: `/ip4/127.0.0.1/tcp/${srv2.port}`,
      address_type: 'ip4',
      ip_address: '127.0.0.1',
      port: srv2.port,
    });

    // Llama-3.3-70B fits no single node here but two (16 + 24 GiB): placement picks the smallest set.
    const preview = await request(rog.url, `/instance/placement?model_id=${encodeURIComponent(LLAMA_70B)}`);
    assert.equal(preview.status, 200);
    const previewed = (preview.body as { MlxRingInstance: InstanceView }).MlxRingInstance;
    assert.deepEqual(Object.keys(layersByName(previewed, views[0]!)).sort(), ['rog', 'srv2']);

    // Place from a non-master; the command is forwarded to the master.
    const instance = await placeAndWait(rog.url, LLAMA_3B, 3);
    const state = await getState(srv2.url);
    const layers = layersByName(instance, state);
    // Available RAM 8 : 16 : 24 GiB of 28 layers → 4.67 / 9.33 / 14 → 5 / 9 / 14.
    assert.deepEqual(Object.fromEntries(Object.entries(layers).map(([name, [start, end]]) => [name, end - start])), {
      srv1: 5,
      srv2: 9,
      rog: 14,
    });
    const ranges = Object.values(layers).sort((a, b) => a[0] - b[0]);
    assert.deepEqual(ranges[0]![0], 0);
    assert.equal(ranges[1]![0], ranges[0]![1]);
    assert.equal(ranges[2]![0], ranges[1]![1]);
    assert.equal(ranges[2]![1], 28);

    // A streamed chat from a non-master node: the whole pipeline's time per token, plus 3 hops.
    // 100 tokens span ~1.6 s: steps are due at absolute deadlines, so an event loop that is late
    // now and then moves single tokens, never the rate over the stream.
    const tokens = 100;
    const res = await fetch(`${srv2.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody({ stream: true, max_tokens: tokens })),
    });
    const events = parseSse(await res.text());
    assert.equal(events[0]!.text, 'keep-alive');
    assert.equal(events.at(-1)!.text, '[DONE]');
    assert.equal(events.filter((e) => e.kind === 'data').length, tokens + 1);
    const stats = JSON.parse(
      events.find((e) => e.text.startsWith('generation_stats '))!.text.slice('generation_stats '.length),
    ) as { generation_tps: number };
    const p = testProfile(8);
    const perToken = 1_863_319_552 / (p.cpu.memBandwidthBytesPerSec * p.cpu.decodeEfficiency) + 3 * 0.001;
    assert.ok(
      stats.generation_tps > 0.75 / perToken && stats.generation_tps < 1.1 / perToken,
      `tps ${stats.generation_tps} vs pipeline model ${1 / perToken}`,
    );

    // A stage node that is not master dies mid-stream: the stream ends with EXO's error shape, then
    // the node is dropped and the instance deleted on every remaining node.
    const [victim, victimName, survivor, survivorName] =
      master === ids[1] ? [srv1, 'srv1', srv2, 'srv2'] : [srv2, 'srv2', srv1, 'srv1'];
    const streamRes = await fetch(`${rog.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody({ stream: true, max_tokens: 2000 })),
    });
    const reader = bodyReader(streamRes);
    const head = await readUntil(reader, /data: \{/); // decoding through all three stages
    await victim.close();
    const data = parseSse(head + (await readRest(reader))).filter((e) => e.kind === 'data');
    const error = JSON.parse(data.at(-2)!.text) as { error: { type: string; code: number; message: string } };
    assert.equal(error.error.type, 'InternalServerError');
    assert.equal(error.error.code, 500);
    assert.match(error.error.message, new RegExp(victimName));
    assert.equal(data.at(-1)!.text, '[DONE]');

    await waitForNames([survivor, rog], [survivorName, 'rog']);
    for (const node of [survivor, rog]) {
      await waitFor('instance deleted', async () =>
        Object.keys((await getState(node.url)).instances).length === 0 ? true : undefined,
      );
    }
    const after = await postJson(rog.url, '/v1/chat/completions', chatBody());
    assert.equal(after.status, 404);
  });

  test('a node that starts later joins; one listed before it exists is retried until it appears', async (t) => {
    const srv1 = await startNode(t, { name: 'srv1' });
    // A port whose listener hangs up on every connection and counts them: heartbeats to the node
    // listed there fail, and the test sees each attempt.
    let attempts = 0;
    const placeholder = createServer((socket) => {
      attempts += 1;
      socket.destroy();
    });
    placeholder.listen(0, '127.0.0.1');
    await once(placeholder, 'listening');
    t.after(() => new Promise<void>((resolve) => placeholder.close(() => resolve())));
    const laterPort = (placeholder.address() as AddressInfo).port;
    const srv2 = await startNode(t, {
      name: 'srv2',
      peers: [`127.0.0.1:${srv1.port}`, `127.0.0.1:${laterPort}`],
    });
    await waitForNames([srv1, srv2], ['srv1', 'srv2']);
    const settledMaster = await masterId(srv1);
    // Failed heartbeats do not stop the retries: wait for three of them, then free the port.
    await waitFor('three failed heartbeats to the missing node', () =>
      Promise.resolve(attempts >= 3 ? true : undefined),
    );
    await new Promise<void>((resolve, reject) => placeholder.close((err) => (err ? reject(err) : resolve())));
    assert.deepEqual(names(await getState(srv2.url)), ['srv1', 'srv2'], 'nobody answered there');

    // The late node lists nobody: srv2's retries reach it, and srv1 learns it from srv2.
    const rog = await startNode(t, { name: 'rog', listen: { host: '127.0.0.1', port: laterPort } });
    await waitForNames([srv1, srv2, rog], ['srv1', 'srv2', 'rog']);
    // A node that joins a settled cluster never takes over: the master has more seniority.
    assert.equal(await masterId(rog), settledMaster);
    assert.equal(await masterId(srv1), settledMaster);
  });

  test('when the master leaves, the survivors elect a new session that starts empty', async (t) => {
    const srv1 = await startNode(t, { name: 'srv1', profile: testProfile(8) });
    const srv2 = await startNode(t, { name: 'srv2', profile: testProfile(16), peers: [`127.0.0.1:${srv1.port}`] });
    const rog = await startNode(t, { name: 'rog', profile: testProfile(24), peers: [`127.0.0.1:${srv2.port}`] });
    const nodes = [srv1, srv2, rog];
    await waitForNames(nodes, ['srv1', 'srv2', 'rog']);
    await waitForFullMesh(nodes);
    const ids = await Promise.all(nodes.map(nodeId));
    const master = await masterId(srv2);
    const leaving = nodes[ids.indexOf(master)]!;
    const staying = nodes.filter((n) => n !== leaving);
    // A one-node instance on a node that stays.
    const instance = await placeAndWait(staying[0]!.url, LLAMA_3B, 1);

    await leaving.close();
    // EXO v1.0.71 builds the new master with an empty State and restarts every worker: the old
    // session's instances are gone even where their nodes survived.
    const newMaster = await waitFor('a new master', async () => {
      const seen = await Promise.all(staying.map(masterId));
      return seen[0] !== master && seen[0] === seen[1] ? seen[0] : undefined;
    });
    assert.ok(ids.includes(newMaster));
    const stayingNames = ['srv1', 'srv2', 'rog'].filter((_, i) => nodes[i] !== leaving);
    await waitForNames(staying, stayingNames);
    const state = await getState(staying[1]!.url);
    assert.equal(state.instances[instance.instanceId], undefined);
    assert.deepEqual(Object.keys(state.instances), []);
    const chat = await postJson(staying[1]!.url, '/v1/chat/completions', chatBody({ max_tokens: 5 }));
    assert.equal(chat.status, 404);
    // Placing again works in the new session.
    await placeAndWait(staying[1]!.url, LLAMA_3B, 1);
  });
});
