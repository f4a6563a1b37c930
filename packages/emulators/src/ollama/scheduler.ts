/**
 * The emulated Ollama scheduler: which models are loaded, who may generate, who waits.
 *
 * - Each model has `numParallel` slots. A request takes a slot or waits in FIFO order. Only requests
 *   in the scheduler itself count against `maxQueue`: those for a model that is not loaded (or still
 *   loading) or must reload. The real scheduler handles one of them at a time (a load, or waiting for room) while at
 *   most `maxQueue` more wait in its channel, so the next one beyond `maxQueue + 1` is refused with
 *   Ollama's 503 text. A request for a model already loaded with fitting options goes straight to its
 *   runner and waits there, uncounted, for a parallel slot (`server/sched.go` `getRunner`, the
 *   runner's semaphore in `llm/llama_server.go`).
 * - A slot holder loads the model when it is not resident (sharing one load with concurrent
 *   holders). A request with another context size waits until the model is idle, then reloads it;
 *   two requests that both leave `num_ctx` to the server never force a reload.
 * - Loading evicts idle models (least recently used first) until the new one fits as well as on an
 *   idle node, and waits for busy ones to finish. A model that cannot fit even on an idle node runs
 *   out of memory: an automatic context is lowered one step and the load retried once, else it
 *   fails with llama-server's out-of-memory text.
 * - When a model's last slot is released its keep-alive timer starts (unref'd); expiry unloads it.
 */
import type { Logger } from 'pino';
import type { HardwareProfile } from '../hardware-profiles.js';
import type { OllamaModel } from '../model-catalogue.js';
import { loadSeconds } from '../timing-model.js';
import { nowNs, secondsToNs, sleepUntilNs } from './deadline.js';
import { MAX_DURATION_NS, nowEpochNs, type KeepAliveMs } from './go-time.js';
import { effectiveNumCtx, nextLowerAutoNumCtx, type RequestedContext } from './context-size.js';
import { choosePlacement, emptyNodeMemory, loadOomMessage, type Placement } from './memory-fit.js';
import { modelKey } from './model-store.js';
import { SlotPromptCache } from './prompt-cache.js';

/** `server/sched.go` `ErrMaxQueue` (two spaces after the full stop). */
export const MAX_QUEUE_MESSAGE = 'server busy, please try again.  maximum pending requests exceeded';

/** Models resident at once on a node (Ollama's default `OLLAMA_MAX_LOADED_MODELS` on one device). */
const MAX_LOADED_MODELS = 3;

/** Node's setTimeout limit; longer keep-alives are re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A scheduling failure with the HTTP status Ollama answers it with. */
export class ScheduleError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ScheduleError';
  }
}

/** One loaded (or loading) model instance. */
export interface Runner {
  readonly model: OllamaModel;
  /** The context each slot really has (after the trained-context cap and any OOM reduction). */
  readonly numCtx: number;
  /** True when `numCtx` was the server's automatic choice (no `num_ctx`, no OLLAMA_CONTEXT_LENGTH). */
  readonly numCtxAuto: boolean;
  readonly placement: Placement;
  /** Per-slot prompt caches; gone with the runner. */
  readonly promptCache: SlotPromptCache;
  state: 'loading' | 'ready' | 'unloaded';
  /** Streams currently in the decode loop: the batch size for the step-time model. */
  decoding: number;
  keepAliveMs: KeepAliveMs;
  expiresAtNs: bigint;
  lastUsedNs: bigint;
  /** Settles when loading finishes (rejects if the server closes first). */
  ready: Promise<void>;
  timer: NodeJS.Timeout | undefined;
}

/** A held slot on a loaded model. Release exactly once. */
export interface Lease {
  readonly runner: Runner;
  /** Time spent loading (or waiting for the shared load), ns. */
  readonly loadNs: number;
  release(): void;
}

interface Waiter {
  readonly requested: RequestedContext;
  /** True when it waits in the scheduler's queue (counted against `maxQueue`). */
  readonly counted: boolean;
  grant(): void;
}

interface ModelEntry {
  readonly model: OllamaModel;
  active: number;
  readonly waiters: Waiter[];
  runner: Runner | undefined;
}

export interface SchedulerOptions {
  readonly profile: HardwareProfile;
  readonly numParallel: number;
  readonly maxQueue: number;
  /** True from 0.30: load failures name llama-server (else the older OOM text). */
  readonly llamaServerRunner: boolean;
  /** Multiplier for one timed step (jitter); 1 when deterministic. */
  readonly jitter: () => number;
  readonly log: Logger;
}

export class Scheduler {
  private readonly entries = new Map<string, ModelEntry>();
  /** Waiters counted against the queue limit. */
  private waiting = 0;
  /** Requests inside a load (finding room, evicting, waiting for memory) until their runner exists. */
  private planning = 0;
  private readonly memoryWaiters = new Set<() => void>();
  private readonly closing = new AbortController();

