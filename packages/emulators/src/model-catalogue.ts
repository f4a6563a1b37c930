/**
 * The default model catalogues of the two emulators, with the real sizes and shapes of the models
 * (sources in docs/emulators.md). The timing model needs bytes, parameters and layers; the wire
 * formats need names, digests and details exactly as the real servers print them.
 */

/** Architecture numbers shared by the GGUF and the MLX build of a model. */
export interface ModelShape {
  /** Parameter count. */
  readonly parameters: number;
  /** Transformer blocks. */
  readonly layers: number;
  readonly hiddenSize: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Context the model was trained for. */
  readonly trainedContext: number;
}

/** KV-cache bytes per token at f16 (K and V, every layer). */
export function kvBytesPerToken(shape: ModelShape): number {
  return shape.layers * shape.kvHeads * shape.headDim * 2 * 2;
}

export interface OllamaModel {
  /** `name:tag` as `/api/tags` prints it. */
  readonly name: string;
  /** Bytes on disk (`size` in `/api/tags`). */
  readonly sizeBytes: number;
  /** Manifest sha256, hex without prefix. */
  readonly digest: string;
  readonly family: string;
  readonly parameterSize: string;
  readonly quantizationLevel: string;
  readonly capabilities: readonly string[];
  readonly shape: ModelShape;
  /** `modified_at` as an RFC 3339 local time, fixed so outputs are reproducible. */
  readonly modifiedAt: string;
}

export interface ExoModel {
  /** Hugging Face repo id, the only name EXO 1.x accepts. */
  readonly id: string;
  /** Total safetensors bytes of the MLX 4-bit build. */
  readonly storageBytes: number;
  readonly shape: ModelShape;
  /** True when EXO ships a model card; false means `POST /models/add` must come first. */
  readonly builtInCard: boolean;
}

// Shapes from each model's Hugging Face config.json; parameter counts as the GGUF / model card state them.
const qwen25_3b: ModelShape = {
  parameters: 3_090_000_000,
  layers: 36,
  hiddenSize: 2048,
  kvHeads: 2,
  headDim: 128,
  trainedContext: 32768,
};
const qwen25coder_32b: ModelShape = {
  parameters: 32_760_000_000,
  layers: 64,
  hiddenSize: 5120,
  kvHeads: 8,
  headDim: 128,
  trainedContext: 32768,
};
const llama33_70b: ModelShape = {
  parameters: 70_550_000_000,
  layers: 80,
  hiddenSize: 8192,
  kvHeads: 8,
  headDim: 128,
  trainedContext: 131072,
};
const llama32_1b: ModelShape = {
  // Exact tensor count of the llama3.2:1b GGUF.
  parameters: 1_235_814_432,
  layers: 16,
  hiddenSize: 2048,
  kvHeads: 8,
  headDim: 64,
  trainedContext: 131072,
};
const llama32_3b: ModelShape = {
  parameters: 3_210_000_000,
  layers: 28,
  hiddenSize: 3072,
  kvHeads: 8,
  headDim: 128,
  trainedContext: 131072,
};

export const DEFAULT_OLLAMA_MODELS: readonly OllamaModel[] = [
  {
    name: 'qwen2.5:3b',
    sizeBytes: 1_929_912_432,
    digest: '357c53fb659c5076de1d65ccb0b397446227b71a42be9d1603d46168015c9e4b',
    family: 'qwen2',
    parameterSize: '3.1B',
    quantizationLevel: 'Q4_K_M',
    // A real /api/tags lists no 'insert' for this tag (its template has no suffix); only the coder has FIM.
    capabilities: ['completion', 'tools'],
    shape: qwen25_3b,
    modifiedAt: '2026-01-14T23:40:16.358619994+02:00',
  },
  {
    name: 'qwen2.5-coder:32b',
    sizeBytes: 19_851_349_898,
    digest: 'b92d6a0bd47ee79114298de0177bf920c05a706d12633950b3936778492bef41',
    family: 'qwen2',
    parameterSize: '32.8B',
    quantizationLevel: 'Q4_K_M',
    capabilities: ['completion', 'tools', 'insert'],
    shape: qwen25coder_32b,
    modifiedAt: '2026-01-14T23:52:03.113804211+02:00',
  },
  {
    name: 'llama3.2:1b',
    sizeBytes: 1_321_098_329,
    digest: 'baf6a787fdffd633537aa2eb51cfd54cb93ff08e28040095462bb63daf552878',
    family: 'llama',
    parameterSize: '1.2B',
    quantizationLevel: 'Q8_0',
    capabilities: ['completion', 'tools'],
    shape: llama32_1b,
    modifiedAt: '2026-01-15T09:12:44.901122087+02:00',
  },
  {
    name: 'llama3.3:70b',
    sizeBytes: 42_520_413_916,
    digest: 'a6eb4748fd2990ad2952b2335a95a7f952d1a06119a0aa6a2df6cd052a93a3fa',
    family: 'llama',
    parameterSize: '70.6B',
    quantizationLevel: 'Q4_K_M',
    capabilities: ['completion', 'tools'],
    shape: llama33_70b,
    modifiedAt: '2026-01-15T10:03:27.445190338+02:00',
  },
];

/**
 * Sizes of the Llama builds are EXO's own model cards (`storage_size.in_bytes`, the number EXO places by).
 * The Qwen2.5 builds have no card: their size is an estimate, parameters × 4.5 bits (MLX 4-bit, group
 * size 64: 4 bits plus a 16-bit scale and bias per 64 weights), which matches the ~1.75 GB / ~18 GB the
 * Hugging Face listings show.
 */
export const DEFAULT_EXO_MODELS: readonly ExoModel[] = [
  {
    id: 'mlx-community/Llama-3.2-3B-Instruct-4bit',
    storageBytes: 1_863_319_552,
    shape: llama32_3b,
    builtInCard: true,
  },
  {
    id: 'mlx-community/Qwen2.5-3B-Instruct-4bit',
    storageBytes: 1_740_000_000,
    shape: qwen25_3b,
    builtInCard: false,
  },
  {
    id: 'mlx-community/Qwen2.5-Coder-32B-Instruct-4bit',
    storageBytes: 18_440_000_000,
    shape: qwen25coder_32b,
    builtInCard: false,
  },
  {
    id: 'mlx-community/Llama-3.3-70B-Instruct-4bit',
    storageBytes: 40_652_242_944,
    shape: llama33_70b,
    builtInCard: true,
  },
];

/** Normalises an Ollama model reference the way Ollama does: a missing tag means `latest`. */
export function normaliseOllamaName(name: string): string {
  const lastSlash = name.lastIndexOf('/');
  const base = name.slice(lastSlash + 1);
  return base.includes(':') ? name : `${name}:latest`;
}
