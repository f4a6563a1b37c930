/**
 * EXO's own benchmark flow (`bench/exo_bench.py` on `bench/harness.py`, v1.0.71) against three
 * `kage emulate exo` processes, request by request as the harness makes them: placement previews,
 * the planning phase (model size, per-node downloads and disk, `POST /download/start`, waiting for
 * `DownloadCompleted`), `POST /instance` with the preview's instance, readiness through
 * `/state/instances/{id}` and `/state/runners/{id}`, `/bench/chat/completions`, then
 * `DELETE /instance/{id}` and waiting until `/instance/{id}` answers 404.
 * One node (rog) starts without the model's files, so the planning phase sees it download.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startKage, waitFor, type KageProcess } from './src/kage-process.js';

const MODEL = 'mlx-community/Llama-3.2-3B-Instruct-4bit';
const TIMING = ['--heartbeat-interval-ms', '200', '--peer-timeout-ms', '2500', '--deterministic'];

type Tagged = Record<string, Record<string, unknown>>;

interface Preview {
  model_id: string;
  sharding: string;
  instance_meta: string;
  instance: { MlxRingInstance: RingInstance } | null;
  error: string | null;
}

interface RingInstance {
  instanceId: string;
  shardAssignments: {
    modelId: string;
    nodeToRunner: Record<string, string>;
    runnerToShard: Record<string, Tagged>;
  };
}

/** `ExoClient.request_json`: JSON in and out, an error for any status of 400 and above. */
async function exo(node: KageProcess, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers: { accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status >= 400)
    throw Object.assign(new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`), { status: res.status });
  return text ? (JSON.parse(text) as unknown) : null;
}

/** `ExoClient.get_state_path`: null on 404. */
async function statePath(node: KageProcess, path: string): Promise<unknown> {
  try {
    return await exo(node, 'GET', `/state/${path}`);
  } catch (err) {
    if ((err as { status?: number }).status === 404) return null;
    throw err;
  }
}

/** `unwrap_instance(p[tag]["shardMetadata"])["modelCard"]["modelId"]`. */
function downloadModel(d: Tagged): string {
  const body = Object.values(d)[0]!;
  return (Object.values(body.shardMetadata as Tagged)[0]!.modelCard as { modelId: string }).modelId;
}

test("EXO's exo_bench flow runs against a 3-process emulated cluster, with a node downloading the model", async (t) => {
  const nodes: KageProcess[] = [];
  t.after(() => Promise.all(nodes.map((n) => n.stop())));
  const peerArgs = (): string[] =>
    nodes.length === 0 ? [] : ['--peers', nodes.map((n) => n.url.replace('http://', '')).join(',')];
  for (const name of ['srv1', 'srv2', 'rog']) {
    const extra =
      name === 'rog'
        ? ['--hardware', 'strix-halo-8060s-32gb', '--downloaded', 'none', '--download-rate-mbps', '6000']
        : ['--hardware', 'cpu-server-ddr4'];
    nodes.push(
      await startKage([
        'emulate',
        'exo',
        '--listen',
        '127.0.0.1:0',
        '--name',
        name,
        ...extra,
        ...peerArgs(),
        ...TIMING,
      ]),
    );
  }
  const [srv1] = nodes as [KageProcess, KageProcess, KageProcess];
  await waitFor(
    'all three nodes in the topology',
    async () => (((await statePath(srv1, 'topology')) as { nodes: string[] }).nodes.length === 3 ? true : undefined),
    10_000,
  );
  const names = (await statePath(srv1, 'nodeIdentities')) as Record<string, { friendlyName: string }>;
  const rogId = Object.keys(names).find((id) => names[id]!.friendlyName === 'rog')!;

  // resolve_model_short_id: the model is on /models by its Hugging Face id.
  const models = (await exo(srv1, 'GET', '/models')) as {
    data: { name: string; hugging_face_id: string; storage_size_megabytes: number }[];
  };
  const entry = models.data.find((m) => m.hugging_face_id === MODEL);
  assert.ok(entry, 'model listed on /models');
  assert.equal(entry.name, 'Llama-3.2-3B-Instruct-4bit');

  // settle_and_fetch_placements: previews without an error; we take the 3-node pipeline ring.
  const preview = await waitFor(
    'a 3-node pipeline preview',
    async () => {
      const res = (await exo(
        srv1,
        'GET',
        `/instance/previews?${new URLSearchParams({ model_id: MODEL }).toString()}`,
      )) as {
        previews: Preview[];
      };
      return res.previews.find(
        (p) =>
          p.error === null &&
          p.instance !== null &&
          p.sharding === 'Pipeline' &&
          p.instance_meta === 'MlxRing' &&
          Object.keys(p.instance.MlxRingInstance.shardAssignments.nodeToRunner).length === 3,
      );
    },
    10_000,
  );
  const inner = preview.instance!.MlxRingInstance;
  const nodeIds = Object.keys(inner.shardAssignments.nodeToRunner);
  assert.ok(nodeIds.includes(rogId));

  // run_planning_phase: model size, then per node its downloads and (when missing) its free disk.
  const modelBytes = entry.storage_size_megabytes * 1024 * 1024;
  const needs: string[] = [];
  for (const nodeId of nodeIds) {
    const downloads = ((await statePath(srv1, `downloads/${nodeId}`)) ?? []) as Tagged[];
    if (downloads.some((d) => 'DownloadCompleted' in d && downloadModel(d) === MODEL)) continue;
    needs.push(nodeId);
    // The node's start-up scan lists the model as pending, nothing on disk yet.
    const scanned = downloads.find((d) => downloadModel(d) === MODEL);
    assert.ok(scanned && 'DownloadPending' in scanned, JSON.stringify(scanned));
    assert.deepEqual(scanned.DownloadPending.downloaded, { inBytes: 0 });
    const disk = (await statePath(srv1, `nodeDisk/${nodeId}`)) as { available: { inBytes: number } } | null;
    assert.ok(disk && disk.available.inBytes >= modelBytes, `disk on ${nodeId}: ${JSON.stringify(disk)}`);
  }
  assert.deepEqual(needs, [rogId], 'only rog lacks the files');
  for (const nodeId of nodeIds) {
    const runnerId = inner.shardAssignments.nodeToRunner[nodeId]!;
    const started = (await exo(srv1, 'POST', '/download/start', {
      targetNodeId: nodeId,
      shardMetadata: inner.shardAssignments.runnerToShard[runnerId],
    })) as { commandId: string };
    assert.match(started.commandId, /^[0-9a-f-]{36}$/);
  }
  const seen = new Set<string>();
  const progress: { downloaded: number; total: number; speed: number; etaMs: number; files: number }[] = [];
  await waitFor(
    'downloads complete on every node',
    async () => {
      let allDone = true;
      for (const nodeId of nodeIds) {
        const downloads = ((await statePath(srv1, `downloads/${nodeId}`)) ?? []) as Tagged[];
        const mine = downloads.filter((d) => downloadModel(d) === MODEL);
        assert.equal(mine.length, 1, 'one state per model and node');
        const d = mine[0]!;
        assert.ok(!('DownloadFailed' in d), JSON.stringify(d));
        if (nodeId === rogId) seen.add(Object.keys(d)[0]!);
        if ('DownloadCompleted' in d) continue;
        allDone = false;
        if ('DownloadOngoing' in d) {
          const p = d.DownloadOngoing.downloadProgress as {
            downloaded: { inBytes: number };
            total: { inBytes: number };
            speed: number;
            etaMs: number;
            completedFiles: number;
            totalFiles: number;
          };
          progress.push({
            downloaded: p.downloaded.inBytes,
            total: p.total.inBytes,
            speed: p.speed,
            etaMs: p.etaMs,
            files: p.totalFiles,
          });
        }
      }
      return allDone ? true : undefined;
    },
    20_000,
  );
  // Pending while the file list is fetched, then ongoing with progress, then completed.
  assert.ok(seen.has('DownloadOngoing') && seen.has('DownloadCompleted'), [...seen].join(', '));
  const moving = progress.filter((p) => p.downloaded > 0);
  assert.ok(moving.length > 0, 'progress with bytes was reported');
  for (const p of moving) {
    assert.ok(p.downloaded < p.total && p.total >= modelBytes * 0.99);
    assert.ok(Math.abs(p.speed - 750e6) < 1e6, `speed ${p.speed} on a 6000 Mbit/s link`);
    assert.ok(p.etaMs > 0 && p.files >= 8);
  }
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i]!.downloaded >= progress[i - 1]!.downloaded);

  // POST /instance with the preview's instance; wait_for_instance_ready.
  const created = (await exo(srv1, 'POST', '/instance', { instance: preview.instance })) as { message: string };
  assert.equal(created.message, 'Command received.');
  const instanceId = inner.instanceId;
  await waitFor(
    'every runner RunnerReady',
    async () => {
      const instance = (await statePath(srv1, `instances/${instanceId}`)) as { MlxRingInstance: RingInstance } | null;
      if (!instance) return undefined;
      for (const runnerId of Object.keys(instance.MlxRingInstance.shardAssignments.runnerToShard)) {
        const runner = ((await statePath(srv1, `runners/${runnerId}`)) ?? {}) as Tagged;
        assert.ok(!('RunnerFailed' in runner), JSON.stringify(runner));
        if (!('RunnerReady' in runner)) return undefined;
      }
      return true;
    },
    20_000,
  );

  // run_one_completion: the bench endpoint, non-streaming, with generation_stats.
  const out = (await exo(srv1, 'POST', '/bench/chat/completions', {
    model: MODEL,
    messages: [{ role: 'user', content: 'a a a a a a a a' }],
    stream: false,
    max_tokens: 8,
    logprobs: false,
    use_prefix_cache: false,
  })) as {
    choices: { message: { content: string | null } }[];
    generation_stats: {
      prompt_tps: number;
      generation_tps: number;
      prompt_tokens: number;
      generation_tokens: number;
      peak_memory_usage: { inBytes: number };
    };
  };
  assert.equal(out.generation_stats.generation_tokens, 8);
  assert.ok(out.generation_stats.prompt_tokens > 0);
  assert.ok(out.generation_stats.prompt_tps > 0 && out.generation_stats.generation_tps > 0);
  assert.ok(out.generation_stats.peak_memory_usage.inBytes > 0);
  assert.ok((out.choices[0]?.message.content ?? '').length > 0);

  // DELETE /instance/{id}; wait_for_instance_gone polls GET /instance/{id} for at most 3 s.
  await exo(srv1, 'DELETE', `/instance/${instanceId}`);
  const deadline = Date.now() + 3000;
  let gone = false;
  while (!gone && Date.now() < deadline) {
    const res = await fetch(`${srv1.url}/instance/${instanceId}`);
    await res.body?.cancel();
    if (res.status === 404) gone = true;
    else await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(gone, 'the instance was gone within 3 s');
});
