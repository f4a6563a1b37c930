/**
 * Continuous batching of one instance, as EXO's batch generator does it: up to
 * `EXO_MAX_CONCURRENT_REQUESTS` streams decode together, one token each per step; a newcomer's prompt
 * is prefilled between steps (the batch stalls meanwhile); the rest wait in a queue. Requests sent
 * before the runners are ready wait until they are.
 *
 * The instance keeps its own clock: the time at which the engine finished its last modelled piece
 * of work (a step or a prefill). Every step and prefill is due at an absolute deadline on that
 * clock, never at "now + duration", so a late event loop cannot slow the emulated server down: the
 * steps that fell due meanwhile run at once, each still a separate token event, until the batch is
 * back on schedule. The clock only restarts from the real time when a stream starts decoding on an
 * idle engine, so a late start shows in its time to first token, not as a burst in its decode rate.
 *
 * Each instance keeps EXO's KV prefix cache (`prefix-cache.ts`): a newcomer's prompt is looked up
 * before its prefill, which then covers only the tokens not restored, and saved right after it.
 * A natural stop is one more step: the end-of-sequence token, counted in `completion_tokens` but
 * sent as an empty text chunk (the detokenizer does not add a stop token).
 */
import type { Logger } from 'pino';
import type { Random } from '../random.js';
import { batchFactor } from '../timing-model.js';
import type { InstanceTiming } from './instance-timing.js';
import { PromptPrefixCache, type PrefixLookup } from './prefix-cache.js';

/** mlx-lm's prefill chunk in EXO (`prefill_step_size = 4096`): one progress event per chunk. */
const PREFILL_CHUNK_TOKENS = 4096;

export interface GenerationFinal {
  readonly finishReason: 'stop' | 'length';
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly promptTps: number;
  readonly generationTps: number;
  readonly peakMemoryBytes: number;
  /** Prompt tokens restored from the prefix cache (`prompt_tokens_details.cached_tokens`). */
  readonly cachedTokens: number;
  /** `GenerationStats.prefix_cache_hit`. */
  readonly prefixCacheHit: 'none' | 'partial' | 'exact';
}

/** Receives the chunks of one request (EXO's PrefillProgressChunk / TokenChunk / ErrorChunk). */
export interface GenerationSink {
  prefill(processed: number, total: number): void;
  /** `final` is set on the last token only. */
  token(text: string, final: GenerationFinal | null): void;
  error(message: string): void;
}

export interface GenerationJob {
  readonly promptTokens: number;
  /** The templated prompt's token ids (length `promptTokens`), matched by the prefix cache. */
  readonly promptTokenIds: readonly number[];
  /** Look the prompt up in the prefix cache and save it there (off for bench unless asked). */
  readonly usePrefixCache: boolean;
  /** `system_prompt_token_count`, which raises the hit needed to update an entry in place. */
  readonly systemPromptTokens: number;
  /** Tokens allowed (EXO's `max_tokens or 32168`). */
  readonly maxTokens: number;
  /** Bench mode: end-of-sequence is banned, so exactly `maxTokens` tokens come out. */
  readonly banEos: boolean;
  /** Relative timing spread requested by the API node's faults. */
  readonly jitter: number;
  readonly sink: GenerationSink;
  readonly signal: AbortSignal;
  /** For the master's task table: the API's command id and the task parameters. */
  readonly commandId?: string;
  readonly taskParams?: Record<string, unknown>;
  /** Called when the runner takes the request; `fromIdle` when no other request was decoding. */
  readonly onStart?: (fromIdle: boolean) => void;
}

export interface SchedulerOptions {
  /** Current timing, or an error text when a stage node is gone. */
  readonly timing: () => InstanceTiming | string;
  readonly maxConcurrent: number;
  readonly random: Random;
  readonly deterministic: boolean;
  /** Length of the natural answer; generation stops there unless EOS is banned. */
  readonly naturalTokens: number;
  readonly textFor: (index: number) => string;
  /** Peak memory rank 0 reports after `tokens` tokens of context. */
  readonly peakMemoryBytes: (tokens: number) => number;
  readonly onBusyChange: (busy: boolean) => void;
  readonly log: Logger;
}

/** A queued request and when it arrived (ms, wall clock). */
interface Pending {
  readonly job: GenerationJob;
  readonly submittedAtMs: number;
}

interface Active {
  readonly job: GenerationJob;
  produced: number;
  /** `prompt_tps` as EXO reports it. */
  promptTps: number;
  readonly cache: PrefixLookup;
  firstTokenAtMs: number;
  lastTokenAtMs: number;
}

