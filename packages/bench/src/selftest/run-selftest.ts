/**
 * The harness measuring itself (`kage bench selftest`, `pnpm bench`): the real protocol clients
 * against a scripted server in a child process whose token writes are stamped on the same
 * monotonic clock.
 *
 * - TTFT error: client's first-token stamp − the server's stamp just before writing that token
 *   (t_send cancels out: it is measured TTFT − true TTFT). Everything the harness adds — loopback,
 *   the event loop, the parser — is in it.
 * - Decode-rate error: client decode_tps vs (K − 1) / (last write − first write), in %.
 * - Ingest rate: token events per second the client parses on its one JS thread while the server
 *   (another core) blasts pre-built small frames as fast as the socket takes them.
 *
 * Each figure is computed per repetition and the median over repetitions is reported; the worst
 * protocol is what the targets are checked against.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { silentLogger, type BenchLogger } from '../logger.js';
import { createOllamaClient } from '../ollama-client.js';
import { createOpenAiClient } from '../openai-client.js';
import type { ProtocolClient } from '../protocol-client.js';
import type { RequestMetrics } from '../request-metrics.js';
import { hostInfo } from '../run/host-info.js';
import { median, percentile } from '../statistics.js';
import { startSelftestServer, type SelftestServerProcess } from './selftest-server-process.js';

/** Protocols the selftest drives (EXO streams through the OpenAI SSE path). */
export type SelftestProtocol = 'ollama' | 'openai';

/** Options of {@link runSelftest}. Defaults are those of `pnpm bench`. */
export interface SelftestOptions {
  /** @default 5 */
  repetitions?: number;
  /** Scheduled requests per repetition and protocol. @default 32 */
  requests?: number;
  /** Requests in flight at once (the client handles several streams, as in a real cell). @default 4 */
  concurrency?: number;
  /**
   * Tokens per scheduled request. The decode-rate error is a delivery jitter divided by the
   * first→last span, so it shrinks as answers get longer: 128 tokens at 200 tok/s (a 0.64 s span)
   * is shorter and faster than any real cell (256 tokens at ≤ 80 tok/s is ≥ 3 s), i.e. pessimistic.
   * @default 128
   */
  tokens?: number;
  /** Server delay before the first token. @default 20 */
  ttftMs?: number;
  /** Server delay between tokens (5 ms = 200 tok/s, faster than any CPU target we bench). @default 5 */
  itlMs?: number;
  /** Tokens in the ingest blast. @default 200000 */
  blastTokens?: number;
  /** @default ['ollama', 'openai'] */
  protocols?: SelftestProtocol[];
  /** Write the result here as JSON (directories created). */
  outFile?: string;
  logger?: BenchLogger;
  /** Called after each repetition of each protocol. */
  onProgress?: (p: { protocol: SelftestProtocol; repetition: number; repetitions: number }) => void;
}

/** Targets the harness must meet. */
export const SELFTEST_TARGETS = {
  /** p99 of the TTFT error. */
  ttft_error_p99_ms: 1,
  /** p99 of the absolute decode-rate error. */
  decode_error_p99_pct: 0.5,
  /** Token events per second ingested on one core. */
  ingest_events_per_s: 100_000,
} as const;

/** Percentiles of one error over a repetition's requests. */
export interface SelftestStats {
  p50: number;
  p99: number;
  max: number;
}

/** Figures of one protocol (medians over repetitions). */
export interface SelftestFigures {
  ttft_error_ms: SelftestStats;
  /** Absolute decode-rate error. */
  decode_error_pct: SelftestStats;
  /** |client first→last span − server first→last span|: the span-independent part of the decode error. */
  decode_span_error_ms: SelftestStats;
  ingest_events_per_s: number;
}

/** The selftest result (`bench/results/selftest.json`). */
export interface SelftestResult {
  schema: 'kage.selftest/v1';
  generated_at: string;
  machine: {
    cpu_model: string;
    cpu_cores: number;
    total_memory_bytes: number;
    node_version: string;
    os: string;
    /** 1-minute load average before and after: other work on the machine shows up as outliers. */
    load_average_1m: { before: number; after: number };
  };
  method: {
    repetitions: number;
    requests_per_repetition: number;
    concurrency: number;
    tokens_per_request: number;
    server_ttft_ms: number;
    server_itl_ms: number;
    blast_tokens: number;
    protocols: SelftestProtocol[];
    notes: string[];
  };
  /** Worst protocol per figure. */
  figures: SelftestFigures;
  by_protocol: Partial<Record<SelftestProtocol, SelftestFigures & { repetitions: SelftestFigures[] }>>;
  targets: typeof SELFTEST_TARGETS;
  pass: { ttft_error_p99_ms: boolean; decode_error_p99_pct: boolean; ingest_events_per_s: boolean; all: boolean };
}

