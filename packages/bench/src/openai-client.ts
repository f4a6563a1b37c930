/**
 * Client for any OpenAI-compatible server (`/v1/chat/completions`, SSE, `stream_options.include_usage`),
 * including Ollama's own `/v1`. `num_ctx` cannot be set on this path (the OpenAI request has no
 * field for it).
 */
import { createAgents, destroyAgents, type AgentPair } from './http-transport.js';
import { streamChatCompletion } from './openai-stream.js';
import { noopPrepareResult, type ChatRequest, type PrepareResult, type ProtocolClient } from './protocol-client.js';
import type { RequestMetrics } from './request-metrics.js';

/** Options of {@link createOpenAiClient}. */
export interface OpenAiClientOptions {
  /** Base URL without `/v1`, e.g. `http://127.0.0.1:11434`. */
  url: string;
}

/** Creates an unstarted OpenAI-compatible client. */
export function createOpenAiClient(options: OpenAiClientOptions): ProtocolClient {
  const url = options.url.replace(/\/+$/, '');
  const agents: AgentPair = createAgents();
  let closed = false;
  return {
    kind: 'openai',
    url,
    prepare(): Promise<PrepareResult> {
      return Promise.resolve(noopPrepareResult());
    },
    chat(request: ChatRequest): Promise<RequestMetrics> {
      return streamChatCompletion('openai', url, agents, request);
    },
    close(): void {
      if (closed) return;
      closed = true;
      destroyAgents(agents);
    },
  };
}
