/**
 * The part of `/api/generate`, `/api/chat` and `/v1/chat/completions` that does not depend on the
 * wire format: option checks, injected faults, scheduling (load, queue, OOM), generation and the
 * metrics of the final chunk. Each endpoint supplies a sink that writes its own format.
 */
import type { OllamaModel } from '../model-catalogue.js';
import { requestedContext } from './context-size.js';
import type { EmulatorContext } from './emulator-context.js';
import { boundedNumPredict, runGeneration } from './generation.js';
import type { KeepAliveMs } from './go-time.js';
import { templateTokens, textTokens } from './prompt-cache.js';
import { ScheduleError } from './scheduler.js';

/** What a finished generation reports (durations in integer ns). */
export interface InferenceResult {
  readonly doneReason: 'stop' | 'length';
  readonly text: string;
  readonly promptEvalCount: number;
  readonly promptEvalNs: number;
  readonly evalCount: number;
  readonly evalNs: number;
  readonly loadNs: number;
  readonly totalNs: number;
}

/** How one endpoint writes the outcomes of an inference request. */
export interface InferenceSink {
  /** An error before any byte of the response: a status and a message. */
  fail(status: number, message: string): void;
  /** A load-only request (empty prompt / messages) finished loading. */
  loaded(): void;
  token(text: string): void;
  finish(result: InferenceResult): void;
  /** An error after generation started (a stream writes an error line if it has begun). */
  failMidStream(message: string): void;
  /** Drops the connection. */
  cut(): void;
}

export interface InferenceJob {
  readonly model: OllamaModel;
  /** The templated prompt as tokens (see generatePrompt / chatPrompt). */
  readonly prompt: readonly string[];
  readonly options: Readonly<Record<string, unknown>> | undefined;
  /** Request `keep_alive`, or undefined for the server default. */
  readonly keepAliveMs: KeepAliveMs | undefined;
  readonly loadOnly: boolean;
  /** `process.hrtime.bigint()` when the handler started (total_duration counts from here). */
  readonly startHr: bigint;
}

// Tokens a chat template wraps around the user's text (role headers, default system prompt).
const TEMPLATE_TOKENS: Readonly<Record<string, number>> = { qwen2: 20, llama: 26 };
const PER_MESSAGE_TOKENS = 4;

/** The tokens of a generate request after templating (the template's tokens first). */
export function generatePrompt(model: OllamaModel, prompt: string, system: string, raw: boolean): string[] {
  const text = textTokens(`${system}${prompt}`);
  return raw ? text : [...templateTokens(model.family, TEMPLATE_TOKENS[model.family] ?? 10), ...text];
}

/** The tokens of a chat request after templating: the template head, then each message. */
export function chatPrompt(model: OllamaModel, messages: readonly { role: string; content: string }[]): string[] {
  const hasSystem = messages.some((m) => m.role === 'system');
  const tokens = hasSystem
    ? templateTokens('system-head', 3)
    : templateTokens(model.family, TEMPLATE_TOKENS[model.family] ?? 10);
  for (const m of messages)
    tokens.push(...templateTokens(`role-${m.role}`, PER_MESSAGE_TOKENS), ...textTokens(m.content));
  return tokens;
}

/** `api.Options.FromMap` for the integer options the emulator uses. */
function intOption(options: Readonly<Record<string, unknown>> | undefined, key: string): number | undefined | Error {
  const value = options?.[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') return new Error(`option "${key}" must be of type integer`);
  return Math.trunc(value);
}

/** Runs one inference request end to end, reporting through `sink`. Never rejects. */
export async function runInference(
  ctx: EmulatorContext,
  job: InferenceJob,
  sink: InferenceSink,
  signal: AbortSignal,
): Promise<void> {
  if (ctx.countGenerationRequest()) {
    sink.cut();
    ctx.crash();
    return;
  }
  const numCtxOpt = intOption(job.options, 'num_ctx');
  const numPredictOpt = intOption(job.options, 'num_predict');
  for (const opt of [numCtxOpt, numPredictOpt]) {
    if (opt instanceof Error) {
      sink.fail(500, opt.message);
      return;
    }
  }
  const requested = requestedContext(numCtxOpt as number | undefined, ctx.contextLength, ctx.defaultNumCtx);
  const faults = ctx.faults();
  if (faults.http500Rate > 0 && ctx.random.next() < faults.http500Rate) {
    const runner = ctx.llamaServerRunner ? 'llama-server process' : 'llama runner process';
    sink.fail(500, `${runner} has terminated: exit status 2`);
    return;
  }

  let lease;
  try {
    lease = await ctx.scheduler.acquire(job.model, requested, job.keepAliveMs ?? ctx.defaultKeepAliveMs, signal);
  } catch (err) {
    if (err instanceof ScheduleError) {
      if (err.status !== 499) sink.fail(err.status, err.message);
      return;
    }
    ctx.log.error({ err }, 'scheduling failed');
    sink.fail(500, err instanceof Error ? err.message : String(err));
    return;
  }

  try {
    if (job.loadOnly) {
      sink.loaded();
      return;
    }
    // The runner's context, after the trained-context cap and any out-of-memory reduction.
    const numCtx = lease.runner.numCtx;
    const prompt = job.prompt.length > numCtx ? job.prompt.slice(0, numCtx) : job.prompt;
    const promptTokens = prompt.length;
    const outcome = await runGeneration({
      runner: lease.runner,
      prompt,
      maxTokens: boundedNumPredict(numPredictOpt as number | undefined, numCtx),
      faults: () => ctx.faults(),
      jitter: () => ctx.jitter(),
      signal,
      emit: (text) => sink.token(text),
    });
    switch (outcome.kind) {
      case 'done':
        ctx.log.debug(
          {
            model: job.model.name,
            promptTokens,
            cachedTokens: outcome.cachedTokens,
            evalCount: outcome.evalCount,
            doneReason: outcome.doneReason,
            loadNs: lease.loadNs,
          },
          'generation finished',
        );
        sink.finish({
          doneReason: outcome.doneReason,
          text: outcome.text,
          promptEvalCount: promptTokens,
          promptEvalNs: outcome.promptEvalNs,
          evalCount: outcome.evalCount,
          evalNs: outcome.evalNs,
          loadNs: lease.loadNs,
          totalNs: Number(process.hrtime.bigint() - job.startHr),
        });
        break;
      case 'cut':
        sink.cut();
        break;
      case 'error':
        sink.failMidStream(outcome.message);
        break;
      case 'aborted':
        ctx.log.debug({ model: job.model.name }, 'client went away; generation stopped');
        break;
    }
  } catch (err) {
    ctx.log.error({ err }, 'generation failed');
    sink.failMidStream(err instanceof Error ? err.message : String(err));
  } finally {
    lease.release();
  }
}
