/**
 * Runs one benchmark request on this node for the coordinator (the `RunProbe` command) with the
 * same clients and timing as `kage bench`, so a probe measured here and a cell measured from the
 * coordinator are the same kind of number.
 */
// The clients entry only: the engine's SQLite store, statistics and matrix parser stay unloaded
// in an agent, and the tokenizer loads on the first probe that needs it.
import { createClient, type RequestMetrics, type TargetKind } from '@kage/bench/clients';
import type { Logger } from 'pino';
import type { CommandContext, ProbeRequest } from '../stream/command-dispatcher.js';
import { StreamError } from '../stream/errors.js';

const DEFAULT_PROBE_TIMEOUT_MS = 120_000;
const TARGET_KINDS: readonly TargetKind[] = ['ollama', 'exo', 'openai'];

export function createProbeHandler(log: Logger) {
  return async (request: ProbeRequest, context: CommandContext): Promise<RequestMetrics> => {
    if (!(TARGET_KINDS as readonly string[]).includes(request.target_kind)) {
      throw new StreamError(
        'KAGE_ERR_AGENT_PROBE_UNSUPPORTED',
        `probe target kind ${JSON.stringify(request.target_kind)} is not one of ${TARGET_KINDS.join(', ')}`,
      );
    }
    const client = createClient(
      { id: 'probe', kind: request.target_kind as TargetKind, url: request.url, nodes: [] },
      { log: log.child({ component: 'probe' }) },
    );
    try {
      return await client.chat({
        model: request.model,
        prompt: request.prompt,
        maxTokens: request.max_tokens,
        numCtx: request.num_ctx,
        temperature: request.temperature,
        seed: request.seed,
        timeoutMs: request.timeout_ms ?? DEFAULT_PROBE_TIMEOUT_MS,
        signal: context.signal,
      });
    } finally {
      client.close();
    }
  };
}
