/**
 * EXO's model cards. A built-in card exists for catalogue models with `builtInCard`; the others
 * (Qwen2.5) must be fetched from "Hugging Face" first with `POST /models/add`, as the real cards
 * directory `resources/inference_model_cards/` has no Qwen2.5 entry at v1.0.71. The emulated Hugging
 * Face knows exactly the catalogue models and nothing else (no network is ever used).
 */
import type { ExoModel } from '../model-catalogue.js';
import type { ModelCardJson, SamplingValuesJson } from './wire-types.js';
import { memoryJson } from './wire-types.js';

/** The emulator's view of a card: the wire fields plus the parameter count the timing needs. */
export interface ExoCard {
  readonly modelId: string;
  readonly storageBytes: number;
  readonly nLayers: number;
  readonly hiddenSize: number;
  readonly supportsTensor: boolean;
  readonly numKeyValueHeads: number | null;
  readonly family: string;
  readonly quantization: string;
  readonly baseModel: string;
  readonly capabilities: readonly string[];
  readonly contextLength: number;
  readonly isCustom: boolean;
  readonly trustRemoteCode: boolean;
  readonly temperature: number | null;
  readonly topP: number | null;
  /** Not on the wire: used by the timing model (prefill FLOPs). */
  readonly parameters: number;
  /** Not on the wire: KV heads × head dim × layers, for the peak-memory figure. */
  readonly kvBytesPerToken: number;
}

/** Card fields EXO's TOML files carry for the default catalogue (values from the v1.0.71 cards). */
const BUILT_IN_METADATA: Readonly<Record<string, { baseModel: string; temperature: number; topP: number }>> = {
  'mlx-community/Llama-3.2-3B-Instruct-4bit': { baseModel: 'Llama 3.2 3B', temperature: 0.6, topP: 0.9 },
  'mlx-community/Llama-3.3-70B-Instruct-4bit': { baseModel: 'Llama 3.3 70B', temperature: 0.6, topP: 0.9 },
};

function guessFamily(id: string): string {
  const lower = id.toLowerCase();
  for (const family of ['llama', 'qwen', 'gemma', 'deepseek', 'mistral', 'phi']) {
    if (lower.includes(family)) return family;
  }
  return '';
}

/**
 * Tensor support follows `ConfigData.supports_tensor` (architecture list in model_cards.py): Llama
 * is in it, Qwen2 is not.
 */
function architectureSupportsTensor(id: string): boolean {
  return id.toLowerCase().includes('llama');
}

function kvBytes(model: ExoModel): number {
  const { layers, kvHeads, headDim } = model.shape;
  return layers * kvHeads * headDim * 2 * 2;
}

/** The card a built-in TOML gives for a catalogue model. */
export function builtInCard(model: ExoModel): ExoCard {
  const meta = BUILT_IN_METADATA[model.id];
  const quant = /(\d+)bit/i.exec(model.id);
  return {
    modelId: model.id,
    storageBytes: model.storageBytes,
    nLayers: model.shape.layers,
    hiddenSize: model.shape.hiddenSize,
    supportsTensor: architectureSupportsTensor(model.id),
    numKeyValueHeads: model.shape.kvHeads,
    family: guessFamily(model.id),
    quantization: quant ? `${quant[1]}bit` : '',
    baseModel: meta?.baseModel ?? '',
    capabilities: ['text'],
    contextLength: model.shape.trainedContext,
    isCustom: false,
    trustRemoteCode: true,
    temperature: meta?.temperature ?? null,
    topP: meta?.topP ?? null,
    parameters: model.shape.parameters,
    kvBytesPerToken: kvBytes(model),
  };
}

/** The card `ModelCard.fetch_from_hf` builds from config.json and the safetensors index. */
export function fetchedCard(model: ExoModel): ExoCard {
  return {
    modelId: model.id,
    storageBytes: model.storageBytes,
    nLayers: model.shape.layers,
    hiddenSize: model.shape.hiddenSize,
    supportsTensor: architectureSupportsTensor(model.id),
    numKeyValueHeads: model.shape.kvHeads,
    family: '',
    quantization: '',
    baseModel: '',
    capabilities: [],
    contextLength: model.shape.trainedContext,
    isCustom: true,
    trustRemoteCode: false,
    temperature: null,
    topP: null,
    parameters: model.shape.parameters,
    kvBytesPerToken: kvBytes(model),
  };
}

function emptySampling(): SamplingValuesJson {
  return {
    temperature: null,
    topP: null,
    topK: null,
    minP: null,
    repetitionPenalty: null,
    presencePenalty: null,
    frequencyPenalty: null,
  };
}

export function cardJson(card: ExoCard): ModelCardJson {
  return {
    modelId: card.modelId,
    storageSize: memoryJson(card.storageBytes),
    nLayers: card.nLayers,
    hiddenSize: card.hiddenSize,
    supportsTensor: card.supportsTensor,
    numKeyValueHeads: card.numKeyValueHeads,
    tasks: ['TextGeneration'],
    components: null,
    family: card.family,
    quantization: card.quantization,
    baseModel: card.baseModel,
    capabilities: [...card.capabilities],
    contextLength: card.contextLength,
    usesCfg: false,
    trustRemoteCode: card.trustRemoteCode,
    isCustom: card.isCustom,
    vision: null,
    samplingDefaults: {
      ...emptySampling(),
      temperature: card.temperature,
      topP: card.topP,
      thinking: null,
      nonThinking: null,
    },
  };
}

/** `ModelListModel` of api.py (a plain BaseModel: snake_case keys). */
export function modelListEntry(card: ExoCard, createdS: number): Record<string, unknown> {
  return {
    id: card.modelId,
    object: 'model',
    created: createdS,
    owned_by: 'exo',
    hugging_face_id: card.modelId,
    name: card.modelId.split('/').pop() ?? card.modelId,
    description: '',
    context_length: card.contextLength,
    tags: [],
    storage_size_megabytes: Math.round(card.storageBytes / 1024 ** 2),
    supports_tensor: card.supportsTensor,
    tasks: ['TextGeneration'],
    is_custom: card.isCustom,
    family: card.family,
    quantization: card.quantization,
    base_model: card.baseModel,
    capabilities: [...card.capabilities],
  };
}

/**
 * The card cache of one node: built-in cards plus custom ones added on any node of the cluster
 * (EXO replicates `AddCustomModelCard` to every node).
 */
export class CardRegistry {
  private readonly cards = new Map<string, ExoCard>();
  private readonly hub = new Map<string, ExoModel>();

  constructor(models: readonly ExoModel[]) {
    for (const model of models) {
      this.hub.set(model.id, model);
      if (model.builtInCard) this.cards.set(model.id, builtInCard(model));
    }
  }

  get(modelId: string): ExoCard | undefined {
    return this.cards.get(modelId);
  }

  list(): ExoCard[] {
    return [...this.cards.values()];
  }

  custom(): ExoCard[] {
    return this.list().filter((c) => c.isCustom);
  }

  add(card: ExoCard): void {
    this.cards.set(card.modelId, card);
  }

  /**
   * `ModelCard.fetch_from_hf`: the emulated hub knows the catalogue only. Throws with the text the
   * real downloader raises for a missing repo file.
   */
  fetchFromHub(modelId: string): ExoCard {
    const model = this.hub.get(modelId);
    if (!model) throw new Error(`File not found: https://huggingface.co/${modelId}/resolve/main/config.json`);
    return fetchedCard(model);
  }
}
