// Original file: /work/main/proto/kage/v1/agent.proto

/**
 * A coded error (codes as in docs/errors.md, e.g. KAGE_ERR_AGENT_SERVICE_UNKNOWN).
 */
export interface Error {
  code?: string;
  message?: string;
}

/**
 * A coded error (codes as in docs/errors.md, e.g. KAGE_ERR_AGENT_SERVICE_UNKNOWN).
 */
export interface Error__Output {
  code: string;
  message: string;
}
