/**
 * `POST /api/v1/auth/check`: whether a bearer token is the API token, without changing anything.
 * Reads need no token, so an operator tool that only reads (`kage doctor --all`) has no other way
 * to learn, before it matters, that the token `kage service` and `kage bench run --coordinator`
 * will send is the right one. It is a POST because the token check applies to every method but
 * GET and HEAD: the route itself does nothing, the check in front of every route answers.
 */
import { Type } from '@sinclair/typebox';
import { BEARER_AUTH, type ApiApp } from './api-app.js';
import { ERROR_RESPONSES } from './schemas.js';

export function registerAuthRoutes(app: ApiApp): void {
  app.post(
    '/api/v1/auth/check',
    {
      schema: {
        tags: ['auth'],
        summary: 'Checks the bearer token: 200 when it is the API token, 401 otherwise; changes nothing',
        security: BEARER_AUTH,
        response: { 200: Type.Object({ ok: Type.Literal(true) }), ...ERROR_RESPONSES },
      },
    },
    () => ({ ok: true as const }),
  );
}
