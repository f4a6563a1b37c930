/**
 * The run service end to end on a real database: where each target's requests are sent from, the
 * refusal of a run whose agents are offline, a lost probe recorded as a failed attempt, progress,
 * cancel, and a run interrupted by a shutdown (or a crash) resumed by the next service without
 * redoing its finished cells.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { CoordinatorError } from '../src/coordinator-error.js';
import { createRunsLab, matrixBody, startFakeOllama, type RunsLab } from './helpers/runs-lab.js';

const MODEL = 'qwen2.5:3b';

const finishedRun = (lab: RunsLab, id: string, status?: string) =>
  lab.waitForRunEvent(
    (e) => e.run === id && e.type === 'finished' && (status === undefined || e.status === status),
    `run ${id} finished${status === undefined ? '' : ` ${status}`}`,
  );

test('each target is probed by the agent on its first node, or from the coordinator', async (t) => {
  const lab = createRunsLab(t);
  lab.setNodes(['srv1', 'srv2']);
  const [a, b, c, d, e] = await Promise.all([1, 2, 3, 4, 5].map(() => startFakeOllama(t)));
  const svc = lab.service();

  const { id } = await svc.start(
    matrixBody(
      [
        // srv1 has an agent: its agent sends by default.
        { id: 'a', kind: 'ollama', url: a!.url, nodes: ['srv1'] },
        // The FIRST node's agent, whatever the others; the URL as written (trailing slash dropped).
        { id: 'b', kind: 'ollama', url: `${b!.url}/`, nodes: ['srv2', 'srv1'], probe: 'agent' },
        // No nodes: nothing to probe from but the coordinator.
        { id: 'c', kind: 'ollama', url: c!.url },
        // Asked for explicitly.
        { id: 'd', kind: 'ollama', url: d!.url, nodes: ['srv1'], probe: 'coordinator' },
        // A node the registry does not know has no agent.
        { id: 'e', kind: 'ollama', url: e!.url, nodes: ['ghost'] },
      ],
      { temperature: 0, seed: 42 },
    ),
  );
  assert.ok(lab.store.coordinatorRuns().includes(id), 'the run is marked as a coordinator run');
  const finished = await finishedRun(lab, id);
  assert.equal(finished.status, 'completed');
  assert.equal(finished.cells_done, 5);

  assert.deepEqual(
    lab.commander.probes.map((p) => [p.node, p.probe.url]),
    [
      ['srv1', a!.url],
      ['srv1', a!.url],
      ['srv2', b!.url],
      ['srv2', b!.url],
    ],
  );
  assert.deepEqual(lab.commander.probes[0]?.probe, {
    target_kind: 'ollama',
    url: a!.url,
    model: MODEL,
    prompt: 'Say hi.',
    max_tokens: 8,
    num_ctx: 4096,
    temperature: 0,
    seed: 42,
    timeout_ms: 10_000,
  });
  // Every server answered its two requests, whoever sent them.
  assert.deepEqual(
    [a, b, c, d, e].map((s) => s!.chats()),
    [2, 2, 2, 2, 2],
  );
  const report = svc.report(id);
  assert.deepEqual(
    report.cells.map((cell) => [cell.target, cell.status, cell.attempts, cell.successes]),
    ['a', 'b', 'c', 'd', 'e'].map((target) => [target, 'completed', 2, 2]),
  );
  // The agent's clock has another origin: sends are put back on this process's clock, so the
  // measured window is the real one.
  const windowMs = lab.store.bench.getCells(id)[0]?.window_ms ?? null;
  assert.ok(windowMs !== null && windowMs > 0 && windowMs < 10_000, `window_ms ${windowMs}`);
});

test('a run naming offline agent nodes is refused with those nodes; nothing is run', async (t) => {
  const lab = createRunsLab(t);
  lab.setNodes(['srv1'], ['srv2', 'rog', 'old']);
  const ollama = await startFakeOllama(t);
  const svc = lab.service();

  await assert.rejects(
    svc.start(
      matrixBody([
        { id: 'a', kind: 'ollama', url: ollama.url, nodes: ['srv1', 'srv2'] },
        { id: 'b', kind: 'ollama', url: ollama.url, nodes: ['rog'], probe: 'agent' },
        // Requests from the coordinator need no agent: its offline node is not a reason to refuse.
        { id: 'c', kind: 'ollama', url: ollama.url, nodes: ['old'], probe: 'coordinator' },
      ]),
    ),
    (err: unknown) => {
      assert.ok(err instanceof CoordinatorError);
      assert.equal(err.code, 'KAGE_ERR_NODES_OFFLINE');
      assert.equal(err.message, 'run refused: nodes offline: srv2, rog');
      assert.deepEqual(err.details, { offline: ['srv2', 'rog'] });
      return true;
    },
  );
  // `probe: agent` on a node the registry never saw: offline too.
  await assert.rejects(
    svc.start(matrixBody([{ id: 'a', kind: 'ollama', url: ollama.url, nodes: ['ghost'], probe: 'agent' }])),
    { code: 'KAGE_ERR_NODES_OFFLINE', message: 'run refused: nodes offline: ghost' },
  );
  // Online in the registry but its stream is gone: it cannot take a command.
  lab.commander.connected.delete('srv1');
  await assert.rejects(svc.start(matrixBody([{ id: 'a', kind: 'ollama', url: ollama.url, nodes: ['srv1'] }])), {
    code: 'KAGE_ERR_NODES_OFFLINE',
    message: 'run refused: nodes offline: srv1',
  });
  assert.deepEqual(svc.list(), []);
  assert.equal(lab.commander.probes.length, 0);
  assert.equal(ollama.chats(), 0);
});

test('an invalid matrix is refused with every problem, the probe key included', async (t) => {
  const lab = createRunsLab(t);
  const svc = lab.service();
  await assert.rejects(
    svc.start(
      matrixBody([
        { id: 'a', kind: 'ollama', url: 'http://127.0.0.1:1', probe: 'agent' },
        { id: 'b', kind: 'ollama', url: 'http://127.0.0.1:1', nodes: ['x'], probe: 'elsewhere' },
      ]),
    ),
    (err: unknown) => {
      assert.equal((err as { code?: string }).code, 'KAGE_ERR_MATRIX_INVALID');
      const problems = (err as { problems: Array<{ path: string; reason: string }> }).problems;
      const reasons = new Map(problems.map((p) => [p.path, p.reason]));
      assert.deepEqual([...reasons.keys()].sort(), ['targets[0].probe', 'targets[1].probe']);
      assert.match(reasons.get('targets[0].probe') ?? '', /needs nodes/);
      assert.match(reasons.get('targets[1].probe') ?? '', /agent\|coordinator/);
      return true;
    },
  );
  assert.deepEqual(svc.list(), []);
});

test('a probe the agent cannot run is a failed attempt; a node dropping out fails its attempts and the run goes on', async (t) => {
  const lab = createRunsLab(t);
  lab.setNodes(['srv1', 'srv2', 'srv3']);
  const ollama = await startFakeOllama(t);
  lab.commander.failNext('srv1', 'KAGE_ERR_COMMAND_LOST');
  lab.commander.failNext('srv2', 'KAGE_ERR_COMMAND_TIMEOUT');
  const svc = lab.service();

  const { id } = await svc.start(
    matrixBody(
      [
        { id: 'a', kind: 'ollama', url: ollama.url, nodes: ['srv1'] },
        { id: 'b', kind: 'ollama', url: ollama.url, nodes: ['srv2'] },
        { id: 'c', kind: 'ollama', url: ollama.url, nodes: ['srv3'] },
      ],
      { repetitions: 3 },
    ),
  );
  // srv3 drops out once the run has started (its cell comes last).
  lab.commander.connected.delete('srv3');
  const finished = await finishedRun(lab, id);
  assert.equal(finished.status, 'completed');

  const cells = svc.report(id).cells;
  assert.deepEqual(
    cells.map((c) => [c.target, c.status, c.attempts, c.successes, c.failures]),
    [
      ['a', 'completed', 3, 2, { connection: 1 }],
      ['b', 'completed', 3, 2, { timeout: 1 }],
      ['c', 'completed', 3, 0, { connection: 3 }],
    ],
  );
  const stored = lab.store.bench.getCells(id);
  const lost = lab.store.bench.getAttempts(stored[0]!.id).find((x) => !x.success);
  assert.match(lost?.error?.message ?? '', /agent on srv1 could not send the request: KAGE_ERR_COMMAND_LOST/);
  const offline = lab.store.bench.getAttempts(stored[2]!.id)[0];
  assert.match(offline?.error?.message ?? '', /KAGE_ERR_NODE_OFFLINE/);
  // A failure made here and answers measured by the agent share one clock: the window is real.
  assert.ok(stored[0]!.window_ms !== null && stored[0]!.window_ms < 10_000, `window_ms ${stored[0]!.window_ms}`);
});

test('progress on the hub and in get(); cancel ends the run as cancelled, for good', async (t) => {
  const lab = createRunsLab(t);
  lab.setNodes(['srv1']);
  const ollama = await startFakeOllama(t);
  const svc = lab.service();
  const held = ollama.hold(3);

  const { id } = await svc.start(
    matrixBody([{ id: 'a', kind: 'ollama', url: ollama.url, nodes: ['srv1'] }], { concurrency: [1, 2] }),
  );
  await held;
  assert.deepEqual(svc.get(id).progress, {
    cells_total: 2,
    cells_done: 1,
    current: { model: MODEL, target: 'a', concurrency: 2 },
  });
  assert.equal(svc.get(id).status, 'running');
  assert.deepEqual(
    lab.runEvents(id).map((e) => [e.type, e.cells_done, e.current?.concurrency ?? null, e.status]),
    [
      ['progress', 0, null, 'running'],
      ['progress', 0, 1, 'running'],
      ['progress', 1, null, 'running'],
      ['progress', 1, 2, 'running'],
    ],
  );

  const cancelled = await svc.cancel(id);
  assert.equal(cancelled.status, 'cancelled');
  assert.equal(cancelled.error, 'cancelled by the user');
  assert.deepEqual(cancelled.progress, { cells_total: 2, cells_done: 1, current: null });
  const finished = await finishedRun(lab, id);
  assert.deepEqual([finished.status, finished.cells_done, finished.cells_total], ['cancelled', 1, 2]);
  assert.equal((await svc.cancel(id)).status, 'cancelled', 'cancelling a finished run changes nothing');
  await assert.rejects(svc.cancel('01J00000000000000000000000'), { code: 'KAGE_ERR_RUN_NOT_FOUND' });
  assert.throws(() => svc.get('01J00000000000000000000000'), { code: 'KAGE_ERR_RUN_NOT_FOUND' });

  // A restart does not resume a cancelled run.
  await svc.close();
  const next = lab.service();
  await next.resumeInterrupted();
  await next.close();
  assert.equal(next.get(id).status, 'cancelled');
  assert.equal(lab.runEvents(id).filter((e) => e.type === 'finished').length, 1);
});

/** Starts a 3-cell run and closes the service while the second cell's first request is held. */
async function interruptMidRun(lab: RunsLab, t: Parameters<typeof startFakeOllama>[0]) {
  const ollama = await startFakeOllama(t);
  const first = lab.service();
  const held = ollama.hold(3);
  const { id } = await first.start(
    matrixBody([{ id: 'a', kind: 'ollama', url: ollama.url, nodes: ['srv1'] }], { concurrency: [1, 2, 3] }),
  );
  await held;
  await first.close();
  assert.equal(first.get(id).status, 'interrupted');
  assert.deepEqual(
    lab.store.bench.getCells(id).map((c) => c.status),
    ['completed', 'interrupted', 'pending'],
  );
  await assert.rejects(first.start(matrixBody([])), { code: 'KAGE_ERR_COORDINATOR_CLOSED' });
  return { id, ollama };
}

