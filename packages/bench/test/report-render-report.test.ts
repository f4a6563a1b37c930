/**
 * The markdown and HTML report renderers over hand-built reports, one per verdict family:
 * phase-2, shelve, cluster-only (a 70B model no baseline ran), failed, inconclusive with a
 * concurrency sweep, and an empty running run, plus names crafted to break out of markup.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  renderHtml,
  renderMarkdown,
  type KageReport,
  type ReportCell,
  type ReportDecision,
  type Verdict,
} from '../src/index.js';

// ---------------------------------------------------------------------------------------------
// Fixtures

const CAND = 'exo-cluster';

function cell(
  model: string,
  target: string,
  over: Partial<ReportCell> & { tps?: number; ttft?: number } = {},
): ReportCell {
  const { tps = 40.06, ttft = 101.2, ...rest } = over;
  return {
    model,
    target,
    concurrency: 1,
    attempts: 5,
    successes: 5,
    success_rate: 1,
    decode_tps: { median: tps, mean: tps, ci95: [tps * 0.99, tps * 1.01] },
    ttft_ms: { median: ttft, p90: ttft * 1.05 },
    e2e_ms: { median: 900.3 },
    output_tokens: { median: 32 },
    status: 'completed',
    error: null,
    failures: {},
    aggregate_tps: tps,
    cached_prompt_tokens: null,
    ollama_health: target.startsWith('ollama') ? { before: true, after: true } : null,
    ...rest,
  };
}

function failedCell(model: string, target: string, over: Partial<ReportCell> = {}): ReportCell {
  return cell(model, target, {
    successes: 0,
    success_rate: 0,
    decode_tps: { median: null, mean: null, ci95: null },
    ttft_ms: { median: null, p90: null },
    e2e_ms: { median: null },
    output_tokens: { median: null },
    aggregate_tps: null,
    failures: { oom: 5 },
    ...over,
  });
}

function decision(model: string, verdict: Verdict, over: Partial<ReportDecision> = {}): ReportDecision {
  return {
    model,
    candidate: CAND,
    baseline: 'ollama-rog',
    speedup: 0.35,
    speedup_ci95: [0.33, 0.37],
    ttft_ratio: 1.8,
    ttft_ok: true,
    success_ok: true,
    cluster_ok: true,
    verdict,
    concurrency: 1,
    aggregate_speedup: 0.34,
    reasons: [`${CAND} vs ollama-rog: speedup for ${model}`],
    ...over,
  };
}

function report(over: Partial<Omit<KageReport, 'run'>> & { run?: Partial<KageReport['run']> } = {}): KageReport {
  const { run, ...rest } = over;
  return {
    schema: 'kage.report/v1',
    run: {
      id: 'run-0001',
      name: 'exo-phase1-poc',
      status: 'completed',
      started_at: '2026-01-21T10:00:00.000Z',
      finished_at: '2026-01-21T10:12:03.000Z',
      error: null,
      prompt_policy: 'unique_prefix',
      ...run,
    },
    cells: [],
    decisions: [],
    recommendation: null,
    ...rest,
  };
}

const M3 = 'qwen2.5:3b';
const M32 = 'qwen2.5-coder:32b';
const M70 = 'llama3.3:70b';

const phase2 = report({
  cells: [
    cell(M3, 'ollama-srv1', { tps: 12.34, ttft: 310.4 }),
    cell(M3, 'ollama-rog', { tps: 29.66, ttft: 56.2 }),
    cell(M3, CAND, { tps: 40.06, ttft: 101.2 }),
    cell(M32, 'ollama-srv1', { tps: 1.52, ttft: 2400 }),
    cell(M32, 'ollama-rog', { tps: 4.1, ttft: 830 }),
    cell(M32, CAND, { tps: 5.6, ttft: 1200 }),
  ],
  decisions: [decision(M3, 'phase-2'), decision(M32, 'phase-2', { speedup: 0.366, speedup_ci95: [0.31, 0.42] })],
  recommendation: { verdict: 'phase-2', reasons: ['primary: cluster formation met', 'primary: 100 % success met'] },
});

const shelve = report({
  cells: [cell(M3, 'ollama-srv1', { tps: 12 }), cell(M3, 'ollama-rog', { tps: 30 }), cell(M3, CAND, { tps: 17.4 })],
  decisions: [decision(M3, 'shelve', { speedup: -0.42, speedup_ci95: [-0.45, -0.4], ttft_ratio: 3.1, ttft_ok: false })],
  recommendation: { verdict: 'shelve', reasons: ['qwen2.5:3b: shelve'] },
});

const clusterOnly = report({
  cells: [
    cell(M3, 'ollama-srv1', { tps: 12 }),
    cell(M3, 'ollama-rog', { tps: 30 }),
    cell(M3, CAND, { tps: 34.5 }),
    // No ollama-srv1 cell for the 70B model at all: the table shows a dash there.
    failedCell(M70, 'ollama-rog'),
    cell(M70, CAND, { tps: 1.23, ttft: 5230, decode_tps: { median: 1.23, mean: 1.2, ci95: null } }),
  ],
  decisions: [
    decision(M3, 'evaluate', { speedup: 0.15, speedup_ci95: [0.12, 0.18] }),
    decision(M70, 'cluster-only', {
      baseline: null,
      speedup: null,
      speedup_ci95: null,
      ttft_ratio: null,
      ttft_ok: null,
      aggregate_speedup: null,
    }),
  ],
  recommendation: { verdict: 'evaluate', reasons: ['secondary: a 70B+ model ran on the cluster (llama3.3:70b)'] },
});

const PLACE_ERROR =
  'BENCH_ERR_EXO_PLACE: placement of mlx-community/Qwen2.5-3B-Instruct-4bit failed: only 2 of 3 nodes in the cluster';
const failed = report({
  run: { status: 'completed' },
  cells: [
    cell(M3, 'ollama-srv1', { tps: 12 }),
    cell(M3, 'ollama-rog', { tps: 30, ollama_health: { before: true, after: false } }),
    failedCell(M3, CAND, { attempts: 0, status: 'failed', error: PLACE_ERROR, failures: {} }),
  ],
  decisions: [
    decision(M3, 'failed', {
      speedup: null,
      speedup_ci95: null,
      ttft_ratio: null,
      ttft_ok: null,
      success_ok: false,
      cluster_ok: false,
    }),
  ],
  recommendation: { verdict: 'failed', reasons: ['primary: cluster formation NOT met'] },
});

const inconclusive = report({
  cells: [
    cell(M3, 'ollama-rog', { tps: 30 }),
    cell(M3, CAND, { tps: 38.4 }),
    cell(M3, 'ollama-rog', { tps: 29, concurrency: 4, aggregate_tps: 61 }),
    cell(M3, CAND, {
      tps: 31,
      concurrency: 4,
      aggregate_tps: 96.5,
      successes: 4,
      success_rate: 0.8,
      failures: { timeout: 1 },
    }),
  ],
  decisions: [
    decision(M3, 'inconclusive', { speedup: 0.28, speedup_ci95: [0.22, 0.35] }),
    decision(M3, 'shelve', { concurrency: 4, speedup: 0.069, speedup_ci95: [0.05, 0.08], aggregate_speedup: 0.582 }),
  ],
  recommendation: { verdict: 'inconclusive', reasons: ['the CI straddles the +30.0 % threshold'] },
});

const empty = report({ run: { status: 'running', finished_at: null } });

const EVIL_TARGET = '<script>alert(1)</script>';
const EVIL_MODEL = 'a|b*c_<img src=x onerror=alert(2)>';
const evil = report({
  run: { name: '</title><script>alert(3)</script>', id: 'id"&\'' },
  cells: [cell(EVIL_MODEL, EVIL_TARGET), cell(EVIL_MODEL, CAND, { tps: 50 })],
  decisions: [decision(EVIL_MODEL, 'phase-2', { baseline: EVIL_TARGET, reasons: ['<b>bold</b> & co'] })],
  recommendation: { verdict: 'phase-2', reasons: ['<script>alert(4)</script>'] },
});

const extremes = report({
  cells: [
    cell(M3, 'ollama-rog', {
      tps: 123456789.123,
      ttft: 0.0123,
      e2e_ms: { median: 0.4 },
      decode_tps: { median: 123456789.123, mean: 1, ci95: null },
    }),
    cell(M3, CAND, { tps: 0.0123, ttft: 98765432.1, e2e_ms: { median: 98765432.1 } }),
  ],
});

// ---------------------------------------------------------------------------------------------
// Helpers

const OFF = { emulated: false } as const;

/** The markdown table that follows `heading` (its `|` lines). */
function tableAfter(md: string, heading: string): string[] {
  const start = md.indexOf(heading);
  assert.ok(start >= 0, `missing ${heading}`);
  const lines = md.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const out: string[] = [];
  for (const l of lines.slice(first)) {
    if (!l.startsWith('|')) break;
    out.push(l);
  }
  return out;
}

