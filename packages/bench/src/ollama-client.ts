/**
 * Ollama native client: `POST /api/chat` streamed as NDJSON (one JSON object per `\n`-terminated
 * line). A successful stream ends with a `done:true` line carrying the server's counters in
 * nanoseconds; an error after bytes were written arrives as a final `{"error": "..."}` line with
 * status 200.
 */
import { createAgents, destroyAgents, exchange, type AgentPair } from './http-transport.js';
import {
  noopPrepareResult,
  endpoint,
  type ChatRequest,
  type PrepareResult,
  type ProtocolClient,
} from './protocol-client.js';
import { classifyServerMessage, RequestRecorder, type RequestMetrics } from './request-metrics.js';
import { preloadTokenizer } from './text-tokens.js';

/** Options of {@link createOllamaClient}. */
export interface OllamaClientOptions {
  /** Base URL, e.g. `http://100.77.248.9:11434`. */
  url: string;
  /**
   * `keep_alive` sent with every request. Unset by default: the node's own setting
   * (`OLLAMA_KEEP_ALIVE`, 5 min) applies, because holding a large model resident for longer could
   * evict models the node's users rely on. Requests of a cell follow one another, so the default
   * keeps the model loaded; a reload would show in `load_duration` and in that request's TTFT.
   */
  keepAlive?: string | number;
}

/** Creates an unstarted Ollama client (no connection until the first request). */
export function createOllamaClient(options: OllamaClientOptions): ProtocolClient {
  const url = options.url.replace(/\/+$/, '');
  const keepAlive = options.keepAlive;
  const agents: AgentPair = createAgents();
  let closed = false;
  return {
    kind: 'ollama',
    url,
    prepare(): Promise<PrepareResult> {
      return Promise.resolve(noopPrepareResult());
    },
    chat(request: ChatRequest): Promise<RequestMetrics> {
      return streamOllamaChat(url, agents, keepAlive, request);
    },
    close(): void {
      if (closed) return;
      closed = true;
      destroyAgents(agents);
    },
  };
}

async function streamOllamaChat(
  url: string,
  agents: AgentPair,
  keepAlive: string | number | undefined,
  request: ChatRequest,
): Promise<RequestMetrics> {
  // Before the clock starts: a stream cut before Ollama's final counts is counted by tokenizing.
  await preloadTokenizer();
  const options: Record<string, number> = { num_predict: request.maxTokens };
  if (request.numCtx != null) options['num_ctx'] = request.numCtx;
  if (request.temperature != null) options['temperature'] = request.temperature;
  if (request.seed != null) options['seed'] = request.seed;
  const body = JSON.stringify({
    model: request.model,
    messages: [{ role: 'user', content: request.prompt }],
    stream: true,
    ...(keepAlive !== undefined && { keep_alive: keepAlive }),
    options,
  });

  const rec = new RequestRecorder('ollama', request.model);
  let pending = '';
  let done = false;
  const onLine = (line: string, at: bigint): 'continue' | 'stop' | 'done' => {
    if (line.trim() === '' || done) return 'continue';
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      rec.fail('bad_line', `not JSON: ${line.slice(0, 120)}`);
      return 'stop';
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      rec.fail('bad_line', `not a JSON object: ${line.slice(0, 120)}`);
      return 'stop';
    }
    const o = parsed as Record<string, unknown>;
    if (o['error'] !== undefined) {
      const message = typeof o['error'] === 'string' ? o['error'] : JSON.stringify(o['error']);
      rec.fail(classifyServerMessage(message, 'stream_error'), message);
      return 'stop';
    }
    const msg = o['message'];
    if (msg !== null && typeof msg === 'object') {
      const m = msg as Record<string, unknown>;
      const hasAnswer = nonEmpty(m['content']) || (Array.isArray(m['tool_calls']) && m['tool_calls'].length > 0);
      if (hasAnswer) rec.token(at, 'answer', textOf(m['content']));
      else if (nonEmpty(m['thinking'])) rec.token(at, 'reasoning', textOf(m['thinking']));
    }
    if (o['done'] === true) {
      done = true;
      readFinalCounters(rec, o);
      rec.complete();
      return 'done';
    }
    return 'continue';
  };

  const result = await exchange(
    {
      url: endpoint(url, '/api/chat'),
      method: 'POST',
      body,
      accept: 'application/x-ndjson',
      agents,
      timeoutMs: request.timeoutMs,
      signal: request.signal,
    },
    (chunk, at) => {
      pending += chunk;
      let nl = pending.indexOf('\n');
      while (nl !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const verdict = onLine(line, at);
        if (verdict !== 'continue') return verdict;
        nl = pending.indexOf('\n');
      }
      return 'continue';
    },
  );
  // Like ollama-js, a last line without its newline is still parsed when the stream ends cleanly.
  if (result.end.kind === 'ended' && pending.trim() !== '' && !rec.failed) onLine(pending, result.tEndNs);
  return rec.finish(result, request.timeoutMs);
}

/** Reads the `done:true` line's counters; durations are integer nanoseconds. */
function readFinalCounters(rec: RequestRecorder, o: Record<string, unknown>): void {
  const num = (k: string): number | null => (typeof o[k] === 'number' ? o[k] : null);
  const ns = (k: string): number | null => {
    const v = num(k);
    return v === null ? null : v / 1e6;
  };
  rec.serverOutputTokens = num('eval_count');
  rec.promptTokens = num('prompt_eval_count');
  rec.server.load_ms = ns('load_duration');
  rec.server.prompt_eval_ms = ns('prompt_eval_duration');
  rec.server.eval_ms = ns('eval_duration');
  rec.server.total_ms = ns('total_duration');
  const evalCount = num('eval_count');
  const evalDuration = num('eval_duration');
  if (evalCount !== null && evalDuration !== null && evalDuration > 0) {
    rec.serverDecodeTps = (evalCount / evalDuration) * 1e9;
  }
  rec.finishReason = typeof o['done_reason'] === 'string' ? o['done_reason'] : null;
}

function nonEmpty(v: unknown): boolean {
  return typeof v === 'string' && v !== '';
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
