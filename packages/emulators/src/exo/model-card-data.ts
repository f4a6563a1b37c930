/**
 * The facts behind EXO's model cards: the shape of one built-in card (the generated table in
 * `src/generated/exo-card-data.ts`), and the emulated Hugging Face hub that `ModelCard.load` and
 * `POST /models/add` fetch unknown ids from.
 *
 * The hub is an in-process catalogue, the same on every node (no network is ever used). It knows
 * every built-in card's repository, the emulator's model catalogue (`--models`), and a few more
 * MLX builds that EXO ships no card for. For each it holds what EXO reads from the repository:
 * `config.json` (architecture, layers, hidden size, KV heads, `max_position_embeddings`) and the
 * safetensors index's `total_size`.
 */
import type { ExoModel, ModelShape } from '../model-catalogue.js';

/** Sampling values of a card, camelCase as the card's JSON serialises them. */
export interface CardSampling {
  readonly temperature?: number;
  readonly topP?: number;
  readonly topK?: number;
  readonly minP?: number;
  readonly repetitionPenalty?: number;
  readonly presencePenalty?: number;
  readonly frequencyPenalty?: number;
}

/** One built-in card, as generated from its TOML file. */
export interface BuiltInCardData {
  readonly id: string;
  readonly bytes: number;
  readonly layers: number;
  readonly hidden: number;
  readonly kvHeads: number | null;
  readonly tensor: boolean;
  readonly family: string;
  readonly quant: string;
  readonly base: string;
  readonly caps: readonly string[];
  readonly ctx: number;
  readonly sampling?: CardSampling;
  readonly thinking?: CardSampling;
  readonly nonThinking?: CardSampling;
  /** The card has a `[vision]` section (the emulator serves `vision: null` regardless). */
  readonly vision?: boolean;
}

/** What the emulated hub returns for a repository. */
export interface HubRepo {
  readonly id: string;
  /** `model.safetensors.index.json` `metadata.total_size`. */
  readonly totalSizeBytes: number;
  /** `ConfigData.supports_tensor`, from `config.json` `architectures`. */
  readonly supportsTensor: boolean;
  readonly shape: ModelShape;
}

/**
 * `ConfigData.supports_tensor` at v1.0.71: the architectures EXO can tensor-shard (the list in
 * `shared/models/model_cards.py`).
 */
const TENSOR_ARCHITECTURES = new Set([
  'Glm4MoeLiteForCausalLM',
  'GlmMoeDsaForCausalLM',
  'DeepseekV32ForCausalLM',
  'DeepseekV3ForCausalLM',
  'Qwen3NextForCausalLM',
  'Qwen3MoeForCausalLM',
  'Qwen3_5MoeForConditionalGeneration',
  'Qwen3_5ForConditionalGeneration',
  'Qwen3VLForConditionalGeneration',
  'MiniMaxM2ForCausalLM',
  'LlamaForCausalLM',
  'GptOssForCausalLM',
  'Step3p5ForCausalLM',
  'NemotronHForCausalLM',
  'Gemma4ForConditionalGeneration',
]);

export function architectureSupportsTensor(architecture: string): boolean {
  return TENSOR_ARCHITECTURES.has(architecture);
}

/**
 * Stored bits per weight of a quantisation tag, to estimate a card's parameter count from its size
 * (cards carry no parameter count): MLX affine quantisation stores a 16-bit scale and bias per 64
 * weights, 0.5 bits on top of the nominal width; MXFP4 an 8-bit scale per 32, 0.25.
 */
function bitsPerWeight(quant: string): number {
  const q = quant.toLowerCase();
  if (q.includes('mxfp4') || q.includes('nvfp4')) return 4.25;
  const bits = /(\d+)\s*bit/.exec(q);
  if (bits) return Number(bits[1]) + 0.5;
  return 16;
}

/** Head dimension when a card does not say (cards carry no attention-head count): 128, the usual. */
const DEFAULT_HEAD_DIM = 128;

/** The model shape a built-in card implies (parameters and head dim estimated, see above). */
export function shapeOfBuiltIn(card: BuiltInCardData): ModelShape {
  return {
    parameters: Math.round((card.bytes * 8) / bitsPerWeight(card.quant)),
    layers: card.layers,
    hiddenSize: card.hidden,
    kvHeads: card.kvHeads ?? 8,
    headDim: DEFAULT_HEAD_DIM,
    trainedContext: card.ctx,
  };
}

/** The `config.json` architecture of a repository, from its id (the catalogue's lines only). */
export function architectureOfId(id: string): string {
  const lower = id.toLowerCase();
  if (lower.includes('llama')) return 'LlamaForCausalLM';
  if (lower.includes('qwen2.5') || lower.includes('qwen2-')) return 'Qwen2ForCausalLM';
  if (lower.includes('qwen3')) return 'Qwen3ForCausalLM';
  return 'UnknownForCausalLM';
}

/**
 * MLX builds on the hub with no EXO card, beyond the catalogue's. Shapes from each base model's
 * `config.json` (Qwen/Qwen2.5-*-Instruct); sizes are estimates, parameters × 4.5 bits, like the
 * catalogue's Qwen2.5 entries.
 */
const EXTRA_HUB_MODELS: readonly HubRepo[] = [
  qwen25('mlx-community/Qwen2.5-0.5B-Instruct-4bit', 494_000_000, 24, 896, 2, 64),
  qwen25('mlx-community/Qwen2.5-1.5B-Instruct-4bit', 1_540_000_000, 28, 1536, 2, 128),
  qwen25('mlx-community/Qwen2.5-7B-Instruct-4bit', 7_620_000_000, 28, 3584, 4, 128),
  qwen25('mlx-community/Qwen2.5-Coder-7B-Instruct-4bit', 7_620_000_000, 28, 3584, 4, 128),
  qwen25('mlx-community/Qwen2.5-14B-Instruct-4bit', 14_700_000_000, 48, 5120, 8, 128),
];

function qwen25(
  id: string,
  parameters: number,
  layers: number,
  hiddenSize: number,
  kvHeads: number,
  headDim: number,
): HubRepo {
  return {
    id,
    totalSizeBytes: Math.round((parameters * 4.5) / 8),
    supportsTensor: architectureSupportsTensor('Qwen2ForCausalLM'),
    shape: { parameters, layers, hiddenSize, kvHeads, headDim, trainedContext: 32768 },
  };
}

/** The emulated hub: built-in cards' repositories, the catalogue models and the extras. */
export function buildHub(builtIns: readonly BuiltInCardData[], catalogue: readonly ExoModel[]): Map<string, HubRepo> {
  const hub = new Map<string, HubRepo>();
  for (const repo of EXTRA_HUB_MODELS) hub.set(repo.id, repo);
  for (const card of builtIns) {
    hub.set(card.id, {
      id: card.id,
      totalSizeBytes: card.bytes,
      // A card's `supports_tensor` was written from the same architecture list.
      supportsTensor: card.tensor,
      shape: shapeOfBuiltIn(card),
    });
  }
  for (const model of catalogue) {
    hub.set(model.id, {
      id: model.id,
      totalSizeBytes: model.storageBytes,
      supportsTensor: architectureSupportsTensor(architectureOfId(model.id)),
      shape: model.shape,
    });
  }
  return hub;
}
