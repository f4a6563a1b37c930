/**
 * Maps an attempt (a cell request record) to its `requests` row and back. Every RequestMetrics
 * field is a column, so attempts can be queried with plain SQL; token offsets are a compact BLOB.
 */
import type { CellRequestRecord } from '../cell-runner.js';
import type { TargetKind } from '../matrix-schema.js';
import type { RequestErrorKind } from '../request-metrics.js';
import type { StoredAttempt } from './store-types.js';
import { decodeOffsets, encodeOffsets } from './token-offsets.js';

/** Column list of an insert, in the order of {@link attemptParams}. */
export const ATTEMPT_COLUMNS = [
  'cell_id',
  'try',
  'warmup',
  'idx',
  'client',
  'protocol',
  'model',
  'started_at',
  't_send_ms',
  'ttfb_ms',
  'ttft_ms',
  'ttfo_ms',
  'e2e_ms',
  'total_ms',
  'output_tokens',
  'output_tokens_source',
  'output_tokens_approx',
  'server_output_tokens',
  'client_token_events',
  'prompt_tokens',
  'decode_tps',
  'server_decode_tps',
  'server_load_ms',
  'server_prompt_eval_ms',
  'server_eval_ms',
  'server_total_ms',
  'server_prompt_tps',
  'server_peak_memory_bytes',
  'server_cached_prompt_tokens',
  'finish_reason',
  'comment_events',
  'success',
  'error_kind',
  'error_message',
  'error_status',
  'token_offsets',
] as const;

/** SQL parameter values for one attempt. */
export type SqlValue = string | number | bigint | Buffer | null;

/** An integer column must get an integer in a STRICT table: round defensively. */
const int = (v: number | null): number | null => (v === null || !Number.isFinite(v) ? null : Math.round(v));
const real = (v: number | null): number | null => (v === null || !Number.isFinite(v) ? null : v);

/** Parameters for inserting `r` into `requests`. */
export function attemptParams(cellId: number, tryNo: number, r: CellRequestRecord): SqlValue[] {
  return [
    cellId,
    tryNo,
    r.phase === 'warmup' ? 1 : 0,
    r.index,
    r.client,
    r.protocol,
    r.model,
    r.started_at,
    r.t_send_ms,
    real(r.ttfb_ms),
    real(r.ttft_ms),
    real(r.ttfo_ms),
    real(r.e2e_ms),
    r.total_ms,
    int(r.output_tokens) ?? 0,
    r.output_tokens_source,
    r.output_tokens_approx ? 1 : 0,
    int(r.server_output_tokens),
    r.client_token_events,
    int(r.prompt_tokens),
    real(r.decode_tps),
    real(r.server_decode_tps),
    real(r.server.load_ms),
    real(r.server.prompt_eval_ms),
    real(r.server.eval_ms),
    real(r.server.total_ms),
    real(r.server.prompt_tps),
    real(r.server.peak_memory_bytes),
    // `?? null`: metrics sent by an agent of an earlier version lack the field.
    int(r.server.cached_prompt_tokens ?? null),
    r.finish_reason,
    r.comment_events,
    r.success ? 1 : 0,
    r.error?.kind ?? null,
    r.error?.message ?? null,
    int(r.error?.status ?? null),
    encodeOffsets(r.token_offsets_ms),
  ];
}

/** A `requests` row as better-sqlite3 returns it. */
export interface AttemptRow {
  id: number;
  cell_id: number;
  try: number;
  superseded: number;
  warmup: number;
  idx: number;
  client: number;
  protocol: string;
  model: string;
  started_at: string;
  t_send_ms: number;
  ttfb_ms: number | null;
  ttft_ms: number | null;
  ttfo_ms: number | null;
  e2e_ms: number | null;
  total_ms: number;
  output_tokens: number;
  output_tokens_source: string;
  output_tokens_approx: number;
  server_output_tokens: number | null;
  client_token_events: number;
  prompt_tokens: number | null;
  decode_tps: number | null;
  server_decode_tps: number | null;
  server_load_ms: number | null;
  server_prompt_eval_ms: number | null;
  server_eval_ms: number | null;
  server_total_ms: number | null;
  server_prompt_tps: number | null;
  server_peak_memory_bytes: number | null;
  server_cached_prompt_tokens: number | null;
  finish_reason: string | null;
  comment_events: number;
  success: number;
  error_kind: string | null;
  error_message: string | null;
  error_status: number | null;
  token_offsets: Buffer | null;
}

/** Rebuilds the attempt from its row. */
export function attemptFromRow(row: AttemptRow): StoredAttempt {
  return {
    id: row.id,
    cell_id: row.cell_id,
    try: row.try,
    superseded: row.superseded !== 0,
    phase: row.warmup !== 0 ? 'warmup' : 'measured',
    index: row.idx,
    client: row.client,
    protocol: row.protocol as TargetKind,
    model: row.model,
    started_at: row.started_at,
    t_send_ms: row.t_send_ms,
    ttfb_ms: row.ttfb_ms,
    ttft_ms: row.ttft_ms,
    ttfo_ms: row.ttfo_ms,
    e2e_ms: row.e2e_ms,
    total_ms: row.total_ms,
    output_tokens: row.output_tokens,
    output_tokens_source:
      row.output_tokens_source === 'server' || row.output_tokens_source === 'tokenizer'
        ? row.output_tokens_source
        : 'events',
    output_tokens_approx: row.output_tokens_approx !== 0,
    server_output_tokens: row.server_output_tokens,
    client_token_events: row.client_token_events,
    prompt_tokens: row.prompt_tokens,
    decode_tps: row.decode_tps,
    server_decode_tps: row.server_decode_tps,
    server: {
      load_ms: row.server_load_ms,
      prompt_eval_ms: row.server_prompt_eval_ms,
      eval_ms: row.server_eval_ms,
      total_ms: row.server_total_ms,
      prompt_tps: row.server_prompt_tps,
      peak_memory_bytes: row.server_peak_memory_bytes,
      cached_prompt_tokens: row.server_cached_prompt_tokens,
    },
    finish_reason: row.finish_reason,
    token_offsets_ms: decodeOffsets(row.token_offsets),
    comment_events: row.comment_events,
    success: row.success !== 0,
    error:
      row.error_kind === null
        ? null
        : { kind: row.error_kind as RequestErrorKind, message: row.error_message ?? '', status: row.error_status },
  };
}
