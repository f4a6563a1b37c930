/** REST API: nodes, their metric history, service actions, and the bearer token on every POST. */
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { CoordinatorError } from '../src/coordinator-error.js';
import type { ServiceActionResult } from '../src/grpc/agent-commander.js';
import { MAX_METRICS_WINDOW_MS } from '../src/http/routes-nodes.js';
import {
  AUTH,
  TOKEN,
  createFakeWorld,
  metricPoint,
  nodeView,
  postJson,
  request,
  serviceView,
  startApi,
  type HttpResult,
} from './helpers/api-fakes.js';

const HOUR = 3_600_000;

function post(base: string, path: string, headers: Record<string, string> = AUTH): Promise<HttpResult> {
  return request(base, path, { method: 'POST', headers });
}

test('GET /api/v1/nodes lists every node; GET /api/v1/nodes/:id gives one or 404', async (t) => {
  const { base, world } = await startApi(t);
  assert.deepEqual((await request(base, '/api/v1/nodes')).body, []);

  const a = nodeView('a', {
    latest: {
      ts: '2025-03-01T09:59:59.500Z',
      cpu_pct: null,
      mem_used_bytes: 1,
      mem_total_bytes: 2,
      gpus: [{ name: 'RTX 3090', busy_pct: 10, mem_used_bytes: null, mem_total_bytes: 24e9 }],
    },
  });
  const b = nodeView('b', { status: 'offline', latest: null, last_seen: null, clock_skew_ms: null });
  world.nodes.set('a', a);
  world.nodes.set('b', b);
  const list = await request(base, '/api/v1/nodes');
  assert.equal(list.status, 200);
  assert.deepEqual(list.body, [a, b], 'nulls stay null (never 0)');

  const one = await request(base, '/api/v1/nodes/b');
  assert.equal(one.status, 200);
  assert.deepEqual(one.body, b);

  const longId = await request(base, `/api/v1/nodes/${'n'.repeat(300)}`);
  assert.equal(longId.status, 400);
  assert.match((longId.body as { message: string }).message, /params\/id: expected string length less or equal to 256/);

  const hugeId = await request(base, `/api/v1/nodes/${'n'.repeat(600)}`);
  assert.equal(hugeId.status, 414);
  assert.deepEqual(Object.keys(hugeId.body as object).sort(), ['code', 'message']);
  const badUrl = await request(base, '/api/v1/nodes/%E0%A4%A');
  assert.equal(badUrl.status, 400);
  assert.equal((badUrl.body as { code: string }).code, 'KAGE_ERR_BAD_REQUEST');

  const missing = await request(base, '/api/v1/nodes/zz');
  assert.equal(missing.status, 404);
  assert.equal((missing.body as { code: string }).code, 'KAGE_ERR_NODE_UNKNOWN');
  assert.match((missing.body as { message: string }).message, /"zz"/);
});

