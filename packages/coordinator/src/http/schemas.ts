/**
 * TypeBox schemas of the REST API: they validate requests, shape (and bound) responses through
 * fastify's serializer, type the handlers and make the OpenAPI document. Response schemas list the
 * fields of the public contract; a field the core adds later stays internal until it is added here.
 */
import { MatrixDecisionSchema, MatrixFileSchema, VERDICTS } from '@kage/bench';
import { ERROR_MESSAGE } from '@kage/common';
import { Type, type TSchema } from '@sinclair/typebox';

function Nullable<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()]);
}

/**
 * A string from a documented set, for responses: serialized as a plain string, so a state the core
 * adds later is passed on rather than failing the response.
 */
function OneOf(values: readonly string[], description?: string) {
  return Type.String({ enum: [...values], ...(description === undefined ? {} : { description }) });
}

const RUN_STATUSES = ['running', 'completed', 'interrupted', 'failed', 'cancelled'] as const;

const Id = Type.String({ minLength: 1, maxLength: 256 });
const IsoTime = Type.String({ description: 'ISO 8601 date-time' });

// ---- Errors ---------------------------------------------------------------------------------

export const ServiceViewSchema = Type.Object({
  name: Type.String(),
  driver: Type.String({ description: '`process` or `systemd`' }),
  state: OneOf(['starting', 'running', 'stopping', 'backoff', 'exited', 'failed']),
  pid: Nullable(Type.Integer()),
  restarts: Type.Integer({ minimum: 0 }),
  healthy: Type.Boolean(),
  health: OneOf(['unknown', 'starting', 'healthy', 'unhealthy']),
  reason: Nullable(Type.String()),
  version: Nullable(
    Type.String({
      description:
        "the service's version as its agent read it when it last became healthy (Ollama's /api/version, the tag of EXO's checkout); null when unknown",
    }),
  ),
});

export const ErrorBodySchema = Type.Object(
  {
    code: Type.String({ description: 'stable error code, e.g. KAGE_ERR_NODE_UNKNOWN' }),
    message: Type.String(),
    problems: Type.Optional(
      Type.Array(Type.Object({ path: Type.String(), reason: Type.String() }), {
        description: 'every problem of a refused request body or matrix',
      }),
    ),
    offline: Type.Optional(Type.Array(Type.String(), { description: 'the offline nodes a refused run names' })),
    service: Type.Optional(Nullable(ServiceViewSchema)),
  },
  { description: 'an error: a stable code and a message for people' },
);

/** Error answers every route documents. */
export const ERROR_RESPONSES = {
  '4xx': ErrorBodySchema,
  '5xx': ErrorBodySchema,
} as const;

// ---- Health ---------------------------------------------------------------------------------

export const HealthSchema = Type.Object({ status: Type.Literal('ok') });

export const ReadinessSchema = Type.Object({
  ready: Type.Boolean(),
  checks: Type.Record(Type.String(), Type.Object({ ok: Type.Boolean(), detail: Type.String() })),
});

// ---- Nodes ----------------------------------------------------------------------------------

export const GpuViewSchema = Type.Object({
  name: Type.String(),
  busy_pct: Nullable(Type.Number()),
  mem_used_bytes: Nullable(Type.Number()),
  mem_total_bytes: Nullable(Type.Number()),
});

export const NodeViewSchema = Type.Object({
  id: Type.String(),
  hostname: Type.String(),
  status: OneOf(['online', 'offline']),
  last_seen: Nullable(IsoTime),
  agent_version: Type.String(),
  services: Type.Array(ServiceViewSchema),
  latest: Nullable(
    Type.Object({
      ts: IsoTime,
      cpu_pct: Nullable(Type.Number()),
      mem_used_bytes: Nullable(Type.Number()),
      mem_total_bytes: Nullable(Type.Number()),
      gpus: Type.Array(GpuViewSchema),
    }),
  ),
  clock_skew_ms: Nullable(Type.Number()),
});

export const MetricPointSchema = Type.Object({
  ts: IsoTime,
  cpu_pct: Nullable(Type.Number()),
  mem_used_bytes: Nullable(Type.Number()),
  mem_total_bytes: Nullable(Type.Number()),
  gpu_busy_pct: Nullable(Type.Number({ description: 'mean over the node’s GPUs' })),
  gpu_mem_used_bytes: Nullable(Type.Number({ description: 'sum over the node’s GPUs' })),
  gpu_mem_total_bytes: Nullable(Type.Number()),
  resolution: OneOf(['raw', 'minute']),
});

export const NodeParamsSchema = Type.Object({ id: Id });

