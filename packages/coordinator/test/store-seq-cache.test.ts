import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import type { SampleRow } from '../src/store/sample-row.js';
import { createSeqCache } from '../src/store/seq-cache.js';
import { openTelemetryStore } from '../src/store/telemetry-store.js';

test("a new boot of a node evicts the node's other boots, and an evicted boot is read again", () => {
  const table = new Map<string, number>([
    ['n1/b1', 5],
    ['n1/b2', 9],
    ['n2/b1', 3],
  ]);
  const loads: string[] = [];
  const cache = createSeqCache((node, boot) => {
    loads.push(`${node}/${boot}`);
    return table.get(`${node}/${boot}`) ?? 0;
  });
  assert.equal(cache.get('n1', 'b1'), 5);
  assert.equal(cache.get('n2', 'b1'), 3);
  assert.equal(cache.get('n1', 'b1'), 5);
  assert.deepEqual(loads, ['n1/b1', 'n2/b1'], 'hits are not loaded again');
  cache.set('n1', 'b1', 6);
  assert.equal(cache.get('n1', 'b2'), 9);
  assert.deepEqual(cache.boots('n1'), ['b2'], 'the older boot is gone');
  assert.deepEqual(cache.boots('n2'), ['b1'], 'other nodes keep theirs');
  assert.equal(cache.get('n1', 'b1'), 5, 'read back from the table');
  assert.deepEqual(cache.boots('n1'), ['b1']);
});

function sample(node: string, seq: number): SampleRow {
  return {
    node_id: node,
    ts_ms: 1000 * seq,
    seq,
    cpu_pct: 1,
    mem_used_bytes: null,
    mem_total_bytes: null,
    gpu_busy_pct: null,
    gpu_mem_used_bytes: null,
    gpu_mem_total_bytes: null,
    gpus: [],
    services: [],
  };
}

test('deduplication holds across reboots once older boots are evicted', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kage-coord-seq-'));
  const store = openTelemetryStore({ path: join(dir, 'kage.db'), log: pino({ level: 'silent' }) });
  t.after(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const commit = (boot: string, seqs: number[]) =>
    store.commit([{ node_id: 'srv1', boot_id: boot, samples: seqs.map((s) => sample('srv1', s)), events: [] }])[0];
  for (let boot = 1; boot <= 50; boot++) assert.equal(commit(`b${boot}`, [1, 2, 3])?.last_seq, 3);
  // A replay of an evicted boot is still recognised from the table.
  assert.deepEqual([commit('b1', [2, 3, 4])?.duplicates, store.lastSeq('srv1', 'b1')], [2, 4]);
  assert.equal(store.lastSeq('srv1', 'b50'), 3);
});
