/** Benchmark runs: start one from a matrix, follow it, cancel it, read its report. */
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from './api-deps.js';
import { BEARER_AUTH, type ApiApp } from './api-app.js';
import {
  ERROR_RESPONSES,
  MatrixBodySchema,
  ReportQuerySchema,
  ReportSchema,
  RunCreatedSchema,
  RunDetailSchema,
  RunListEntrySchema,
  RunParamsSchema,
} from './schemas.js';

const RENDERED_TYPES = {
  md: 'text/markdown; charset=utf-8',
  html: 'text/html; charset=utf-8',
} as const;

export function registerRunRoutes(app: ApiApp, deps: ApiDeps): void {
  app.post(
    '/api/v1/runs',
    {
      schema: {
        tags: ['runs'],
        summary: 'Starts a benchmark run of a matrix, executed through the node agents',
        description:
          '400 lists every problem of the matrix at once (`problems`); 409 when nodes the matrix ' +
          'names are offline (`offline`).',
        security: BEARER_AUTH,
        body: MatrixBodySchema,
        response: { 201: RunCreatedSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { id } = await deps.runs.start(request.body);
      request.log.info({ run: id }, 'run started');
      return reply
        .code(201)
        .header('location', `/api/v1/runs/${encodeURIComponent(id)}`)
        .send({ id });
    },
  );

  app.get(
    '/api/v1/runs',
    {
      schema: {
        tags: ['runs'],
        summary: 'Every stored run, newest first',
        response: { 200: Type.Array(RunListEntrySchema), ...ERROR_RESPONSES },
      },
    },
    () => deps.runs.list(),
  );

  app.get(
    '/api/v1/runs/:id',
    {
      schema: {
        tags: ['runs'],
        summary: 'One run and its progress',
        params: RunParamsSchema,
        response: { 200: RunDetailSchema, ...ERROR_RESPONSES },
      },
    },
    (request) => deps.runs.get(request.params.id),
  );

  app.post(
    '/api/v1/runs/:id/cancel',
    {
      schema: {
        tags: ['runs'],
        summary: 'Cancels a running run (a finished run is left as it is)',
        security: BEARER_AUTH,
        params: RunParamsSchema,
        response: { 200: RunDetailSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const detail = await deps.runs.cancel(request.params.id);
      request.log.info({ run: detail.id, status: detail.status }, 'run cancel requested');
      return detail;
    },
  );

  app.get(
    '/api/v1/runs/:id/report',
    {
      schema: {
        tags: ['runs'],
        summary: 'The run report: JSON (kage.report/v1), Markdown or a self-contained HTML page',
        params: RunParamsSchema,
        querystring: ReportQuerySchema,
        response: {
          200: {
            description: 'the report in the asked format',
            content: {
              'application/json': { schema: ReportSchema },
              'text/markdown': { schema: Type.String() },
              'text/html': { schema: Type.String() },
            },
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const format = request.query.format ?? 'json';
      if (format === 'json') return reply.send(deps.runs.report(id));
      return reply.type(RENDERED_TYPES[format]).send(deps.runs.render(id, format));
    },
  );
}
