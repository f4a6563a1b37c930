import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Ack as _kage_v1_Ack, Ack__Output as _kage_v1_Ack__Output } from './kage/v1/Ack.js';
import type {
  AgentGatewayClient as _kage_v1_AgentGatewayClient,
  AgentGatewayDefinition as _kage_v1_AgentGatewayDefinition,
} from './kage/v1/AgentGateway.js';
import type {
  AgentMessage as _kage_v1_AgentMessage,
  AgentMessage__Output as _kage_v1_AgentMessage__Output,
} from './kage/v1/AgentMessage.js';
import type {
  BufferStats as _kage_v1_BufferStats,
  BufferStats__Output as _kage_v1_BufferStats__Output,
} from './kage/v1/BufferStats.js';
import type { Command as _kage_v1_Command, Command__Output as _kage_v1_Command__Output } from './kage/v1/Command.js';
import type {
  CommandResult as _kage_v1_CommandResult,
  CommandResult__Output as _kage_v1_CommandResult__Output,
} from './kage/v1/CommandResult.js';
import type {
  ConfiguredService as _kage_v1_ConfiguredService,
  ConfiguredService__Output as _kage_v1_ConfiguredService__Output,
} from './kage/v1/ConfiguredService.js';
import type {
  CoordinatorMessage as _kage_v1_CoordinatorMessage,
  CoordinatorMessage__Output as _kage_v1_CoordinatorMessage__Output,
} from './kage/v1/CoordinatorMessage.js';
import type {
  CoreLoad as _kage_v1_CoreLoad,
  CoreLoad__Output as _kage_v1_CoreLoad__Output,
} from './kage/v1/CoreLoad.js';
import type { Error as _kage_v1_Error, Error__Output as _kage_v1_Error__Output } from './kage/v1/Error.js';
import type { GpuInfo as _kage_v1_GpuInfo, GpuInfo__Output as _kage_v1_GpuInfo__Output } from './kage/v1/GpuInfo.js';
import type {
  GpuReading as _kage_v1_GpuReading,
  GpuReading__Output as _kage_v1_GpuReading__Output,
} from './kage/v1/GpuReading.js';
import type {
  Heartbeat as _kage_v1_Heartbeat,
  Heartbeat__Output as _kage_v1_Heartbeat__Output,
} from './kage/v1/Heartbeat.js';
import type { Hello as _kage_v1_Hello, Hello__Output as _kage_v1_Hello__Output } from './kage/v1/Hello.js';
import type {
  Inventory as _kage_v1_Inventory,
  Inventory__Output as _kage_v1_Inventory__Output,
} from './kage/v1/Inventory.js';
import type {
  LastExit as _kage_v1_LastExit,
  LastExit__Output as _kage_v1_LastExit__Output,
} from './kage/v1/LastExit.js';
import type {
  NetInterface as _kage_v1_NetInterface,
  NetInterface__Output as _kage_v1_NetInterface__Output,
} from './kage/v1/NetInterface.js';
import type {
  NetReading as _kage_v1_NetReading,
  NetReading__Output as _kage_v1_NetReading__Output,
} from './kage/v1/NetReading.js';
import type {
  ProbeResult as _kage_v1_ProbeResult,
  ProbeResult__Output as _kage_v1_ProbeResult__Output,
} from './kage/v1/ProbeResult.js';
import type {
  RunProbe as _kage_v1_RunProbe,
  RunProbe__Output as _kage_v1_RunProbe__Output,
} from './kage/v1/RunProbe.js';
import type { Sample as _kage_v1_Sample, Sample__Output as _kage_v1_Sample__Output } from './kage/v1/Sample.js';
import type {
  SampleBatch as _kage_v1_SampleBatch,
  SampleBatch__Output as _kage_v1_SampleBatch__Output,
} from './kage/v1/SampleBatch.js';
import type {
  ServiceAction as _kage_v1_ServiceAction,
  ServiceAction__Output as _kage_v1_ServiceAction__Output,
} from './kage/v1/ServiceAction.js';
import type {
  ServiceEvent as _kage_v1_ServiceEvent,
  ServiceEvent__Output as _kage_v1_ServiceEvent__Output,
} from './kage/v1/ServiceEvent.js';
import type {
  ServiceStatus as _kage_v1_ServiceStatus,
  ServiceStatus__Output as _kage_v1_ServiceStatus__Output,
} from './kage/v1/ServiceStatus.js';
import type {
  ServiceUsage as _kage_v1_ServiceUsage,
  ServiceUsage__Output as _kage_v1_ServiceUsage__Output,
} from './kage/v1/ServiceUsage.js';
import type {
  TempReading as _kage_v1_TempReading,
  TempReading__Output as _kage_v1_TempReading__Output,
} from './kage/v1/TempReading.js';
import type { Welcome as _kage_v1_Welcome, Welcome__Output as _kage_v1_Welcome__Output } from './kage/v1/Welcome.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new (...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  kage: {
    v1: {
      Ack: MessageTypeDefinition<_kage_v1_Ack, _kage_v1_Ack__Output>;
      /**
       * The coordinator's gRPC service. Agents authenticate with the metadata entry
       * `authorization: Bearer <token>` (the agent's token from its config); a missing or wrong token
       * ends the call with status UNAUTHENTICATED before any message is exchanged.
       */
      AgentGateway: SubtypeConstructor<typeof grpc.Client, _kage_v1_AgentGatewayClient> & {
        service: _kage_v1_AgentGatewayDefinition;
      };
      AgentMessage: MessageTypeDefinition<_kage_v1_AgentMessage, _kage_v1_AgentMessage__Output>;
      BufferStats: MessageTypeDefinition<_kage_v1_BufferStats, _kage_v1_BufferStats__Output>;
      Command: MessageTypeDefinition<_kage_v1_Command, _kage_v1_Command__Output>;
      CommandResult: MessageTypeDefinition<_kage_v1_CommandResult, _kage_v1_CommandResult__Output>;
      ConfiguredService: MessageTypeDefinition<_kage_v1_ConfiguredService, _kage_v1_ConfiguredService__Output>;
      CoordinatorMessage: MessageTypeDefinition<_kage_v1_CoordinatorMessage, _kage_v1_CoordinatorMessage__Output>;
      CoreLoad: MessageTypeDefinition<_kage_v1_CoreLoad, _kage_v1_CoreLoad__Output>;
      Error: MessageTypeDefinition<_kage_v1_Error, _kage_v1_Error__Output>;
      GpuInfo: MessageTypeDefinition<_kage_v1_GpuInfo, _kage_v1_GpuInfo__Output>;
      GpuReading: MessageTypeDefinition<_kage_v1_GpuReading, _kage_v1_GpuReading__Output>;
      Heartbeat: MessageTypeDefinition<_kage_v1_Heartbeat, _kage_v1_Heartbeat__Output>;
      Hello: MessageTypeDefinition<_kage_v1_Hello, _kage_v1_Hello__Output>;
      Inventory: MessageTypeDefinition<_kage_v1_Inventory, _kage_v1_Inventory__Output>;
      LastExit: MessageTypeDefinition<_kage_v1_LastExit, _kage_v1_LastExit__Output>;
      NetInterface: MessageTypeDefinition<_kage_v1_NetInterface, _kage_v1_NetInterface__Output>;
      NetReading: MessageTypeDefinition<_kage_v1_NetReading, _kage_v1_NetReading__Output>;
      ProbeResult: MessageTypeDefinition<_kage_v1_ProbeResult, _kage_v1_ProbeResult__Output>;
      RunProbe: MessageTypeDefinition<_kage_v1_RunProbe, _kage_v1_RunProbe__Output>;
      Sample: MessageTypeDefinition<_kage_v1_Sample, _kage_v1_Sample__Output>;
      SampleBatch: MessageTypeDefinition<_kage_v1_SampleBatch, _kage_v1_SampleBatch__Output>;
      ServiceAction: MessageTypeDefinition<_kage_v1_ServiceAction, _kage_v1_ServiceAction__Output>;
      ServiceEvent: MessageTypeDefinition<_kage_v1_ServiceEvent, _kage_v1_ServiceEvent__Output>;
      ServiceStatus: MessageTypeDefinition<_kage_v1_ServiceStatus, _kage_v1_ServiceStatus__Output>;
      ServiceUsage: MessageTypeDefinition<_kage_v1_ServiceUsage, _kage_v1_ServiceUsage__Output>;
      TempReading: MessageTypeDefinition<_kage_v1_TempReading, _kage_v1_TempReading__Output>;
      Welcome: MessageTypeDefinition<_kage_v1_Welcome, _kage_v1_Welcome__Output>;
    };
  };
}
