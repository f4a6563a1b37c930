/**
 * The decode loop of one request on a loaded runner: prefill, then one token per step, with the
 * step time from the timing model (memory-bound decode, slowed a little per extra stream in the
 * batch). Steps are scheduled against absolute deadlines so the durations reported afterwards,
 * which are measured, match what a client's own clock sees. Fault knobs cut or break the stream.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { FaultOptions } from '../faults.js';
import { NATURAL_ANSWER_TOKENS, tokenText } from '../text-generator.js';
import { batchFactor, decodeSecondsPerToken, prefillSeconds } from '../timing-model.js';
import type { Runner } from './scheduler.js';

/** The text Ollama's docs give for a runner failure; used for the mid-stream error fault. */
export const RUNNER_ERROR_MESSAGE = 'an error was encountered while running the model';

/** Multiplier of `num_ctx` that bounds an open-ended generation (`llm/llama_server.go`). */
const OPEN_ENDED_CONTEXT_MULTIPLIER = 10;

/**
 * `boundedNumPredict`: a negative (unlimited) or oversized `num_predict` becomes 10 × num_ctx.
 * Zero is treated as unlimited too, as llama-server only stops on `n_predict > 0`.
 */
export function boundedNumPredict(numPredict: number | undefined, numCtx: number): number {
  const limit = OPEN_ENDED_CONTEXT_MULTIPLIER * numCtx;
  if (numPredict === undefined || numPredict <= 0 || numPredict > limit) return limit;
  return numPredict;
}

export type GenerationOutcome =
  | {
      readonly kind: 'done';
      readonly doneReason: 'stop' | 'length';
      readonly text: string;
      readonly evalCount: number;
      readonly promptEvalNs: number;
      readonly evalNs: number;
    }
  | { readonly kind: 'cut'; readonly tokens: number }
  | { readonly kind: 'error'; readonly message: string; readonly tokens: number }
  | { readonly kind: 'aborted' };

export interface GenerationInput {
  readonly runner: Runner;
  readonly promptTokens: number;
  /** Bounded token budget (see boundedNumPredict). */
  readonly maxTokens: number;
  /** Current fault knobs (read at every step so run-time changes apply). */
  readonly faults: () => Readonly<FaultOptions>;
  /** Multiplier for one timed step; 1 when deterministic. */
  readonly jitter: () => number;
  readonly signal: AbortSignal;
  /** Writes one token to the client. */
  readonly emit: (text: string, index: number) => void;
}

/** Sleeps until the high-resolution clock reaches `deadlineNs` (no-op when already past). */
async function sleepUntil(deadlineNs: bigint, signal: AbortSignal): Promise<void> {
  const remainingMs = Number(deadlineNs - process.hrtime.bigint()) / 1e6;
  if (remainingMs > 0) await delay(remainingMs, undefined, { signal });
}

/** Runs prefill and decode; resolves with what happened (never rejects on abort). */
export async function runGeneration(input: GenerationInput): Promise<GenerationOutcome> {
  const { runner, signal } = input;
  const engine = runner.placement.engine;
  try {
    const prefillStart = process.hrtime.bigint();
    const prefillS = prefillSeconds(input.promptTokens, runner.model.shape.parameters, engine) * input.jitter();
    await sleepUntil(prefillStart + BigInt(Math.round(prefillS * 1e9)), signal);
    const promptEvalNs = Number(process.hrtime.bigint() - prefillStart);

    const slowFirstMs = input.faults().slowFirstTokenMs;
    if (slowFirstMs > 0) await delay(slowFirstMs, undefined, { signal });

    const length = input.maxTokens <= NATURAL_ANSWER_TOKENS;
    const count = length ? input.maxTokens : NATURAL_ANSWER_TOKENS;
    const baseStepS = decodeSecondsPerToken(runner.model.sizeBytes, engine);
    let text = '';
    runner.decoding += 1;
    try {
      const decodeStart = process.hrtime.bigint();
      let deadline = decodeStart;
      for (let i = 0; i < count; i += 1) {
        const faults = input.faults();
        if (faults.cutAfterTokens !== null && i >= faults.cutAfterTokens) return { kind: 'cut', tokens: i };
        if (faults.errorAfterTokens !== null && i >= faults.errorAfterTokens) {
          return { kind: 'error', message: RUNNER_ERROR_MESSAGE, tokens: i };
        }
        const stepS = baseStepS * batchFactor(runner.decoding) * input.jitter();
        deadline += BigInt(Math.round(stepS * 1e9));
        await sleepUntil(deadline, signal);
        const piece = tokenText(i);
        text += piece;
        input.emit(piece, i);
      }
      const evalNs = Number(process.hrtime.bigint() - decodeStart);
      return { kind: 'done', doneReason: length ? 'length' : 'stop', text, evalCount: count, promptEvalNs, evalNs };
    } finally {
      runner.decoding -= 1;
    }
  } catch (err) {
    if (signal.aborted) return { kind: 'aborted' };
    throw err;
  }
}
