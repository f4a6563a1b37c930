// Original file: /work/main/proto/kage/v1/agent.proto

import type * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import type {
  AgentMessage as _kage_v1_AgentMessage,
  AgentMessage__Output as _kage_v1_AgentMessage__Output,
} from '../../kage/v1/AgentMessage.js';
import type {
  CoordinatorMessage as _kage_v1_CoordinatorMessage,
  CoordinatorMessage__Output as _kage_v1_CoordinatorMessage__Output,
} from '../../kage/v1/CoordinatorMessage.js';

/**
 * The coordinator's gRPC service. Agents authenticate with the metadata entry
 * `authorization: Bearer <token>` (the agent's token from its config); a missing or wrong token
 * ends the call with status UNAUTHENTICATED before any message is exchanged.
 */
export interface AgentGatewayClient extends grpc.Client {
  /**
   * One call per agent connection. The agent's first message must be Hello; the coordinator
   * answers Welcome, then either side sends at any time until the call ends.
   */
  Connect(
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<_kage_v1_AgentMessage, _kage_v1_CoordinatorMessage__Output>;
  Connect(
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<_kage_v1_AgentMessage, _kage_v1_CoordinatorMessage__Output>;
  /**
   * One call per agent connection. The agent's first message must be Hello; the coordinator
   * answers Welcome, then either side sends at any time until the call ends.
   */
  connect(
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<_kage_v1_AgentMessage, _kage_v1_CoordinatorMessage__Output>;
  connect(
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<_kage_v1_AgentMessage, _kage_v1_CoordinatorMessage__Output>;
}

/**
 * The coordinator's gRPC service. Agents authenticate with the metadata entry
 * `authorization: Bearer <token>` (the agent's token from its config); a missing or wrong token
 * ends the call with status UNAUTHENTICATED before any message is exchanged.
 */
export interface AgentGatewayHandlers extends grpc.UntypedServiceImplementation {
  /**
   * One call per agent connection. The agent's first message must be Hello; the coordinator
   * answers Welcome, then either side sends at any time until the call ends.
   */
  Connect: grpc.handleBidiStreamingCall<_kage_v1_AgentMessage__Output, _kage_v1_CoordinatorMessage>;
}

export interface AgentGatewayDefinition extends grpc.ServiceDefinition {
  Connect: MethodDefinition<
    _kage_v1_AgentMessage,
    _kage_v1_CoordinatorMessage,
    _kage_v1_AgentMessage__Output,
    _kage_v1_CoordinatorMessage__Output
  >;
}
