/**
 * Which backend serves a request, in order of preference. Only backends that have the model (under
 * the name that backend uses), are healthy, whose circuit is closed and that no benchmark run is
 * measuring right now are eligible. Among them the one expected to finish the request first wins:
 *
 *   expected = wait for a slot + load the model (if not loaded) + prefill + decode
 *
 * so "loaded first" and "a free slot first" are costs, not absolute rules: a model loaded on a
 * slow CPU node still wins over a fast node that would spend seconds loading it, but not over one
 * whose load plus generation is sooner by the measured speeds (a benchmark's, then the gateway's
 * own, per backend and model; load times from Ollama's `load_duration`). Ties go to a loaded
 * model, then to a free slot. With `sticky`, a conversation's next turn goes back to the backend
 * that served its last one while that one is expected within {@link STICKY_SLACK} of the best,
 * so its prompt cache is reused. The caller tries the list in order and moves on only before the
 * first byte reached the client.
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
/** A conversation stays on its backend while that one is expected at most this much slower. */
export const STICKY_SLACK = 1.25;
/** Loading a model's weights, until the gateway has seen that model load on that backend. */
const DEFAULT_LOAD_MS = 3_000;

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
  /** The model was loaded there when the route was chosen. */
  loaded: boolean;
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
      const ranked: Array<RouteChoice & { free: boolean }> = [];
      for (const { b, name } of having) {
        if (!b.healthy) reasons[b.id] = `down: ${b.healthReason}`;
        else if (b.breakerOpen(now)) reasons[b.id] = 'circuit open after repeated failures';
        else if (busy.has(b.id)) reasons[b.id] = 'a benchmark run is measuring it';
        else {
          const loaded = b.loaded.has(name);
          const free = b.freeSlots() > 0;
          const expectedMs = expectedCompletionMs(b, name, request, loaded);
          const reason = loaded ? (free ? 'loaded' : 'loaded-queued') : free ? 'free-slot' : 'queued';
          ranked.push({ backend: b, backendModel: name, reason, expectedMs, loaded, free });
        }
      }
      if (ranked.length === 0) return { kind: 'unavailable', reasons };
      ranked.sort(
        (x, y) => x.expectedMs - y.expectedMs || Number(y.loaded) - Number(x.loaded) || Number(y.free) - Number(x.free),
      );
      const first = ranked[0];
      // Chosen over a loaded model or a free slot elsewhere: it was the speed that decided.
      if (first !== undefined && ranked.some((r) => (r.loaded && !first.loaded) || (r.free && !first.free))) {
        first.reason = 'fastest';
      }
      if (options.sticky && request.conversation !== null && first !== undefined) {
        const remembered = sticky.get(request.conversation);
        const i =
          remembered === undefined || now - remembered.at > STICKY_TTL_MS
            ? -1
            : ranked.findIndex((r) => r.backend.id === remembered.backend);
        const match = ranked[i];
        if (match !== undefined && match.expectedMs <= first.expectedMs * STICKY_SLACK) {
          ranked.splice(i, 1);
          match.reason = 'sticky';
          ranked.unshift(match);
        }
      }
      return { kind: 'routes', choices: ranked.map(({ free: _free, ...choice }) => choice) };
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

/** Wait for a slot, load, prefill and decode time of `request` on `b`, in milliseconds. */
export function expectedCompletionMs(b: BackendState, model: string, request: RouteRequest, loaded: boolean): number {
  const rates = b.rates(model);
  const prefillMs = (request.promptTokens / (rates?.prefillTps ?? DEFAULT_PREFILL_TPS)) * 1000;
  const decodeMs = ((request.maxTokens ?? DEFAULT_OUTPUT_TOKENS) / (rates?.decodeTps ?? DEFAULT_DECODE_TPS)) * 1000;
  const own = prefillMs + decodeMs;
  // Requests beyond the free slots wait for one to end: about one request's time each.
  const waiting = Math.max(0, b.inFlight - b.config.numParallel + 1);
  const loadMs = loaded ? 0 : (b.loadMs(model) ?? DEFAULT_LOAD_MS);
  return loadMs + own * (1 + waiting);
}

/** A conversation's key: the model and the start of its messages, hashed (no text is kept). */
export function conversationKey(model: string, opening: readonly string[]): string | null {
  if (opening.length === 0) return null;
  return createHash('sha256').update(model).update('\0').update(opening.join('\0')).digest('base64url').slice(0, 22);
}
