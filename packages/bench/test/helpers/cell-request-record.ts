/**
 * One `CellRequestRecord` builder for the bench tests: a successful measured request with every
 * field set. The values are awkward on purpose (sub-millisecond times, long fractions in the token
 * offsets) so a store round trip shows any precision loss; a test overrides what it is about.
 */
import type { CellRequestRecord } from '../../src/index.js';

export function cellRequestRecord(over: Partial<CellRequestRecord> = {}): CellRequestRecord {
  return {
    protocol: 'ollama',
    model: 'qwen2.5:3b',
    started_at: '2026-01-01T00:00:00.000Z',
    t_send_ms: 123456.789,
    ttfb_ms: 10.5,
    ttft_ms: 20.25,
    ttfo_ms: 21.125,
    e2e_ms: 100.0625,
    total_ms: 101.5,
    output_tokens: 5,
    output_tokens_source: 'server',
    output_tokens_approx: false,
    server_output_tokens: 5,
    client_token_events: 5,
    prompt_tokens: 12,
    decode_tps: 49.84,
    server_decode_tps: 51.2,
    server: {
      load_ms: 0.5,
      prompt_eval_ms: 9.5,
      eval_ms: 80,
      total_ms: 99,
      prompt_tps: null,
      peak_memory_bytes: 1.5e9,
      cached_prompt_tokens: null,
    },
    finish_reason: 'stop',
    token_offsets_ms: [20.25, 40.000001, 60.1, 80.3333333333, 100.0625],
    comment_events: 1,
    success: true,
    error: null,
    phase: 'measured',
    index: 3,
    client: 1,
    ...over,
  };
}
