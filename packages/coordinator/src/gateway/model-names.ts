/**
 * Model names across the two worlds the gateway joins: Ollama tags (`llama3.3:70b`) and the
 * Hugging Face repo ids EXO 1.x accepts (`mlx-community/Llama-3.3-70B-Instruct-4bit`).
 *
 * The built-in catalogue pairs the Ollama library tags with EXO v1.0.71's own inference model
 * cards for the same model (a card is what lets EXO place a model without fetching its config
 * first). The quantisations differ (Ollama's Q4_K_M/Q8_0 GGUF, MLX 4-bit); the weights they come
 * from are the same. Models EXO ships no card for — Qwen2.5 among them — come from the config's
 * aliases (`gateway.models: [{ name, exo }]`), which add pairs and override built-in ones.
 *
 * Names are untrusted input that ends up in backend URLs and, on EXO, in file names (custom cards
 * are stored as `<owner>--<repo>.toml`), so {@link validateModelName} refuses anything that could
 * step outside a name before any lookup.
 */
import { GatewayError } from './gateway-error.js';

/** One Ollama tag ↔ EXO id pair. */
export interface ModelPair {
  /** Ollama tag, normalised (`name:tag`, no default host or `library/` namespace). */
  readonly ollama: string;
  /** Hugging Face repo id as EXO's card spells it. */
  readonly exo: string;
}

/** A config alias (`gateway.models[]`). */
export interface ModelAlias {
  readonly name: string;
  readonly exo: string;
}

export interface ResolvedModel {
  /** The name to send an Ollama backend, or null when the name can only be an EXO id. */
  readonly ollama: string | null;
  /** The id to send EXO, or null when the name can only be an Ollama tag. */
  readonly exo: string | null;
  /** One key for the model whatever it was called: the Ollama tag when known, else the EXO id. */
  readonly canonical: string;
}

export interface ModelNames {
  /**
   * What a requested name means to each backend: an Ollama tag (any spelling Ollama accepts) or
   * an EXO id. Returns null for a name {@link validateModelName} refuses (call it for the reason).
   */
  resolve(requested: string): ResolvedModel | null;
  /** Every pair in effect: the built-in catalogue with the aliases applied. */
  pairs(): readonly ModelPair[];
}

/**
 * The seed plan's models whose MLX builds EXO v1.0.71 has no card for: EXO serves them once the
 * card is added from Hugging Face (`POST /models/add`, which `kage bench` does before placing).
 * Paired here all the same, so `qwen2.5:3b` means the same model on every backend.
 */
export const HUB_MODEL_PAIRS: readonly ModelPair[] = [
  { ollama: 'qwen2.5:3b', exo: 'mlx-community/Qwen2.5-3B-Instruct-4bit' },
  { ollama: 'qwen2.5-coder:32b', exo: 'mlx-community/Qwen2.5-Coder-32B-Instruct-4bit' },
];

/**
 * Ollama library tags whose model EXO v1.0.71 has a card for. Where several tags name one model
 * (`llama3.2` is `llama3.2:3b`), the first pair of an EXO id is the canonical one.
 */
export const CARD_MODEL_PAIRS: readonly ModelPair[] = [
  { ollama: 'llama3.2:1b', exo: 'mlx-community/Llama-3.2-1B-Instruct-4bit' },
  { ollama: 'llama3.2:3b', exo: 'mlx-community/Llama-3.2-3B-Instruct-4bit' },
  { ollama: 'llama3.2:latest', exo: 'mlx-community/Llama-3.2-3B-Instruct-4bit' },
  { ollama: 'llama3.1:8b', exo: 'mlx-community/Meta-Llama-3.1-8B-Instruct-4bit' },
  { ollama: 'llama3.1:latest', exo: 'mlx-community/Meta-Llama-3.1-8B-Instruct-4bit' },
  { ollama: 'llama3.1:70b', exo: 'mlx-community/Meta-Llama-3.1-70B-Instruct-4bit' },
  { ollama: 'llama3.3:70b', exo: 'mlx-community/Llama-3.3-70B-Instruct-4bit' },
  { ollama: 'llama3.3:latest', exo: 'mlx-community/Llama-3.3-70B-Instruct-4bit' },
  { ollama: 'nemotron:70b', exo: 'mlx-community/Llama-3.1-Nemotron-70B-Instruct-HF-4bit' },
  { ollama: 'nemotron:latest', exo: 'mlx-community/Llama-3.1-Nemotron-70B-Instruct-HF-4bit' },
  { ollama: 'qwen3:0.6b', exo: 'mlx-community/Qwen3-0.6B-4bit' },
  { ollama: 'gpt-oss:20b', exo: 'mlx-community/gpt-oss-20b-MXFP4-Q8' },
  { ollama: 'gpt-oss:latest', exo: 'mlx-community/gpt-oss-20b-MXFP4-Q8' },
  { ollama: 'gpt-oss:120b', exo: 'mlx-community/gpt-oss-120b-MXFP4-Q8' },
  { ollama: 'gemma4:e2b', exo: 'mlx-community/gemma-4-e2b-it-4bit' },
  { ollama: 'gemma4:e4b', exo: 'mlx-community/gemma-4-e4b-it-4bit' },
  { ollama: 'gemma4:latest', exo: 'mlx-community/gemma-4-e4b-it-4bit' },
  { ollama: 'gemma4:26b', exo: 'mlx-community/gemma-4-26b-a4b-it-4bit' },
  { ollama: 'gemma4:31b', exo: 'mlx-community/gemma-4-31b-it-4bit' },
];

