/** `GET /api/v1/gateway`: the gateway's backends and its recent routing decisions. */
import { GATEWAY_OFF } from '../gateway/gateway-view.js';
import type { ApiApp } from './api-app.js';
import type { ApiDeps } from './api-deps.js';
import { ERROR_RESPONSES, GatewayViewSchema } from './schemas.js';

export function registerGatewayRoutes(app: ApiApp, deps: ApiDeps): void {
  app.get(
    '/api/v1/gateway',
    {
      schema: {
        tags: ['gateway'],
        summary: 'The gateway’s backends (health, circuit, slots, loaded models, speeds) and its latest routes',
        description:
          'With no `gateway:` section in coordinator.yaml, `enabled` is false and the lists are empty. `routes.recent` holds the last 50 requests, newest first; `routes.totals` counts every decision since the coordinator started.',
        response: { 200: GatewayViewSchema, ...ERROR_RESPONSES },
      },
    },
    (_request, reply) => {
      void reply.header('cache-control', 'no-store');
      return deps.gateway?.status() ?? GATEWAY_OFF;
    },
  );
}
