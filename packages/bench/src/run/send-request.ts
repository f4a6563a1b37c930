/**
 * Where a cell's requests are sent from. By default this process sends them with the target's
 * protocol client. A coordinator can instead have a node agent send each one (the agent's probe
 * command answers with the same `RequestMetrics`) while EXO preparation and the health checks
 * around each cell still run from the process that executes the run.
 */
import { nowNs } from '../http-transport.js';
import type { MatrixTarget } from '../matrix-schema.js';
import type { ChatRequest } from '../protocol-client.js';
import type { RequestErrorKind, RequestMetrics } from '../request-metrics.js';

/**
 * Sends one request of a cell to `target` and measures it.
 *
 * Contract, the same as `ProtocolClient.chat`: it resolves for failed requests too (a failure is
 * data: recorded and counted), and when `signal` aborts, the request ends with error kind
 * `aborted` (recorded, not counted as an attempt). `request.signal` is that same signal; a sender
 * that ships the request elsewhere leaves it out of the wire form and honours `signal` instead.
 *
 * A rejection means the sender itself broke, not the request: the cell's other requests are
 * aborted and, once they have ended, the run stops with that error, left `interrupted` (resumable).
 */
export type SendRequest = (
  target: MatrixTarget,
  request: ChatRequest,
  signal: AbortSignal | undefined,
) => Promise<RequestMetrics>;

/**
 * The metrics of a request that failed before any answer: nothing measured but its send time and
 * duration. For senders that ship a request elsewhere and learn only that it could not run.
 */
export function failedRequestMetrics(
  target: MatrixTarget,
  request: ChatRequest,
  failure: { t_send_ms: number; total_ms: number; kind: RequestErrorKind; message: string },
): RequestMetrics {
  return {
    protocol: target.kind,
    model: request.model,
    started_at: new Date(Date.now() - failure.total_ms).toISOString(),
    t_send_ms: failure.t_send_ms,
    ttfb_ms: null,
    ttft_ms: null,
    ttfo_ms: null,
    e2e_ms: null,
    total_ms: failure.total_ms,
    output_tokens: 0,
    output_tokens_source: 'events',
    output_tokens_approx: true,
    server_output_tokens: null,
    client_token_events: 0,
    prompt_tokens: null,
    decode_tps: null,
    server_decode_tps: null,
    server: {
      load_ms: null,
      prompt_eval_ms: null,
      eval_ms: null,
      total_ms: null,
      prompt_tps: null,
      peak_memory_bytes: null,
      cached_prompt_tokens: null,
    },
    finish_reason: null,
    token_offsets_ms: [],
    comment_events: 0,
    success: false,
    error: { kind: failure.kind, message: failure.message, status: null },
  };
}

/**
 * Stands in for the metrics of a request whose sender rejected, so the cell can wind down like an
 * aborted one. Never stored: the cell stops before anything after the rejection is committed.
 */
export function abortedBySender(target: MatrixTarget, request: ChatRequest, err: unknown): RequestMetrics {
  return failedRequestMetrics(target, request, {
    t_send_ms: Number(nowNs() / 1000n) / 1000,
    total_ms: 0,
    kind: 'aborted',
    message: `the request sender failed: ${err instanceof Error ? err.message : String(err)}`,
  });
}