/** One GET with exactly these headers (fetch would add Accept-Encoding and decompress on its own). */
function rawGet(base: string, path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>(
    (resolve, reject) => {
      const req = get(base + path, { headers, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
      req.on('error', reject);
    },
  );
}

test('GET /api/v1/nodes is gzipped for clients that accept it and answers 304 to a current ETag', async (t) => {
  const { base, world } = await startApi(t);
  const nodes = Array.from({ length: 50 }, (_, i) => nodeView(`node-${String(i).padStart(2, '0')}`));
  for (const n of nodes) world.nodes.set(n.id, n);

  const zipped = await rawGet(base, '/api/v1/nodes', { 'accept-encoding': 'gzip, deflate, br' });
  assert.equal(zipped.status, 200);
  assert.equal(zipped.headers['content-encoding'], 'gzip');
  assert.match(String(zipped.headers['content-type']), /^application\/json/);
  assert.equal(zipped.headers.vary, 'accept-encoding');
  const plain = await rawGet(base, '/api/v1/nodes', {});
  assert.equal(plain.headers['content-encoding'], undefined, 'no Accept-Encoding: identity');
  assert.deepEqual(JSON.parse(gunzipSync(zipped.body).toString('utf8')), nodes);
  assert.deepEqual(JSON.parse(plain.body.toString('utf8')), nodes);
  assert.ok(zipped.body.length * 4 < plain.body.length, `gzip ${zipped.body.length} B vs ${plain.body.length} B`);
  const refused = await rawGet(base, '/api/v1/nodes', { 'accept-encoding': 'br, gzip;q=0' });
  assert.equal(refused.headers['content-encoding'], undefined, 'gzip;q=0 is a refusal');

  const etag = String(plain.headers.etag);
  assert.match(etag, /^"[\w-]+"$/);
  assert.equal(zipped.headers.etag, etag, 'one tag for the representation of the same JSON');
  for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
    const again = await rawGet(base, '/api/v1/nodes', { 'if-none-match': ifNoneMatch });
    assert.equal(again.status, 304, ifNoneMatch);
    assert.equal(again.body.length, 0);
    assert.equal(again.headers.etag, etag);
  }
  assert.equal((await rawGet(base, '/api/v1/nodes', { 'if-none-match': '"other"' })).status, 200);

  world.nodes.delete('node-00');
  const changed = await rawGet(base, '/api/v1/nodes', { 'if-none-match': etag });
  assert.equal(changed.status, 200, 'a changed list is sent in full');
  assert.notEqual(changed.headers.etag, etag);
  assert.equal((JSON.parse(changed.body.toString('utf8')) as unknown[]).length, 49);
});

test('GET /api/v1/nodes/:id/metrics defaults to the last hour and passes the window in epoch ms', async (t) => {
  const { base, world } = await startApi(t);
  world.nodes.set('a', nodeView('a'));
  world.metricPoints = [metricPoint('2025-03-01T09:00:00.000Z', 5), metricPoint('2025-03-01T09:00:01.000Z', 6)];

  const before = Date.now();
  const res = await request(base, '/api/v1/nodes/a/metrics');
  const after = Date.now();
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, world.metricPoints);
  const call = world.metricsCalls.at(-1)!;
  assert.equal(call.id, 'a');
  assert.ok(call.until >= before && call.until <= after);
  assert.equal(call.until - call.since, HOUR);

  await request(base, '/api/v1/nodes/a/metrics?until=2025-03-01T10:00:00Z');
  assert.deepEqual(world.metricsCalls.at(-1), {
    id: 'a',
    since: Date.parse('2025-03-01T09:00:00Z'),
    until: Date.parse('2025-03-01T10:00:00Z'),
  });

  const q = 'since=2025-03-01T08:30:00.250%2B01:00&until=2025-03-01T09:00:00Z';
  assert.equal((await request(base, `/api/v1/nodes/a/metrics?${q}`)).status, 200);
  assert.deepEqual(world.metricsCalls.at(-1), {
    id: 'a',
    since: Date.parse('2025-03-01T07:30:00.250Z'),
    until: Date.parse('2025-03-01T09:00:00Z'),
  });
});

test('GET /api/v1/nodes/:id/metrics refuses bad times, reversed and oversized windows, unknown nodes', async (t) => {
  const { base, world } = await startApi(t);
  world.nodes.set('a', nodeView('a'));

  for (const [query, param] of [
    ['since=yesterday', 'since'],
    ['until=2025-03-01', 'until'],
    ['until=2025-03-01T10:00:00', 'until'],
    ['since=2025-13-45T10:00:00Z', 'since'],
  ] as const) {
    const res = await request(base, `/api/v1/nodes/a/metrics?${query}`);
    assert.equal(res.status, 400, query);
    const body = res.body as { code: string; message: string; problems: { path: string }[] };
    assert.equal(body.code, 'KAGE_ERR_BAD_REQUEST');
    assert.match(body.message, new RegExp(`querystring/${param}: must be an ISO 8601 date-time`), query);
    assert.deepEqual(
      body.problems.map((p) => p.path),
      [`querystring/${param}`],
    );
  }

  const reversed = await request(base, '/api/v1/nodes/a/metrics?since=2025-03-01T10:00:00Z&until=2025-03-01T09:00:00Z');
  assert.equal(reversed.status, 400);
  assert.match((reversed.body as { message: string }).message, /since: must not be after until/);

  const days = MAX_METRICS_WINDOW_MS / (24 * HOUR);
  const tooLong = await request(base, '/api/v1/nodes/a/metrics?since=2025-01-01T00:00:00Z&until=2025-03-01T00:00:00Z');
  assert.equal(tooLong.status, 400);
  assert.match((tooLong.body as { message: string }).message, new RegExp(`59\\.0 days; at most ${days} days`));
  const atCap = new Date(Date.parse('2025-03-01T00:00:00Z') - MAX_METRICS_WINDOW_MS).toISOString();
  assert.equal((await request(base, `/api/v1/nodes/a/metrics?since=${atCap}&until=2025-03-01T00:00:00Z`)).status, 200);

  const repeated = await request(base, '/api/v1/nodes/a/metrics?since=2025-03-01T00:00:00Z&since=2025-03-01T01:00:00Z');
  assert.equal(repeated.status, 400);
  assert.match((repeated.body as { message: string }).message, /querystring\/since/);

  const unknown = await request(base, '/api/v1/nodes/nope/metrics');
  assert.equal(unknown.status, 404);
  assert.equal((unknown.body as { code: string }).code, 'KAGE_ERR_NODE_UNKNOWN');
  assert.equal(world.metricsCalls.length, 1, 'only the valid window reached the store');
});

