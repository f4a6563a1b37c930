/**
 * The selftest on a small schedule: the real clients against the forked scripted server, every
 * token accounted for, figures finite and plausible, the result file written. Targets are not
 * asserted here (they depend on the machine); `pnpm bench` measures them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SELFTEST_TARGETS, runSelftest, type SelftestResult } from '../src/index.js';

void test('selftest measures both protocols against the known schedule and writes its result', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kage-selftest-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const outFile = join(dir, 'nested', 'selftest.json');
  const progress: string[] = [];
  const r = await runSelftest({
    repetitions: 2,
    requests: 6,
    concurrency: 2,
    tokens: 12,
    ttftMs: 10,
    itlMs: 3,
    blastTokens: 5000,
    outFile,
    onProgress: (p) => progress.push(`${p.protocol}:${p.repetition}/${p.repetitions}`),
  });
  assert.deepEqual(progress, ['ollama:1/2', 'ollama:2/2', 'openai:1/2', 'openai:2/2']);
  assert.equal(r.schema, 'kage.selftest/v1');
  assert.ok(r.machine.cpu_cores >= 1 && r.machine.node_version.startsWith('v'));
  assert.deepEqual(r.targets, SELFTEST_TARGETS);
  for (const protocol of ['ollama', 'openai'] as const) {
    const f = r.by_protocol[protocol];
    assert.ok(f, protocol);
    assert.equal(f.repetitions.length, 2);
    // The client never sees a token before the server wrote it (same monotonic clock)...
    assert.ok(f.ttft_error_ms.p50 > 0, `${protocol} ttft error ${f.ttft_error_ms.p50}`);
    // ...and, generously, sees it well within a timer tick on a loopback socket.
    assert.ok(f.ttft_error_ms.p50 < 20, `${protocol} ttft error ${f.ttft_error_ms.p50}`);
    assert.ok(f.decode_error_pct.p50 >= 0 && f.decode_error_pct.p50 < 25);
    assert.ok(f.ingest_events_per_s > 1000, String(f.ingest_events_per_s));
  }
  assert.equal(
    r.figures.ingest_events_per_s,
    Math.min(r.by_protocol.ollama?.ingest_events_per_s ?? 0, r.by_protocol.openai?.ingest_events_per_s ?? 0),
  );
  assert.equal(r.pass.all, r.pass.ttft_error_p99_ms && r.pass.decode_error_p99_pct && r.pass.ingest_events_per_s);
  const written = JSON.parse(readFileSync(outFile, 'utf8')) as SelftestResult;
  assert.deepEqual(written, JSON.parse(JSON.stringify(r)));
});