/** Cells of a markdown table line, splitting on unescaped pipes. */
function cellsOf(line: string): string[] {
  return line
    .slice(2, -2)
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

function rowOf(table: string[], first: string): string[] {
  const row = table.map(cellsOf).find((c) => c[0] === first);
  assert.ok(row, `no row ${first} in\n${table.join('\n')}`);
  return row;
}

function svgs(html: string): string[] {
  return html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
}

function count(haystack: string, needle: string | RegExp): number {
  return typeof needle === 'string' ? haystack.split(needle).length - 1 : (haystack.match(needle) ?? []).length;
}

/** Asserts every non-void element is closed in order (catches broken markup from bad escaping too). */
function assertBalanced(html: string): void {
  const VOID = new Set(['meta', 'br', 'hr', 'img', 'link', 'input']);
  const stack: string[] = [];
  const body = html.replace(/<style>[\s\S]*?<\/style>/, '');
  for (const m of body.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*?(\/?)>/g)) {
    const [, close, name = '', selfClose] = m;
    const tag = name.toLowerCase();
    if (VOID.has(tag) || selfClose === '/') continue;
    if (close === '/') assert.equal(stack.pop(), tag, `unbalanced </${tag}> at ${m.index}`);
    else stack.push(tag);
  }
  assert.deepEqual(stack, [], 'unclosed elements');
}