export class InstanceScheduler {
  private readonly waiting: Pending[] = [];
  private active: Active[] = [];
  private readyAtMs: number | null = null;
  private closed = false;
  private busy = false;
  private wakeUp: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly loop: Promise<void>;
  private readonly prefixCache = new PromptPrefixCache();

  constructor(private readonly opts: SchedulerOptions) {
    this.loop = this.run().catch((err: unknown) => opts.log.error({ err }, 'scheduler loop failed'));
  }

  /** Entries in the instance's prefix cache. */
  get prefixCacheEntries(): number {
    return this.prefixCache.size;
  }

  /** Requests queued or decoding: EXO sends a new request to the instance with the fewest tasks. */
  get load(): number {
    return this.waiting.length + this.active.length;
  }

  submit(job: GenerationJob): void {
    if (this.closed) {
      job.sink.error('Instance is shutting down');
      return;
    }
    this.waiting.push({ job, submittedAtMs: Date.now() });
    job.signal.addEventListener('abort', () => this.wake(), { once: true });
    this.wake();
  }

  /** Runners become ready at this wall-clock time; null while they cannot serve (loading failed). */
  setReadyAt(ms: number | null): void {
    this.readyAtMs = ms;
    this.wake();
  }

  /** Fails every queued and decoding request with EXO's mid-stream error. */
  failAll(message: string): void {
    const jobs = [...this.waiting.splice(0).map((p) => p.job), ...this.active.map((a) => a.job)];
    this.active = [];
    for (const job of jobs) if (!job.signal.aborted) safeCall(() => job.sink.error(message));
    this.updateBusy();
    this.wake();
  }

