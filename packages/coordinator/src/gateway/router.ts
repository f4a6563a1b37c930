/**
 * Which backend serves a request, in order of preference. The rules, in order:
 *   1. only backends that have the model (under the name that backend uses), are healthy, whose
 *      circuit is closed, and that no benchmark run is measuring right now;
 *   2. one where the model is already loaded (no load time, no eviction of another model);
 *   3. one with a free slot (it starts now instead of queueing);
 *   4. the least expected completion time: queue, prefill and decode at the rates measured for
 *      that model on that backend (a benchmark's, then the gateway's own);
 * and, when `sticky`, a conversation's next turn goes back to the backend that served the last
 * one while that backend is as good on rules 2-3, so its prompt cache is reused.
 * The caller tries the list in order and moves on only before the first byte reached the client.
 */
import { createHash } from 'node:crypto';
import type { BackendState } from './backend-state.js';

/** Assumed when nothing was measured yet: a mid-size model on a CPU node. */
const DEFAULT_PREFILL_TPS = 100;
const DEFAULT_DECODE_TPS = 10;
/** Tokens a request without a limit is assumed to generate. */
const DEFAULT_OUTPUT_TOKENS = 256;
/** Conversations remembered for stickiness, and for how long. */
const STICKY_ENTRIES = 10_000;
const STICKY_TTL_MS = 30 * 60_000;

/** The names of one model: what each kind of backend calls it. */
export interface ModelRoute {
  /** What the client asked for; answers carry it back. */
  requested: string;
  ollama: string | null;
  exo: string | null;
}

export interface RouteRequest {
  model: ModelRoute;
  /** Prompt size estimate in tokens. */
  promptTokens: number;
  /** The request's output limit, or null. */
  maxTokens: number | null;
  /** Identifies a conversation (the start of its messages); null: not sticky. */
  conversation: string | null;
}

export interface RouteChoice {
  backend: BackendState;
  /** The model name to send to this backend. */
  backendModel: string;
  /** Why it was ranked there: `loaded`, `free-slot`, `fastest`, `sticky`, … (metrics, logs). */
  reason: string;
  expectedMs: number;
}

export type RouteResult =
  | { kind: 'routes'; choices: RouteChoice[] }
  /** No backend knows the model at all: the client's 404. */
  | { kind: 'unknown-model'; known: string[] }
  /** Backends have it but none can take it now: 503, with why for each. */
  | { kind: 'unavailable'; reasons: Record<string, string> };

export interface Router {
  route(request: RouteRequest, busy: ReadonlySet<string>): RouteResult;
  /** Remembers which backend served a conversation. */
  served(conversation: string | null, backendId: string): void;
}

export function createRouter(backends: readonly BackendState[], options: { sticky: boolean }): Router {
  const sticky = new Map<string, { backend: string; at: number }>();

  return {
    route(request, busy) {
      const now = Date.now();
      const having: Array<{ b: BackendState; name: string }> = [];
      for (const b of backends) {
        const name = b.config.kind === 'ollama' ? request.model.ollama : request.model.exo;
        if (name !== null && b.models.has(name)) having.push({ b, name });
      }
      if (having.length === 0) {
        const known = new Set<string>();
        for (const b of backends) for (const m of b.models) known.add(m);
        return { kind: 'unknown-model', known: [...known].sort() };
      }
      const reasons: Record<string, string> = {};
      const ranked: Array<RouteChoice & { key: [number, number, number] }> = [];
      for (const { b, name } of having) {
        if (!b.healthy) reasons[b.id] = `down: ${b.healthReason}`;
        else if (b.breakerOpen(now)) reasons[b.id] = 'circuit open after repeated failures';
        else if (busy.has(b.id)) reasons[b.id] = 'a benchmark run is measuring it';
        else {
          const loaded = b.loaded.has(name);
          const free = b.freeSlots() > 0;
          const expectedMs = expectedCompletionMs(b, name, request, loaded);
          const reason = loaded ? (free ? 'loaded' : 'loaded-queued') : free ? 'free-slot' : 'queued';
          ranked.push({
            backend: b,
            backendModel: name,
            reason,
            expectedMs,
            key: [loaded ? 0 : 1, free ? 0 : 1, expectedMs],
          });
        }
      }
      if (ranked.length === 0) return { kind: 'unavailable', reasons };
      ranked.sort((x, y) => x.key[0] - y.key[0] || x.key[1] - y.key[1] || x.key[2] - y.key[2]);
      const first = ranked[0];
      if (
        first !== undefined &&
        ranked.length > 1 &&
        ranked[1]?.key[0] === first.key[0] &&
        ranked[1]?.key[1] === first.key[1]
      ) {
        first.reason = 'fastest';
      }
      if (options.sticky && request.conversation !== null && first !== undefined) {
        const remembered = sticky.get(request.conversation);
        const i =
          remembered === undefined || now - remembered.at > STICKY_TTL_MS
            ? -1
            : ranked.findIndex((r) => r.backend.id === remembered.backend);
        const match = ranked[i];
        if (i > 0 && match !== undefined && match.key[0] === first.key[0] && match.key[1] === first.key[1]) {
          ranked.splice(i, 1);
          match.reason = 'sticky';
          ranked.unshift(match);
        } else if (i === 0) {
          first.reason = 'sticky';
        }
      }
      return { kind: 'routes', choices: ranked.map(({ key: _key, ...choice }) => choice) };
    },
    served(conversation, backendId) {
      if (!options.sticky || conversation === null) return;
      sticky.delete(conversation);
      sticky.set(conversation, { backend: backendId, at: Date.now() });
      // A Map iterates in insertion order: the first key is the least recently served.
      if (sticky.size > STICKY_ENTRIES) sticky.delete(sticky.keys().next().value as string);
    },
  };
}

/** Queue wait, prefill and decode time of `request` on `b`, in milliseconds. */
export function expectedCompletionMs(b: BackendState, model: string, request: RouteRequest, loaded: boolean): number {
  const rates = b.rates(model);
  const prefillMs = (request.promptTokens / (rates?.prefillTps ?? DEFAULT_PREFILL_TPS)) * 1000;
  const decodeMs = ((request.maxTokens ?? DEFAULT_OUTPUT_TOKENS) / (rates?.decodeTps ?? DEFAULT_DECODE_TPS)) * 1000;
  const own = prefillMs + decodeMs;
  // Requests beyond the free slots wait for one to end: about one request's time each.
  const waiting = Math.max(0, b.inFlight - b.config.numParallel + 1);
  // Loading weights from disk: seconds; only a tie-break here, rule 2 already prefers loaded models.
  const loadMs = loaded ? 0 : 5_000;
  return loadMs + own * (1 + waiting);
}

/** A conversation's key: the model and the start of its messages, hashed (no text is kept). */
export function conversationKey(model: string, opening: readonly string[]): string | null {
  if (opening.length === 0) return null;
  return createHash('sha256').update(model).update('\0').update(opening.join('\0')).digest('base64url').slice(0, 22);
}