/** Every built-in pair: EXO's own cards, then the seed models it fetches from the hub. */
export const BUILT_IN_MODEL_PAIRS: readonly ModelPair[] = [...CARD_MODEL_PAIRS, ...HUB_MODEL_PAIRS];

/** Longest name accepted, whatever the grammar (Ollama's own parts stop at 350 + 3×80). */
export const MAX_MODEL_NAME_LENGTH = 256;

function nameError(name: string, problem: string): GatewayError {
  const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
  return new GatewayError('KAGE_ERR_GATEWAY_MODEL_NAME', `invalid model name ${shown}: ${problem}`, { field: 'model' });
}

/** The first safety problem of a name, or undefined. */
function unsafety(name: string): string | undefined {
  if (name === '') return 'it is empty';
  if (name.length > MAX_MODEL_NAME_LENGTH) return `it is longer than ${MAX_MODEL_NAME_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'it contains a control character';
  if (name.includes('\\')) return 'it contains a backslash';
  // Neither grammar has `%`: a percent sign can only be an encoding (`%2f` = `/`, `%2e` = `.`).
  if (name.includes('%')) return 'it contains a percent-encoded character';
  if (name.startsWith('/')) return 'it starts with "/"';
  if (name.includes('..')) return 'it contains ".."';
  if (/\s/.test(name)) return 'it contains whitespace';
  return undefined;
}

/** One part of an Ollama name (`types/model` isValidPart): a word character first, then `[\w.-]`. */
function isOllamaPart(part: string, kind: 'host' | 'namespace' | 'model' | 'tag'): boolean {
  const max = kind === 'host' ? 350 : 80;
  if (part.length < 1 || part.length > max) return false;
  const rest = kind === 'host' ? /^[\w.:-]*$/ : kind === 'namespace' ? /^[\w-]*$/ : /^[\w.-]*$/;
  return /^\w/.test(part) && rest.test(part.slice(1));
}

/** `[host/][namespace/]model[:tag]`, each part valid. */
function isOllamaName(name: string): boolean {
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  const base = colon > slash ? name.slice(0, colon) : name;
  const tag = colon > slash ? name.slice(colon + 1) : 'latest';
  const parts = base.split('/');
  if (parts.length > 3) return false;
  const model = parts.pop() ?? '';
  const namespace = parts.pop() ?? 'library';
  const host = parts.pop() ?? 'registry.ollama.ai';
  return (
    isOllamaPart(host, 'host') &&
    isOllamaPart(namespace, 'namespace') &&
    isOllamaPart(model, 'model') &&
    isOllamaPart(tag, 'tag')
  );
}

/** A Hugging Face repo id: `owner/repo`, `[\w.-]`, no `-`/`.` at either end of a part, ≤ 96 each. */
function isHuggingFaceId(name: string): boolean {
  const parts = name.split('/');
  if (parts.length !== 2) return false;
  return parts.every((p) => p.length > 0 && p.length <= 96 && /^[\w.-]+$/.test(p) && !/^[-.]|[-.]$/.test(p));
}

/**
 * Checks a requested model name and returns it unchanged.
 * @throws GatewayError KAGE_ERR_GATEWAY_MODEL_NAME naming the problem: empty, over
 *   {@link MAX_MODEL_NAME_LENGTH} characters, a control character, a backslash, a percent-encoding,
 *   a leading `/`, `..`, whitespace, or a name that is neither an Ollama name nor a Hugging Face id
 */
export function validateModelName(name: string): string {
  const problem = unsafety(name);
  if (problem !== undefined) throw nameError(name, problem);
  if (!isOllamaName(name) && !isHuggingFaceId(name)) {
    throw nameError(
      name,
      'it is neither an Ollama model name ([host/][namespace/]model[:tag]) nor a Hugging Face id (owner/repo)',
    );
  }
  return name;
}

/**
 * Ollama's normal form, as it echoes names: the default host `registry.ollama.ai/` and namespace
 * `library/` dropped, `:latest` added when there is no tag. Case is kept; Ollama compares names
 * case-insensitively (use {@link ollamaKey} for that).
 */
export function normaliseOllamaName(name: string): string {
  const short = name.replace(/^registry\.ollama\.ai\//i, '').replace(/^library\//i, '');
  return short.lastIndexOf(':') > short.lastIndexOf('/') ? short : `${short}:latest`;
}

function ollamaKey(name: string): string {
  return normaliseOllamaName(name).toLowerCase();
}

/** Hugging Face resolves repo ids case-insensitively; EXO wants its card's exact spelling. */
function exoKey(id: string): string {
  return id.toLowerCase();
}

function checkedAliases(aliases: readonly ModelAlias[]): ModelPair[] {
  const seen = new Set<string>();
  return aliases.map((alias, i) => {
    const at = `models[${i}]`;
    if (unsafety(alias.name) !== undefined || !isOllamaName(alias.name)) {
      throw new GatewayError(
        'KAGE_ERR_GATEWAY_MODEL_NAME',
        `${at}.name ${JSON.stringify(alias.name)} is not an Ollama model name`,
        { field: `${at}.name` },
      );
    }
    if (unsafety(alias.exo) !== undefined || !isHuggingFaceId(alias.exo)) {
      throw new GatewayError(
        'KAGE_ERR_GATEWAY_MODEL_NAME',
        `${at}.exo ${JSON.stringify(alias.exo)} is not a Hugging Face id (owner/repo)`,
        { field: `${at}.exo` },
      );
    }
    const key = ollamaKey(alias.name);
    if (seen.has(key)) {
      throw new GatewayError(
        'KAGE_ERR_GATEWAY_MODEL_NAME',
        `${at}.name ${JSON.stringify(alias.name)} is listed twice`,
        { field: `${at}.name` },
      );
    }
    seen.add(key);
    return { ollama: normaliseOllamaName(alias.name), exo: alias.exo };
  });
}

/**
 * The name resolver: the built-in catalogue plus `aliases`. An alias with a built-in pair's Ollama
 * name replaces that pair; an alias for an EXO id the catalogue already pairs adds a name, and
 * becomes the name the id resolves back to (the config's name is the one people use).
 * @throws GatewayError KAGE_ERR_GATEWAY_MODEL_NAME for an alias that is not a valid pair, or a
 *   name listed twice
 */
export function createModelNames(aliases: readonly ModelAlias[] = []): ModelNames {
  const own = checkedAliases(aliases);
  const overridden = new Set(own.map((p) => ollamaKey(p.ollama)));
  const pairs = [...BUILT_IN_MODEL_PAIRS.filter((p) => !overridden.has(ollamaKey(p.ollama))), ...own];
  const byOllama = new Map<string, ModelPair>();
  const byExo = new Map<string, ModelPair>();
  // Aliases first so that they win the reverse lookup; then each id's first built-in pair.
  for (const pair of [...own, ...pairs]) {
    if (!byOllama.has(ollamaKey(pair.ollama))) byOllama.set(ollamaKey(pair.ollama), pair);
    if (!byExo.has(exoKey(pair.exo))) byExo.set(exoKey(pair.exo), pair);
  }

  function resolve(requested: string): ResolvedModel | null {
    if (unsafety(requested) !== undefined) return null;
    const asOllama = isOllamaName(requested);
    const asExo = isHuggingFaceId(requested);
    if (!asOllama && !asExo) return null;
    // An EXO id answers with its canonical tag, a tag with its own pair (`llama3.2` → `llama3.2:latest`).
    const known =
      (asExo ? byExo.get(exoKey(requested)) : undefined) ?? (asOllama ? byOllama.get(ollamaKey(requested)) : undefined);
    if (known) {
      const canonical = byExo.get(exoKey(known.exo))?.ollama ?? known.ollama;
      return { ollama: known.ollama, exo: known.exo, canonical };
    }
    // Unknown: `owner/repo` without a tag fits both grammars (an Ollama user's namespace, a Hugging
    // Face repo); the gateway routes to whichever backend has it.
    const ollama = asOllama ? normaliseOllamaName(requested) : null;
    const exo = asExo ? requested : null;
    return { ollama, exo, canonical: exo ?? ollama ?? requested };
  }

  return { resolve, pairs: () => pairs };
}
