/** `GET /api/v1/models`: what each node's model servers hold in memory now, as the agents read it. */
import type { ApiApp } from './api-app.js';
import type { ApiDeps } from './api-deps.js';
import { ERROR_RESPONSES, ModelsViewSchema } from './schemas.js';

export function registerModelRoutes(app: ApiApp, deps: ApiDeps): void {
  app.get(
    '/api/v1/models',
    {
      schema: {
        tags: ['nodes'],
        summary: 'Which model is loaded where: Ollama’s loaded models per node and EXO’s instances with their runners',
        description:
          'Each agent reads its node’s Ollama `/api/ps` and EXO `/state` (neither loads a model) every couple of seconds and reports changes; `sources` says when each was read and why one could not be.',
        response: { 200: ModelsViewSchema, ...ERROR_RESPONSES },
      },
    },
    (_request, reply) => {
      void reply.header('cache-control', 'no-store');
      return deps.models.view();
    },
  );
}
