/**
 * @kage/wire — the agent ⇄ coordinator gRPC contract: the .proto files (in this package's
 * `proto/`), the TypeScript types generated from them, the loader with the options those types were
 * generated with, and the protocol version. Both daemons import this package; neither imports the
 * other. A fake coordinator for tests lives under `@kage/wire/testing`.
 */
export { contractProtoRoot, loadContract } from './load-contract.js';
export { LOADER_OPTIONS, PROTO_FILES } from './generated/loader-options.js';
export type { ProtoGrpcType } from './generated/agent.js';
export type {
  AgentGatewayClient,
  AgentGatewayDefinition,
  AgentGatewayHandlers,
} from './generated/kage/v1/AgentGateway.js';

/** Version of the contract spoken by this build (`Hello.protocol_version`). */
export const PROTOCOL_VERSION = 1;

export type { Ack, Ack__Output } from './generated/kage/v1/Ack.js';
export type { AgentMessage, AgentMessage__Output } from './generated/kage/v1/AgentMessage.js';
export type { BufferStats, BufferStats__Output } from './generated/kage/v1/BufferStats.js';
export type { Command, Command__Output } from './generated/kage/v1/Command.js';
export type { CommandResult, CommandResult__Output } from './generated/kage/v1/CommandResult.js';
export type { ConfiguredService, ConfiguredService__Output } from './generated/kage/v1/ConfiguredService.js';
export type { CoordinatorMessage, CoordinatorMessage__Output } from './generated/kage/v1/CoordinatorMessage.js';
export type { CoreLoad, CoreLoad__Output } from './generated/kage/v1/CoreLoad.js';
export type { Error as WireError, Error__Output as WireError__Output } from './generated/kage/v1/Error.js';
export type { ExoInstance, ExoInstance__Output } from './generated/kage/v1/ExoInstance.js';
export type { ExoRunner, ExoRunner__Output } from './generated/kage/v1/ExoRunner.js';
export type { LoadedModels, LoadedModels__Output } from './generated/kage/v1/LoadedModels.js';
export type { OllamaModel, OllamaModel__Output } from './generated/kage/v1/OllamaModel.js';
export type { ServiceModels, ServiceModels__Output } from './generated/kage/v1/ServiceModels.js';
export type { GpuInfo, GpuInfo__Output } from './generated/kage/v1/GpuInfo.js';
export type { GpuReading, GpuReading__Output } from './generated/kage/v1/GpuReading.js';
export type { Heartbeat, Heartbeat__Output } from './generated/kage/v1/Heartbeat.js';
export type { Hello, Hello__Output } from './generated/kage/v1/Hello.js';
export type { Inventory, Inventory__Output } from './generated/kage/v1/Inventory.js';
export type { LastExit, LastExit__Output } from './generated/kage/v1/LastExit.js';
export type { NetInterface, NetInterface__Output } from './generated/kage/v1/NetInterface.js';
export type { NetReading, NetReading__Output } from './generated/kage/v1/NetReading.js';
export type { ProbeResult, ProbeResult__Output } from './generated/kage/v1/ProbeResult.js';
export type { RunProbe, RunProbe__Output } from './generated/kage/v1/RunProbe.js';
export type { Sample, Sample__Output } from './generated/kage/v1/Sample.js';
export type { SampleBatch, SampleBatch__Output } from './generated/kage/v1/SampleBatch.js';
export type { ServiceAction, ServiceAction__Output } from './generated/kage/v1/ServiceAction.js';
export type { ServiceEvent, ServiceEvent__Output } from './generated/kage/v1/ServiceEvent.js';
export type { ServiceStatus, ServiceStatus__Output } from './generated/kage/v1/ServiceStatus.js';
export type { ServiceUsage, ServiceUsage__Output } from './generated/kage/v1/ServiceUsage.js';
export type { TempReading, TempReading__Output } from './generated/kage/v1/TempReading.js';
export type { Welcome, Welcome__Output } from './generated/kage/v1/Welcome.js';
