/**
 * `gateway:` of coordinator.yaml: the lab's one Ollama/OpenAI-compatible endpoint. The schema of
 * the section as written, and its resolution (defaults, listen address, backend URLs, client
 * tokens). Backends have the shape of matrix targets, so a matrix's `targets:` can be pasted in.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { targetUrlProblem } from '@kage/bench';
import { ERROR_MESSAGE } from '@kage/common';
import type { Ctx } from './config-context.js';
import type { HostPort } from './listen-address.js';

export const GATEWAY_DEFAULTS = Object.freeze({
  /** Requests a backend runs at once when nothing better is known (Ollama's OLLAMA_NUM_PARALLEL default is 1). */
  num_parallel: 1,
  /** TCP connect to a backend. */
  connect_timeout_ms: 3_000,
  /**
   * Response head from a backend. Ollama sends it with the first token, after the whole prefill,
   * which on a CPU node and a long prompt takes minutes: a generous bound, not a latency target.
   */
  first_byte_timeout_ms: 600_000,
  /** How often every backend's health, models and loaded models are read. */
  health_interval_ms: 2_000,
  /** Failures in a row that open a backend's circuit, and how long it stays open. */
  breaker_failures: 3,
  breaker_open_ms: 10_000,
  /** Largest request body accepted (413 above it). */
  max_body_bytes: 8 * 1024 * 1024,
  /** Send a conversation's next request to the backend that served it, to reuse its prompt cache. */
  sticky: true,
});

const Str = (message: string) => Type.String({ minLength: 1, [ERROR_MESSAGE]: message });
const Int = (minimum: number, maximum: number, unit: string) =>
  Type.Integer({ minimum, maximum, [ERROR_MESSAGE]: `must be an integer from ${minimum} to ${maximum} (${unit})` });

export const GatewayBackendSchema = Type.Object(
  {
    id: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
      [ERROR_MESSAGE]: 'must be 1-64 letters, digits, ".", "_" or "-", e.g. ollama-srv1',
    }),
    kind: Type.Union([Type.Literal('ollama'), Type.Literal('exo')], { [ERROR_MESSAGE]: 'must be ollama or exo' }),
    url: Str('must be the server root URL, e.g. http://100.77.248.9:11434'),
    nodes: Type.Optional(Type.Array(Str('must be a node name'), { [ERROR_MESSAGE]: 'must be a list of node names' })),
    /** Requests the backend runs at once (Ollama's OLLAMA_NUM_PARALLEL; EXO's batch size). */
    num_parallel: Type.Optional(Int(1, 256, 'requests at once')),
  },
  { additionalProperties: false },
);

export const GatewayModelSchema = Type.Object(
  {
    name: Str('must be an Ollama model name, e.g. qwen2.5:3b'),
    exo: Str('must be a Hugging Face id, e.g. mlx-community/Qwen2.5-3B-Instruct-4bit'),
  },
  { additionalProperties: false },
);

export const GatewaySchema = Type.Object(
  {
    listen: Str('must be "host:port", e.g. "0.0.0.0:11500"'),
    backends: Type.Array(GatewayBackendSchema, {
      minItems: 1,
      [ERROR_MESSAGE]: 'must list at least one backend ({ id, kind, url, nodes })',
    }),
    models: Type.Optional(Type.Array(GatewayModelSchema, { [ERROR_MESSAGE]: 'must be a list of { name, exo }' })),
    /** Bearer tokens clients must present, one per line. Without it the gateway is open (a tailnet's ACLs guard it). */
    client_tokens_file: Type.Optional(Str('must be a path')),
    connect_timeout_ms: Type.Optional(Int(100, 60_000, 'milliseconds')),
    first_byte_timeout_ms: Type.Optional(Int(1_000, 3_600_000, 'milliseconds')),
    health_interval_ms: Type.Optional(Int(200, 60_000, 'milliseconds')),
    breaker_failures: Type.Optional(Int(1, 100, 'failures in a row')),
    breaker_open_ms: Type.Optional(Int(100, 600_000, 'milliseconds')),
    max_body_bytes: Type.Optional(Int(1024, 256 * 1024 * 1024, 'bytes')),
    sticky: Type.Optional(Type.Boolean({ [ERROR_MESSAGE]: 'must be true or false' })),
  },
  { additionalProperties: false, [ERROR_MESSAGE]: 'must be a mapping of keys (listen, backends, models, …)' },
);

export type GatewayFile = Static<typeof GatewaySchema>;

export interface GatewayBackendConfig {
  readonly id: string;
  readonly kind: 'ollama' | 'exo';
  /** Root URL without a trailing slash. */
  readonly url: string;
  readonly nodes: readonly string[];
  readonly numParallel: number;
}

