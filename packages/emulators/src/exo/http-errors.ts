/**
 * Error bodies exactly as EXO's FastAPI app writes them:
 * - `HTTPException` → `{"error":{"message","type": <HTTP phrase>,"param":null,"code"}}`
 *   (`API.http_exception_handler`, ErrorResponse/ErrorInfo in api.py);
 * - request validation → FastAPI's default 422 `{"detail":[…]}`;
 * - an unhandled exception → Starlette's plain-text 500 "Internal Server Error";
 * - paths outside the routes fall through to the dashboard's StaticFiles: `{"detail":"Not Found"}`,
 *   or 405 `{"detail":"Method Not Allowed"}` for methods other than GET/HEAD.
 */
import type { FastifyReply } from 'fastify';
import type { PydanticError } from './validation.js';

const PHRASES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  422: 'Unprocessable Entity',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function httpPhrase(status: number): string {
  return PHRASES[status] ?? 'Error';
}

export function httpExceptionBody(status: number, message: string): Record<string, unknown> {
  return { error: { message, type: httpPhrase(status), param: null, code: status } };
}

export function sendHttpException(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('application/json').send(httpExceptionBody(status, message));
}

export function sendValidationError(reply: FastifyReply, errors: readonly PydanticError[]): FastifyReply {
  return reply.code(422).type('application/json').send({ detail: errors });
}

export function sendUnhandledError(reply: FastifyReply): FastifyReply {
  return reply.code(500).type('text/plain; charset=utf-8').send('Internal Server Error');
}

/** The mid-stream `ErrorChunk` rendering of adapters/chat_completions.py. */
export function streamErrorBody(message: string): Record<string, unknown> {
  return { error: { message, type: 'InternalServerError', param: null, code: 500 } };
}