  /** Fails everything and stops the loop. Idempotent. */
  async close(message: string): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.failAll(message);
    }
    this.wake();
    await this.loop;
  }

  private wake(): void {
    const resolve = this.wakeUp;
    this.wakeUp = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    resolve?.();
  }

  /** Sleeps `ms` (forever when undefined) or until woken. */
  private sleep(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = resolve;
      if (ms !== undefined) {
        this.timer = setTimeout(() => this.wake(), Math.max(0, ms));
      }
    });
  }

  private updateBusy(): void {
    const busy = this.active.length > 0;
    if (busy !== this.busy) {
      this.busy = busy;
      this.opts.onBusyChange(busy);
    }
  }

  private spread(): number {
    if (this.opts.deterministic) return 1;
    const jitter = Math.max(0, ...this.active.map((a) => a.job.jitter), ...this.waiting.map((p) => p.job.jitter));
    return this.opts.random.jitter(jitter);
  }

  private async run(): Promise<void> {
    // When the engine finished its last modelled step or prefill (ms, wall clock).
    let clockMs = 0;
    while (!this.closed) {
      this.active = this.active.filter((a) => !a.job.signal.aborted);
      for (let i = this.waiting.length - 1; i >= 0; i--) {
        if (this.waiting[i]!.job.signal.aborted) this.waiting.splice(i, 1);
      }
      this.updateBusy();
      if (this.active.length === 0 && this.waiting.length === 0) {
        await this.sleep();
        continue;
      }
      const now = Date.now();
      if (this.readyAtMs === null || now < this.readyAtMs) {
        await this.sleep(this.readyAtMs === null ? undefined : this.readyAtMs - now);
        continue;
      }
      const timing = this.opts.timing();
      if (typeof timing === 'string') {
        this.failAll(timing);
        continue;
      }
      // A newcomer is prefilled between steps: at once on an idle engine, else only once the
      // batch's clock has reached its arrival (a late loop first catches up the steps due before it).
      const head = this.waiting[0];
      if (
        head &&
        this.active.length < this.opts.maxConcurrent &&
        (this.active.length === 0 || head.submittedAtMs <= clockMs)
      ) {
        this.waiting.shift();
        const idle = this.active.length === 0;
        safeCall(() => head.job.onStart?.(idle));
        const startMs = Math.max(clockMs, head.submittedAtMs, this.readyAtMs);
        const { admitted, endMs } = await this.prefill(head.job, timing, startMs);
        if (admitted) this.active.push(admitted);
        clockMs = idle ? Date.now() : endMs;
        this.updateBusy();
        continue;
      }
      if (this.active.length === 0) continue;

      const stepMs = timing.secondsPerToken * batchFactor(this.active.length) * this.spread() * 1000;
      const deadlineMs = clockMs + stepMs;
      await this.sleepUntil(deadlineMs);
      if (this.closed) break;
      clockMs = deadlineMs;
      this.emitStep();
    }
  }

  private async sleepUntil(deadlineMs: number): Promise<void> {
    // A wake-up (new request, abort) must not shorten a step, and a timer may fire a little early
    // (it counts from the loop's cached time), so sleep again until the deadline has really passed.
    while (!this.closed && Date.now() < deadlineMs) await this.sleep(deadlineMs - Date.now());
  }

  /**
   * Prefills `job` from `startMs` on, one progress event per chunk at its own deadline. Resolves with
   * the admitted stream (null when it was aborted meanwhile) and when the engine is free again.
   *
   * As in EXO the prefill runs over the uncached tokens but the last one (the first decode step
   * runs the last two), so progress counts that many; the time covers all uncached tokens.
   */
  private async prefill(
    job: GenerationJob,
    timing: InstanceTiming,
    startMs: number,
  ): Promise<{ admitted: Active | null; endMs: number }> {
    const cache = job.usePrefixCache
      ? this.prefixCache.lookup(job.promptTokenIds)
      : { cachedTokens: 0, matchedIndex: null, hit: 'none' as const, storedPromptTps: null };
    const uncached = Math.max(1, job.promptTokens - cache.cachedTokens);
    const total = uncached - 1;
    const totalMs = timing.prefillSeconds(uncached) * this.spread() * 1000;
    if (total > 0) safeCall(() => job.sink.prefill(0, total));
    for (let done = 0; done < total;) {
      const chunk = Math.min(PREFILL_CHUNK_TOKENS, total - done);
      done += chunk;
      await this.sleepUntil(startMs + (totalMs * done) / total);
      // An abandoned prefill frees the engine when it was noticed.
      if (this.closed || job.signal.aborted) return { admitted: null, endMs: Math.min(Date.now(), startMs + totalMs) };
      safeCall(() => job.sink.prefill(done, total));
    }
    await this.sleepUntil(startMs + totalMs);
    if (this.closed || job.signal.aborted) return { admitted: null, endMs: Math.min(Date.now(), startMs + totalMs) };
    // prompt_tps as measured over the prefilled tokens (0 when there were none); an exact hit
    // reports the rate stored with the entry.
    const measured = total > 0 ? total / Math.max(1e-6, (Date.now() - startMs) / 1000) : 0;
    const promptTps = cache.storedPromptTps ?? measured;
    if (job.usePrefixCache) {
      this.prefixCache.save(job.promptTokenIds, cache, job.systemPromptTokens, promptTps, timing.cacheMemory);
    }
    return {
      admitted: { job, produced: 0, promptTps, cache, firstTokenAtMs: 0, lastTokenAtMs: 0 },
      endMs: startMs + totalMs,
    };
  }

  private emitStep(): void {
    const now = Date.now();
    const still: Active[] = [];
    for (const a of this.active) {
      const { job } = a;
      if (job.signal.aborted) continue;
      // After the natural answer comes the end-of-sequence token: it counts, but has no text.
      const eos = !job.banEos && a.produced >= this.opts.naturalTokens;
      const text = eos ? '' : this.opts.textFor(a.produced);
      a.produced += 1;
      if (a.produced === 1) a.firstTokenAtMs = now;
      a.lastTokenAtMs = now;
      let finishReason: 'stop' | 'length' | null = null;
      if (eos) finishReason = 'stop';
      else if (a.produced >= job.maxTokens) finishReason = 'length';
      const final: GenerationFinal | null = finishReason
        ? {
            finishReason,
            promptTokens: job.promptTokens,
            completionTokens: a.produced,
            promptTps: a.promptTps,
            generationTps:
              a.produced > 1 && a.lastTokenAtMs > a.firstTokenAtMs
                ? ((a.produced - 1) * 1000) / (a.lastTokenAtMs - a.firstTokenAtMs)
                : 0,
            peakMemoryBytes: this.opts.peakMemoryBytes(job.promptTokens + a.produced),
            cachedTokens: a.cache.cachedTokens,
            prefixCacheHit: a.cache.hit,
          }
        : null;
      safeCall(() => job.sink.token(text, final));
      if (!final) still.push(a);
    }
    this.active = still;
    this.updateBusy();
  }
}

/** A sink writes to a socket that may already be gone; that must not stop the batch. */
function safeCall(fn: () => void): void {
  try {
    fn();
  } catch {
    // The request's own close handler aborts it; nothing else to do here.
  }
}
