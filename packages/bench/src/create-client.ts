/**
 * Picks the protocol client for a matrix target, and the model id that target understands.
 */
import { createExoClient } from './exo-client.js';
import type { BenchLogger } from './logger.js';
import type { MatrixModel, MatrixTarget } from './matrix-schema.js';
import { createOllamaClient } from './ollama-client.js';
import { createOpenAiClient } from './openai-client.js';
import type { ProtocolClient } from './protocol-client.js';

/** Options of {@link createClient}. */
export interface CreateClientOptions {
  log?: BenchLogger;
  /** EXO `/state` poll interval while waiting for readiness. @default 1000 */
  exoPollIntervalMs?: number;
  /** Ollama `keep_alive` for benchmark requests. @default '30m' */
  ollamaKeepAlive?: string | number;
}

/** Creates the unstarted client for `target.kind`. */
export function createClient(target: MatrixTarget, options: CreateClientOptions = {}): ProtocolClient {
  switch (target.kind) {
    case 'ollama':
      return createOllamaClient({
        url: target.url,
        ...(options.ollamaKeepAlive === undefined ? {} : { keepAlive: options.ollamaKeepAlive }),
      });
    case 'openai':
      return createOpenAiClient({ url: target.url });
    case 'exo':
      return createExoClient({
        url: target.url,
        nodes: target.nodes,
        ...(options.exoPollIntervalMs === undefined ? {} : { pollIntervalMs: options.exoPollIntervalMs }),
        ...(options.log === undefined ? {} : { log: options.log }),
      });
  }
}

/**
 * The model id to send to `target`: the Hugging Face id (`exo` alias) for EXO, the model name
 * otherwise. A validated matrix guarantees the alias exists for EXO targets.
 */
export function modelIdFor(target: Pick<MatrixTarget, 'kind'>, model: MatrixModel): string {
  if (target.kind === 'exo') {
    if (model.exo === null) throw new TypeError(`model ${model.name} has no exo alias`);
    return model.exo;
  }
  return model.name;
}
