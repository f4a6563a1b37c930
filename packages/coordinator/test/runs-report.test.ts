/**
 * Per-cell node utilization: samples inside a cell's measured window summarised per node (exact
 * means and maxima, `null` for what a node does not measure), stored before the run is reported
 * finished, and carried by the report JSON, the Markdown table and the HTML table.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPORT_SCHEMA } from '@kage/bench';
import { summariseSamples } from '../src/runs/cell-utilization.js';
import type { SampleRow } from '../src/store/sample-row.js';
import { createRunsLab, matrixBody, startFakeOllama } from './helpers/runs-lab.js';

const GIB = 1024 ** 3;

function row(over: Partial<SampleRow>): SampleRow {
  return {
    node_id: 'n',
    ts_ms: 0,
    seq: 1,
    cpu_pct: null,
    mem_used_bytes: null,
    mem_total_bytes: null,
    gpu_busy_pct: null,
    gpu_mem_used_bytes: null,
    gpu_mem_total_bytes: null,
    gpus: [],
    services: [],
    ...over,
  };
}

test('summariseSamples: mean and max of the known values; null for a metric no sample carries', () => {
  assert.equal(summariseSamples([]), null);
  assert.deepEqual(
    summariseSamples([
      row({ cpu_pct: 10, mem_used_bytes: 100, gpu_busy_pct: null }),
      row({ cpu_pct: 40, mem_used_bytes: 300 }),
      row({ cpu_pct: null, mem_used_bytes: 200 }),
    ]),
    {
      samples: 3,
      cpu_pct: { mean: 25, max: 40 },
      mem_used_bytes: { max: 300 },
      gpu_busy_pct: null,
      gpu_mem_used_bytes: null,
    },
  );
});

test('a cell carries each node’s utilization during its measured window, in JSON, Markdown and HTML', async (t) => {
  const lab = createRunsLab(t);
  // srv2 is not named by the matrix but has samples: it is summarised too; idle has none.
  lab.setNodes(['srv1', 'srv2', 'idle']);
  const ollama = await startFakeOllama(t, { tokenMs: 5 });
  const svc = lab.service({ utilizationSettleMs: 150 });
  const before = Date.now() - 5000;
  lab.addSamples('srv1', [{ ts_ms: before, cpu_pct: 99, mem_used_bytes: 99 * GIB, gpu_busy_pct: 99 }]);
  const held = ollama.hold(1);

  const { id } = await svc.start(
    matrixBody(
      [
        { id: 'a', kind: 'ollama', url: ollama.url, nodes: ['srv1'] },
        { id: 'down', kind: 'ollama', url: 'http://127.0.0.1:1', probe: 'coordinator' },
      ],
      { repetitions: 1 },
    ),
  );
  const chat = await held;
  // The request is in flight: samples 100 ms from now fall inside its window once it is released
  // after them (it ends four tokens, 5 ms apart, later); one a minute ahead falls outside. The
  // margin covers an event loop slowed down by a busy machine.
  const inside = Date.now() + 100;
  lab.addSamples('srv1', [
    { ts_ms: inside, cpu_pct: 10, mem_used_bytes: 4 * GIB, gpu_busy_pct: 50, gpu_mem_used_bytes: 2 * GIB },
    { ts_ms: inside + 1, cpu_pct: 30, mem_used_bytes: 6 * GIB, gpu_busy_pct: 70, gpu_mem_used_bytes: 3 * GIB },
    { ts_ms: inside + 60_000, cpu_pct: 100, mem_used_bytes: 100 * GIB },
  ]);
  lab.addSamples('srv2', [{ ts_ms: inside, cpu_pct: 5 }]);
  await sleep(inside + 2 - Date.now());
  chat.release();

  let storedAtFinish: number | null = null;
  const unsubscribe = lab.hub.subscribe((e) => {
    const data = e.data as { run?: string; type?: string };
    if (e.type === 'run' && data.run === id && data.type === 'finished')
      storedAtFinish = lab.store.utilization(id).length;
  });
  t.after(unsubscribe);
  const finished = await lab.waitForRunEvent((e) => e.run === id && e.type === 'finished', 'run finished');
  assert.equal(finished.status, 'completed');
  assert.equal(storedAtFinish, 2, 'the last cell’s summaries were stored before the run was reported finished');

  const rows = lab.store.utilization(id);
  assert.deepEqual(
    rows.map((r) => [r.ordinal, r.node_id]),
    [
      [0, 'srv1'],
      [0, 'srv2'],
    ],
  );
  const cell = lab.store.bench.getCells(id)[0]!;
  const [w] = rows;
  assert.ok(w!.window_start_ms <= inside && w!.window_end_ms >= inside + 1, 'the window holds the samples');
  assert.ok(w!.window_start_ms >= Date.parse(cell.started_at!) - 1, 'the window starts inside the cell');

  const report = svc.report(id);
  assert.equal(report.schema, REPORT_SCHEMA);
  assert.deepEqual(report.cells[0]?.utilization, {
    srv1: {
      samples: 2,
      cpu_pct: { mean: 20, max: 30 },
      mem_used_bytes: { max: 6 * GIB },
      gpu_busy_pct: { mean: 60, max: 70 },
      gpu_mem_used_bytes: { max: 3 * GIB },
    },
    srv2: {
      samples: 1,
      cpu_pct: { mean: 5, max: 5 },
      mem_used_bytes: null,
      gpu_busy_pct: null,
      gpu_mem_used_bytes: null,
    },
  });
  // The unreachable target's cell measured nothing: no window, no summary.
  assert.equal(report.cells[1]?.status, 'failed');
  assert.equal(report.cells[1]?.utilization, null);
  const wire = JSON.parse(JSON.stringify(report)) as typeof report;
  assert.deepEqual(wire.cells[0]?.utilization, report.cells[0]?.utilization, 'the report survives JSON as it is');

  const md = svc.render(id, 'md');
  assert.match(md, /^## Node utilization per cell$/m);
  assert.match(
    md,
    /^\| Model +\| Target \| Conc\. \| Node \| CPU % mean \/ max \| Mem max GiB \| GPU busy % mean \/ max \| GPU mem max GiB \|$/m,
  );
  assert.match(
    md,
    /^\| qwen2\.5:3b \| a +\| +1 \| srv1 \| +20\.0 \/ 30\.0 \| +6\.00 \| +60\.0 \/ 70\.0 \| +3\.00 \|$/m,
  );
  assert.match(md, /^\| qwen2\.5:3b \| a +\| +1 \| srv2 \| +5\.0 \/ 5\.0 \| +— \| +— \| +— \|$/m);
  const table = md.slice(md.indexOf('## Node utilization per cell'), md.indexOf('## How to read this'));
  assert.equal(table.split('\n').filter((l) => l.startsWith('| qwen')).length, 2);
  assert.doesNotMatch(table, /\| down /, 'a cell that never sent a request has no row');

  const html = svc.render(id, 'html');
  assert.match(html, /<h2>Node utilization per cell<\/h2>/);
  assert.match(
    html,
    /<tr><td class="model">qwen2\.5:3b<\/td><td>a<\/td><td class="num">1<\/td><td>srv1<\/td><td class="num">20\.0 \/ 30\.0<\/td><td class="num">6\.00<\/td><td class="num">60\.0 \/ 70\.0<\/td><td class="num">3\.00<\/td><\/tr>/,
  );
});

test('a report of a run the coordinator did not execute is the bench report, unchanged', async (t) => {
  const lab = createRunsLab(t);
  const ollama = await startFakeOllama(t);
  const { runMatrix, validateMatrix } = await import('@kage/bench');
  const outcome = await runMatrix({
    store: lab.store.bench,
    matrix: validateMatrix(matrixBody([{ id: 'a', kind: 'ollama', url: ollama.url }])),
  });
  const svc = lab.service();
  const report = svc.report(outcome.runId);
  assert.equal(report.cells.length, 1);
  assert.equal('utilization' in report.cells[0]!, false);
  assert.doesNotMatch(svc.render(outcome.runId, 'md'), /Node utilization/);
});
