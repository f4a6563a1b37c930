/**
 * Loads and validates a benchmark matrix (docs/benchmarks.md, "The matrix file"). Everything is
 * checked before anything runs, and every problem is reported at once with the file, the key path,
 * the line and the reason.
 */
import { readFile } from 'node:fs/promises';
import { isRecord, parseYaml, problemAt, schemaViolations, type Segment, type YamlSource } from '@kage/common';
import { BenchError, MatrixInvalidError, type MatrixProblem } from './errors.js';
import { MATRIX_DEFAULTS, MatrixFileSchema, type Matrix, type MatrixFile } from './matrix-schema.js';
import { matrixWarnings } from './matrix-warnings.js';

/** A valid matrix and what it says that changes the meaning of its numbers (see matrix-warnings.ts). */
export interface CheckedMatrix {
  matrix: Matrix;
  warnings: MatrixProblem[];
}

/** Where a parsed document came from: lets problems carry line numbers (none for parsed JSON). */
interface Source {
  file: string;
  yaml: YamlSource | null;
}

/**
 * Parses a matrix from YAML or JSON text (JSON is read by the YAML parser, so it gets line numbers
 * too) and validates it.
 *
 * @param text - the file's contents
 * @param options.file - the name to show in problems (`<inline>` by default)
 * @throws {@link MatrixInvalidError} (`KAGE_ERR_MATRIX_INVALID`) listing every problem
 */
export function parseMatrix(text: string, options: { file?: string } = {}): Matrix {
  return parseMatrixChecked(text, options).matrix;
}

/** {@link parseMatrix} with the matrix's warnings. */
export function parseMatrixChecked(text: string, options: { file?: string } = {}): CheckedMatrix {
  const file = options.file ?? '<inline>';
  const parsed = parseYaml(text, file);
  if (!('source' in parsed)) throw new MatrixInvalidError(file, parsed.problems);
  return validate(parsed.value, { file, yaml: parsed.source });
}

/**
 * Validates an already-parsed matrix (e.g. the JSON body of `POST /api/v1/runs`). Problems carry
 * key paths but no lines.
 *
 * @throws {@link MatrixInvalidError} (`KAGE_ERR_MATRIX_INVALID`) listing every problem
 */
export function validateMatrix(value: unknown, options: { file?: string } = {}): Matrix {
  return validateMatrixChecked(value, options).matrix;
}

/** {@link validateMatrix} with the matrix's warnings. */
export function validateMatrixChecked(value: unknown, options: { file?: string } = {}): CheckedMatrix {
  return validate(value, { file: options.file ?? '<inline>', yaml: null });
}

/**
 * Reads and validates a matrix file (YAML or JSON).
 *
 * @throws {@link BenchError} `KAGE_ERR_MATRIX_READ` when the file cannot be read
 * @throws {@link MatrixInvalidError} `KAGE_ERR_MATRIX_INVALID` when it is not a valid matrix
 */
export async function loadMatrix(path: string): Promise<Matrix> {
  return (await loadMatrixChecked(path)).matrix;
}

/** {@link loadMatrix} with the matrix's warnings. */
export async function loadMatrixChecked(path: string): Promise<CheckedMatrix> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new BenchError('KAGE_ERR_MATRIX_READ', `cannot read matrix ${path}: ${code}`, { cause: err });
  }
  return parseMatrixChecked(text, { file: path });
}

function validate(value: unknown, source: Source): CheckedMatrix {
  const problems: MatrixProblem[] = [];
  const add = (path: Segment[], reason: string): void => {
    problems.push(problemAt(source.yaml, source.file, path, reason));
  };
  if (!isRecord(value)) {
    add([], 'must be a mapping (YAML) or an object (JSON) at the top level');
    throw new MatrixInvalidError(source.file, problems);
  }
  // `decision: null` (a resolved matrix sent back) means "no decision".
  const m: Record<string, unknown> = { ...value };
  if (m['decision'] === null) delete m['decision'];
  for (const v of schemaViolations(MatrixFileSchema, m, [])) add(v.path, v.reason);
  checkCrossKeyRules(m, add);
  if (problems.length > 0) {
    problems.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
    throw new MatrixInvalidError(source.file, problems);
  }
  const matrix = resolve(m as MatrixFile);
  return { matrix, warnings: matrixWarnings(m, matrix, source) };
}