async function expectResumed(lab: RunsLab, id: string, probesBefore: number): Promise<void> {
  const svc = lab.service();
  await svc.resumeInterrupted();
  const finished = await finishedRun(lab, id, 'completed');
  assert.equal(finished.cells_done, 3);
  const cells = lab.store.bench.getCells(id);
  assert.deepEqual(
    cells.map((c) => [c.ordinal, c.status, c.tries, c.attempts, c.successes]),
    [
      [0, 'completed', 1, 2, 2],
      [1, 'completed', 2, 2, 2],
      [2, 'completed', 1, 2, 2],
    ],
  );
  // The finished cell was not redone: its attempts are the first service's, none superseded.
  const kept = lab.store.bench.getAttempts(cells[0]!.id, { includeSuperseded: true });
  assert.deepEqual(
    kept.map((a) => [a.try, a.superseded]),
    [
      [1, false],
      [1, false],
    ],
  );
  assert.equal(lab.commander.probes.length - probesBefore, 4, 'only cells 1 and 2 were sent again');
  assert.ok(lab.commander.probes.every((p) => p.node === 'srv1'));
  assert.equal(svc.report(id).recommendation?.verdict, 'inconclusive');
}

test('a run interrupted by a shutdown is resumed by the next service: finished cells kept, the half-done one redone', async (t) => {
  const lab = createRunsLab(t);
  lab.setNodes(['srv1']);
  const { id } = await interruptMidRun(lab, t);
  const finished = lab.runEvents(id).filter((e) => e.type === 'finished');
  assert.deepEqual(
    finished.map((e) => e.status),
    ['interrupted'],
  );
  await expectResumed(lab, id, lab.commander.probes.length);
});