const toMs = (ns: bigint): number => Number(ns / 1000n) / 1000;

/** Runs the selftest. Rejects when the harness itself misbehaves (a failed or miscounted request). */
export async function runSelftest(options: SelftestOptions = {}): Promise<SelftestResult> {
  const o = {
    repetitions: options.repetitions ?? 5,
    requests: options.requests ?? 32,
    concurrency: options.concurrency ?? 4,
    tokens: options.tokens ?? 128,
    ttftMs: options.ttftMs ?? 20,
    itlMs: options.itlMs ?? 5,
    blastTokens: options.blastTokens ?? 200_000,
    protocols: options.protocols ?? (['ollama', 'openai'] as SelftestProtocol[]),
  };
  const log = (options.logger ?? silentLogger).child({ component: 'bench-selftest' });
  const loadBefore = loadavg()[0] ?? 0;
  const server = await startSelftestServer();
  let nextId = 1;
  const byProtocol: SelftestResult['by_protocol'] = {};
  try {
    for (const protocol of o.protocols) {
      const client =
        protocol === 'ollama' ? createOllamaClient({ url: server.url }) : createOpenAiClient({ url: server.url });
      try {
        // One unmeasured round opens the keep-alive connections and warms the JIT.
        await scheduledRound(client, server, { ...o, requests: o.concurrency }, () => nextId++);
        const reps: SelftestFigures[] = [];
        for (let r = 0; r < o.repetitions; r++) {
          const s = await scheduledRound(client, server, o, () => nextId++);
          const ingest = await blast(client, o.blastTokens, nextId++);
          reps.push({ ...s, ingest_events_per_s: ingest });
          log.debug({ protocol, repetition: r, figures: reps.at(-1) }, 'selftest repetition');
          options.onProgress?.({ protocol, repetition: r + 1, repetitions: o.repetitions });
        }
        byProtocol[protocol] = { ...medianFigures(reps), repetitions: reps };
      } finally {
        client.close();
      }
    }
  } finally {
    await server.close();
  }

  const all = Object.values(byProtocol);
  const worst = (pick: (f: SelftestFigures) => SelftestStats): SelftestStats => ({
    p50: Math.max(...all.map((f) => pick(f).p50)),
    p99: Math.max(...all.map((f) => pick(f).p99)),
    max: Math.max(...all.map((f) => pick(f).max)),
  });
  const figures: SelftestFigures = {
    ttft_error_ms: worst((f) => f.ttft_error_ms),
    decode_error_pct: worst((f) => f.decode_error_pct),
    decode_span_error_ms: worst((f) => f.decode_span_error_ms),
    ingest_events_per_s: Math.min(...all.map((f) => f.ingest_events_per_s)),
  };
  const pass = {
    ttft_error_p99_ms: figures.ttft_error_ms.p99 <= SELFTEST_TARGETS.ttft_error_p99_ms,
    decode_error_p99_pct: figures.decode_error_pct.p99 <= SELFTEST_TARGETS.decode_error_p99_pct,
    ingest_events_per_s: figures.ingest_events_per_s >= SELFTEST_TARGETS.ingest_events_per_s,
    all: false,
  };
  pass.all = pass.ttft_error_p99_ms && pass.decode_error_p99_pct && pass.ingest_events_per_s;
  const host = hostInfo();
  const result: SelftestResult = {
    schema: 'kage.selftest/v1',
    generated_at: new Date().toISOString(),
    machine: {
      cpu_model: host.cpu_model,
      cpu_cores: host.cpu_cores,
      total_memory_bytes: host.total_memory_bytes,
      node_version: host.node_version,
      os: `${host.platform} ${host.release} (${host.arch})`,
      load_average_1m: { before: loadBefore, after: loadavg()[0] ?? 0 },
    },
    method: {
      repetitions: o.repetitions,
      requests_per_repetition: o.requests,
      concurrency: o.concurrency,
      tokens_per_request: o.tokens,
      server_ttft_ms: o.ttftMs,
      server_itl_ms: o.itlMs,
      blast_tokens: o.blastTokens,
      protocols: o.protocols,
      notes: [
        'server: a child process on the same host; truth = its process.hrtime.bigint() just before each token write (CLOCK_MONOTONIC, shared with the client)',
        'ttft_error_ms = client first-token stamp − server first-token write stamp (= measured TTFT − true TTFT)',
        'decode_error_pct = |client decode_tps / ((K − 1) / (last write − first write)) − 1| · 100; it scales with 1/span (decode_span_error_ms is the span-independent part)',
        'ingest_events_per_s = (token events − 1) / (last − first token event) while the server blasts pre-built frames',
        'per repetition: p50/p99/max over its requests; reported: median over repetitions; figures: worst protocol',
      ],
    },
    figures,
    by_protocol: byProtocol,
    targets: SELFTEST_TARGETS,
    pass,
  };
  if (options.outFile !== undefined) {
    await mkdir(dirname(options.outFile), { recursive: true });
    await writeFile(options.outFile, `${JSON.stringify(result, null, 2)}\n`);
  }
  log.info({ figures, pass }, 'selftest done');
  return result;
}

