/** Liveness, readiness and the Prometheus scrape. */
import { Type } from '@sinclair/typebox';
import type { ApiDeps, ReadinessCheck } from './api-deps.js';
import type { ApiApp } from './api-app.js';
import type { MetricsExporter } from './prometheus.js';
import { ERROR_RESPONSES, HealthSchema, ReadinessSchema } from './schemas.js';

export function registerHealthRoutes(app: ApiApp, deps: ApiDeps, exporter: MetricsExporter): void {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process is up and serving',
        response: { 200: HealthSchema, ...ERROR_RESPONSES },
      },
    },
    () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: 200 when every check (database, gRPC listener…) is ok, else 503',
        response: { 200: ReadinessSchema, 503: ReadinessSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      let checks: Record<string, ReadinessCheck>;
      try {
        checks = deps.readiness();
      } catch (err) {
        // A probe that cannot even run means "not ready", not a server error.
        request.log.error({ err }, 'readiness checks failed to run');
        checks = { readiness: { ok: false, detail: 'the readiness checks failed to run; see the coordinator log' } };
      }
      const ready = Object.values(checks).every((c) => c.ok);
      return reply.code(ready ? 200 : 503).send({ ready, checks });
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics (text format 0.0.4), read from the coordinator at scrape time',
        response: {
          200: { description: 'Prometheus text format', content: { 'text/plain': { schema: Type.String() } } },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (_request, reply) => {
      const text = await exporter.render();
      return reply.type(exporter.contentType).send(text);
    },
  );
}
