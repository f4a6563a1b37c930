/**
 * The contract every protocol client (Ollama native, OpenAI-compatible, EXO 1.x) fulfils, so the
 * cell runner drives them alike.
 */
import type { BenchErrorCode } from './errors.js';
import type { TargetKind } from './matrix-schema.js';
import type { RequestMetrics } from './request-metrics.js';

/** One streamed chat request. */
export interface ChatRequest {
  /** The model id on the wire (Ollama tag, or the Hugging Face id for EXO). */
  model: string;
  /** The user message. */
  prompt: string;
  /** Sent as `options.num_predict` (Ollama) or `max_tokens` (OpenAI, EXO). */
  maxTokens: number;
  /** Ollama `options.num_ctx`; ignored by the OpenAI/EXO protocols, which cannot set it. */
  numCtx?: number | null;
  temperature?: number | null;
  seed?: number | null;
  /** Limit for the whole exchange, first byte to last. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/** Progress of a target's preparation (EXO placement and loading). */
export interface PrepareProgress {
  phase: 'checking' | 'adding-model' | 'placing' | 'downloading' | 'loading' | 'ready';
  /** Milliseconds since preparation started. */
  elapsedMs: number;
  /** Per-runner state (EXO): the node's hostname, the runner status tag, layers loaded. */
  runners: Array<{ node: string; status: string; layersLoaded: number | null; totalLayers: number | null }>;
  message: string;
}

/** Options for {@link ProtocolClient.prepare}. */
export interface PrepareOptions {
  /** Give up when loading (placement and runners, downloads not counted) takes longer than this. */
  timeoutMs?: number;
  /** Give up when the model's downloads to the nodes take longer than this (EXO). */
  downloadTimeoutMs?: number;
  signal?: AbortSignal | undefined;
  onProgress?: (p: PrepareProgress) => void;
}

/** What preparation found and did. Never thrown: a failed preparation is recorded like a failed request. */
export interface PrepareResult {
  ok: boolean;
  /** Code and message when `ok` is false. */
  error: { code: BenchErrorCode; message: string } | null;
  /** EXO: every node of the target's `nodes` was in `/state` when the run started; `null` for other kinds. */
  cluster_ok: boolean | null;
  nodes_expected: string[];
  nodes_seen: string[];
  nodes_missing: string[];
  /** EXO instance used for the benchmark, and the hostnames it spans. */
  instance_id: string | null;
  instance_nodes: string[];
  /** True when this preparation placed the instance (false: one was already there). */
  placed: boolean;
  /** True when the model card had to be added with `POST /models/add`. */
  model_added: boolean;
  elapsed_ms: number;
}

/** A client for one target. Create with `createClient`; `close()` releases its sockets. */
export interface ProtocolClient {
  readonly kind: TargetKind;
  /** Base URL without a trailing slash. */
  readonly url: string;
  /** Makes the model servable (EXO placement + readiness); a no-op for Ollama and OpenAI. */
  prepare(model: string, options?: PrepareOptions): Promise<PrepareResult>;
  /** Streams one chat completion and measures it. Never rejects: failures are in the metrics. */
  chat(request: ChatRequest): Promise<RequestMetrics>;
  /** Destroys pooled connections. Idempotent. */
  close(): void;
}

/** A successful no-op preparation (Ollama, OpenAI). */
export function noopPrepareResult(): PrepareResult {
  return {
    ok: true,
    error: null,
    cluster_ok: null,
    nodes_expected: [],
    nodes_seen: [],
    nodes_missing: [],
    instance_id: null,
    instance_nodes: [],
    placed: false,
    model_added: false,
    elapsed_ms: 0,
  };
}

/** Joins a base URL and an absolute API path (`/api/chat`). */
export function endpoint(base: string, path: string): URL {
  return new URL(`${base.replace(/\/+$/, '')}${path}`);
}