/** `requests` scheduled requests, `concurrency` at a time; TTFT and decode errors over them. */
async function scheduledRound(
  client: ProtocolClient,
  server: SelftestServerProcess,
  o: { requests: number; concurrency: number; tokens: number; ttftMs: number; itlMs: number },
  nextId: () => number,
): Promise<Omit<SelftestFigures, 'ingest_events_per_s'>> {
  const ttftErr: number[] = [];
  const decodeErr: number[] = [];
  const spanErr: number[] = [];
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < o.requests) {
      started += 1;
      const id = nextId();
      const m = await client.chat({
        model: 'selftest',
        prompt: `selftest id=${id} ttft=${o.ttftMs} itl=${o.itlMs} tokens=${o.tokens}`,
        maxTokens: o.tokens,
        timeoutMs: 30_000,
      });
      const writes = await server.writes(id);
      check(m, o.tokens, writes.length, id);
      const first = writes[0];
      const last = writes.at(-1);
      if (first === undefined || last === undefined || m.ttft_ms === null || m.decode_tps === null) continue;
      ttftErr.push(m.t_send_ms + m.ttft_ms - toMs(first));
      const trueTps = (o.tokens - 1) / (Number(last - first) / 1e9);
      decodeErr.push(Math.abs(m.decode_tps / trueTps - 1) * 100);
      const clientSpan = (m.token_offsets_ms.at(-1) ?? 0) - (m.token_offsets_ms[0] ?? 0);
      spanErr.push(Math.abs(clientSpan - Number(last - first) / 1e6));
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, o.requests) }, () => worker()));
  const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
  const stats = (xs: number[]): SelftestStats => {
    const v = sorted(xs);
    return { p50: percentile(v, 50), p99: percentile(v, 99), max: v.at(-1) ?? Number.NaN };
  };
  return {
    ttft_error_ms: stats(ttftErr),
    decode_error_pct: stats(decodeErr),
    decode_span_error_ms: stats(spanErr),
  };
}

/** One blast of `tokens` token events; the client's ingest rate in events/s. */
async function blast(client: ProtocolClient, tokens: number, id: number): Promise<number> {
  const m = await client.chat({
    model: 'selftest',
    prompt: `selftest id=${id} blast tokens=${tokens}`,
    maxTokens: tokens,
    timeoutMs: 120_000,
  });
  check(m, tokens, tokens, id);
  if (m.ttft_ms === null || m.e2e_ms === null || m.e2e_ms <= m.ttft_ms) throw new Error('blast: no measurable span');
  return (m.client_token_events - 1) / ((m.e2e_ms - m.ttft_ms) / 1000);
}

/** The harness must see exactly what the server wrote; anything else is a harness bug. */
function check(m: RequestMetrics, tokens: number, written: number, id: number): void {
  if (!m.success || m.client_token_events !== tokens || written !== tokens || m.output_tokens !== tokens) {
    throw new Error(
      `selftest request ${id}: expected ${tokens} tokens, server wrote ${written}, client saw ` +
        `${m.client_token_events} events (success ${m.success}${m.error === null ? '' : `, ${m.error.kind}: ${m.error.message}`})`,
    );
  }
}

function medianFigures(reps: readonly SelftestFigures[]): SelftestFigures {
  const med = (pick: (x: SelftestFigures) => SelftestStats): SelftestStats => ({
    p50: median(reps.map((x) => pick(x).p50)),
    p99: median(reps.map((x) => pick(x).p99)),
    max: median(reps.map((x) => pick(x).max)),
  });
  return {
    ttft_error_ms: med((x) => x.ttft_error_ms),
    decode_error_pct: med((x) => x.decode_error_pct),
    decode_span_error_ms: med((x) => x.decode_span_error_ms),
    ingest_events_per_s: median(reps.map((x) => x.ingest_events_per_s)),
  };
}
