/**
 * The matrix's models on one node's Ollama: each name resolves to a pulled model, and its weights
 * fit in the memory the node has available. Said before any download, so a model no single node
 * holds is known before a run needs it (it can still run across the EXO cluster: a warning).
 */
import { gb, pass, warn, type CheckResult } from './check-result.js';
import { httpJson } from './probes.js';

/**
 * The name Ollama resolves `name` to: the default registry and `library/` namespace dropped, the
 * tag `latest` when none is given (`qwen2.5` ≡ `registry.ollama.ai/library/qwen2.5:latest`).
 */
export function canonicalOllamaName(name: string): string {
  const bare = name
    .trim()
    .replace(/^registry\.ollama\.ai\//, '')
    .replace(/^library\//, '');
  const lastPart = bare.slice(bare.lastIndexOf('/') + 1);
  return lastPart.includes(':') ? bare : `${bare}:latest`;
}

interface TagEntry {
  name?: string;
  model?: string;
  size?: number;
}

/**
 * One check per model. `availableBytes` is the node's available memory (null when unknown: only
 * whether the model is pulled is said).
 */
export async function checkOllamaModels(
  ollamaUrl: string,
  models: readonly string[],
  availableBytes: number | null,
): Promise<CheckResult[]> {
  const tags = await httpJson(`${ollamaUrl}/api/tags`);
  if ('error' in tags) {
    return [
      warn('models', `cannot list Ollama's models at ${ollamaUrl}/api/tags (${tags.error})`, 'is Ollama running?'),
    ];
  }
  const listed = (tags.json as { models?: TagEntry[] } | null)?.models;
  if (!Array.isArray(listed))
    return [warn('models', `${ollamaUrl}/api/tags answered no model list`, 'is this Ollama?')];
  return models.map((name) => {
    const id = `model ${name}`;
    const wanted = canonicalOllamaName(name);
    const found = listed.find((m) =>
      [m.name, m.model].some((n) => typeof n === 'string' && canonicalOllamaName(n) === wanted),
    );
    if (found === undefined) return warn(id, `not pulled at ${ollamaUrl}`, `ollama pull ${name}`);
    if (typeof found.size !== 'number' || availableBytes === null) return pass(id, 'pulled');
    return found.size <= availableBytes
      ? pass(id, `pulled, ${gb(found.size)} of weights, ${gb(availableBytes)} available`)
      : warn(
          id,
          `${gb(found.size)} of weights, only ${gb(availableBytes)} available: this node cannot run it alone`,
          'run it across the EXO cluster, or free memory on this node',
        );
  });
}
