/**
 * The per-cell node utilization table of reports of coordinator runs, in Markdown and HTML: a row
 * per cell and node, dashes for what a node does not measure, a "no samples" row for a completed
 * cell without telemetry, names escaped; and no table at all (output unchanged) for reports whose
 * cells carry no utilization.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderHtml, renderMarkdown, type KageReport, type ReportCell } from '../src/index.js';

const GIB = 1024 ** 3;

function cell(target: string, over: Partial<ReportCell> = {}): ReportCell {
  return {
    model: 'qwen2.5:3b',
    target,
    concurrency: 1,
    attempts: 3,
    successes: 3,
    success_rate: 1,
    decode_tps: { median: 40, mean: 40, ci95: [39, 41] },
    ttft_ms: { median: 100, p90: 110 },
    e2e_ms: { median: 900 },
    output_tokens: { median: 32 },
    status: 'completed',
    error: null,
    failures: {},
    aggregate_tps: 40,
    cached_prompt_tokens: null,
    ollama_health: { before: true, after: true },
    ...over,
  };
}

function report(cells: ReportCell[]): KageReport {
  return {
    schema: 'kage.report/v1',
    run: {
      id: 'run-0001',
      name: 'utilization',
      status: 'completed',
      started_at: '2026-01-21T10:00:00.000Z',
      finished_at: '2026-01-21T10:05:00.000Z',
      error: null,
      prompt_policy: 'unique_prefix',
    },
    cells,
    decisions: [],
    recommendation: { verdict: 'inconclusive', reasons: ['no decision block'] },
  };
}

const busy = {
  samples: 12,
  cpu_pct: { mean: 41.25, max: 87.5 },
  mem_used_bytes: { max: 12.5 * GIB },
  gpu_busy_pct: { mean: 93.04, max: 100 },
  gpu_mem_used_bytes: { max: 7.25 * GIB },
};
const cpuOnly = {
  samples: 12,
  cpu_pct: { mean: 3, max: 4 },
  mem_used_bytes: null,
  gpu_busy_pct: null,
  gpu_mem_used_bytes: null,
};

const withUtilization = report([
  cell('ollama-rog', { utilization: { rog: busy, 'srv<1>': cpuOnly } }),
  cell('ollama-srv1', { concurrency: 2, utilization: null }),
  cell('down', { status: 'failed', attempts: 0, successes: 0, utilization: null }),
]);

test('markdown: one row per cell and node, dashes for unmeasured metrics, no samples for a silent cell', () => {
  const md = renderMarkdown(withUtilization, { emulated: false });
  const start = md.indexOf('## Node utilization per cell');
  assert.ok(start > md.indexOf('## Recommendation'), 'after the recommendation');
  assert.ok(start < md.indexOf('## How to read this'), 'before the legend');
  const table = md
    .slice(start, md.indexOf('## How to read this'))
    .split('\n')
    .filter((l) => l.startsWith('|'));
  assert.deepEqual(table, [
    '| Model      | Target      | Conc. | Node       | CPU % mean / max | Mem max GiB | GPU busy % mean / max | GPU mem max GiB |',
    '| ---------- | ----------- | ----: | ---------- | ---------------: | ----------: | --------------------: | --------------: |',
    '| qwen2.5:3b | ollama-rog  |     1 | rog        |      41.3 / 87.5 |       12.50 |          93.0 / 100.0 |            7.25 |',
    '| qwen2.5:3b | ollama-rog  |     1 | srv\\<1\\>   |        3.0 / 4.0 |           — |                     — |               — |',
    '| qwen2.5:3b | ollama-srv1 |     2 | no samples |                — |           — |                     — |               — |',
  ]);
});

test('html: the same rows, escaped, in a table of their own', () => {
  const html = renderHtml(withUtilization, { emulated: false });
  assert.match(html, /<section><h2>Node utilization per cell<\/h2><p class="hint">/);
  assert.match(
    html,
    /<tr><td class="model">qwen2\.5:3b<\/td><td>ollama-rog<\/td><td class="num">1<\/td><td>rog<\/td><td class="num">41\.3 \/ 87\.5<\/td><td class="num">12\.50<\/td><td class="num">93\.0 \/ 100\.0<\/td><td class="num">7\.25<\/td><\/tr>/,
  );
  assert.match(html, /<td>srv&lt;1&gt;<\/td>/);
  assert.doesNotMatch(html, /srv<1>/);
  assert.match(html, /<td><span class="muted">no samples<\/span><\/td>/);
  assert.doesNotMatch(html, /<td>down<\/td>/);
});

test('a report whose cells carry no utilization renders as before: no table', () => {
  const plain = report([cell('ollama-rog'), cell('ollama-srv1')]);
  const md = renderMarkdown(plain, { emulated: false });
  const html = renderHtml(plain, { emulated: false });
  assert.doesNotMatch(md, /Node utilization/);
  assert.doesNotMatch(html, /Node utilization|class="utilization"/);
  // A report where every cell is null still says which cells had no telemetry.
  const silent = renderMarkdown(report([cell('ollama-rog', { utilization: null })]), { emulated: false });
  assert.match(silent, /\| qwen2\.5:3b \| ollama-rog \| +1 \| no samples \|/);
});
