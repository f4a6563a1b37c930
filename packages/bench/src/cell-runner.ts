/**
 * Runs one benchmark cell (one model × one target × one concurrency level): unmeasured warm-up
 * requests, then `repetitions` measured requests from N closed-loop clients (each client sends
 * its next request when its previous one ends). Failures are recorded, never retried.
 */
import { randomBytes } from 'node:crypto';
import type { ProtocolClient } from './protocol-client.js';
import type { RequestMetrics } from './request-metrics.js';

/** A request's metrics plus where it ran in the cell. */
export interface CellRequestRecord extends RequestMetrics {
  phase: 'warmup' | 'measured';
  /** 0-based order of dispatch within its phase. */
  index: number;
  /** The closed-loop client (0..concurrency−1) that sent it. */
  client: number;
}

/** Result of one cell. */
export interface CellResult {
  target: string | null;
  /** The matrix model name (`qwen2.5:3b`). */
  model: string;
  /** The id sent on the wire (the Hugging Face id for EXO). */
  model_id: string;
  concurrency: number;
  repetitions: number;
  warmup: number;
  /** `aborted` when the signal fired before the cell finished. */
  status: 'completed' | 'aborted';
  started_at: string;
  finished_at: string;
  warmup_requests: CellRequestRecord[];
  /** Measured requests in completion order. */
  requests: CellRequestRecord[];
  /** Measured requests that were not cancelled by the caller. */
  attempts: number;
  successes: number;
  /** successes / attempts; 0 when nothing was attempted. */
  success_rate: number;
  /** First measured t_send → last measured request end, in ms. */
  window_ms: number | null;
  /** Output tokens of successful measured requests. */
  output_tokens_total: number;
  /** output_tokens_total / window: what the target delivered at this concurrency, tokens/s. */
  aggregate_tps: number | null;
}

/** Progress events, for a live bar or plain log lines. */
export type CellEvent =
  | { type: 'phase'; phase: 'warmup' | 'measured'; total: number }
  | {
      type: 'request-done';
      record: CellRequestRecord;
      /** Requests finished in this phase so far, and the phase's total. */
      done: number;
      total: number;
      successes: number;
      failures: number;
    }
  | { type: 'cell-done'; result: CellResult };

/** Options of {@link runCell}. */
export interface RunCellOptions {
  /** Sends each request: a protocol client, or anything that measures a request the same way. */
  client: Pick<ProtocolClient, 'chat'>;
  /** Model id on the wire (see `modelIdFor`). */
  model: string;
  prompt: string;
  maxTokens: number;
  numCtx?: number | null;
  temperature?: number | null;
  seed?: number | null;
  concurrency: number;
  repetitions: number;
  warmup: number;
  /** Prefix every prompt with a random nonce so no request hits a prompt/prefix cache. @default false */
  uniquePromptPrefix?: boolean;
  requestTimeoutMs: number;
  signal?: AbortSignal | undefined;
  onEvent?: (e: CellEvent) => void;
  /** Target id to record in the result. */
  target?: string;
  /** Matrix model name to record in the result. @default model */
  modelName?: string;
}

/** Runs one cell. Resolves (never rejects) once every in-flight request has ended. */
export async function runCell(o: RunCellOptions): Promise<CellResult> {
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1)
    throw new TypeError('concurrency must be a positive integer');
  const startedAt = new Date().toISOString();
  const emit = (e: CellEvent): void => o.onEvent?.(e);

  const runPhase = async (phase: 'warmup' | 'measured', total: number): Promise<CellRequestRecord[]> => {
    const records: CellRequestRecord[] = [];
    if (total === 0 || o.signal?.aborted === true) return records;
    emit({ type: 'phase', phase, total });
    let next = 0;
    let successes = 0;
    const worker = async (client: number): Promise<void> => {
      while (o.signal?.aborted !== true) {
        const index = next++;
        if (index >= total) return;
        const prompt = o.uniquePromptPrefix === true ? `[${randomBytes(6).toString('hex')}] ${o.prompt}` : o.prompt;
        const metrics = await o.client.chat({
          model: o.model,
          prompt,
          maxTokens: o.maxTokens,
          numCtx: o.numCtx ?? null,
          temperature: o.temperature ?? null,
          seed: o.seed ?? null,
          timeoutMs: o.requestTimeoutMs,
          signal: o.signal,
        });
        const record: CellRequestRecord = { ...metrics, phase, index, client };
        records.push(record);
        if (record.success) successes += 1;
        emit({
          type: 'request-done',
          record,
          done: records.length,
          total,
          successes,
          failures: records.length - successes,
        });
      }
    };
    const clients = Math.min(o.concurrency, total);
    await Promise.all(Array.from({ length: clients }, (_, i) => worker(i)));
    return records;
  };

  const warmupRequests = await runPhase('warmup', o.warmup);
  const requests = await runPhase('measured', o.repetitions);

  const counted = requests.filter((r) => r.error?.kind !== 'aborted');
  const ok = counted.filter((r) => r.success);
  let windowMs: number | null = null;
  if (counted.length > 0) {
    const start = Math.min(...counted.map((r) => r.t_send_ms));
    const end = Math.max(...counted.map((r) => r.t_send_ms + r.total_ms));
    windowMs = end - start;
  }
  const tokens = ok.reduce((sum, r) => sum + r.output_tokens, 0);
  const result: CellResult = {
    target: o.target ?? null,
    model: o.modelName ?? o.model,
    model_id: o.model,
    concurrency: o.concurrency,
    repetitions: o.repetitions,
    warmup: o.warmup,
    status: o.signal?.aborted === true ? 'aborted' : 'completed',
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    warmup_requests: warmupRequests,
    requests,
    attempts: counted.length,
    successes: ok.length,
    success_rate: counted.length === 0 ? 0 : ok.length / counted.length,
    window_ms: windowMs,
    output_tokens_total: tokens,
    aggregate_tps: windowMs !== null && windowMs > 0 && ok.length > 0 ? tokens / (windowMs / 1000) : null,
  };
  emit({ type: 'cell-done', result });
  return result;
}
