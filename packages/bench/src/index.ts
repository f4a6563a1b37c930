/**
 * @kage/bench — benchmark core: matrix validation, protocol clients (Ollama native, OpenAI-compatible,
 * EXO 1.x) with exact client-side timing, the cell runner, statistics and decision rules.
 *
 * Typical use: `loadMatrix(file)` → for each target `createClient(target)` → `client.prepare(modelId)`
 * → `runCell({...})` per concurrency level → `summarizeCell` / `decide` / `recommend` →
 * `client.close()`.
 */
export {
  BenchError,
  ExoPrepareError,
  MatrixInvalidError,
  formatMatrixProblem,
  type BenchErrorCode,
  type ExoClusterDetails,
  type MatrixProblem,
} from './errors.js';
export { silentLogger, type BenchLogger } from './logger.js';
export {
  MATRIX_DEFAULTS,
  MatrixDecisionSchema,
  MatrixFileSchema,
  MatrixModelSchema,
  MatrixTargetSchema,
  TARGET_KINDS,
  type Matrix,
  type MatrixDecision,
  type MatrixFile,
  type MatrixModel,
  type MatrixTarget,
  type TargetKind,
} from './matrix-schema.js';
export { formatPath, loadMatrix, parseMatrix, validateMatrix } from './matrix.js';
export {
  type ChatRequest,
  type PrepareOptions,
  type PrepareProgress,
  type PrepareResult,
  type ProtocolClient,
} from './protocol-client.js';
export { createClient, modelIdFor, type CreateClientOptions } from './create-client.js';
export { createOllamaClient, type OllamaClientOptions } from './ollama-client.js';
export { createOpenAiClient, type OpenAiClientOptions } from './openai-client.js';
export { createExoClient, type ExoClientOptions } from './exo-client.js';
export {
  readExoState,
  READY_RUNNER_STATES,
  type ExoInstanceView,
  type ExoRunnerView,
  type ExoStateView,
} from './exo-state.js';
export {
  type RequestError,
  type RequestErrorKind,
  type RequestMetrics,
  type ServerCounters,
} from './request-metrics.js';
export {
  runCell,
  type CellEvent,
  type CellRequestRecord,
  type CellResult,
  type RunCellOptions,
} from './cell-runner.js';
export {
  DEFAULT_BOOTSTRAP_SEED,
  DEFAULT_CV_THRESHOLD,
  DEFAULT_RESAMPLES,
  bootstrapCi,
  bootstrapTwoSampleCi,
  mean,
  median,
  percentile,
  stddev,
  summarize,
  type BootstrapOptions,
  type Summary,
} from './statistics.js';
export { summarizeCell, type CellSummary } from './cell-summary.js';
export {
  VERDICTS,
  decide,
  decisionCellFromResult,
  type DecideInput,
  type Decision,
  type DecisionCell,
  type Verdict,
} from './decision.js';
export { parameterBillions, recommend, type Recommendation } from './recommendation.js';
