/**
 * EXO v1.0.71's master election as the emulator plays it: nodes joining one after another, a
 * placement sent as soon as `/state` names them all, a placement sent while the election runs (held
 * until it ends, then applied), what `/state` shows meanwhile, and the election's ordering rules.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareElectionMessages, ELECTION_TIMEOUT_MS, type ElectionMessage } from '../src/exo/master-election.js';
import {
  LLAMA_3B,
  getState,
  postJson,
  request,
  startNode,
  testProfile,
  waitFor,
  type StateView,
  type TestNode,
} from './exo-helpers.js';

interface ElectionInfo {
  masterId: string;
  nodeId: string;
  election: {
    clock: number;
    seniority: number;
    session: { masterNodeId: string; electionClock: number };
    inProgress: boolean;
    commandsPaused: boolean;
    lastCompletedClock: number;
  };
}

const info = async (node: TestNode): Promise<ElectionInfo> =>
  (await request(node.url, '/_emulator/info')).body as ElectionInfo;

const names = (state: StateView): string[] =>
  Object.values(state.nodeIdentities)
    .map((i) => i.friendlyName)
    .sort();

async function waitForNames(node: TestNode, expected: readonly string[], timeoutMs = 10_000): Promise<void> {
  const want = [...expected].sort().join();
  await waitFor(
    `${node.url} to name ${want}`,
    async () => (names(await getState(node.url)).join() === want ? true : undefined),
    timeoutMs,
  );
}

const instancesOf = (state: StateView, model: string): string[] =>
  Object.entries(state.instances)
    .filter(([, i]) => i.MlxRingInstance.shardAssignments.modelId === model)
    .map(([id]) => id);

function message(over: Partial<ElectionMessage> & { master?: string } = {}): ElectionMessage {
  return {
    clock: over.clock ?? 1,
    seniority: over.seniority ?? 1,
    commandsSeen: over.commandsSeen ?? 0,
    proposedSession: { masterNodeId: over.master ?? 'b', electionClock: 0 },
  };
}

describe('EXO master election', () => {
  test('orders candidates by clock, then seniority, then commands seen, then node id', () => {
    assert.ok(compareElectionMessages(message({ clock: 2, seniority: 0 }), message({ clock: 1, seniority: 9 })) > 0);
    assert.ok(compareElectionMessages(message({ seniority: 2, commandsSeen: 0 }), message({ commandsSeen: 9 })) > 0);
    assert.ok(compareElectionMessages(message({ commandsSeen: 1, master: 'a' }), message({ master: 'z' })) > 0);
    assert.ok(compareElectionMessages(message({ master: 'a' }), message({ master: 'b' })) < 0);
    assert.equal(ELECTION_TIMEOUT_MS, 3000);
  });

  test('three nodes joining one after another: a placement sent once /state names all three is applied', async (t) => {
    const srv1 = await startNode(t, { name: 'srv1', profile: testProfile(8) });
    const srv2 = await startNode(t, { name: 'srv2', profile: testProfile(16), peers: [`127.0.0.1:${srv1.port}`] });
    await waitForNames(srv1, ['srv1', 'srv2']);
    const joinedAt = Date.now();
    const rog = await startNode(t, {
      name: 'rog',
      profile: testProfile(24),
      peers: [`127.0.0.1:${srv1.port}`, `127.0.0.1:${srv2.port}`],
    });
    await waitForNames(srv1, ['srv1', 'srv2', 'rog']);
    const namedAfterMs = Date.now() - joinedAt;
    t.diagnostic(`srv1's /state named rog ${namedAfterMs} ms after rog started`);
    // rog only enters the master's state once its own election is over: at least one campaign.
    assert.ok(namedAfterMs >= ELECTION_TIMEOUT_MS, `named after ${namedAfterMs} ms`);

    // At once, as a client that polled /state would.
    const sentAt = Date.now();
    const placed = await postJson(srv1.url, '/place_instance', { model_id: LLAMA_3B, min_nodes: 3 });
    const answeredMs = Date.now() - sentAt;
    assert.equal(placed.status, 200);
    assert.equal((placed.body as { message: string }).message, 'Command received.');
    // srv1's election ended before rog's, so nothing held the command.
    assert.ok(answeredMs < 1000, `answered after ${answeredMs} ms`);
    assert.equal((await info(srv1)).election.commandsPaused, false);

    const instanceId = await waitFor('the instance', async () => instancesOf(await getState(srv1.url), LLAMA_3B)[0]);
    const state = await getState(srv1.url);
    assert.deepEqual(instancesOf(state, LLAMA_3B), [instanceId], 'exactly one instance');
    assert.equal(Object.keys(state.instances[instanceId]!.MlxRingInstance.shardAssignments.nodeToRunner).length, 3);

    // One session: the first master (winner of srv1 vs srv2) kept it; rog, the newcomer, lost.
    const views = await Promise.all([srv1, srv2, rog].map(info));
    const master = views[0]!.masterId;
    for (const v of views) assert.deepEqual(v.election.session, views[0]!.election.session);
    assert.notEqual(master, views[2]!.nodeId);
    const masterView = views.find((v) => v.nodeId === master)!;
    assert.ok(masterView.election.seniority >= 2, 'a master gains seniority from each election it wins');
    assert.equal(views[2]!.election.seniority, 1);
  });

  test('a placement sent during the election is held until it ends, then applied', async (t) => {
    const srv1 = await startNode(t, { name: 'srv1', profile: testProfile(8) });
    const srv2 = await startNode(t, { name: 'srv2', profile: testProfile(16), peers: [`127.0.0.1:${srv1.port}`] });
    await waitForNames(srv1, ['srv1', 'srv2']);
    const before = await info(srv1);
    assert.equal(before.election.inProgress, false);

    const rog = await startNode(t, {
      name: 'rog',
      profile: testProfile(24),
      peers: [`127.0.0.1:${srv1.port}`, `127.0.0.1:${srv2.port}`],
    });
    // rog starts as master of its own session: its /state is its own, naming only itself.
    const early = await info(rog);
    assert.equal(early.masterId, early.nodeId);
    assert.deepEqual(names(await getState(rog.url)), ['rog']);

    // 0.2 s after the connection srv1 campaigns; its API pauses.
    const paused = await waitFor('srv1 paused', async () => {
      const v = await info(srv1);
      return v.election.commandsPaused ? v : undefined;
    });
    assert.ok(paused.election.clock > before.election.clock);
    assert.equal(paused.election.inProgress, true);
    // The session's state does not name rog yet, and srv1 still names the old master.
    assert.deepEqual(names(await getState(srv1.url)), ['srv1', 'srv2']);
    assert.equal(paused.masterId, before.masterId);

    const sentAt = Date.now();
    const placed = await postJson(srv1.url, '/place_instance', { model_id: LLAMA_3B, min_nodes: 1 });
    const heldMs = Date.now() - sentAt;
    t.diagnostic(`place_instance was held ${heldMs} ms`);
    assert.equal(placed.status, 200);
    assert.equal((placed.body as { message: string }).message, 'Command received.');
    // Held for the rest of srv1's 3 s campaign (it began at most a few polls before the POST).
    assert.ok(heldMs >= ELECTION_TIMEOUT_MS / 2, `held ${heldMs} ms`);
    const after = await info(srv1);
    assert.equal(after.election.commandsPaused, false);
    assert.ok(after.election.lastCompletedClock >= paused.election.clock);
    assert.equal(after.masterId, before.masterId, 'the incumbent keeps its session');

    // Not lost: the master applies it, once.
    const instanceId = await waitFor('the instance', async () => instancesOf(await getState(srv1.url), LLAMA_3B)[0]);
    await waitForNames(rog, ['srv1', 'srv2', 'rog']);
    const rogState = await getState(rog.url);
    assert.deepEqual(instancesOf(rogState, LLAMA_3B), [instanceId]);
    assert.equal((await info(rog)).masterId, before.masterId);
  });

  test('after the cluster settled, a placement is answered at once and applied', async (t) => {
    const srv1 = await startNode(t, { name: 'srv1', profile: testProfile(8) });
    const peers = [`127.0.0.1:${srv1.port}`];
    const srv2 = await startNode(t, { name: 'srv2', profile: testProfile(16), peers });
    const rog = await startNode(t, { name: 'rog', profile: testProfile(24), peers });
    const nodes = [srv1, srv2, rog];
    for (const node of nodes) await waitForNames(node, ['srv1', 'srv2', 'rog']);
    await waitFor('no election running', async () =>
      (await Promise.all(nodes.map(info))).every((v) => !v.election.inProgress && !v.election.commandsPaused)
        ? true
        : undefined,
    );

    const sentAt = Date.now();
    const placed = await postJson(rog.url, '/place_instance', { model_id: LLAMA_3B, min_nodes: 3 });
    assert.equal(placed.status, 200);
    // Not held: an election holds a command for its whole 3 s campaign.
    assert.ok(Date.now() - sentAt < 2000, `answered after ${Date.now() - sentAt} ms`);
    const instanceId = await waitFor('the instance', async () => instancesOf(await getState(srv2.url), LLAMA_3B)[0]);
    // Every node learns it from the master's events, each at its own next heartbeat.
    for (const node of nodes) {
      const seen = await waitFor(`the instance on ${node.url}`, async () => {
        const ids = instancesOf(await getState(node.url), LLAMA_3B);
        return ids.length > 0 ? ids : undefined;
      });
      assert.deepEqual(seen, [instanceId], 'exactly one instance, the same everywhere');
    }
  });
});
