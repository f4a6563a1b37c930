/**
 * The gateway's model lists: `/api/tags` (every model some backend has), `/api/ps` (every model
 * loaded somewhere) and `/v1/models`, each the union over the backends in the protocol's own
 * shape, one entry per model whatever the names the backends use (`qwen2.5:3b` on Ollama and
 * `mlx-community/Qwen2.5-3B-Instruct-4bit` on EXO are one entry, named the Ollama way). Each entry
 * says where the model lives in `kage.backends`; clients ignore keys they do not know.
 */
import type { BackendState } from './backend-state.js';
import type { ModelNames } from './model-names.js';

export type ClientProtocol = 'ollama' | 'openai';

export interface Listing {
  body: unknown;
  /** The backends the listing comes from (the `X-Kage-Backend` header). */
  backends: string[];
}

interface Entry {
  name: string;
  backends: string[];
  /** An Ollama backend's own entry, when one has the model (sizes, digest, details). */
  ollama: Record<string, unknown> | null;
}

export function listModels(
  path: '/api/tags' | '/api/ps' | '/v1/models',
  backends: readonly BackendState[],
  names: ModelNames,
): Listing {
  const loadedOnly = path === '/api/ps';
  const entries = new Map<string, Entry>();
  const used = new Set<string>();
  for (const b of backends) {
    if (!b.healthy) continue;
    for (const model of loadedOnly ? b.loaded : b.models) {
      // One entry per model: the catalogue's canonical name (its Ollama tag when it has one).
      const name = names.resolve(model)?.canonical ?? model;
      const entry = entries.get(name) ?? { name, backends: [], ollama: null };
      entry.backends.push(b.id);
      if (b.config.kind === 'ollama' && entry.ollama === null) {
        entry.ollama = (loadedOnly ? b.psEntries : b.tagEntries).get(model) ?? null;
      }
      entries.set(name, entry);
      used.add(b.id);
    }
  }
  const list = [...entries.values()].sort((a, b) => a.name.localeCompare(b.name));
  if (path === '/v1/models') {
    const created = Math.floor(Date.now() / 1000);
    return {
      backends: [...used],
      body: {
        object: 'list',
        data: list.map((e) => ({
          id: e.name,
          object: 'model',
          created,
          owned_by: e.backends.join(','),
          kage: { backends: e.backends },
        })),
      },
    };
  }
  return {
    backends: [...used],
    body: {
      models: list.map((e) => ({
        // An EXO-only model has no Ollama entry: the fields clients read, with what is known.
        ...(e.ollama ?? {
          name: e.name,
          model: e.name,
          modified_at: new Date(0).toISOString(),
          size: 0,
          digest: '',
          details: { format: 'mlx', family: '', families: null, parameter_size: '', quantization_level: '' },
        }),
        name: e.name,
        model: e.name,
        kage: { backends: e.backends },
      })),
    },
  };
}
