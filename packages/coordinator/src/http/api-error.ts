/**
 * Errors the REST API raises itself (a request it refuses before any coordinator code runs). Like
 * every Kage error they carry a stable code; `error-mapping.ts` turns codes into HTTP statuses.
 */
import { KageError } from '@kage/common';
import type { ServiceView } from '../registry/node-view.js';

export type ApiErrorCode =
  /** No route for this method and path. */
  | 'KAGE_ERR_NOT_FOUND'
  /** A state-changing request without the right bearer token. */
  | 'KAGE_ERR_UNAUTHORIZED'
  /** The request does not match its schema (params, query, headers, body) or is not valid JSON. */
  | 'KAGE_ERR_BAD_REQUEST'
  /** The body is larger than the server accepts. */
  | 'KAGE_ERR_BODY_TOO_LARGE'
  /** The body's content type is not one the route reads. */
  | 'KAGE_ERR_UNSUPPORTED_MEDIA_TYPE'
  /** Something failed that has no code of its own; details are in the log only. */
  | 'KAGE_ERR_INTERNAL';

/** One reason a request was refused, with where in the request it is (`body/targets/0/url`). */
export interface RequestProblem {
  path: string;
  reason: string;
}

export class ApiError extends KageError<ApiErrorCode> {
  /** Every problem found, when the request failed its schema. */
  readonly problems: readonly RequestProblem[] | undefined;

  constructor(code: ApiErrorCode, message: string, options: { problems?: readonly RequestProblem[] } = {}) {
    super(code, message);
    this.problems = options.problems;
  }
}

/**
 * The agent refused a service action (`ok: false` in its answer). The body carries the agent's own
 * code and the service's status, so a client sees why and what state the service is in now.
 */
export class AgentRefusalError extends Error {
  readonly agentCode: string;
  readonly service: ServiceView | null;

  constructor(agentCode: string, message: string, service: ServiceView | null) {
    super(message);
    this.name = 'AgentRefusalError';
    this.agentCode = agentCode;
    this.service = service;
  }
}
