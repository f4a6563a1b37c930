/** Nodes: the registry's view, a node's metric history, and service actions through its agent. */
import { describeValue, excerpt } from '@kage/common';
import { Negotiator } from '@fastify/accept-negotiator';
import { Type } from '@sinclair/typebox';
import { CoordinatorError } from '../coordinator-error.js';
import type { ServiceActionName } from '../grpc/agent-commander.js';
import type { NodeView } from '../registry/node-view.js';
import { AgentRefusalError, ApiError } from './api-error.js';
import type { ApiDeps } from './api-deps.js';
import { createSnapshotCache, matchesIfNoneMatch } from './snapshot-cache.js';
import { BEARER_AUTH, type ApiApp } from './api-app.js';
import {
  ERROR_RESPONSES,
  MetricPointSchema,
  MetricsQuerySchema,
  NodeParamsSchema,
  NodeViewSchema,
  ServiceActionResultSchema,
  ServiceParamsSchema,
} from './schemas.js';

const HOUR_MS = 3_600_000;
/** Longest metrics window one request may ask for: bounds the rows read and sent. */
export const MAX_METRICS_WINDOW_MS = 31 * 24 * HOUR_MS;

/** A full date-time with a zone: a bare date or a local time would be read in the server's zone. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

function badQuery(name: string, reason: string): ApiError {
  const path = `querystring/${name}`;
  return new ApiError('KAGE_ERR_BAD_REQUEST', `invalid request: ${path}: ${reason}`, {
    problems: [{ path, reason }],
  });
}

function parseTime(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = ISO_DATE_TIME.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) {
    throw badQuery(
      name,
      `must be an ISO 8601 date-time with a time zone (e.g. 2025-01-31T12:00:00Z), got ${describeValue(value)}`,
    );
  }
  return ms;
}

function unknownNode(id: string): CoordinatorError {
  return new CoordinatorError('KAGE_ERR_NODE_UNKNOWN', `no node "${excerpt(id, 120)}" has ever connected`);
}

const ACTIONS: readonly ServiceActionName[] = ['start', 'stop', 'restart'];

export function registerNodeRoutes(app: ApiApp, deps: ApiDeps, options: { listMaxAgeMs: number }): void {
  const nodesSnapshot = createSnapshotCache({ maxAgeMs: options.listMaxAgeMs });
  const encodings = new Negotiator({ supportedValues: ['gzip', 'identity'] });
  app.get(
    '/api/v1/nodes',
    {
      schema: {
        tags: ['nodes'],
        summary: 'Every node the coordinator knows, with its services and latest sample',
        description:
          'Served from a snapshot at most half a second old, gzipped when the client accepts it; the ETag lets a poll that finds nothing new get 304 without a body.',
        response: {
          200: Type.Array(NodeViewSchema),
          304: Type.Null({ description: 'Not modified: the If-None-Match tag is the current one' }),
          ...ERROR_RESPONSES,
        },
      },
    },
    (request, reply) => {
      const snapshot = nodesSnapshot.get(() => deps.nodes.list());
      void reply.header('etag', snapshot.etag).header('vary', 'accept-encoding').header('cache-control', 'no-cache');
      if (matchesIfNoneMatch(request.headers['if-none-match'], snapshot.etag)) {
        void reply.code(304).send(null);
        return;
      }
      // Sent as the cached bytes: fastify writes a Buffer as it is, skipping the serializer.
      // They are exactly the JSON of a NodeView[]; the type says what the client receives.
      void reply.type('application/json; charset=utf-8');
      if (encodings.negotiate(request.headers['accept-encoding'] ?? 'identity') === 'gzip') {
        void reply.header('content-encoding', 'gzip');
        return snapshot.gzipped() as unknown as NodeView[];
      }
      return snapshot.body as unknown as NodeView[];
    },
  );

  app.get(
    '/api/v1/nodes/:id',
    {
      schema: {
        tags: ['nodes'],
        summary: 'One node',
        params: NodeParamsSchema,
        response: { 200: NodeViewSchema, ...ERROR_RESPONSES },
      },
    },
    (request) => {
      const node = deps.nodes.get(request.params.id);
      if (node === null) throw unknownNode(request.params.id);
      return node;
    },
  );

  app.get(
    '/api/v1/nodes/:id/metrics',
    {
      schema: {
        tags: ['nodes'],
        summary: `A node's metric history, oldest first (window at most ${MAX_METRICS_WINDOW_MS / (24 * HOUR_MS)} days)`,
        params: NodeParamsSchema,
        querystring: MetricsQuerySchema,
        response: { 200: Type.Array(MetricPointSchema), ...ERROR_RESPONSES },
      },
    },
    (request) => {
      const until = parseTime('until', request.query.until) ?? Date.now();
      const since = parseTime('since', request.query.since) ?? until - HOUR_MS;
      if (since > until) throw badQuery('since', 'must not be after until');
      if (until - since > MAX_METRICS_WINDOW_MS) {
        const days = MAX_METRICS_WINDOW_MS / (24 * HOUR_MS);
        throw badQuery(
          'since',
          `the window from since to until is ${((until - since) / (24 * HOUR_MS)).toFixed(1)} days; at most ${days} days`,
        );
      }
      const { id } = request.params;
      if (deps.nodes.get(id) === null) throw unknownNode(id);
      return deps.nodes.metrics(id, since, until);
    },
  );

  for (const action of ACTIONS) {
    app.post(
      `/api/v1/nodes/:id/services/:name/${action}`,
      {
        schema: {
          tags: ['nodes'],
          summary: `Asks the node's agent to ${action} one of its configured services`,
          description:
            'The answer is the agent’s. 409 when the agent refused (its code and the service status ' +
            'are in the body) or the node is offline; 504 when the agent did not answer in time; ' +
            '502 when its stream ended first.',
          security: BEARER_AUTH,
          params: ServiceParamsSchema,
          response: { 200: ServiceActionResultSchema, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        const { id, name } = request.params;
        const result = await deps.commander.serviceAction(id, name, action);
        if (!result.ok) {
          throw new AgentRefusalError(
            result.error?.code ?? 'KAGE_ERR_COMMAND_FAILED',
            result.error?.message ?? `the agent refused to ${action} ${name}`,
            result.service,
          );
        }
        request.log.info({ node: id, service: name, action }, 'service action done');
        return result;
      },
    );
  }
}
