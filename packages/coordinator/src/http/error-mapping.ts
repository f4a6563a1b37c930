/**
 * The one place where errors become HTTP answers. Every error body is `{ code, message }` (plus
 * structured context some codes carry); a stack trace never reaches a client. An error without a
 * Kage code is a bug or an unexpected failure: the client gets a generic 500 and the log gets the
 * stack, once.
 */
import { errorCode, errorMessage } from '@kage/common';
import type { ServiceView } from '../registry/node-view.js';
import { AgentRefusalError, ApiError, type RequestProblem } from './api-error.js';

/** HTTP status of every code the API expects to see, from the coordinator, the bench core and itself. */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  KAGE_ERR_BAD_REQUEST: 400,
  KAGE_ERR_MATRIX_INVALID: 400,
  KAGE_ERR_UNAUTHORIZED: 401,
  KAGE_ERR_NOT_FOUND: 404,
  KAGE_ERR_NODE_UNKNOWN: 404,
  KAGE_ERR_RUN_NOT_FOUND: 404,
  KAGE_ERR_NODE_OFFLINE: 409,
  KAGE_ERR_NODES_OFFLINE: 409,
  KAGE_ERR_COMMAND_FAILED: 409,
  KAGE_ERR_RUN_NOT_RESUMABLE: 409,
  KAGE_ERR_BODY_TOO_LARGE: 413,
  KAGE_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  KAGE_ERR_COMMAND_LOST: 502,
  KAGE_ERR_COORDINATOR_CLOSED: 503,
  KAGE_ERR_DB_LOCKED: 503,
  KAGE_ERR_DB_CLOSED: 503,
  KAGE_ERR_COMMAND_TIMEOUT: 504,
};

/** Extra headers some statuses require. */
const HEADERS_BY_CODE: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  // RFC 6750: a 401 names the scheme the client must use.
  KAGE_ERR_UNAUTHORIZED: { 'www-authenticate': 'Bearer realm="kage"' },
};

export interface ErrorBody {
  code: string;
  message: string;
  /** Every problem of a refused body or matrix. */
  problems?: RequestProblem[];
  /** The offline nodes a refused run names. */
  offline?: string[];
  /** The service's status after an action the agent refused. */
  service?: ServiceView | null;
}

export interface ErrorReply {
  status: number;
  body: ErrorBody;
  headers: Readonly<Record<string, string>>;
  /**
   * `error`: a failure nobody anticipated, logged with its stack; `warn`: an expected failure on
   * the coordinator's side (an agent that does not answer); `debug`: a refused request.
   */
  logLevel: 'error' | 'warn' | 'debug';
}

const GENERIC_MESSAGE = 'internal error; the coordinator log has the details';

/** Framework errors (`FST_…`) that are the client's fault carry a 4xx `statusCode`. */
function frameworkClientStatus(err: unknown): number | undefined {
  const code = errorCode(err);
  if (code === undefined || !code.startsWith('FST_')) return undefined;
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

function frameworkCode(status: number): string {
  if (status === 404) return 'KAGE_ERR_NOT_FOUND';
  if (status === 413) return 'KAGE_ERR_BODY_TOO_LARGE';
  if (status === 415) return 'KAGE_ERR_UNSUPPORTED_MEDIA_TYPE';
  return 'KAGE_ERR_BAD_REQUEST';
}

function problemsOf(err: unknown): RequestProblem[] | undefined {
  const problems = (err as { problems?: unknown }).problems;
  if (!Array.isArray(problems)) return undefined;
  return problems.map((p: { path?: unknown; reason?: unknown }) => ({
    path: typeof p.path === 'string' ? p.path : '',
    reason: typeof p.reason === 'string' ? p.reason : String(p.reason),
  }));
}

function offlineOf(err: unknown): string[] | undefined {
  const details = (err as { details?: unknown }).details;
  const offline = typeof details === 'object' && details !== null ? (details as { offline?: unknown }).offline : null;
  return Array.isArray(offline) ? offline.map(String) : undefined;
}

/** How `err` is answered. */
export function mapError(err: unknown): ErrorReply {
  if (err instanceof AgentRefusalError) {
    return {
      status: 409,
      body: { code: err.agentCode, message: err.message, service: err.service },
      headers: {},
      logLevel: 'debug',
    };
  }
  const fwStatus = frameworkClientStatus(err);
  if (fwStatus !== undefined) {
    const code = frameworkCode(fwStatus);
    return { status: fwStatus, body: { code, message: errorMessage(err) }, headers: {}, logLevel: 'debug' };
  }
  const code = errorCode(err);
  if (code === undefined || !code.startsWith('KAGE_ERR_') || code === 'KAGE_ERR_INTERNAL') {
    return {
      status: 500,
      body: { code: 'KAGE_ERR_INTERNAL', message: GENERIC_MESSAGE },
      headers: {},
      logLevel: 'error',
    };
  }
  const mapped = STATUS_BY_CODE[code];
  const status = mapped ?? 500;
  const body: ErrorBody = { code, message: errorMessage(err) };
  const problems = err instanceof ApiError ? err.problems?.slice() : problemsOf(err);
  if (problems !== undefined) body.problems = problems;
  const offline = offlineOf(err);
  if (offline !== undefined) body.offline = offline;
  // A coded error the table does not know is still a failure someone must look at.
  const logLevel = mapped === undefined ? 'error' : status >= 500 ? 'warn' : 'debug';
  return { status, body, headers: HEADERS_BY_CODE[code] ?? {}, logLevel };
}
