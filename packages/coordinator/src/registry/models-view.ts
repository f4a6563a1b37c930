/**
 * What the coordinator tells the outside world about loaded models: the shape of
 * `GET /api/v1/models`, of the snapshot's `models` and of the `models` event. Built from what each
 * agent last read from its node's model servers (Ollama `/api/ps`, EXO `/state`). Sizes are
 * bytes; a value the server did not give is `null`, never 0.
 */

/** One model server of one node, as its agent last read it. */
export interface ModelSourceView {
  node: string;
  /** The service's name in the agent's config. */
  service: string;
  /** `ollama` or `exo`. */
  api: string;
  /** When the agent read it (agent clock). */
  read_at: string;
  /** Why the server could not be read (down, refused…); its models are then unknown. */
  error: string | null;
}

/** One model loaded by one node's Ollama. */
export interface OllamaModelView {
  node: string;
  service: string;
  model: string;
  /** Resident bytes: weights, KV cache and graph. */
  size_bytes: number | null;
  /** The part of `size_bytes` in GPU memory. */
  vram_bytes: number | null;
  /** Where it runs, as `ollama ps` prints it: `100% GPU`, `100% CPU` or `48%/52% CPU/GPU`; null when a size is unknown. */
  processor: string | null;
  /** When Ollama unloads it if unused; null for never or unknown. */
  expires_at: string | null;
  context_length: number | null;
  parameter_size: string | null;
  quantization: string | null;
}

/** One node's share of an EXO instance. */
export interface ExoRunnerView {
  /** EXO's name for the node (its hostname). */
  host: string;
  /** The Kage node with that hostname (or id); null when none matches. */
  node: string | null;
  /** EXO's runner tag: `RunnerReady`, `RunnerLoading`, `RunnerFailed`, … or `pending`. */
  state: string;
  layers_loaded: number | null;
  total_layers: number | null;
  /** The layers it holds: [start_layer, end_layer) of n_layers. */
  start_layer: number | null;
  end_layer: number | null;
  n_layers: number | null;
  /** Its share of the model's weights. */
  weights_bytes: number | null;
  error: string | null;
}

/** One EXO instance: a model placed on one or more nodes. */
export interface ExoInstanceView {
  instance_id: string;
  model: string;
  kind: string;
  /** `ready` (every runner serves), `failed` (a runner failed) or `loading`. */
  state: 'ready' | 'loading' | 'failed';
  runners: ExoRunnerView[];
  /** The node whose agent read this from its EXO (any member shows the whole cluster). */
  reported_by: string;
}

export interface ModelsView {
  sources: ModelSourceView[];
  ollama: OllamaModelView[];
  exo: ExoInstanceView[];
}
