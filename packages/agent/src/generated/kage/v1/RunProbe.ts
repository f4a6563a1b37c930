// Original file: /work/main/proto/kage/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

/**
 * One streamed chat request to an inference server reachable from the agent's node, measured with
 * the agent's clock (DESIGN §3.3).
 */
export interface RunProbe {
  /**
   * Protocol: "ollama" (native), "exo" (EXO 1.x) or "openai" (OpenAI-compatible).
   */
  target_kind?: string;
  /**
   * Base URL of the server, e.g. "http://127.0.0.1:11434".
   */
  url?: string;
  /**
   * Model id on the wire (Ollama tag, or the Hugging Face id for EXO).
   */
  model?: string;
  /**
   * The user message.
   */
  prompt?: string;
  /**
   * Output token limit.
   */
  max_tokens?: number;
  /**
   * Ollama `options.num_ctx`; ignored by other protocols.
   */
  num_ctx?: number;
  /**
   * Sampling temperature; unset = the server's default.
   */
  temperature?: number | string;
  /**
   * Sampling seed; unset = none.
   */
  seed?: number | string | Long;
  /**
   * Limit for the whole exchange; 0 lets the agent pick its default.
   */
  timeout_ms?: number;
  _num_ctx?: 'num_ctx';
  _temperature?: 'temperature';
  _seed?: 'seed';
}

/**
 * One streamed chat request to an inference server reachable from the agent's node, measured with
 * the agent's clock (DESIGN §3.3).
 */
export interface RunProbe__Output {
  /**
   * Protocol: "ollama" (native), "exo" (EXO 1.x) or "openai" (OpenAI-compatible).
   */
  target_kind: string;
  /**
   * Base URL of the server, e.g. "http://127.0.0.1:11434".
   */
  url: string;
  /**
   * Model id on the wire (Ollama tag, or the Hugging Face id for EXO).
   */
  model: string;
  /**
   * The user message.
   */
  prompt: string;
  /**
   * Output token limit.
   */
  max_tokens: number;
  /**
   * Ollama `options.num_ctx`; ignored by other protocols.
   */
  num_ctx?: number;
  /**
   * Sampling temperature; unset = the server's default.
   */
  temperature?: number;
  /**
   * Sampling seed; unset = none.
   */
  seed?: number;
  /**
   * Limit for the whole exchange; 0 lets the agent pick its default.
   */
  timeout_ms: number;
  _num_ctx?: 'num_ctx';
  _temperature?: 'temperature';
  _seed?: 'seed';
}
