// The gateway's recent routes: newest first, bounded (the oldest go), counted per backend and reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRecentRoutes, type RouteRecord } from '../src/gateway/recent-routes.js';

const route = (i: number, backend: string, reason: string): RouteRecord => ({
  at: new Date(Date.UTC(2026, 11, 3, 10, 0, i)).toISOString(),
  route: 'api_chat',
  model: `m${i}`,
  backend,
  reason,
  status: 200,
  outcome: 'ok',
  ttft_ms: 10,
  duration_ms: 20,
});

test('recent routes: newest first, the oldest dropped past the capacity, totals kept for all', () => {
  const routes = createRecentRoutes(3);
  assert.deepEqual(routes.recent(), []);
  routes.record(route(1, 'srv1', 'loaded'));
  routes.record(route(2, 'rog', 'fastest'));
  assert.deepEqual(
    routes.recent().map((r) => r.model),
    ['m2', 'm1'],
  );
  for (let i = 3; i <= 7; i++) routes.record(route(i, i % 2 === 0 ? 'rog' : 'srv1', 'loaded'));
  assert.deepEqual(
    routes.recent().map((r) => r.model),
    ['m7', 'm6', 'm5'],
  );
  assert.deepEqual(routes.totals(), [
    { backend: 'rog', reason: 'fastest', count: 1 },
    { backend: 'rog', reason: 'loaded', count: 2 },
    { backend: 'srv1', reason: 'loaded', count: 4 },
  ]);
  // What it hands out is a copy: changing it changes nothing inside.
  routes.totals()[0]!.count = 99;
  assert.equal(routes.totals()[0]?.count, 1);
});