/** Rules that span keys. Each check skips values the schema already rejected. */
function checkCrossKeyRules(m: Record<string, unknown>, add: (path: Segment[], reason: string) => void): void {
  const targets = Array.isArray(m['targets']) ? m['targets'] : [];
  const models = Array.isArray(m['models']) ? m['models'] : [];
  const firstIndexById = new Map<string, number>();
  const exoTargets: string[] = [];

  targets.forEach((t: unknown, i) => {
    if (!isRecord(t)) return;
    const id = t['id'];
    if (typeof id === 'string') {
      const first = firstIndexById.get(id);
      if (first === undefined) firstIndexById.set(id, i);
      else add(['targets', i, 'id'], `duplicate target id "${id}" (first used by targets[${first}])`);
    }
    if (typeof t['url'] === 'string') {
      const reason = targetUrlProblem(t['url']);
      if (reason !== null) add(['targets', i, 'url'], reason);
    }
    if (t['probe'] === 'agent' && (!Array.isArray(t['nodes']) || t['nodes'].length === 0)) {
      add(['targets', i, 'probe'], 'agent needs nodes: the agent on the first node sends the requests');
    }
    if (t['kind'] === 'exo') {
      if (typeof id === 'string') exoTargets.push(id);
      const nodes = t['nodes'];
      if (nodes === undefined || (Array.isArray(nodes) && nodes.length === 0)) {
        add(
          ['targets', i, 'nodes'],
          'required for kind exo: list the hostnames (EXO friendlyName) the cluster must span',
        );
      }
    }
  });

  const firstIndexByModel = new Map<string, number>();
  models.forEach((model: unknown, i) => {
    if (!isRecord(model)) return;
    const name = model['name'];
    if (typeof name === 'string') {
      const first = firstIndexByModel.get(name);
      if (first === undefined) firstIndexByModel.set(name, i);
      else add(['models', i, 'name'], `duplicate model "${name}" (first at models[${first}])`);
    }
    const exo = model['exo'];
    if ((exo === undefined || exo === null) && exoTargets.length > 0) {
      add(
        ['models', i, 'exo'],
        `missing: target${exoTargets.length > 1 ? 's' : ''} ${exoTargets.map((t) => `"${t}"`).join(', ')} ` +
          `(kind exo) need the Hugging Face id of ${typeof name === 'string' ? `"${name}"` : 'this model'}, ` +
          'e.g. mlx-community/Qwen2.5-3B-Instruct-4bit',
      );
    } else if (typeof exo === 'string' && exo !== '' && !/^[^/\s]+\/[^/\s]+$/.test(exo)) {
      add(
        ['models', i, 'exo'],
        `"${exo}" is not a Hugging Face repo id (owner/name, e.g. mlx-community/Qwen2.5-3B-Instruct-4bit)`,
      );
    }
  });

  const decision = m['decision'];
  if (!isRecord(decision)) return;
  const known = [...firstIndexById.keys()];
  const knownText = known.length > 0 ? ` (known: ${known.join(', ')})` : '';
  const candidate = decision['candidate'];
  if (typeof candidate === 'string' && candidate !== '' && !firstIndexById.has(candidate)) {
    add(['decision', 'candidate'], `unknown target "${candidate}"${knownText}`);
  }
  const baselines = decision['baselines'];
  if (Array.isArray(baselines)) {
    baselines.forEach((b: unknown, i) => {
      if (typeof b !== 'string' || b === '') return;
      if (!firstIndexById.has(b)) add(['decision', 'baselines', i], `unknown target "${b}"${knownText}`);
      else if (b === candidate)
        add(['decision', 'baselines', i], `"${b}" is the candidate; it cannot be its own baseline`);
    });
  }
  const go = decision['go_speedup'] ?? MATRIX_DEFAULTS.go_speedup;
  const evaluate = decision['evaluate_speedup'] ?? MATRIX_DEFAULTS.evaluate_speedup;
  if (typeof go === 'number' && typeof evaluate === 'number' && !(evaluate < go)) {
    const key = decision['evaluate_speedup'] === undefined ? 'go_speedup' : 'evaluate_speedup';
    add(['decision', key], `thresholds out of order: evaluate_speedup (${evaluate}) must be below go_speedup (${go})`);
  }
}

/** `null` when the URL is usable as a target base URL, else the reason. Also the gateway's backends. */
export function targetUrlProblem(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `"${raw}" is not a valid URL (expected e.g. http://100.77.248.9:11434)`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `"${raw}" must use http or https, not ${url.protocol.slice(0, -1)}`;
  }
  if (url.hostname === '') return `"${raw}" has no host`;
  if (url.search !== '' || url.hash !== '') return `"${raw}" must not carry a query or a fragment`;
  // The clients append the API paths themselves (/api/chat, /v1/chat/completions): a base URL that
  // already ends in an API prefix would send every request to /v1/v1/... and fail with 404.
  if (/\/(v1|api)\/?$/.test(url.pathname)) {
    return `"${raw}" must be the server's root URL, without the trailing ${url.pathname.replace(/\/$/, '')} (Kage adds the API paths)`;
  }
  return null;
}

function resolve(f: MatrixFile): Matrix {
  const d = MATRIX_DEFAULTS;
  const concurrency =
    f.concurrency === undefined
      ? [...d.concurrency]
      : typeof f.concurrency === 'number'
        ? [f.concurrency]
        : [...f.concurrency];
  const matrix: Matrix = {
    name: f.name,
    prompt: f.prompt,
    max_tokens: f.max_tokens ?? d.max_tokens,
    repetitions: f.repetitions ?? d.repetitions,
    warmup: f.warmup ?? d.warmup,
    concurrency,
    targets: f.targets.map((t) => ({
      id: t.id,
      kind: t.kind,
      url: normaliseUrl(t.url),
      nodes: [...(t.nodes ?? [])],
      ...(t.probe === undefined ? {} : { probe: t.probe }),
    })),
    models: f.models.map((m) => ({ name: m.name, exo: m.exo ?? null })),
    decision:
      f.decision === undefined
        ? null
        : {
            candidate: f.decision.candidate,
            baselines: [...f.decision.baselines],
            go_speedup: f.decision.go_speedup ?? d.go_speedup,
            evaluate_speedup: f.decision.evaluate_speedup ?? d.evaluate_speedup,
            max_ttft_ratio: f.decision.max_ttft_ratio ?? d.max_ttft_ratio,
          },
    num_ctx: f.num_ctx ?? d.num_ctx,
    temperature: f.temperature ?? null,
    seed: f.seed ?? null,
    unique_prompt_prefix: f.unique_prompt_prefix ?? d.unique_prompt_prefix,
    request_timeout_s: f.request_timeout_s ?? d.request_timeout_s,
    exo_ready_timeout_s: f.exo_ready_timeout_s ?? d.exo_ready_timeout_s,
    exo_download_timeout_s: f.exo_download_timeout_s ?? d.exo_download_timeout_s,
  };
  return deepFreeze(matrix);
}

/** Drops trailing slashes so clients can append `/api/chat` etc. */
function normaliseUrl(raw: string): string {
  const url = new URL(raw);
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