test('POST service actions return the agent answer; each action reaches the commander', async (t) => {
  const { base, world } = await startApi(t);
  world.nodes.set('a', nodeView('a', { services: [serviceView('ollama', { restarts: 1 })] }));
  for (const action of ['start', 'stop', 'restart'] as const) {
    const res = await post(base, `/api/v1/nodes/a/services/ollama/${action}`);
    assert.equal(res.status, 200, action);
    assert.deepEqual(res.body, { ok: true, error: null, service: serviceView('ollama', { restarts: 1 }) });
  }
  assert.deepEqual(
    world.serviceCalls.map((c) => c.action),
    ['start', 'stop', 'restart'],
  );
  assert.equal((await post(base, '/api/v1/nodes/a/services/ollama/reload')).status, 404);
});

test('a service action the agent refused is 409 with its code, message and the service status', async (t) => {
  const { base, world } = await startApi(t);
  world.nodes.set('a', nodeView('a'));
  const failed = serviceView('exo', { state: 'failed', healthy: false, health: 'unhealthy', reason: 'exit 1' });
  world.serviceAction = () =>
    Promise.resolve({
      ok: false,
      error: { code: 'KAGE_ERR_SERVICE_START', message: 'exo exited during start (status 1)' },
      service: failed,
    });
  const res = await post(base, '/api/v1/nodes/a/services/exo/start');
  assert.equal(res.status, 409);
  assert.deepEqual(res.body, {
    code: 'KAGE_ERR_SERVICE_START',
    message: 'exo exited during start (status 1)',
    service: failed,
  });

  world.serviceAction = () =>
    Promise.resolve({
      ok: false,
      error: { code: 'KAGE_ERR_SERVICE_UNKNOWN', message: 'no service "vllm"' },
      service: null,
    });
  const unknown = await post(base, '/api/v1/nodes/a/services/vllm/stop');
  assert.equal(unknown.status, 409);
  assert.deepEqual(unknown.body, { code: 'KAGE_ERR_SERVICE_UNKNOWN', message: 'no service "vllm"', service: null });
});

test('commander failures map by code: unknown 404, offline 409, timeout 504, lost 502', async (t) => {
  const { base, world } = await startApi(t);
  const cases = [
    ['KAGE_ERR_NODE_UNKNOWN', 404],
    ['KAGE_ERR_NODE_OFFLINE', 409],
    ['KAGE_ERR_COMMAND_TIMEOUT', 504],
    ['KAGE_ERR_COMMAND_LOST', 502],
  ] as const;
  for (const [code, status] of cases) {
    world.serviceAction = () => Promise.reject(new CoordinatorError(code, `failed with ${code}`));
    const res = await post(base, '/api/v1/nodes/a/services/ollama/restart');
    assert.equal(res.status, status, code);
    assert.deepEqual(res.body, { code, message: `failed with ${code}` });
  }
  // Expected failures of an agent are warnings without a stack, not errors.
  assert.equal(world.log.filter((e) => e.level >= 50).length, 0);
  assert.equal(world.log.filter((e) => e.level === 40).length, 2);
});