test('a run left running by a dead coordinator process is resumed too', async (t) => {
  const lab = createRunsLab(t);
  lab.setNodes(['srv1']);
  const { id } = await interruptMidRun(lab, t);
  // What a killed coordinator leaves behind: `running`, owned by a process that no longer exists.
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
  const db = new Database(lab.store.file);
  db.prepare(`UPDATE runs SET status = 'running', finished_at = NULL, owner_pid = ? WHERE id = ?`).run(deadPid, id);
  db.close();
  assert.equal(lab.store.bench.getRun(id).status, 'running');
  await expectResumed(lab, id, lab.commander.probes.length);
});

test('a resume waits for the agents it needs, bounded', async (t) => {
  const lab = createRunsLab(t);
  lab.setNodes(['srv1']);
  const { id } = await interruptMidRun(lab, t);
  // The coordinator restarted before the agent reconnected.
  lab.setNodes([], ['srv1']);
  const probesBefore = lab.commander.probes.length;
  const svc = lab.service({ resumeWaitMs: 10_000 });
  await svc.resumeInterrupted();
  assert.equal(svc.get(id).status, 'interrupted', 'nothing runs while the agent is away');
  lab.setNodes(['srv1']);
  await finishedRun(lab, id, 'completed');
  assert.equal(lab.commander.probes.length - probesBefore, 4);
  // No probe went out before the agent was back: none failed.
  assert.deepEqual(
    svc.report(id).cells.map((c) => [c.attempts, c.successes]),
    [
      [2, 2],
      [2, 2],
      [2, 2],
    ],
  );
});