export const MetricsQuerySchema = Type.Object({
  since: Type.Optional(Type.String({ description: 'ISO 8601 date-time; default: until − 1 h' })),
  until: Type.Optional(Type.String({ description: 'ISO 8601 date-time; default: now' })),
});

export const ServiceParamsSchema = Type.Object({ id: Id, name: Id });

export const ServiceActionResultSchema = Type.Object({
  ok: Type.Boolean(),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
  service: Nullable(ServiceViewSchema),
});

// ---- Runs -----------------------------------------------------------------------------------

/**
 * The body of `POST /api/v1/runs`: the matrix file's content as JSON. `decision: null` is accepted
 * as "no decision", as the matrix loader does, so a resolved matrix can be sent back.
 */
export const MatrixBodySchema = Type.Object(
  {
    ...MatrixFileSchema.properties,
    decision: Type.Optional(
      Type.Union([MatrixDecisionSchema, Type.Null()], { [ERROR_MESSAGE]: 'must be a decision mapping or null' }),
    ),
  },
  { additionalProperties: false, description: 'a benchmark matrix (the matrix file as JSON)' },
);

export const RunCreatedSchema = Type.Object({ id: Type.String() });

export const RunListEntrySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: OneOf(RUN_STATUSES),
  started_at: IsoTime,
  finished_at: Nullable(IsoTime),
  cells_total: Type.Integer(),
  cells_done: Type.Integer({ description: 'cells that ended (completed or failed)' }),
  cells_failed: Type.Integer(),
  verdict: Nullable(OneOf(VERDICTS)),
});

export const RunDetailSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: OneOf(RUN_STATUSES),
  started_at: IsoTime,
  finished_at: Nullable(IsoTime),
  error: Nullable(Type.String()),
  progress: Type.Object({
    cells_total: Type.Integer(),
    cells_done: Type.Integer(),
    current: Nullable(Type.Object({ model: Type.String(), target: Type.String(), concurrency: Type.Integer() })),
  }),
});

/** `kage.report/v1`: the top level is fixed; cells and decisions pass on every field the core gives. */
export const ReportSchema = Type.Object({
  schema: Type.String({ description: 'kage.report/v1' }),
  run: Type.Object({
    id: Type.String(),
    name: Type.String(),
    status: OneOf(RUN_STATUSES),
    started_at: IsoTime,
    finished_at: Nullable(IsoTime),
    error: Nullable(Type.String()),
    prompt_policy: Type.Optional(
      Type.Union([Type.Literal('unique_prefix'), Type.Literal('same_prompt')], {
        description: 'whether requests could reuse a server prompt cache (docs/benchmarks.md)',
      }),
    ),
  }),
  cells: Type.Array(
    Type.Object(
      { model: Type.String(), target: Type.String(), concurrency: Type.Integer(), status: Type.String() },
      { additionalProperties: true },
    ),
  ),
  decisions: Type.Array(
    Type.Object(
      { model: Type.String(), candidate: Type.String(), verdict: Type.String(), concurrency: Type.Integer() },
      { additionalProperties: true },
    ),
  ),
  recommendation: Nullable(Type.Object({ verdict: OneOf(VERDICTS), reasons: Type.Array(Type.String()) })),
});

export const RunParamsSchema = Type.Object({ id: Id });

export const ReportQuerySchema = Type.Object({
  format: Type.Optional(
    Type.Union([Type.Literal('json'), Type.Literal('md'), Type.Literal('html')], {
      [ERROR_MESSAGE]: 'must be one of json|md|html',
    }),
  ),
});

// ---- Events ---------------------------------------------------------------------------------

/**
 * A pattern for decimal strings (leading zeros allowed) whose value is at most `max`: the longest
 * have `max`'s digit count, and those compare digit by digit.
 */
function decimalAtMost(max: number): string {
  const digits = String(max);
  const alternatives = digits.length > 1 ? [`[0-9]{1,${digits.length - 1}}`] : [];
  for (let i = 0; i < digits.length; i++) {
    const digit = Number(digits[i]);
    if (digit === 0) continue;
    const rest = digits.length - 1 - i;
    alternatives.push(
      digits.slice(0, i) + (digit === 1 ? '0' : `[0-${digit - 1}]`) + (rest > 0 ? `[0-9]{${rest}}` : ''),
    );
  }
  alternatives.push(digits);
  return `^(?:${alternatives.join('|')})$`;
}

// Event ids are 16-digit numbers (epoch ms × 1000, see the event hub); the bound keeps
// `Number(id)` exact, so a resumption never compares against a rounded id.
const EventId = Type.String({
  pattern: decimalAtMost(Number.MAX_SAFE_INTEGER),
  [ERROR_MESSAGE]: 'must be an event id (an integer >= 0)',
});