test('POST without the token is 401 with WWW-Authenticate, a wrong token too; the right one passes', async (t) => {
  const { base, world } = await startApi(t);
  world.nodes.set('a', nodeView('a'));
  const path = '/api/v1/nodes/a/services/ollama/restart';
  const refusals: [string, Record<string, string>][] = [
    ['missing', {}],
    ['wrong', { authorization: `Bearer ${TOKEN}x` }],
    ['shorter', { authorization: 'Bearer t' }],
    ['other scheme', { authorization: `Basic ${Buffer.from(`kage:${TOKEN}`).toString('base64')}` }],
    ['empty bearer', { authorization: 'Bearer ' }],
  ];
  for (const [what, headers] of refusals) {
    const res = await post(base, path, headers);
    assert.equal(res.status, 401, what);
    assert.equal((res.body as { code: string }).code, 'KAGE_ERR_UNAUTHORIZED', what);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/, what);
  }
  assert.equal(world.serviceCalls.length, 0, 'nothing reached the agent');

  assert.equal(
    (await post(base, path, { authorization: `bearer ${TOKEN}` })).status,
    200,
    'scheme is case-insensitive',
  );
  assert.equal((await post(base, path)).status, 200);
  assert.equal(world.serviceCalls.length, 2);

  // Reads need no token.
  assert.equal((await request(base, '/api/v1/nodes')).status, 200);
  // Auth comes before routing: an unknown POST without a token says nothing about which routes exist.
  assert.equal((await postJson(base, '/api/v1/nope', {}, {})).status, 401);
});

test('POST /api/v1/auth/check: 200 for the API token, 401 for a wrong or missing one; nothing else happens', async (t) => {
  const { base, world } = await startApi(t);
  world.nodes.set('a', nodeView('a'));
  const ok = await post(base, '/api/v1/auth/check');
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body, { ok: true });
  for (const headers of [{}, { authorization: `Bearer ${TOKEN}x` }] as Record<string, string>[]) {
    const refused = await post(base, '/api/v1/auth/check', headers);
    assert.equal(refused.status, 401);
    assert.equal((refused.body as { code: string }).code, 'KAGE_ERR_UNAUTHORIZED');
  }
  assert.equal(world.serviceCalls.length, 0);
});

test('an empty configured token refuses every POST', async (t) => {
  const world = createFakeWorld();
  world.deps.apiToken = '';
  world.nodes.set('a', nodeView('a'));
  const { base } = await startApi(t, { world });
  for (const authorization of ['Bearer ', 'Bearer x', `Bearer ${TOKEN}`]) {
    const res = await post(base, '/api/v1/nodes/a/services/ollama/start', { authorization });
    assert.equal(res.status, 401, authorization);
  }
});

test('closing the server answers an in-flight request and closes its connection', { timeout: 10_000 }, async (t) => {
  const world = createFakeWorld();
  world.nodes.set('a', nodeView('a'));
  let release: (result: ServiceActionResult) => void = () => undefined;
  let reached: () => void = () => undefined;
  const inFlight = new Promise<void>((resolve) => (reached = resolve));
  world.serviceAction = () => {
    reached();
    return new Promise((resolve) => (release = resolve));
  };
  const server = await startApi(t, { world });
  const pending = post(server.base, '/api/v1/nodes/a/services/ollama/start');
  await inFlight;
  const closed = server.close();
  // The listener closes after the shutdown began: from then on, answers carry `connection: close`.
  const deadline = Date.now() + 5_000;
  for (;;) {
    const refused = await fetch(`${server.base}/healthz`).then(
      () => false,
      () => true,
    );
    if (refused) break;
    assert.ok(Date.now() < deadline, 'the server kept accepting connections');
  }
  release({ ok: true, error: null, service: null });
  const res = await pending;
  assert.equal(res.status, 200);
  // Without this the client's kept-alive connection would hold the shutdown until it idles out.
  assert.equal(res.headers.get('connection'), 'close');
  await closed;
});
