/**
 * @kage/emulators: protocol-faithful Ollama and EXO 1.x servers with a physical timing model.
 * Used by tests and by `kage demo`; their numbers are never presented as real measurements.
 */
export {
  HARDWARE_PROFILES,
  DEFAULT_PROFILE_ID,
  SEED_NODE_PROFILES,
  findHardwareProfile,
  type HardwareProfile,
  type ComputeEngine,
  type GpuEngine,
} from './hardware-profiles.js';
export {
  DEFAULT_OLLAMA_MODELS,
  DEFAULT_EXO_MODELS,
  kvBytesPerToken,
  normaliseOllamaName,
  type OllamaModel,
  type ExoModel,
  type ModelShape,
} from './model-catalogue.js';
export {
  decodeSecondsPerToken,
  prefillSeconds,
  loadSeconds,
  pipelineSecondsPerToken,
  pipelinePrefillSeconds,
  batchFactor,
  estimateTokens,
  type PipelineStage,
} from './timing-model.js';
export { NO_FAULTS, mergeFaults, type FaultOptions } from './faults.js';
export { createRandom, type Random } from './random.js';
export {
  startOllamaEmulator,
  DEFAULT_OLLAMA_VERSION,
  type OllamaEmulatorOptions,
  type RunningEmulator,
} from './ollama/ollama-emulator.js';
export { startExoEmulator, type ExoEmulatorOptions } from './exo/exo-emulator.js';
