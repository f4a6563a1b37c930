// Original file: /work/main/proto/kage/v1/agent.proto

// Original file: /work/main/proto/kage/v1/agent.proto

export const _kage_v1_ServiceAction_Action = {
  /**
   * Never valid; answered with error KAGE_ERR_AGENT_ACTION_UNKNOWN.
   */
  ACTION_UNSPECIFIED: 'ACTION_UNSPECIFIED',
  START: 'START',
  STOP: 'STOP',
  RESTART: 'RESTART',
} as const;

export type _kage_v1_ServiceAction_Action =
  /**
   * Never valid; answered with error KAGE_ERR_AGENT_ACTION_UNKNOWN.
   */
  'ACTION_UNSPECIFIED' | 0 | 'START' | 1 | 'STOP' | 2 | 'RESTART' | 3;

export type _kage_v1_ServiceAction_Action__Output =
  (typeof _kage_v1_ServiceAction_Action)[keyof typeof _kage_v1_ServiceAction_Action];

/**
 * Act on one of the agent's configured services. An agent only ever acts on services named in its
 * own config (DESIGN §4): anything else is answered with error KAGE_ERR_AGENT_SERVICE_UNKNOWN.
 */
export interface ServiceAction {
  /**
   * The service's config name.
   */
  service?: string;
  action?: _kage_v1_ServiceAction_Action;
}

/**
 * Act on one of the agent's configured services. An agent only ever acts on services named in its
 * own config (DESIGN §4): anything else is answered with error KAGE_ERR_AGENT_SERVICE_UNKNOWN.
 */
export interface ServiceAction__Output {
  /**
   * The service's config name.
   */
  service: string;
  action: _kage_v1_ServiceAction_Action__Output;
}
