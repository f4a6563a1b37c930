/**
 * Target health probes run around every cell. Ollama's own liveness answer is `GET /` → 200
 * "Ollama is running"; the result is recorded before and after each cell so a report
 * shows whether the benchmark left Ollama as it found it. Other kinds only get a
 * reachability probe: any HTTP answer means something is listening.
 */
import { createAgents, destroyAgents, exchange, msBetween } from '../http-transport.js';
import type { TargetKind } from '../matrix-schema.js';
import { endpoint } from '../protocol-client.js';

/** One health or reachability check. */
export interface TargetHealth {
  /** Something answered HTTP at all. */
  reachable: boolean;
  /** Ollama: 200 with "Ollama is running". Other kinds: reachable. */
  healthy: boolean;
  status: number | null;
  /** What was seen: the body's start, or the connection error. */
  detail: string;
  /** Wall clock of the check (ISO 8601). */
  checked_at: string;
  latency_ms: number;
}

/** Path probed per kind: Ollama's liveness root, EXO's cheapest endpoint, the OpenAI model list. */
const PROBE_PATH: Record<TargetKind, string> = { ollama: '/', exo: '/node_id', openai: '/v1/models' };

/** Checks a target. Never rejects. */
export async function checkTarget(
  kind: TargetKind,
  url: string,
  options: { timeoutMs?: number; signal?: AbortSignal | undefined } = {},
): Promise<TargetHealth> {
  const agents = createAgents();
  const checkedAt = new Date().toISOString();
  let body = '';
  try {
    const r = await exchange(
      {
        url: endpoint(url, PROBE_PATH[kind]),
        method: 'GET',
        accept: '*/*',
        agents,
        timeoutMs: options.timeoutMs ?? 5000,
        signal: options.signal,
      },
      (chunk) => {
        body += chunk;
        return body.length > 4096 ? 'stop' : 'continue';
      },
    );
    const latency = msBetween(r.tSendNs, r.tEndNs);
    if (r.status === null) {
      const why =
        r.end.kind === 'connection' || r.end.kind === 'reset'
          ? r.end.error.message
          : r.end.kind === 'timeout'
            ? `no answer within ${options.timeoutMs ?? 5000} ms`
            : r.end.kind;
      return {
        reachable: false,
        healthy: false,
        status: null,
        detail: why,
        checked_at: checkedAt,
        latency_ms: latency,
      };
    }
    const text = (r.errorBody ?? body).trim().slice(0, 200);
    const healthy = kind === 'ollama' ? r.status === 200 && /ollama is running/i.test(text) : true;
    return {
      reachable: true,
      healthy,
      status: r.status,
      detail: text === '' ? `HTTP ${r.status}` : `HTTP ${r.status}: ${text}`,
      checked_at: checkedAt,
      latency_ms: latency,
    };
  } finally {
    destroyAgents(agents);
  }
}
