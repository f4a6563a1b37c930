/**
 * JSON Schema (TypeBox) of the benchmark matrix file (docs/benchmarks.md). The same schema
 * validates a YAML/JSON file and the JSON body of `POST /api/v1/runs`. Structural rules live here;
 * rules that span keys (duplicate ids, URLs, aliases, threshold order) are in `matrix.ts`.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

/** Message used for union errors, where TypeBox only says "Expected union value". */
const errorMessage = 'errorMessage';

/** Target protocol: Ollama native NDJSON, EXO 1.x, or any OpenAI-compatible server. */
export const TARGET_KINDS = ['ollama', 'exo', 'openai'] as const;
/** One of {@link TARGET_KINDS}. */
export type TargetKind = (typeof TARGET_KINDS)[number];

/**
 * Where a target's requests are sent from when a coordinator runs the matrix: by the node agent on
 * the target's first node (`agent`), or by the coordinator itself. A standalone `kage bench run`
 * ignores it and always sends from its own machine.
 */
export const PROBE_PLACES = ['agent', 'coordinator'] as const;
/** One of {@link PROBE_PLACES}. */
export type ProbePlace = (typeof PROBE_PLACES)[number];

const NonEmptyString = Type.String({ minLength: 1 });

/** `null` is accepted where the resolved matrix has `null`, so a resolved matrix validates again. */
function Nullable<T extends TSchema>(schema: T, message: string) {
  return Type.Union([schema, Type.Null()], { [errorMessage]: message });
}
const PositiveInt = Type.Integer({ minimum: 1 });

/** `targets[*]`: where to send requests and which nodes serve them. */
export const MatrixTargetSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
    kind: Type.Union(
      TARGET_KINDS.map((k) => Type.Literal(k)),
      { [errorMessage]: `must be one of ${TARGET_KINDS.join('|')}` },
    ),
    url: NonEmptyString,
    /** Hostnames serving this target; required (non-empty) for `exo`, informational otherwise. */
    nodes: Type.Optional(Type.Array(NonEmptyString, { uniqueItems: true })),
    /** Where a coordinator sends the requests from; `agent` needs `nodes`. Ignored by standalone runs. */
    probe: Type.Optional(
      Type.Union(
        PROBE_PLACES.map((p) => Type.Literal(p)),
        { [errorMessage]: `must be one of ${PROBE_PLACES.join('|')}` },
      ),
    ),
  },
  { additionalProperties: false },
);

/** `models[*]`: the Ollama/OpenAI name, and the Hugging Face id EXO needs. */
export const MatrixModelSchema = Type.Object(
  {
    name: NonEmptyString,
    exo: Type.Optional(Nullable(NonEmptyString, 'must be a Hugging Face repo id (string) or null')),
  },
  { additionalProperties: false },
);

/** `decision`: which target is the candidate, which are baselines, and the thresholds (fractions). */
export const MatrixDecisionSchema = Type.Object(
  {
    candidate: NonEmptyString,
    baselines: Type.Array(NonEmptyString, { minItems: 1, uniqueItems: true }),
    go_speedup: Type.Optional(Type.Number({ exclusiveMinimum: -1 })),
    evaluate_speedup: Type.Optional(Type.Number({ exclusiveMinimum: -1 })),
    max_ttft_ratio: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  },
  { additionalProperties: false },
);

/** The whole matrix file as written (snake_case, optional keys not yet defaulted). */
export const MatrixFileSchema = Type.Object(
  {
    name: NonEmptyString,
    prompt: NonEmptyString,
    max_tokens: Type.Optional(PositiveInt),
    repetitions: Type.Optional(PositiveInt),
    warmup: Type.Optional(Type.Integer({ minimum: 0 })),
    concurrency: Type.Optional(
      Type.Union([PositiveInt, Type.Array(PositiveInt, { minItems: 1, uniqueItems: true })], {
        [errorMessage]: 'must be a positive integer or a non-empty list of distinct positive integers',
      }),
    ),
    targets: Type.Array(MatrixTargetSchema, { minItems: 1 }),
    models: Type.Array(MatrixModelSchema, { minItems: 1 }),
    /** `null` is treated as absent (see `matrix.ts`); kept out of the schema so errors keep their paths. */
    decision: Type.Optional(MatrixDecisionSchema),
    // Optional extras (marked "extra" in the package README's matrix table).
    num_ctx: Type.Optional(PositiveInt),
    temperature: Type.Optional(
      Nullable(Type.Number({ minimum: 0 }), 'must be a number >= 0, or null for the server default'),
    ),
    seed: Type.Optional(Nullable(Type.Integer(), 'must be an integer, or null for none')),
    unique_prompt_prefix: Type.Optional(Type.Boolean()),
    request_timeout_s: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    exo_ready_timeout_s: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    exo_download_timeout_s: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  },
  { additionalProperties: false },
);

/** A matrix file as written. */
export type MatrixFile = Static<typeof MatrixFileSchema>;

/** Defaults applied by `parseMatrix` (values in the file's units). */
export const MATRIX_DEFAULTS = {
  max_tokens: 256,
  repetitions: 5,
  warmup: 1,
  concurrency: [1],
  go_speedup: 0.3,
  evaluate_speedup: 0.1,
  max_ttft_ratio: 2.0,
  /** Ollama's own default context depends on VRAM, so benchmarks always send one. */
  num_ctx: 4096,
  /** A fresh prefix per request defeats prompt/prefix caching, which would flatter TTFT. */
  unique_prompt_prefix: true,
  request_timeout_s: 300,
  /** Placing and loading a 32B+ model across nodes takes many minutes (downloads not counted). */
  exo_ready_timeout_s: 1800,
  /** A 70B model is ~40 GB per node: about an hour at 100 Mbit/s. */
  exo_download_timeout_s: 7200,
} as const;

/** A target after validation: `nodes` always present, `url` without a trailing slash. */
export interface MatrixTarget {
  id: string;
  kind: TargetKind;
  url: string;
  nodes: string[];
  /**
   * Present only when the file sets it, so matrices and reports that do not use it stay as they
   * were. Absent: a coordinator picks `agent` when the first node has an agent, else `coordinator`.
   */
  probe?: ProbePlace;
}

/** A model after validation: `exo` is `null` when the file gave none. */
export interface MatrixModel {
  name: string;
  exo: string | null;
}

/** The decision block with every threshold filled in. */
export interface MatrixDecision {
  candidate: string;
  baselines: string[];
  go_speedup: number;
  evaluate_speedup: number;
  max_ttft_ratio: number;
}

/** A validated, defaulted, deep-frozen matrix. Field names are the file's. */
export interface Matrix {
  name: string;
  prompt: string;
  max_tokens: number;
  repetitions: number;
  warmup: number;
  concurrency: number[];
  targets: MatrixTarget[];
  models: MatrixModel[];
  decision: MatrixDecision | null;
  num_ctx: number;
  temperature: number | null;
  seed: number | null;
  unique_prompt_prefix: boolean;
  request_timeout_s: number;
  exo_ready_timeout_s: number;
  exo_download_timeout_s: number;
}