// ---------------------------------------------------------------------------------------------
// Markdown

void describe('renderMarkdown', () => {
  void test('phase-2: the seed comparison table, decisions and recommendation', () => {
    const md = renderMarkdown(phase2, OFF);
    assert.match(md, /^# Kage benchmark report: exo-phase1-poc\n/);
    assert.match(md, /- Run: run-0001 \(exo-phase1-poc\)/);
    assert.match(md, /- Status: completed/);
    assert.match(md, /- Finished: 2026-01-21T10:12:03.000Z \(took 12m 03s\)/);
    assert.doesNotMatch(md, /EMULATED/);

    const table = tableAfter(md, '## Comparison');
    assert.deepEqual(cellsOf(table[0] ?? ''), ['Model', 'ollama-srv1', 'ollama-rog', 'exo-cluster (candidate)']);
    assert.equal(table.length, 4, 'header, delimiter, one row per model');
    assert.deepEqual(rowOf(table, M3), [
      M3,
      '12.3 tok/s · 310 ms · 0.90 s',
      '29.7 tok/s · 56 ms · 0.90 s',
      '40.1 tok/s · 101 ms · 0.90 s',
    ]);
    assert.deepEqual(rowOf(table, M32).slice(1, 2), ['1.5 tok/s · 2400 ms · 0.90 s']);
    // Aligned for a terminal: every line of the table has the same width.
    assert.equal(new Set(table.map((l) => l.length)).size, 1, table.join('\n'));

    const dec = tableAfter(md, '## Decisions');
    assert.deepEqual(cellsOf(dec[0] ?? ''), [
      'Model',
      'Candidate vs baseline',
      'Speedup (95 % CI)',
      'TTFT ratio',
      'Success',
      'Cluster',
      'Verdict',
    ]);
    assert.deepEqual(rowOf(dec, M3), [
      M3,
      'exo-cluster vs ollama-rog',
      '+35.0 % (95 % CI +33.0 % … +37.0 %)',
      '1.80× ok',
      'ok',
      'ok',
      '**phase-2**',
    ]);
    assert.match(md, /## Recommendation: phase-2\n\n\*\*Phase 2: Kage Bunshin integration, production hardening\*\*/);
    assert.match(md, /- Recommendation: \*\*phase-2\*\*/);
    assert.match(md, /- primary: 100 % success met/);
    assert.doesNotMatch(md, /## By concurrency/, 'one level only');
    assert.doesNotMatch(md, /## Cell notes/, 'nothing failed');
  });

  void test('the legend maps every verdict to the seed decision matrix', () => {
    const legend = tableAfter(renderMarkdown(phase2, OFF), '## How to read this');
    assert.match(rowOf(legend, 'phase-2')[1] ?? '', /≥ 30 %/);
    assert.match(rowOf(legend, 'evaluate')[1] ?? '', /10 % – 30 %/);
    assert.match(rowOf(legend, 'shelve')[1] ?? '', /< 10 %/);
    assert.match(rowOf(legend, 'shelve')[2] ?? '', /shelve EXO; focus on Ollama load balancing/);
    for (const v of ['cluster-only', 'failed', 'inconclusive']) assert.ok(rowOf(legend, v));
    // Matrix thresholds, when the caller knows them, replace the seed's.
    const custom = renderMarkdown(phase2, { emulated: false, thresholds: { go_speedup: 0.5, max_ttft_ratio: 3 } });
    assert.match(rowOf(tableAfter(custom, '## How to read this'), 'phase-2')[1] ?? '', /≥ 50 %/);
    assert.match(custom, /≤ 3.00×/);
  });

  void test('shelve: slower candidate and TTFT over the limit', () => {
    const md = renderMarkdown(shelve, OFF);
    const row = rowOf(tableAfter(md, '## Decisions'), M3);
    assert.equal(row[2], '-42.0 % (95 % CI -45.0 % … -40.0 %)');
    assert.equal(row[3], '3.10× NOT ok');
    assert.equal(row[6], '**shelve**');
    assert.match(md, /## Recommendation: shelve\n\n\*\*shelve EXO; focus on Ollama load balancing\*\*/);
  });

  void test('cluster-only: a 70B model no baseline ran; dash and failed cells; null ratios', () => {
    const md = renderMarkdown(clusterOnly, OFF);
    const row = rowOf(tableAfter(md, '## Comparison'), M70);
    assert.deepEqual(row, [M70, '—', 'failed (oom ×5)', '1.2 tok/s · 5230 ms · 0.90 s']);
    const dec = rowOf(tableAfter(md, '## Decisions'), M70);
    assert.deepEqual(dec, [M70, 'exo-cluster vs — (no baseline ran it)', '—', '—', 'ok', 'ok', '**cluster-only**']);
    assert.equal(rowOf(tableAfter(md, '## Decisions'), M3)[6], '**evaluate**');
    assert.match(md, /- llama3\.3:70b on ollama-rog \(concurrency 1\): 0\/5 measured requests succeeded \(oom ×5\)/);
  });

  void test('failed: the candidate never ran; long reasons cut in the table, in full in the notes', () => {
    const md = renderMarkdown(failed, OFF);
    const cand = rowOf(tableAfter(md, '## Comparison'), M3)[3] ?? '';
    assert.match(cand, /^failed \(BENCH\\_ERR\\_EXO\\_PLACE: placement of mlx-c…\)$/);
    const dec = rowOf(tableAfter(md, '## Decisions'), M3);
    assert.deepEqual(dec.slice(2), ['—', '—', 'NOT ok', 'NOT ok', '**failed**']);
    assert.ok(md.includes('only 2 of 3 nodes in the cluster'), 'full error in the notes');
    assert.match(md, /Ollama health check failed after the cell/);
    assert.match(md, /## Recommendation: failed\n\n\*\*fix the cluster before judging it\*\*/);
  });

  void test('inconclusive with a concurrency sweep: per-level tables, success rate, aggregate speedup', () => {
    const md = renderMarkdown(inconclusive, OFF);
    assert.match(md, /## Comparison: models × targets \(concurrency 1\)/);
    assert.match(md, /## By concurrency/);
    const c4 = rowOf(tableAfter(md, '### Concurrency 4'), M3);
    assert.equal(c4[1], '29.0 tok/s · 101 ms · 0.90 s · agg 61.0');
    assert.equal(c4[2], '31.0 tok/s · 101 ms · 0.90 s · 4/5 ok (80 %) · agg 96.5');
    const dec = tableAfter(md, '## Decisions');
    assert.deepEqual(cellsOf(dec[0] ?? '').slice(0, 5), [
      'Model',
      'Conc.',
      'Candidate vs baseline',
      'Speedup (95 % CI)',
      'Aggregate speedup',
    ]);
    const rows = dec.slice(2).map(cellsOf);
    assert.deepEqual(
      rows.map((r) => [r[1], r[3], r[4], r[8]]),
      [
        ['1', '+28.0 % (95 % CI +22.0 % … +35.0 %)', '+34.0 %', '**inconclusive**'],
        ['4', '+6.9 % (95 % CI +5.0 % … +8.0 %)', '+58.2 %', '**shelve**'],
      ],
    );
    assert.match(md, /4\/5 measured requests succeeded \(timeout ×1\)/);
  });

  void test("the prompt policy and the servers' cached prompt tokens are stated under the run", () => {
    const unique = report({
      cells: [
        cell(M3, CAND, { cached_prompt_tokens: { median: 0 } }),
        cell(M3, 'ollama-rog', { cached_prompt_tokens: null }),
      ],
    });
    const md = renderMarkdown(unique, OFF);
    assert.match(md, /- Prompts: a random tag at the start of every prompt \(unique\\_prompt\\_prefix\)/);
    assert.match(md, /cached \(median\): exo-cluster × qwen2\.5:3b: 0\./);
    assert.doesNotMatch(md, /ollama-rog × /, 'no count where the server gives none');
    const html = renderHtml(unique, OFF);
    assert.match(html, /<dt>Prompts<\/dt><dd>a random tag at the start of every prompt/);

    const same = renderMarkdown(
      report({
        run: { prompt_policy: 'same_prompt' },
        cells: [cell(M3, CAND, { cached_prompt_tokens: { median: 30 } })],
      }),
      OFF,
    );
    assert.match(same, /the same prompt for every request .*TTFT measures a cached prefill/);
    assert.match(same, /exo-cluster × qwen2\.5:3b: 30\./);
  });

  void test('empty running run: no cells, no decisions, no recommendation', () => {
    const md = renderMarkdown(empty, OFF);
    assert.match(md, /- Status: running/);
    assert.match(md, /- Finished: not yet\n/);
    assert.match(md, /No cells: nothing was measured in this run\./);
    assert.match(md, /No decisions yet: the run is running\./);
    assert.match(md, /No recommendation yet: the run is running\./);
    assert.doesNotMatch(md, /NaN|null|undefined/);
  });

  void test('emulated: a banner at the top and the bottom, and in the title', () => {
    const md = renderMarkdown(phase2, { emulated: true });
    const lines = md.split('\n');
    assert.match(lines[0] ?? '', /\(EMULATED\)$/);
    assert.match(lines[2] ?? '', /^> \*\*EMULATED DATA .*not real measurements/);
    assert.match(md.trimEnd().split('\n').at(-1) ?? '', /^> \*\*EMULATED DATA/);
    assert.equal(count(renderMarkdown(empty, { emulated: true }), 'EMULATED DATA'), 2);
  });

  void test('names from user files are escaped and cannot break the table', () => {
    const md = renderMarkdown(evil, OFF);
    assert.ok(md.includes('\\<script\\>alert(1)\\</script\\>'));
    assert.ok(!/(^|[^\\])<(script|img|b>|\/title)/m.test(md), 'no raw tag from the report');
    const table = tableAfter(md, '## Comparison');
    assert.equal(cellsOf(table[0] ?? '').length, 3);
    assert.equal(rowOf(table, 'a\\|b\\*c\\_\\<img src=x onerror=alert(2)\\>').length, 3);
    assert.ok(md.includes('\\<b\\>bold\\</b\\> \\& co'), 'decision reasons escaped too');
  });

  void test('very large and very small numbers stay readable', () => {
    const row = rowOf(tableAfter(renderMarkdown(extremes, OFF), '## Comparison'), M3);
    assert.equal(row[1], '1.23e8 tok/s · 0.012 ms · 0.0004 s');
    assert.equal(row[2], '0.012 tok/s · 9.88e7 ms · 98765.43 s');
  });
});

// ---------------------------------------------------------------------------------------------
// HTML

void describe('renderHtml', () => {
  void test('self-contained: inline style and SVG, no script, no external resource', () => {
    const html = renderHtml(phase2, OFF);
    assert.match(html, /^<!doctype html>\n<html lang="en">/);
    assert.match(html, /<style>[\s\S]+<\/style>/);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    assert.doesNotMatch(html, /<script|<link|<img|<iframe|\ssrc=|\shref=|url\(|@import/i);
    // The only URL is the SVG namespace.
    assert.deepEqual([...new Set(html.match(/https?:\/\/[^"\s]+/g))], ['http://www.w3.org/2000/svg']);
    assertBalanced(html);
  });

  void test('the same tables as the markdown', () => {
    const html = renderHtml(phase2, OFF);
    assert.match(html, /<td class="model">qwen2\.5:3b<\/td>/);
    assert.match(html, /<div class="tps">40\.1 tok\/s<\/div><div class="sub">101 ms · 0\.90 s<\/div>/);
    assert.match(html, /exo-cluster <span class="muted">\(candidate\)<\/span>/);
    assert.ok(html.includes('+35.0 % (95 % CI +33.0 % … +37.0 %)'));
    assert.match(html, /Recommendation: <span class="verdict v-phase-2">phase-2<\/span>/);
    assert.ok(html.includes('Phase 2: Kage Bunshin integration, production hardening'));
    for (const v of ['evaluate', 'shelve', 'cluster-only', 'failed', 'inconclusive']) {
      assert.ok(html.includes(`<span class="verdict v-${v}">${v}</span>`), `legend has ${v}`);
    }
  });

  void test('charts: tok/s and TTFT, one labelled bar per model × target, CI whiskers where known', () => {
    const html = renderHtml(phase2, OFF);
    const charts = svgs(html);
    assert.equal(charts.length, 2);
    const [tps = '', ttft = ''] = charts;
    assert.match(tps, /Decode rate, median tok\/s with 95 % CI/);
    assert.match(ttft, /Time to first token, median ms/);
    for (const svg of charts) {
      assert.equal(count(svg, '<rect class="bar"'), 6, 'two models × three targets');
      assert.match(svg, /class="axis-label"[^>]*>[^<]+<\/text>/);
      assert.equal(count(svg, 'class="legend-item"'), 3);
      assert.match(svg, /<text class="chart-group"[^>]*>qwen2\.5-coder:32b<\/text>/);
      assert.equal(count(svg, /<text class="chart-label"[^>]*>exo-cluster \(candidate\)<\/text>/g), 2);
    }
    assert.equal(count(tps, 'class="whisker"'), 6);
    assert.equal(count(ttft, 'class="whisker"'), 0, 'the report has no TTFT CI');
    assert.match(tps, /<text class="chart-value"[^>]*>40\.1 tok\/s<\/text>/);
    assert.match(ttft, /<text class="chart-value"[^>]*>2400 ms<\/text>/);
  });

  void test('charts: failed cells get a note instead of a bar; missing cells nothing; missing CI no whisker', () => {
    const [tps = ''] = svgs(renderHtml(clusterOnly, OFF));
    assert.equal(count(tps, '<rect class="bar"'), 4, '3 for qwen2.5:3b + the cluster for the 70B model');
    assert.match(tps, /<text class="chart-note"[^>]*>failed \(oom ×5\)<\/text>/);
    assert.equal(count(tps, 'class="whisker"'), 3, 'the 70B cell has no ci95');
  });

  void test('concurrency sweep: charts per level and a by-concurrency section', () => {
    const html = renderHtml(inconclusive, OFF);
    assert.equal(svgs(html).length, 4);
    assert.match(html, /at concurrency 4/);
    assert.match(html, /<h3>Concurrency 4<\/h3>/);
    assert.ok(html.includes('4/5 ok (80 %)'));
    assert.match(html, /<th scope="col">Aggregate speedup<\/th>/);
    assertBalanced(html);
  });

  void test('empty and failed reports render without charts or NaN', () => {
    const e = renderHtml(empty, OFF);
    assert.equal(svgs(e).length, 0);
    assert.match(e, /No cells: nothing was measured in this run\./);
    assert.match(e, /No recommendation yet: the run is running\./);
    assert.doesNotMatch(e, /NaN|undefined|>null</);
    assertBalanced(e);
    const f = renderHtml(failed, OFF);
    assert.match(f, /<td class="cell failed">failed \(BENCH_ERR_EXO_PLACE/);
    assert.match(f, /<td class="nowrap not-ok">NOT ok<\/td>/);
    assert.doesNotMatch(f, /NaN|undefined/);
    assertBalanced(f);
  });

  void test('every string from the report is escaped', () => {
    const html = renderHtml(evil, OFF);
    assert.doesNotMatch(html, /<script|<img|<b>|<\/title><script/i);
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(html.includes('a|b*c_&lt;img src=x onerror=alert(2)&gt;'));
    assert.ok(html.includes('id&quot;&amp;&#39;'));
    assert.match(html, /<title>Kage report: &lt;\/title&gt;&lt;script&gt;alert\(3\)&lt;\/script&gt;<\/title>/);
    assertBalanced(html);
    for (const svg of svgs(html)) assert.equal(count(svg, '<rect class="bar"'), 2);
  });

  void test('emulated: banner at top and bottom, in the title and in every chart', () => {
    const html = renderHtml(phase2, { emulated: true });
    assert.match(html, /<title>\[EMULATED\] Kage report/);
    assert.match(
      html,
      /<body>\n<div class="emulated-banner" role="alert"><span class="tag">EMULATED<\/span>EMULATED DATA/,
    );
    assert.match(html, /<footer><p><strong>EMULATED DATA/);
    for (const svg of svgs(html)) assert.match(svg, /EMULATED: not real measurements/);
    assert.doesNotMatch(renderHtml(phase2, OFF), /EMULATED/);
  });

  void test('very large and very small numbers: finite chart geometry', () => {
    const html = renderHtml(extremes, OFF);
    assert.doesNotMatch(html, /NaN|Infinity/);
    assert.match(html, /1\.23e8 tok\/s/);
    assert.match(html, /9\.88e7 ms/);
  });
});
