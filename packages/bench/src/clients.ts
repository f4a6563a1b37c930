/**
 * `@kage/bench/clients`: the protocol clients and the metrics they measure, without the rest of
 * the engine. Importing it loads no SQLite store, statistics or matrix parser, so a node agent can
 * send benchmark requests (the same clients and timing as `kage bench`) at the cost of the HTTP
 * clients alone. The tokenizer still loads on the first request only (`text-tokens.ts`).
 */
export { createClient, modelIdFor, type CreateClientOptions } from './create-client.js';
export { createOllamaClient, type OllamaClientOptions } from './ollama-client.js';
export { createOpenAiClient, type OpenAiClientOptions } from './openai-client.js';
export { createExoClient, type ExoClientOptions } from './exo-client.js';
export { readOpenAiChunk, type OpenAiChunkUsage, type OpenAiChunkView } from './openai-chunk.js';
export {
  type ChatRequest,
  type PrepareOptions,
  type PrepareProgress,
  type PrepareResult,
  type ProtocolClient,
} from './protocol-client.js';
export {
  type RequestError,
  type RequestErrorKind,
  type RequestMetrics,
  type ServerCounters,
} from './request-metrics.js';
export { type MatrixModel, type MatrixTarget, type TargetKind } from './matrix-schema.js';
export { type BenchErrorCode } from './errors.js';
export { type BenchLogger } from './logger.js';