export interface GatewayConfig {
  readonly host: string;
  /** 0 = any free port (tests). */
  readonly port: number;
  readonly backends: readonly GatewayBackendConfig[];
  readonly models: ReadonlyArray<{ readonly name: string; readonly exo: string }>;
  /** Empty: no client authentication. Not enumerable. */
  readonly clientTokens: ReadonlySet<string>;
  readonly connectTimeoutMs: number;
  readonly firstByteTimeoutMs: number;
  readonly healthIntervalMs: number;
  readonly breakerFailures: number;
  readonly breakerOpenMs: number;
  readonly maxBodyBytes: number;
  readonly sticky: boolean;
}

/**
 * Resolves a `gateway:` section the schema already checked (`g` may still hold values it
 * rejected: each rule skips what is not its type), its `listen` parsed by the caller (which checks
 * it against the other listeners). Records problems in `ctx`; null when any.
 */
export async function resolveGateway(
  outer: Ctx,
  g: Partial<GatewayFile>,
  listen: HostPort | null,
): Promise<GatewayConfig | null> {
  let failed = false;
  const ctx: Ctx = {
    ...outer,
    problem: (path, reason) => {
      failed = true;
      outer.problem(path, reason);
    },
  };
  const backends: GatewayBackendConfig[] = [];
  const seen = new Map<string, number>();
  (Array.isArray(g.backends) ? g.backends : []).forEach((b, i) => {
    if (typeof b !== 'object' || b === null) return;
    if (typeof b.id === 'string') {
      const first = seen.get(b.id);
      if (first !== undefined)
        ctx.problem(
          ['gateway', 'backends', i, 'id'],
          `duplicate backend id "${b.id}" (first used by backends[${first}])`,
        );
      else seen.set(b.id, i);
    }
    if (typeof b.url === 'string') {
      const reason = targetUrlProblem(b.url);
      if (reason !== null) ctx.problem(['gateway', 'backends', i, 'url'], reason);
    }
    if (typeof b.id === 'string' && typeof b.url === 'string' && (b.kind === 'ollama' || b.kind === 'exo')) {
      backends.push({
        id: b.id,
        kind: b.kind,
        url: b.url.replace(/\/+$/, ''),
        nodes: Array.isArray(b.nodes) ? b.nodes.filter((n): n is string => typeof n === 'string') : [],
        numParallel: typeof b.num_parallel === 'number' ? b.num_parallel : GATEWAY_DEFAULTS.num_parallel,
      });
    }
  });
  let clientTokens = new Set<string>();
  if (typeof g.client_tokens_file === 'string') {
    const file = isAbsolute(g.client_tokens_file) ? g.client_tokens_file : resolve(ctx.baseDir, g.client_tokens_file);
    try {
      const lines = (await readFile(file, 'utf8')).split('\n').map((l) => l.trim());
      clientTokens = new Set(lines.filter((l) => l !== '' && !l.startsWith('#')));
      if (clientTokens.size === 0)
        ctx.problem(['gateway', 'client_tokens_file'], `${file} holds no token (one per line)`);
      for (const t of clientTokens) {
        if (t.length < 16 || !/^[\x21-\x7e]+$/.test(t)) {
          ctx.problem(
            ['gateway', 'client_tokens_file'],
            `${file}: every token must be at least 16 printable ASCII characters without spaces (e.g. openssl rand -hex 24)`,
          );
          break;
        }
      }
    } catch (err) {
      ctx.problem(
        ['gateway', 'client_tokens_file'],
        `${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'EIO'})`,
      );
    }
  }
  if (failed || listen === null) return null;
  const d = GATEWAY_DEFAULTS;
  const config: Omit<GatewayConfig, 'clientTokens'> = {
    host: listen.host,
    port: listen.port,
    backends,
    models: (g.models ?? []).map((m) => ({ name: m.name, exo: m.exo })),
    connectTimeoutMs: g.connect_timeout_ms ?? d.connect_timeout_ms,
    firstByteTimeoutMs: g.first_byte_timeout_ms ?? d.first_byte_timeout_ms,
    healthIntervalMs: g.health_interval_ms ?? d.health_interval_ms,
    breakerFailures: g.breaker_failures ?? d.breaker_failures,
    breakerOpenMs: g.breaker_open_ms ?? d.breaker_open_ms,
    maxBodyBytes: g.max_body_bytes ?? d.max_body_bytes,
    sticky: g.sticky ?? d.sticky,
  };
  // Not enumerable: logging the config never prints a client token.
  Object.defineProperty(config, 'clientTokens', { value: clientTokens, enumerable: false });
  return config as GatewayConfig; // clientTokens is defined just above
}
