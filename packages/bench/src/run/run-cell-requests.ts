/**
 * Second step of a cell: its requests, warm-up then measured, sent through the run's
 * `SendRequest`. Each attempt is committed to the store as soon as it ends, so a crash loses only
 * the requests in flight.
 */
import { runCell, type CellResult } from '../cell-runner.js';
import type { MatrixTarget } from '../matrix-schema.js';
import type { StoredCell } from '../store/store-types.js';
import type { RunContext } from './run-context.js';
import type { CellPosition } from './run-events.js';
import { abortedBySender } from './send-request.js';

/**
 * Runs the cell's requests under try `tryNo` (from `store.beginCell`).
 *
 * @throws what the store threw while committing an attempt, or what the sender rejected with;
 *   either way only after the cell's other requests were aborted and have ended
 */
export async function runCellRequests(
  ctx: RunContext,
  cell: StoredCell,
  tryNo: number,
  target: MatrixTarget,
  pos: CellPosition,
): Promise<CellResult> {
  const { matrix: m, store } = ctx;
  // A failure that is not a failed request stops the cell: its in-flight requests are aborted.
  const stop = new AbortController();
  const signal = ctx.options.signal === undefined ? stop.signal : AbortSignal.any([ctx.options.signal, stop.signal]);
  const failure: { error: Error | null } = { error: null };
  const fail = (err: unknown): void => {
    if (failure.error !== null) return;
    failure.error = err instanceof Error ? err : new Error(String(err));
    stop.abort(failure.error);
  };

  const result = await runCell({
    client: {
      chat: async (request) => {
        try {
          return await ctx.send(target, request, request.signal);
        } catch (err) {
          fail(err);
          return abortedBySender(target, request, err);
        }
      },
    },
    target: target.id,
    model: cell.model_id,
    modelName: cell.model,
    prompt: m.prompt,
    maxTokens: m.max_tokens,
    numCtx: m.num_ctx,
    temperature: m.temperature,
    seed: m.seed,
    concurrency: cell.concurrency,
    repetitions: m.repetitions,
    warmup: m.warmup,
    uniquePromptPrefix: m.unique_prompt_prefix,
    requestTimeoutMs: m.request_timeout_s * 1000,
    signal,
    onEvent: (e) => {
      if (e.type !== 'request-done' || failure.error !== null) return;
      try {
        store.recordAttempt(cell.id, tryNo, e.record);
      } catch (err) {
        fail(err);
        return;
      }
      ctx.progress.requests_done += 1;
      ctx.emit({
        type: 'request-done',
        ...pos,
        ...ctx.snapshot(),
        record: e.record,
        phase_done: e.done,
        phase_total: e.total,
      });
    },
  });
  if (failure.error !== null) throw failure.error;
  return result;
}
