/**
 * The real `kage coordinator` with three real `kage agent` processes on loopback, each agent
 * supervising an emulated Ollama: registration, a refused token, a killed service coming back,
 * and a coordinator restart whose buffered samples are replayed exactly once.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import {
  allocateNodePorts,
  freePort,
  spawnDaemon,
  startLabAgents,
  waitFor,
  writeAgentConfig,
  writeCoordinatorConfig,
  type CoordinatorFiles,
  type DaemonProcess,
} from './src/coordinator-lab.js';

const NODES = ['srv1', 'srv2', 'rog'] as const;

interface NodeView {
  id: string;
  status: string;
  services: { name: string; state: string; pid: number | null; restarts: number; healthy: boolean }[];
  latest: { cpu_pct: number | null; mem_total_bytes: number | null } | null;
}

let dir: string;
let files: CoordinatorFiles;
let grpcPort: number;
let httpPort: number;
let coordinator: DaemonProcess;
const agents: DaemonProcess[] = [];
let api: string;
const ollamaPorts = new Map<string, number>();

async function nodes(): Promise<NodeView[]> {
  const res = await fetch(`${api}/api/v1/nodes`);
  assert.equal(res.status, 200);
  return (await res.json()) as NodeView[];
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kage-coordinator-e2e-'));
  grpcPort = await freePort();
  httpPort = await freePort();
  api = `http://127.0.0.1:${httpPort}`;
  files = await writeCoordinatorConfig(dir, { grpcPort, httpPort, nodes: NODES });
  coordinator = spawnDaemon(['coordinator', '--config', files.config]);
  await coordinator.waitForLog((l) => l['msg'] === 'coordinator started', 'coordinator started');
  const ports = await allocateNodePorts(NODES);
  for (const [node, p] of ports) ollamaPorts.set(node, p.ollama);
  const started = await startLabAgents(dir, { nodes: NODES, grpcPort, tokens: files.tokens, ports });
  agents.push(...[...started.values()].map((a) => a.process));
});

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await coordinator?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('three agents register; their ollama and exo services and samples show in the API and /metrics', async () => {
  const all = await waitFor('three online nodes with a running, healthy ollama and exo and a sample', async () => {
    const list = await nodes();
    const ready = list.filter(
      (n) =>
        n.status === 'online' &&
        n.latest !== null &&
        ['ollama', 'exo'].every((name) =>
          n.services.some((s) => s.name === name && s.state === 'running' && s.healthy),
        ),
    );
    return ready.length === 3 ? list : undefined;
  });
  assert.deepEqual(all.map((n) => n.id).sort(), [...NODES].sort());
  for (const n of all) assert.ok((n.latest?.mem_total_bytes ?? 0) > 0, `${n.id} reports memory`);

  const metrics = await (await fetch(`${api}/metrics`)).text();
  for (const node of NODES) assert.match(metrics, new RegExp(`kage_node_up\\{node="${node}"\\} 1`));
  const ready = await fetch(`${api}/readyz`);
  assert.equal(ready.status, 200);
});

test('an agent with a wrong token is refused and never registered; the refusal is logged once', async () => {
  const config = await writeAgentConfig(dir, {
    node: 'intruder',
    grpcPort,
    token: 'not-a-known-token-000000',
    ollamaPort: await freePort(),
  });
  const intruder = spawnDaemon(['agent', '--config', config], { STATE_DIRECTORY: join(dir, 'state-intruder') });
  try {
    // The agent logs each refused session; wait for two, so the coordinator saw two calls.
    await waitFor(
      'two refused sessions',
      () => (intruder.logs().filter((l) => /UNAUTHENTICATED/.test(JSON.stringify(l))).length >= 2 ? true : undefined),
      30_000,
    );
    const refusals = coordinator
      .logs()
      .filter((l) => l['msg'] === 'agent call refused (logged once a minute per peer)');
    assert.equal(refusals.length, 1, 'logged once per minute per peer');
    assert.ok(!(await nodes()).some((n) => n.id === 'intruder'));
    const metrics = await (await fetch(`${api}/metrics`)).text();
    const failures = /kage_agent_auth_failures_total (\d+)/.exec(metrics);
    assert.ok(Number(failures?.[1]) >= 2, metrics);
  } finally {
    await intruder.stop();
  }
});

test('a killed service comes back and the API shows its restart', async () => {
  const before = (await nodes()).find((n) => n.id === 'srv2')?.services.find((s) => s.name === 'ollama');
  assert.ok(before?.pid, 'ollama has a pid');
  process.kill(before.pid, 'SIGKILL');
  const afterKill = await waitFor('ollama on srv2 running again with one more restart', async () => {
    const s = (await nodes()).find((n) => n.id === 'srv2')?.services.find((x) => x.name === 'ollama');
    return s !== undefined && s.state === 'running' && s.restarts === before.restarts + 1 && s.pid !== before.pid
      ? s
      : undefined;
  });
  assert.notEqual(afterKill.pid, before.pid);
});

test("a run through the agents: each cell measured from the target node, with every node's utilization", async () => {
  const matrix = {
    name: 'through-agents',
    prompt: 'Write a haiku about shadows.',
    max_tokens: 12,
    repetitions: 2,
    warmup: 0,
    targets: [
      { id: 'ollama-srv1', kind: 'ollama', url: `http://127.0.0.1:${ollamaPorts.get('srv1')}`, nodes: ['srv1'] },
      {
        id: 'ollama-rog',
        kind: 'ollama',
        url: `http://127.0.0.1:${ollamaPorts.get('rog')}`,
        nodes: ['rog'],
        probe: 'agent',
      },
    ],
    models: [{ name: 'qwen2.5:3b' }],
  };
  const unauthorized = await fetch(`${api}/api/v1/runs`, {
    method: 'POST',
    body: JSON.stringify(matrix),
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(unauthorized.status, 401);
  const started = await fetch(`${api}/api/v1/runs`, {
    method: 'POST',
    body: JSON.stringify(matrix),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${files.apiToken}` },
  });
  assert.equal(started.status, 201, await started.clone().text());
  const { id } = (await started.json()) as { id: string };
  const run = await waitFor(
    'the run to complete',
    async () => {
      const r = (await (await fetch(`${api}/api/v1/runs/${id}`)).json()) as { status: string; error: string | null };
      return r.status === 'running' ? undefined : r;
    },
    90_000,
  );
  assert.equal(run.status, 'completed', JSON.stringify(run));
  const report = (await (await fetch(`${api}/api/v1/runs/${id}/report?format=json`)).json()) as {
    schema: string;
    cells: {
      target: string;
      successes: number;
      utilization: Record<string, { cpu_pct: { mean: number | null; max: number | null } }> | null;
    }[];
  };
  assert.equal(report.schema, 'kage.report/v1');
  assert.equal(report.cells.length, 2);
  for (const cell of report.cells) {
    assert.equal(cell.successes, 2, `${cell.target} succeeded`);
    assert.ok(cell.utilization !== null, `${cell.target} has utilization`);
    for (const node of NODES) {
      const u = cell.utilization[node];
      assert.ok(u !== undefined, `${cell.target}: ${node} summarised`);
      assert.ok(
        u.cpu_pct.mean !== null && u.cpu_pct.max !== null && u.cpu_pct.max >= u.cpu_pct.mean,
        `${cell.target}: ${node} CPU`,
      );
    }
  }
  const md = await (await fetch(`${api}/api/v1/runs/${id}/report?format=md`)).text();
  assert.match(md, /srv1/);
  assert.match(md, /rog/);
});

test('a coordinator restart: agents buffer, then replay; every seq is stored exactly once', async () => {
  const code = await coordinator.stop();
  assert.equal(code, 0, coordinator.stderr());
  // Let the agents take samples while nobody listens (250 ms interval: ~8 samples each).
  await new Promise((resolve) => setTimeout(resolve, 2000));
  coordinator = spawnDaemon(['coordinator', '--config', files.config]);
  await coordinator.waitForLog((l) => l['msg'] === 'coordinator started', 'coordinator started again');
  await waitFor(
    'all three nodes online again',
    async () => ((await nodes()).filter((n) => n.status === 'online').length === 3 ? true : undefined),
    30_000,
  );
  // Wait for the replay to be committed: each node's latest sample newer than the restart.
  const restartedAt = Date.now();
  await waitFor('fresh samples from every node', async () =>
    (await nodes()).every(
      (n) => n.latest !== null && Date.parse((n.latest as unknown as { ts: string }).ts) > restartedAt,
    )
      ? true
      : undefined,
  );

  const db = new Database(files.db, { readonly: true });
  try {
    const dupes = db
      .prepare('SELECT node_id, seq, COUNT(*) AS n FROM samples GROUP BY node_id, seq HAVING n > 1')
      .all();
    assert.deepEqual(dupes, [], 'no sample stored twice');
    for (const node of NODES) {
      const seqs = db
        .prepare(
          `SELECT seq FROM samples WHERE node_id = ? UNION ALL SELECT seq FROM service_events WHERE node_id = ? ORDER BY seq`,
        )
        .pluck()
        .all(node, node) as number[];
      assert.ok(seqs.length > 10, `${node}: ${seqs.length} records`);
      const first = seqs[0] ?? 0;
      const gaps = seqs.filter((s, i) => s !== first + i);
      assert.deepEqual(gaps.slice(0, 5), [], `${node}: records form one unbroken seq run from ${first}`);
    }
  } finally {
    db.close();
  }
});
