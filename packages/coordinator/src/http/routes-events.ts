/** `GET /api/v1/events`: the live event feed as Server-Sent Events. */
import { Type } from '@sinclair/typebox';
import type { ApiApp } from './api-app.js';
import type { EventStreams } from './event-stream.js';
import { ERROR_RESPONSES, EventsHeadersSchema, EventsQuerySchema } from './schemas.js';

export function registerEventRoutes(app: ApiApp, streams: EventStreams): void {
  app.get(
    '/api/v1/events',
    {
      // A HEAD request would open a stream that never sends a body.
      exposeHeadRoute: false,
      schema: {
        tags: ['events'],
        summary: 'Live events (sample, service, node, run, models) as Server-Sent Events',
        description:
          'Each event is `id: N`, `event: TYPE`, `data: JSON`. Reconnect with `Last-Event-ID` (or ' +
          '`?last_event_id=`) to get exactly the missed events first; when they are no longer held, ' +
          'one `reset` event (data `{ reason }`) says to reload the state. A `: keep-alive` comment ' +
          'comes every 15 s.',
        querystring: EventsQuerySchema,
        headers: EventsHeadersSchema,
        response: {
          200: { description: 'an endless event stream', content: { 'text/event-stream': { schema: Type.String() } } },
          ...ERROR_RESPONSES,
        },
      },
    },
    (request, reply) => {
      // The header wins: a browser's EventSource sends it on reconnect, with the page's original query.
      const given = request.headers['last-event-id'] ?? request.query.last_event_id;
      reply.hijack();
      streams.open(request.raw, reply.raw, given === undefined ? null : Number(given));
    },
  );
}
