export {};
// Telemetry: the agent's main loop reads the inventory once, then runs one sampler (createSampler →
// start → close); its `services` option can return `registry.statuses()` (name, pid, cgroup) as is.
export { createSampler } from './telemetry/sampler.js';
export type { Sampler, SamplerOptions, SamplerStats } from './telemetry/sampler.js';
export type { ServiceTarget } from './telemetry/service-usage.js';
export type { GpuSample, NetSample, Sample, ServiceSample, TempSample } from './telemetry/types.js';
export { readInventory } from './telemetry/inventory.js';
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
} from './supervision/types.js';
