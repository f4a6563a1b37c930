/**
 * `GET /api/v1/snapshot`: everything the dashboard's first paint needs in one answer (nodes, runs,
 * loaded models, whether the lab is emulated) and the id of the newest event it already reflects. A client opens
 * the event stream with that id as `Last-Event-ID`, so the events that happen while it loads are
 * replayed exactly once: none lost between the snapshot and the stream, none applied twice.
 */
import { Type } from '@sinclair/typebox';
import type { ApiApp } from './api-app.js';
import type { ApiDeps } from './api-deps.js';
import { ERROR_RESPONSES, ModelsViewSchema, NodeViewSchema, RunListEntrySchema } from './schemas.js';

export const SnapshotSchema = Type.Object({
  version: Type.String({ description: "the coordinator's version" }),
  emulated: Type.Boolean({
    description: 'true when the lab runs on Kage’s emulators: no figure is a real measurement',
  }),
  event_id: Type.Number({ description: 'the newest event this snapshot includes; resume the event stream after it' }),
  nodes: Type.Array(NodeViewSchema),
  runs: Type.Array(RunListEntrySchema),
  models: ModelsViewSchema,
  gateway: Type.Object(
    { enabled: Type.Boolean(), listen: Type.Union([Type.String(), Type.Null()]) },
    { description: 'whether the gateway runs, and where clients connect (its state: GET /api/v1/gateway)' },
  ),
});

export function registerSnapshotRoutes(app: ApiApp, deps: ApiDeps): void {
  app.get(
    '/api/v1/snapshot',
    {
      schema: {
        tags: ['events'],
        summary: 'Nodes, runs and loaded models in one answer, with the event id to resume the event stream from',
        response: { 200: SnapshotSchema, ...ERROR_RESPONSES },
      },
    },
    (_request, reply) => {
      // The id first: an event published while the state is read is then replayed, not lost
      // (applying a sample or a service state twice changes nothing).
      const eventId = deps.events.lastId();
      void reply.header('cache-control', 'no-store');
      return {
        version: deps.version,
        emulated: deps.emulated ?? false,
        event_id: eventId,
        nodes: deps.nodes.list(),
        runs: deps.runs.list(),
        models: deps.models.view(),
        gateway: { enabled: deps.gateway !== undefined, listen: deps.gateway?.listening() ?? null },
      };
    },
  );
}
