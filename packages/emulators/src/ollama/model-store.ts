/**
 * The emulated model store: which models are "pulled", how names resolve (Ollama's rules: tag
 * defaults to `latest`, namespace to `library`, host to `registry.ollama.ai`, case-insensitive),
 * and the JSON shapes `/api/tags`, `/api/show` and `/api/pull` derive from a catalogue entry.
 */
import { createHash } from 'node:crypto';
import type { OllamaModel } from '../model-catalogue.js';

/** Canonical lookup key of a model reference, or undefined for an unusable name. */
export function modelKey(reference: string): string | undefined {
  let name = reference.trim().toLowerCase();
  if (name === '') return undefined;
  name = name.replace(/^registry\.ollama\.ai\//, '').replace(/^library\//, '');
  const base = name.slice(name.lastIndexOf('/') + 1);
  return base.includes(':') ? name : `${name}:latest`;
}

/** `DisplayShortest`: the name as Ollama echoes it after normalising (`qwen2.5` → `qwen2.5:latest`). */
export function displayName(reference: string): string {
  const name = reference
    .trim()
    .replace(/^registry\.ollama\.ai\//i, '')
    .replace(/^library\//i, '');
  const base = name.slice(name.lastIndexOf('/') + 1);
  return base.includes(':') ? name : `${name}:latest`;
}

/** `details` as `/api/ps` prints it (`server/routes.go` `PsHandler` fills no lengths). */
export function modelDetails(model: OllamaModel): Record<string, unknown> {
  return {
    parent_model: '',
    format: 'gguf',
    family: model.family,
    families: [model.family],
    parameter_size: model.parameterSize,
    quantization_level: model.quantizationLevel,
  };
}

/**
 * `details` as `/api/tags` prints it: since 0.30 with the GGUF's trained `context_length` and
 * `embedding_length` (both `omitempty`, from `server/model_list_cache.go`).
 */
export function tagDetails(model: OllamaModel): Record<string, unknown> {
  return {
    ...modelDetails(model),
    context_length: model.shape.trainedContext || undefined,
    embedding_length: model.shape.hiddenSize || undefined,
  };
}

/** `errtypes.InvalidModelNameErrMsg`. */
export const INVALID_MODEL_NAME_MESSAGE = 'invalid model name';

const MISSING_PART = '!MISSING!';

/** `types/model` `isValidPart`: lengths and characters of one part of a name. */
function isValidPart(kind: 'host' | 'namespace' | 'model' | 'tag', part: string): boolean {
  const maxLength = kind === 'host' ? 350 : 80;
  if (part.length < 1 || part.length > maxLength) return false;
  const word = /[A-Za-z0-9_]/;
  if (!word.test(part[0] ?? '')) return false;
  for (const ch of part.slice(1)) {
    if (ch === '_' || ch === '-') continue;
    if (ch === '.') {
      if (kind === 'namespace') return false;
      continue;
    }
    if (ch === ':') {
      if (kind !== 'host') return false;
      continue;
    }
    if (!word.test(ch)) return false;
  }
  return true;
}

/** Cuts at the last `sep`; an empty side becomes the missing-part marker (which is never valid). */
function cutPromised(s: string, sep: string): [string, string] | undefined {
  const i = s.lastIndexOf(sep);
  if (i < 0) return undefined;
  return [s.slice(0, i) || MISSING_PART, s.slice(i + sep.length) || MISSING_PART];
}

/**
 * `model.ParseName(name).IsValid()`: host / namespace / model / tag, missing ones defaulted
 * (`registry.ollama.ai`, `library`, `latest`), each part checked. A trimmed empty name is not
 * judged here (the handlers answer it with their own "model is required" / "not found").
 */
export function isValidModelName(reference: string): boolean {
  let s = reference.trim();
  let tag = 'latest';
  let namespace = 'library';
  let host = 'registry.ollama.ai';
  if (s.lastIndexOf(':') > s.lastIndexOf('/')) {
    const cut = cutPromised(s, ':');
    if (cut) [s, tag] = cut;
  }
  let model = s;
  const first = cutPromised(s, '/');
  if (first) {
    [s, model] = first;
    const second = cutPromised(s, '/');
    if (second) {
      [s, namespace] = second;
      const scheme = s.indexOf('://');
      host = scheme >= 0 ? s.slice(scheme + 3) : s;
    } else {
      namespace = s;
    }
  }
  return (
    isValidPart('host', host) &&
    isValidPart('namespace', namespace) &&
    isValidPart('model', model) &&
    isValidPart('tag', tag)
  );
}

/** A layer of the model's manifest (the blobs `ollama pull` downloads). */
export interface ModelLayer {
  readonly digest: string;
  readonly sizeBytes: number;
}

// Small blobs every library model ships besides the weights: template, license, params, config.
const SMALL_LAYERS: readonly [string, number][] = [
  ['template', 1_482],
  ['license', 11_343],
  ['params', 107],
  ['config', 487],
];

/** The manifest layers, weights first; their sizes add up to the `/api/tags` size. */
export function modelLayers(model: OllamaModel): ModelLayer[] {
  const small = SMALL_LAYERS.reduce((sum, [, size]) => sum + size, 0);
  const weightsDigest = `sha256:${createHash('sha256').update(`${model.digest}/weights`).digest('hex')}`;
  return [
    { digest: weightsDigest, sizeBytes: model.sizeBytes - small },
    ...SMALL_LAYERS.map(([kind, size]) => ({
      digest: `sha256:${createHash('sha256').update(`${model.digest}/${kind}`).digest('hex')}`,
      sizeBytes: size,
    })),
  ];
}

/** The pulled models of one emulator, plus the "registry" of models a pull can fetch. */
export class ModelStore {
  private readonly pulled = new Map<string, OllamaModel>();
  private readonly registry = new Map<string, OllamaModel>();

  constructor(pulled: readonly OllamaModel[], registry: readonly OllamaModel[]) {
    for (const m of [...registry, ...pulled]) this.registry.set(modelKey(m.name) ?? m.name, m);
    for (const m of pulled) this.pulled.set(modelKey(m.name) ?? m.name, m);
  }

  /** A pulled model by any spelling of its name. */
  find(reference: string): OllamaModel | undefined {
    const key = modelKey(reference);
    return key === undefined ? undefined : this.pulled.get(key);
  }

  /** A model the registry has (pulled or not). */
  findInRegistry(reference: string): OllamaModel | undefined {
    const key = modelKey(reference);
    return key === undefined ? undefined : this.registry.get(key);
  }

  isPulled(reference: string): boolean {
    return this.find(reference) !== undefined;
  }

  /** Records a finished pull; the model's `modified_at` becomes now. */
  addPulled(model: OllamaModel, modifiedAt: string): void {
    this.pulled.set(modelKey(model.name) ?? model.name, { ...model, modifiedAt });
  }

  /** Pulled models, newest first (Ollama sorts `/api/tags` by modification time). */
  list(): OllamaModel[] {
    return [...this.pulled.values()].sort((a, b) => Date.parse(b.modifiedAt) - Date.parse(a.modifiedAt));
  }
}
