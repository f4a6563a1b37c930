export {};
// Telemetry: the agent's main loop reads the inventory once, then runs one sampler (createSampler →
// start → close); its `services` option can return `registry.statuses()` (name, pid, cgroup) as is.
export { createSampler } from './telemetry/sampler.js';
export type { Sampler, SamplerOptions, SamplerStats } from './telemetry/sampler.js';
export type { ServiceTarget } from './telemetry/service-usage.js';
export type { GpuSample, NetSample, Sample, ServiceSample, TempSample } from './telemetry/types.js';
export { readInventory } from './telemetry/inventory.js';
// `kage doctor` reads a node's AMD GPUs with the sampler's own discovery.
export { listAmdGpus } from './telemetry/amdgpu-reader.js';
export type { AmdGpuFacts } from './telemetry/amdgpu-reader.js';
export type { Inventory, InventorySource, ReadInventoryOptions } from './telemetry/inventory.js';
export { createNvidiaSmiMonitor, parseNvidiaSmiLine } from './telemetry/nvidia-smi-monitor.js';
export type { NvidiaSmiMonitor, NvidiaSmiMonitorOptions, NvidiaSmiState } from './telemetry/nvidia-smi-monitor.js';
// Supervision: the agent main builds one registry from the config's `services` map; the gRPC command
// handler calls `registry.command(service, action)`; telemetry reads `registry.statuses()`.
export { createServiceRegistry, isServiceAction } from './supervision/service-registry.js';
export type { ServiceRegistry, ServiceRegistryOptions } from './supervision/service-registry.js';
export { createProcessService } from './supervision/process-service.js';
export type { ProcessService, ProcessServiceOptions } from './supervision/process-service.js';
export { createSystemdService } from './supervision/systemd-service.js';
export type { SystemdService, SystemdServiceOptions } from './supervision/systemd-service.js';
export { SupervisionError } from './supervision/errors.js';
export type { SupervisionErrorCode } from './supervision/errors.js';
export { DEFAULT_TIMINGS } from './supervision/service-options.js';
export type { SupervisionTimings } from './supervision/service-options.js';
export { DEFAULT_RESTART_POLICY, SERVICE_ACTIONS } from './supervision/types.js';
// Versions: the agent reports each service's version; `kage doctor` reads an EXO checkout's tag
// the same way.
export { readGitTag, readServiceVersion } from './supervision/service-version.js';
export type {
  HealthState,
  InferenceProbe,
  LastExit,
  ProcessServiceConfig,
  RestartPolicy,
  ServiceAction,
  ServiceConfig,
  ServiceDriver,
  ServiceEvent,
  ServiceEventListener,
  ServiceState,
  ServiceStatus,
  SupervisedService,
  SystemdServiceConfig,
  VersionSource,
} from './supervision/types.js';
// Config and daemon integration: the agent main reads the environment once (readDaemonEnv, then
// scrubDaemonEnv), builds the logger, loads the config (exit 78 on KAGE_ERR_CONFIG_*), sends READY
// through the notifier and starts the watchdog with one freshness check per loop.
export { loadAgentConfig, parseAgentConfig } from './config/agent-config.js';
export type { LoadAgentConfigOptions } from './config/agent-config.js';
export type {
  AgentConfig,
  BufferConfig,
  CoordinatorConfig,
  CoordinatorTlsConfig,
  ResolvedProcessServiceConfig,
  ResolvedServiceConfig,
} from './config/agent-config-types.js';
export { AGENT_CONFIG_DEFAULTS, AgentConfigFileSchema, MAX_GRACE_MS } from './config/agent-config-schema.js';
export { AgentConfigError } from './config/errors.js';
export type { AgentConfigErrorCode, ConfigProblem } from './config/errors.js';
// Coordinator stream: the agent main reads the boot id, creates one stream (createAgentStream →
// open → pushSample / pushServiceEvent → close) and wires its command handlers to the registry.
export { createAgentStream, toGrpcTarget } from './stream/agent-stream.js';
export type {
  AgentStream,
  AgentStreamOptions,
  AgentStreamState,
  AgentStreamStatus,
  AgentStreamTls,
} from './stream/agent-stream.js';
export type { CommandContext, CommandHandlers, ProbeRequest } from './stream/command-dispatcher.js';
export { readBootId } from './stream/boot-id.js';
export type { ReadBootIdOptions } from './stream/boot-id.js';
export { createDiskBuffer } from './stream/disk-buffer.js';
export type { BufferRecord, DiskBuffer, DiskBufferOptions, DiskBufferStats } from './stream/disk-buffer.js';
export { ReconnectBackoff } from './stream/reconnect-backoff.js';
export type { ReconnectBackoffOptions, ReconnectDelay } from './stream/reconnect-backoff.js';
export { StreamError } from './stream/errors.js';
export type { StreamErrorCode } from './stream/errors.js';
export { toWireInventory, toWireSample, toWireServiceEvent, toWireServiceStatus } from './stream/wire-convert.js';
// Daemon: `kage agent` builds one daemon from the loaded config and closes it on SIGTERM.
export { createAgentDaemon } from './daemon/agent-daemon.js';
export type { AgentDaemon, AgentDaemonOptions } from './daemon/agent-daemon.js';
// Loaded models: what the node's Ollama and EXO hold now, sent to the coordinator as it changes.
export { createLoadedModelsWatcher, DEFAULT_LOADED_MODELS_INTERVAL_MS } from './models/loaded-models-watcher.js';
export type {
  LoadedModelsSource,
  LoadedModelsWatcher,
  LoadedModelsWatcherOptions,
} from './models/loaded-models-watcher.js';
export { readExoInstances } from './models/read-exo-instances.js';
export { readOllamaPs } from './models/read-ollama-ps.js';
export type { LiveMessages } from './stream/live-messages.js';
