/**
 * Ollama's `POST /api/show` through the gateway. `ollama run` asks it before anything else, and
 * reads the model's capabilities from it; a 404 makes the CLI try to pull the model. So the
 * gateway answers it: relayed from a healthy Ollama backend that has the model (its answer as it
 * gives it), or, for a model only EXO serves, an answer with what is known (format `mlx`, the
 * `completion` capability); 404 with Ollama's own text when no backend has the model.
 */
import type { BackendState } from './backend-state.js';
import type { ResolvedModel } from './model-names.js';

export type ShowSource =
  /** Relay the request to this Ollama backend, naming the model as it does. */
  | { kind: 'relay'; backend: BackendState; model: string }
  /** Only EXO has it: answer from what is known. */
  | { kind: 'exo'; backend: BackendState }
  | { kind: 'unknown' };

export function showSource(backends: readonly BackendState[], model: ResolvedModel | null): ShowSource {
  if (model === null) return { kind: 'unknown' };
  // A healthy backend first; one that is down only says "not found" when no other has the model.
  const order = [...backends].sort((a, b) => Number(b.healthy) - Number(a.healthy));
  for (const b of order) {
    if (b.config.kind === 'ollama' && model.ollama !== null && b.models.has(model.ollama)) {
      return { kind: 'relay', backend: b, model: model.ollama };
    }
  }
  for (const b of order) {
    if (b.config.kind === 'exo' && model.exo !== null && b.models.has(model.exo)) return { kind: 'exo', backend: b };
  }
  return { kind: 'unknown' };
}

/** What `/api/show` says of a model only EXO serves: the keys the Ollama CLI reads, honestly empty. */
export function exoShowAnswer(): Record<string, unknown> {
  return {
    license: '',
    modelfile: '',
    parameters: '',
    template: '',
    details: {
      parent_model: '',
      format: 'mlx',
      family: '',
      families: null,
      parameter_size: '',
      quantization_level: '',
    },
    model_info: {},
    capabilities: ['completion'],
    modified_at: new Date(0).toISOString(),
  };
}
