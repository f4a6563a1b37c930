/**
 * EXO's model cards (v1.0.71 `shared/models/model_cards.py`). Every node starts with the built-in
 * cards, the real ones of `resources/inference_model_cards/` (generated into
 * `src/generated/exo-card-data.ts`). An id without a card is fetched from the emulated Hugging Face
 * hub (`model-card-data.ts`) the way `ModelCard.load` fetches it: `/place_instance`,
 * `/instance/placement` and `/instance/previews` need no `POST /models/add` first; the fetched card
 * is cached on the node that loaded it (as a custom card), while `POST /models/add` also
 * replicates it to the cluster. Only an id the hub does not know fails.
 */
import { BUILT_IN_CARD_DATA } from '../generated/exo-card-data.js';
import type { ExoModel, ModelShape } from '../model-catalogue.js';
import { kvBytesPerToken } from '../model-catalogue.js';
import {
  architectureOfId,
  architectureSupportsTensor,
  buildHub,
  shapeOfBuiltIn,
  type BuiltInCardData,
  type CardSampling,
  type HubRepo,
} from './model-card-data.js';
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
  readonly sampling: CardSampling;
  readonly thinking: CardSampling | null;
  readonly nonThinking: CardSampling | null;
  /** Not on the wire: used by the timing model (prefill FLOPs). */
  readonly parameters: number;
  /** Not on the wire: KV-cache bytes per token over all layers, for memory figures. */
  readonly kvBytesPerToken: number;
}

const BUILT_IN_BY_ID = new Map<string, BuiltInCardData>(BUILT_IN_CARD_DATA.map((c) => [c.id, c]));

/** The built-in card of `data`; `shape` (a catalogue model's real shape) refines the estimates. */
function cardFromData(data: BuiltInCardData, shape: ModelShape = shapeOfBuiltIn(data)): ExoCard {
  return {
    modelId: data.id,
    storageBytes: data.bytes,
    nLayers: data.layers,
    hiddenSize: data.hidden,
    supportsTensor: data.tensor,
    numKeyValueHeads: data.kvHeads,
    family: data.family,
    quantization: data.quant,
    baseModel: data.base,
    capabilities: data.caps,
    contextLength: data.ctx,
    isCustom: false,
    trustRemoteCode: true,
    sampling: data.sampling ?? {},
    thinking: data.thinking ?? null,
    nonThinking: data.nonThinking ?? null,
    parameters: shape.parameters,
    kvBytesPerToken: kvBytesPerToken(shape),
  };
}

/** The card EXO ships for a catalogue model (which must be one of the built-in cards). */
export function builtInCard(model: ExoModel): ExoCard {
  const data = BUILT_IN_BY_ID.get(model.id);
  if (!data) throw new Error(`EXO v1.0.71 has no built-in card for ${model.id}`);
  return cardFromData(data, model.shape);
}

/** The card `ModelCard.fetch_from_hf` builds from config.json and the safetensors index. */
function cardFromHub(repo: HubRepo): ExoCard {
  return {
    modelId: repo.id,
    storageBytes: repo.totalSizeBytes,
    nLayers: repo.shape.layers,
    hiddenSize: repo.shape.hiddenSize,
    supportsTensor: repo.supportsTensor,
    numKeyValueHeads: repo.shape.kvHeads,
    family: '',
    quantization: '',
    baseModel: '',
    capabilities: [],
    contextLength: repo.shape.trainedContext,
    isCustom: true,
    trustRemoteCode: false,
    sampling: {},
    thinking: null,
    nonThinking: null,
    parameters: repo.shape.parameters,
    kvBytesPerToken: kvBytesPerToken(repo.shape),
  };
}

/** The fetched card of a catalogue model. */
export function fetchedCard(model: ExoModel): ExoCard {
  return cardFromHub({
    id: model.id,
    totalSizeBytes: model.storageBytes,
    supportsTensor: architectureSupportsTensor(architectureOfId(model.id)),
    shape: model.shape,
  });
}

/** `SamplingValues` with every field, unset ones as null. */
function samplingJson(values: CardSampling): SamplingValuesJson {
  return {
    temperature: values.temperature ?? null,
    topP: values.topP ?? null,
    topK: values.topK ?? null,
    minP: values.minP ?? null,
    repetitionPenalty: values.repetitionPenalty ?? null,
    presencePenalty: values.presencePenalty ?? null,
    frequencyPenalty: values.frequencyPenalty ?? null,
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
      ...samplingJson(card.sampling),
      thinking: card.thinking ? samplingJson(card.thinking) : null,
      nonThinking: card.nonThinking ? samplingJson(card.nonThinking) : null,
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
 * The card cache of one node: the built-in cards, cards fetched here by `load`, and custom cards
 * added on any node of the cluster (EXO replicates `AddCustomModelCard` to every node).
 */
export class CardRegistry {
  private readonly cards = new Map<string, ExoCard>();
  /** Cards added through `/models/add` (or replicated from the master): shared with the cluster. */
  private readonly replicated = new Set<string>();
  private readonly hub: Map<string, HubRepo>;

  constructor(models: readonly ExoModel[]) {
    this.hub = buildHub(BUILT_IN_CARD_DATA, models);
    const shapes = new Map(models.map((m) => [m.id, m.shape]));
    for (const data of BUILT_IN_CARD_DATA) this.cards.set(data.id, cardFromData(data, shapes.get(data.id)));
  }

  get(modelId: string): ExoCard | undefined {
    return this.cards.get(modelId);
  }

  list(): ExoCard[] {
    return [...this.cards.values()];
  }

  /** Custom cards to replicate to the other nodes. */
  custom(): ExoCard[] {
    return this.list().filter((c) => c.isCustom && this.replicated.has(c.modelId));
  }

  add(card: ExoCard): void {
    this.cards.set(card.modelId, card);
    if (card.isCustom) this.replicated.add(card.modelId);
  }

  /**
   * `ModelCard.fetch_from_hf`: config.json and the safetensors index from the emulated hub. An id
   * the hub does not know fails as on a real node without an `HF_TOKEN`: Hugging Face answers 401
   * for a repository that does not exist (it will not say whether a private one does).
   */
  fetchFromHub(modelId: string): ExoCard {
    const repo = this.hub.get(modelId);
    if (!repo) {
      throw new Error(
        `Model '${modelId}' requires authentication. Set HF_TOKEN in the app's Advanced settings, set the ` +
          'HF_TOKEN environment variable, or run `hf auth login`. Get a token at https://huggingface.co/settings/tokens',
      );
    }
    return cardFromHub(repo);
  }

  /**
   * `GET /models/search` → `huggingface_hub.list_models`: the hub's ids containing `query` (case
   * folded, as the hub searches), `mlx-community` first: only when it has none does EXO search the
   * whole hub. The emulated hub has no download counts, so the order is the hub's own.
   */
  searchHub(query: string, limit: number): string[] {
    const q = query.toLowerCase();
    const all = [...this.hub.keys()].filter((id) => id.toLowerCase().includes(q));
    const mlx = all.filter((id) => id.startsWith('mlx-community/'));
    return (mlx.length > 0 ? mlx : all).slice(0, Math.max(0, limit));
  }

  /**
   * `ModelCard.load`: the cached card, else one fetched from the hub and saved as a custom card on
   * this node only (no event tells the others). Throws when the hub does not know the id.
   */
  load(modelId: string): ExoCard {
    const cached = this.cards.get(modelId);
    if (cached) return cached;
    const card = this.fetchFromHub(modelId);
    this.cards.set(modelId, card);
    return card;
  }
}
