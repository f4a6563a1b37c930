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
export {
  loadMatrix,
  loadMatrixChecked,
  parseMatrix,
  parseMatrixChecked,
  targetUrlProblem,
  validateMatrix,
  validateMatrixChecked,
  type CheckedMatrix,
} from './matrix.js';
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
export { readOpenAiChunk, type OpenAiChunkUsage, type OpenAiChunkView } from './openai-chunk.js';
export { createExoClient, type ExoClientOptions } from './exo-client.js';
export {
  instanceRunners,
  readExoState,
  READY_RUNNER_STATES,
  type ExoInstanceView,
  type ExoRunnerView,
  type ExoShardView,
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
export {
  REPORT_SCHEMA,
  buildReport,
  listRuns,
  type CellStatus,
  type KageReport,
  type ReportCell,
  type ReportDecision,
  type ReportDecodeTps,
  type ReportE2e,
  type ReportOutputTokens,
  type ReportRecommendation,
  type ReportRun,
  type ReportTtft,
  type RunStatus,
} from './report-json.js';
export { renderMarkdown } from './report/render-markdown.js';
export { renderHtml } from './report/render-html.js';
export {
  EMULATED_NOTICE,
  SEED_THRESHOLDS,
  type DecisionThresholds,
  type RenderOptions,
} from './report/render-options.js';
export { type BenchStore, type CreateRunInput } from './store/bench-store.js';
export { openBenchStore, type OpenBenchStoreOptions } from './store/open-bench-store.js';
export {
  type CellOutcome,
  type CellPlanEntry,
  type RunListEntry,
  type StoredAttempt,
  type StoredCell,
  type StoredRun,
} from './store/store-types.js';
export {
  LATEST_SCHEMA_VERSION,
  SCHEMA_COMPONENT,
  runMigrations,
  type Migration,
  type SchemaComponent,
} from './store/migrations.js';
export { storeError } from './store/store-errors.js';
export { isRunId, newRunId } from './store/ids.js';
export { hostInfo, type HostInfo } from './run/host-info.js';
export { checkTarget, type TargetHealth } from './run/ollama-health.js';
export { planCells } from './run/run-plan.js';
export { decideRun, decisionCellFromStore } from './run/run-decisions.js';
export { type CellPosition, type RunEvent, type RunProgress } from './run/run-events.js';
export { resumeRun, runMatrix } from './run/run-matrix.js';
export {
  RUN_CANCEL_REASON,
  type ResumeRunOptions,
  type RunCommonOptions,
  type RunMatrixOptions,
  type RunOutcome,
} from './run/run-options.js';
export { ActiveRuns } from './run/active-runs.js';
export { failedRequestMetrics, type SendRequest } from './run/send-request.js';
export { type CellMeasuredWindow } from './run/cell-window.js';
export {
  SELFTEST_TARGETS,
  runSelftest,
  type SelftestFigures,
  type SelftestOptions,
  type SelftestProtocol,
  type SelftestResult,
  type SelftestStats,
} from './selftest/run-selftest.js';