  constructor(private readonly opts: SchedulerOptions) {}

  /** Number of requests waiting in the scheduler's queue, server-wide. */
  get queued(): number {
    return this.waiting;
  }

  /**
   * Takes a slot on `model` and makes sure it is loaded with the requested context. Throws
   * ScheduleError for a full queue (503), a model that cannot fit (500), or a cancelled wait (499).
   */
  async acquire(
    model: OllamaModel,
    requested: RequestedContext,
    keepAliveMs: KeepAliveMs,
    signal: AbortSignal,
  ): Promise<Lease> {
    if (this.closing.signal.aborted) throw new ScheduleError(503, 'server shutting down');
    const entry = this.entryFor(model);
    await this.takeSlot(entry, requested, signal);
    const loadStart = process.hrtime.bigint();
    let runner: Runner;
    try {
      runner = await this.ensureRunner(entry, requested, signal);
    } catch (err) {
      this.releaseSlot(entry, undefined);
      throw err;
    }
    const loadNs = Number(process.hrtime.bigint() - loadStart);
    this.clearTimer(runner);
    runner.keepAliveMs = keepAliveMs;
    runner.expiresAtNs = expiryFrom(nowEpochNs(), keepAliveMs);
    let released = false;
    return {
      runner,
      loadNs,
      release: () => {
        if (released) return;
        released = true;
        this.releaseSlot(entry, runner);
      },
    };
  }

  /** `keep_alive: 0` with an empty prompt: unload now, or as soon as the model is idle. */
  expire(model: OllamaModel): void {
    const entry = this.entries.get(modelKey(model.name) ?? model.name);
    const runner = entry?.runner;
    if (!entry || !runner) return;
    runner.keepAliveMs = 0;
    if (entry.active === 0) this.unload(entry, runner, 'unload requested');
  }

  /** Loaded models, longest remaining keep-alive first (as `/api/ps` sorts them). */
  loaded(): Runner[] {
    const runners: Runner[] = [];
    for (const entry of this.entries.values()) {
      if (entry.runner?.state === 'ready') runners.push(entry.runner);
    }
    return runners.sort((a, b) => (a.expiresAtNs === b.expiresAtNs ? 0 : a.expiresAtNs > b.expiresAtNs ? -1 : 1));
  }

  /** Stops all timers and fails every waiter and pending load. Idempotent. */
  close(): void {
    if (this.closing.signal.aborted) return;
    this.closing.abort();
    for (const entry of this.entries.values()) {
      if (entry.runner) this.clearTimer(entry.runner);
      for (const waiter of entry.waiters.splice(0)) waiter.grant();
    }
    for (const wake of this.memoryWaiters) wake();
    this.memoryWaiters.clear();
  }

