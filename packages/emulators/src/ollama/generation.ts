/**
 * The decode loop of one request on a loaded runner: prefill of the prompt tokens its slot's cache
 * does not hold yet (see prompt-cache.ts), then one token per step, with the
 * step time from the timing model (memory-bound decode, slowed a little per extra stream in the
 * batch). Every step is due at an absolute deadline counted from the start of decode (token i at
 * t0 + the sum of the step times before it), never at "now + one step": a late event loop then
 * only delays the tokens that are due while it is late, which go out at once, each as its own
 * chunk, as a real server that fell behind would send them. The stream keeps the model's rate, and
 * the durations reported afterwards are measured, so they match what a client's own clock sees.
 * A partly offloaded model runs every step through its GPU part, then its CPU part.
 * Fault knobs cut or break the stream.
 */
import type { FaultOptions } from '../faults.js';
import { NATURAL_ANSWER_TOKENS, tokenText } from '../text-generator.js';
import { batchFactor, decodeSecondsPerToken, promptEvalSeconds } from '../timing-model.js';
import { nowNs, secondsToNs, sleepUntilNs } from './deadline.js';
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
      /** Prompt tokens found in the slot's cache (not evaluated again). */
      readonly cachedTokens: number;
      readonly promptEvalNs: number;
      readonly evalNs: number;
    }
  | { readonly kind: 'cut'; readonly tokens: number }
  | { readonly kind: 'error'; readonly message: string; readonly tokens: number }
  | { readonly kind: 'aborted' };

export interface GenerationInput {
  readonly runner: Runner;
  /** The prompt as tokens (already cut to the context). */
  readonly prompt: readonly string[];
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

/** Runs prefill and decode; resolves with what happened (never rejects on abort). */
export async function runGeneration(input: GenerationInput): Promise<GenerationOutcome> {
  const { runner, signal, prompt } = input;
  const stages = runner.placement.stages;
  const slot = runner.promptCache.acquire(prompt, input.faults().promptCache);
  // What the slot's cache holds if the request ends before its prompt is evaluated.
  let slotHolds: readonly string[] = prompt.slice(0, slot.cachedTokens);
  try {
    const prefillStart = nowNs();
    const uncached = prompt.length - slot.cachedTokens;
    const prefillS =
      stages.reduce((sum, s) => sum + promptEvalSeconds(uncached, s.parameters, s.weightBytes, s.engine), 0) *
      input.jitter();
    await sleepUntilNs(prefillStart + secondsToNs(prefillS), signal);
    const promptEvalNs = Number(nowNs() - prefillStart);
    slotHolds = prompt;

    const slowFirstMs = input.faults().slowFirstTokenMs;
    if (slowFirstMs > 0) await sleepUntilNs(nowNs() + secondsToNs(slowFirstMs / 1000), signal);

    const length = input.maxTokens <= NATURAL_ANSWER_TOKENS;
    const count = length ? input.maxTokens : NATURAL_ANSWER_TOKENS;
    const baseStepS = stages.reduce((sum, s) => sum + decodeSecondsPerToken(s.weightBytes, s.engine), 0);
    let text = '';
    runner.decoding += 1;
    try {
      // t0 of the schedule is when decode really starts: a prefill that ended late shows in the
      // time to first token, not as a burst that would inflate the decode rate.
      const decodeStart = nowNs();
      let deadline = decodeStart;
      for (let i = 0; i < count; i += 1) {
        const faults = input.faults();
        if (faults.cutAfterTokens !== null && i >= faults.cutAfterTokens) return { kind: 'cut', tokens: i };
        if (faults.errorAfterTokens !== null && i >= faults.errorAfterTokens) {
          return { kind: 'error', message: RUNNER_ERROR_MESSAGE, tokens: i };
        }
        // The batch size is read per step: a stream joining or leaving changes the step time from
        // here on, never the deadlines already passed.
        const stepS = baseStepS * batchFactor(runner.decoding) * input.jitter();
        deadline += secondsToNs(stepS);
        await sleepUntilNs(deadline, signal);
        const piece = tokenText(i);
        text += piece;
        input.emit(piece, i);
      }
      const evalNs = Number(nowNs() - decodeStart);
      return {
        kind: 'done',
        doneReason: length ? 'length' : 'stop',
        text,
        evalCount: count,
        cachedTokens: slot.cachedTokens,
        promptEvalNs,
        evalNs,
      };
    } finally {
      runner.decoding -= 1;
    }
  } catch (err) {
    if (signal.aborted) return { kind: 'aborted' };
    throw err;
  } finally {
    slot.release(slotHolds);
  }
}
