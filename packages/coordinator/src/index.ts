/**
 * @kage/coordinator — the coordinator daemon (`kage coordinator --config FILE`): accepts node
 * agents over gRPC, keeps the node registry and telemetry in SQLite, serves the REST API and runs
 * benchmark matrices through the agents.
 */
export { loadCoordinatorConfig, type CoordinatorConfig } from './config/coordinator-config.js';
export {
  createCoordinatorDaemon,
  type CoordinatorDaemon,
  type CoordinatorDaemonOptions,
} from './daemon/coordinator-daemon.js';
export { CoordinatorError, type CoordinatorErrorCode } from './coordinator-error.js';
export type { GpuView, LatestView, MetricPoint, NodeStatus, NodeView, ServiceView } from './registry/node-view.js';
export type {
  ExoInstanceView,
  ExoRunnerView,
  ModelSourceView,
  ModelsView,
  OllamaModelView,
} from './registry/models-view.js';
export type { ServiceActionName, ServiceActionResult } from './grpc/agent-commander.js';
export type { RunDetail } from './http/api-deps.js';
export { createGateway, type Gateway, type GatewayOptions } from './gateway/gateway-server.js';
export type { GatewayBackendConfig, GatewayConfig } from './config/gateway-config.js';