  private entryFor(model: OllamaModel): ModelEntry {
    const key = modelKey(model.name) ?? model.name;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { model, active: 0, waiters: [], runner: undefined };
      this.entries.set(key, entry);
    }
    return entry;
  }

  private canStart(entry: ModelEntry, requested: RequestedContext): boolean {
    if (entry.active >= this.opts.numParallel) return false;
    // A different context size needs a reload, which waits for the model to go idle.
    return entry.runner === undefined || !needsReload(entry.runner, requested) || entry.active === 0;
  }

  private takeSlot(entry: ModelEntry, requested: RequestedContext, signal: AbortSignal): Promise<void> {
    // A loaded runner that fits the request takes it at once; it then waits on the runner's own
    // semaphore, outside the scheduler's queue and its limit.
    const runner = entry.runner;
    const counted = runner === undefined || runner.state !== 'ready' || needsReload(runner, requested);
    // One request in the works plus `maxQueue` in the channel.
    if (counted && this.waiting + this.planning >= this.opts.maxQueue + 1) {
      return Promise.reject(new ScheduleError(503, MAX_QUEUE_MESSAGE));
    }
    if (entry.waiters.length === 0 && this.canStart(entry, requested)) {
      entry.active += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const index = entry.waiters.indexOf(waiter);
        if (index >= 0) {
          entry.waiters.splice(index, 1);
          if (counted) this.waiting -= 1;
        }
        reject(new ScheduleError(499, 'request canceled'));
      };
      const waiter: Waiter = {
        requested,
        counted,
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          if (counted) this.waiting -= 1;
          if (this.closing.signal.aborted) {
            reject(new ScheduleError(503, 'server shutting down'));
            return;
          }
          entry.active += 1;
          resolve();
        },
      };
      entry.waiters.push(waiter);
      if (counted) this.waiting += 1;
      signal.addEventListener('abort', onAbort, { once: true });
      this.opts.log.debug({ model: entry.model.name, queued: this.waiting, counted }, 'request queued');
    });
  }

  private releaseSlot(entry: ModelEntry, runner: Runner | undefined): void {
    entry.active -= 1;
    const current = entry.runner;
    if (runner) runner.lastUsedNs = nowEpochNs();
    if (entry.active === 0 && current && current.state !== 'unloaded') this.startExpiry(entry, current);
    this.pump(entry);
    this.wakeMemoryWaiters();
  }

  private pump(entry: ModelEntry): void {
    for (;;) {
      const head = entry.waiters[0];
      if (!head || !this.canStart(entry, head.requested)) return;
      entry.waiters.shift();
      head.grant();
    }
  }

  private async ensureRunner(entry: ModelEntry, requested: RequestedContext, signal: AbortSignal): Promise<Runner> {
    const current = entry.runner;
    if (current && needsReload(current, requested)) this.unload(entry, current, 'options changed');
    const existing = entry.runner;
    if (existing) {
      await this.waitReady(existing, signal);
      return existing;
    }
    // The real scheduler is busy with this request until the load finished.
    this.planning += 1;
    try {
      const runner = await this.startLoad(entry, requested, signal);
      await this.waitReady(runner, signal);
      return runner;
    } finally {
      this.planning -= 1;
    }
  }

  /** Waits for a runner's load; the load itself goes on when this client leaves (another may wait for it). */
  private async waitReady(runner: Runner, signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const fail = (): void => reject(new ScheduleError(499, 'request canceled'));
      if (signal.aborted) {
        fail();
        return;
      }
      signal.addEventListener('abort', fail, { once: true });
      runner.ready.then(
        () => {
          signal.removeEventListener('abort', fail);
          resolve();
        },
        (err: unknown) => {
          signal.removeEventListener('abort', fail);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /**
   * The context and placement a load ends up with on an otherwise idle node: the requested context
   * capped at the trained one; when that runs out of memory and the context was automatic, one
   * step lower (`reduceAutoNumCtxForLoadOOM`, tried once). Throws the out-of-memory error otherwise.
   */
  private planLoad(model: OllamaModel, requested: RequestedContext): { numCtx: number; target: Placement } {
    const { profile, numParallel } = this.opts;
    const numCtx = effectiveNumCtx(requested.numCtx, model.shape.trainedContext);
    const target = choosePlacement(profile, model, numCtx, numParallel, emptyNodeMemory(profile));
    if (target) return { numCtx, target };
    const lower = requested.auto ? nextLowerAutoNumCtx(numCtx) : undefined;
    if (lower !== undefined && lower < requested.numCtx) {
      this.opts.log.warn(
        { model: model.name, oldNumCtx: requested.numCtx, effectiveNumCtx: numCtx, newNumCtx: lower },
        'llama-server load failed; reducing automatic context and retrying once',
      );
      const retry = choosePlacement(profile, model, lower, numParallel, emptyNodeMemory(profile));
      if (retry) return { numCtx: lower, target: retry };
      throw new ScheduleError(500, loadOomMessage(profile, model, lower, numParallel, this.opts.llamaServerRunner));
    }
    throw new ScheduleError(500, loadOomMessage(profile, model, numCtx, numParallel, this.opts.llamaServerRunner));
  }

  /** Finds room (evicting idle models, waiting for busy ones) and starts loading. */
  private async startLoad(entry: ModelEntry, requested: RequestedContext, signal: AbortSignal): Promise<Runner> {
    const { numCtx, target } = this.planLoad(entry.model, requested);
    for (;;) {
      if (this.closing.signal.aborted) throw new ScheduleError(503, 'server shutting down');
      const placement = this.fitsNow(entry.model, numCtx, target);
      if (placement && this.residentCount() < MAX_LOADED_MODELS) {
        return this.createRunner(entry, numCtx, requested.auto, placement);
      }
      const victim = this.idleVictim(entry);
      if (victim?.runner) {
        this.unload(victim, victim.runner, 'evicted to make room');
        continue;
      }
      await this.waitForMemory(signal);
    }
  }

  private createRunner(entry: ModelEntry, numCtx: number, numCtxAuto: boolean, placement: Placement): Runner {
    const seconds = loadSeconds(entry.model.sizeBytes, this.opts.profile) * this.opts.jitter();
    const now = nowEpochNs();
    const runner: Runner = {
      model: entry.model,
      numCtx,
      numCtxAuto,
      placement,
      promptCache: new SlotPromptCache(this.opts.numParallel),
      state: 'loading',
      decoding: 0,
      keepAliveMs: 0,
      expiresAtNs: now,
      lastUsedNs: now,
      timer: undefined,
      ready: Promise.resolve(),
    };
    // Ready at an absolute deadline from the start of the load (see deadline.ts).
    runner.ready = sleepUntilNs(nowNs() + secondsToNs(seconds), this.closing.signal).then(
      () => {
        if (runner.state === 'loading') runner.state = 'ready';
      },
      () => {
        throw new ScheduleError(503, 'server shutting down');
      },
    );
    runner.ready.catch(() => undefined);
    entry.runner = runner;
    this.opts.log.info(
      {
        model: entry.model.name,
        numCtx,
        onGpu: placement.onGpu,
        gpuLayers: `${placement.gpuLayers}/${placement.totalLayers}`,
        sizeBytes: placement.totalBytes,
        loadSeconds: seconds,
      },
      'loading model',
    );
    return runner;
  }

  private fitsNow(model: OllamaModel, numCtx: number, target: Placement): Placement | undefined {
    const { profile } = this.opts;
    let gpuUsed = 0;
    let hostUsed = 0;
    for (const entry of this.entries.values()) {
      if (!entry.runner) continue;
      gpuUsed += entry.runner.placement.vramBytes;
      hostUsed += entry.runner.placement.hostBytes;
    }
    const free = {
      gpuBytes: (profile.gpu?.usableMemBytes ?? 0) - gpuUsed,
      hostBytes: profile.memAvailableBytes - hostUsed,
    };
    const placement = choosePlacement(profile, model, numCtx, this.opts.numParallel, free);
    // Like Ollama, evict rather than settle for fewer GPU layers than an idle node would give.
    return placement && placement.gpuLayers >= target.gpuLayers ? placement : undefined;
  }

  private residentCount(): number {
    let n = 0;
    for (const entry of this.entries.values()) if (entry.runner) n += 1;
    return n;
  }

  private idleVictim(except: ModelEntry): ModelEntry | undefined {
    let victim: ModelEntry | undefined;
    for (const entry of this.entries.values()) {
      if (entry === except || entry.active > 0 || !entry.runner || entry.runner.state === 'loading') continue;
      if (!victim?.runner || entry.runner.lastUsedNs < victim.runner.lastUsedNs) victim = entry;
    }
    return victim;
  }

  private waitForMemory(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.memoryWaiters.delete(wake);
        reject(new ScheduleError(499, 'request canceled'));
      };
      const wake = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      this.memoryWaiters.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private wakeMemoryWaiters(): void {
    const waiters = [...this.memoryWaiters];
    this.memoryWaiters.clear();
    for (const wake of waiters) wake();
  }

  private startExpiry(entry: ModelEntry, runner: Runner): void {
    this.clearTimer(runner);
    const ms = runner.keepAliveMs;
    runner.expiresAtNs = expiryFrom(nowEpochNs(), ms);
    if (ms <= 0) {
      this.unload(entry, runner, 'keep_alive 0');
      return;
    }
    if (!Number.isFinite(ms)) return;
    // The expiry is an absolute deadline (the `expires_at` /api/ps shows): a timer that fires early
    // (it counts from the loop's cached time) or is capped at Node's limit is simply re-armed.
    const arm = (): void => {
      const remainingMs = Number(runner.expiresAtNs - nowEpochNs()) / 1e6;
      if (remainingMs <= 0) {
        if (entry.active === 0 && entry.runner === runner) this.unload(entry, runner, 'keep_alive expired');
        return;
      }
      runner.timer = setTimeout(
        () => {
          runner.timer = undefined;
          arm();
        },
        Math.min(Math.max(1, remainingMs), MAX_TIMER_MS),
      );
      runner.timer.unref();
    };
    arm();
  }

  private clearTimer(runner: Runner): void {
    if (runner.timer) clearTimeout(runner.timer);
    runner.timer = undefined;
  }

  private unload(entry: ModelEntry, runner: Runner, reason: string): void {
    this.clearTimer(runner);
    runner.state = 'unloaded';
    if (entry.runner === runner) entry.runner = undefined;
    this.opts.log.info({ model: entry.model.name, reason }, 'unloading model');
    this.wakeMemoryWaiters();
    this.pump(entry);
  }
}

/**
 * `needsReload` for the context: two automatic contexts always match (the runner keeps what it
 * got, even after an out-of-memory reduction); otherwise the capped request must equal the runner's.
 */
function needsReload(runner: Runner, requested: RequestedContext): boolean {
  if (runner.numCtxAuto && requested.auto) return false;
  return effectiveNumCtx(requested.numCtx, runner.model.shape.trainedContext) !== runner.numCtx;
}

function expiryFrom(nowNs: bigint, keepAliveMs: KeepAliveMs): bigint {
  if (!Number.isFinite(keepAliveMs)) return nowNs + MAX_DURATION_NS;
  return nowNs + BigInt(Math.round(keepAliveMs * 1e6));
}
