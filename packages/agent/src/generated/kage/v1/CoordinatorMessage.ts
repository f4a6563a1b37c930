// Original file: /work/main/proto/kage/v1/agent.proto

import type {
  Welcome as _kage_v1_Welcome,
  Welcome__Output as _kage_v1_Welcome__Output,
} from '../../kage/v1/Welcome.js';
import type { Ack as _kage_v1_Ack, Ack__Output as _kage_v1_Ack__Output } from '../../kage/v1/Ack.js';
import type {
  Command as _kage_v1_Command,
  Command__Output as _kage_v1_Command__Output,
} from '../../kage/v1/Command.js';

/**
 * Coordinator → agent.
 */
export interface CoordinatorMessage {
  /**
   * Answer to Hello, exactly once, before anything else.
   */
  welcome?: _kage_v1_Welcome | null;
  /**
   * Records up to a seq are stored; the agent may delete them.
   */
  ack?: _kage_v1_Ack | null;
  /**
   * Something for the agent to do; answered by CommandResult or ProbeResult with the same id.
   */
  command?: _kage_v1_Command | null;
  body?: 'welcome' | 'ack' | 'command';
}

/**
 * Coordinator → agent.
 */
export interface CoordinatorMessage__Output {
  /**
   * Answer to Hello, exactly once, before anything else.
   */
  welcome?: _kage_v1_Welcome__Output | null;
  /**
   * Records up to a seq are stored; the agent may delete them.
   */
  ack?: _kage_v1_Ack__Output | null;
  /**
   * Something for the agent to do; answered by CommandResult or ProbeResult with the same id.
   */
  command?: _kage_v1_Command__Output | null;
  body?: 'welcome' | 'ack' | 'command';
}