export const EventsQuerySchema = Type.Object({
  last_event_id: Type.Optional(EventId),
});

export const EventsHeadersSchema = Type.Object({
  'last-event-id': Type.Optional(EventId),
});

const Bytes = Nullable(Type.Number({ description: 'bytes' }));

export const ModelsViewSchema = Type.Object({
  sources: Type.Array(
    Type.Object({
      node: Type.String(),
      service: Type.String({ description: 'the service’s name in the agent’s config' }),
      api: Type.String({ description: '`ollama` (its /api/ps) or `exo` (its /state)' }),
      read_at: Type.String({ description: 'when the agent read it (agent clock), ISO 8601' }),
      error: Nullable(Type.String({ description: 'why it could not be read; its models are then unknown' })),
    }),
  ),
  ollama: Type.Array(
    Type.Object({
      node: Type.String(),
      service: Type.String(),
      model: Type.String({ description: 'the Ollama tag' }),
      size_bytes: Bytes,
      vram_bytes: Nullable(Type.Number({ description: 'the part of size_bytes in GPU memory' })),
      processor: Nullable(
        Type.String({ description: 'as `ollama ps` prints it: 100% GPU, 100% CPU or 48%/52% CPU/GPU' }),
      ),
      expires_at: Nullable(Type.String({ description: 'when Ollama unloads it if unused; null for never' })),
      context_length: Nullable(Type.Integer()),
      parameter_size: Nullable(Type.String()),
      quantization: Nullable(Type.String()),
    }),
  ),
  exo: Type.Array(
    Type.Object({
      instance_id: Type.String(),
      model: Type.String({ description: 'the Hugging Face id' }),
      kind: Type.String(),
      state: Type.Union([Type.Literal('ready'), Type.Literal('loading'), Type.Literal('failed')]),
      reported_by: Type.String({ description: 'the node whose agent read it from its EXO' }),
      runners: Type.Array(
        Type.Object({
          host: Type.String({ description: 'EXO’s name for the node (its hostname)' }),
          node: Nullable(Type.String({ description: 'the Kage node with that hostname or id' })),
          state: Type.String({ description: 'EXO’s runner tag, e.g. RunnerReady, RunnerLoading' }),
          layers_loaded: Nullable(Type.Integer()),
          total_layers: Nullable(Type.Integer()),
          start_layer: Nullable(Type.Integer()),
          end_layer: Nullable(Type.Integer({ description: 'exclusive' })),
          n_layers: Nullable(Type.Integer()),
          weights_bytes: Nullable(Type.Number({ description: 'its share of the model’s weights, bytes' })),
          error: Nullable(Type.String()),
        }),
      ),
    }),
  ),
});

export const GatewayViewSchema = Type.Object({
  enabled: Type.Boolean({ description: 'false when coordinator.yaml has no gateway section' }),
  listen: Nullable(Type.String({ description: 'where clients connect, host:port' })),
  backends: Type.Array(
    Type.Object({
      id: Type.String(),
      kind: OneOf(['ollama', 'exo']),
      url: Type.String(),
      nodes: Type.Array(Type.String()),
      healthy: Type.Boolean(),
      health_reason: Nullable(Type.String()),
      circuit_open: Type.Boolean({ description: 'after repeated failures: nothing is sent there until it closes' }),
      in_flight: Type.Integer(),
      slots: Type.Integer({ description: 'requests it serves at once (num_parallel)' }),
      version: Nullable(Type.String()),
      loaded: Type.Array(Type.String(), { description: 'models loaded in memory now, by the backend’s names' }),
      models: Type.Integer({ description: 'models it can serve' }),
      rates: Type.Array(
        Type.Object({
          model: Type.String(),
          prefill_tps: Nullable(Type.Number()),
          decode_tps: Nullable(Type.Number()),
          source: OneOf(['bench', 'live']),
        }),
      ),
    }),
  ),
  routes: Type.Object({
    totals: Type.Array(Type.Object({ backend: Type.String(), reason: Type.String(), count: Type.Integer() })),
    recent: Type.Array(
      Type.Object({
        at: IsoTime,
        route: Type.String(),
        model: Type.String(),
        backend: Type.String({ description: '`none` when no backend could answer' }),
        reason: Type.String(),
        status: Type.Integer(),
        outcome: Type.String(),
        ttft_ms: Nullable(Type.Number()),
        duration_ms: Type.Number(),
      }),
      { description: 'the latest requests, newest first' },
    ),
  }),
});
