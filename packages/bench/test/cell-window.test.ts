/**
 * A cell's measured window on the wall clock: the same requests as `window_ms` (caller-cancelled
 * ones left out), mapped from the monotonic clock through one instant known on both clocks.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CellRequestRecord, CellResult } from '../src/index.js';
import { measuredWindow } from '../src/run/cell-window.js';
import { cellRequestRecord } from './helpers/cell-request-record.js';

function cellWith(requests: CellRequestRecord[]): CellResult {
  return {
    target: 'ollama-a',
    model: 'qwen2.5:3b',
    model_id: 'qwen2.5:3b',
    concurrency: 2,
    repetitions: requests.length,
    warmup: 0,
    status: 'completed',
    started_at: '',
    finished_at: '',
    warmup_requests: [],
    requests,
    attempts: requests.length,
    successes: requests.length,
    success_rate: 1,
    window_ms: null,
    output_tokens_total: 0,
    aggregate_tps: null,
  };
}

const AT = { monotonic_ms: 10_000, wall_ms: 1_700_000_000_000 };

void describe('measured window', () => {
  void test('first counted send to last counted end, on the wall clock; cancelled requests left out', () => {
    const cell = cellWith([
      cellRequestRecord({ t_send_ms: 9_200, total_ms: 600 }),
      cellRequestRecord({ t_send_ms: 9_000, total_ms: 500, success: false }),
      cellRequestRecord({
        t_send_ms: 8_000,
        total_ms: 5_000,
        success: false,
        error: { kind: 'aborted', message: 'cancelled by the caller', status: null },
      }),
    ]);
    assert.deepEqual(measuredWindow(cell, AT), {
      started_at_ms: 1_700_000_000_000 - 1_000,
      finished_at_ms: 1_700_000_000_000 - 200,
    });
  });

  void test('none when no measured request counted', () => {
    assert.equal(measuredWindow(cellWith([]), AT), null);
    const aborted = cellRequestRecord({ error: { kind: 'aborted', message: 'x', status: null }, success: false });
    assert.equal(measuredWindow(cellWith([aborted]), AT), null);
  });
});
