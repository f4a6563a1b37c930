/**
 * REST API: liveness, readiness, the Prometheus scrape, the OpenAPI document and Swagger UI, and
 * the answers every route shares (unknown route, internal errors).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { buildApiServer } from '../src/http/api-server.js';
import { createFakeWorld, nodeView, request, runDetail, serviceView, startApi } from './helpers/api-fakes.js';

test('GET /healthz answers 200 { status: "ok" }', async (t) => {
  const { base } = await startApi(t);
  const res = await request(base, '/healthz');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { status: 'ok' });
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
});

test('GET /readyz is 200 when every check is ok, 503 with the checks when one is not', async (t) => {
  const { base, world } = await startApi(t);
  const ok = await request(base, '/readyz');
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body, { ready: true, checks: world.readiness });

  world.readiness = { ...world.readiness, db: { ok: false, detail: 'read-only file system' } };
  const notReady = await request(base, '/readyz');
  assert.equal(notReady.status, 503);
  assert.deepEqual(notReady.body, {
    ready: false,
    checks: { db: { ok: false, detail: 'read-only file system' }, grpc: world.readiness['grpc'] },
  });
});

test('GET /readyz is 503 (not 500) when the checks themselves throw', async (t) => {
  const { base, world } = await startApi(t);
  world.readinessImpl = () => {
    throw new Error('database handle gone');
  };
  const res = await request(base, '/readyz');
  assert.equal(res.status, 503);
  const body = res.body as { ready: boolean; checks: Record<string, { ok: boolean; detail: string }> };
  assert.equal(body.ready, false);
  assert.equal(Object.values(body.checks)[0]?.ok, false);
  assert.doesNotMatch(res.text, /database handle gone/);
});

/** One sample line of the text format: `name{labels} value`. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict reader of the Prometheus text format 0.0.4: any line it cannot read fails the test. */
function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) {
      assert.match(line.slice(7).split(' ')[0] ?? '', metricName, line);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [name = '', type = ''] = line.slice(7).split(' ');
      assert.match(name, metricName, line);
      assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type), line);
      types.set(name, type);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    let rest = m[3] ?? '';
    while (rest !== '') {
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/.exec(rest);
      assert.ok(lm, `bad labels in: ${line}`);
      labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(lm[0].length);
    }
    // Prometheus reads NaN in any case (prom-client writes `Nan` for an empty event-loop histogram).
    const value = /^nan$/i.test(m[4]!) ? NaN : Number(m[4]);
    assert.ok(!Number.isNaN(value) || /^nan$/i.test(m[4]!), `bad value in: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { types, samples };
}

function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = find(samples, name, labels);
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value;
}

test('GET /metrics is Prometheus text with node, service, ingest and run series read at scrape time', async (t) => {
  const { base, world } = await startApi(t);
  world.nodes.set(
    'gpu-1',
    nodeView('gpu-1', {
      services: [
        serviceView('ollama', { restarts: 2 }),
        serviceView('exo', { healthy: false, health: 'unhealthy' }),
        serviceView('vllm', { state: 'backoff', healthy: false }),
      ],
      latest: {
        ts: '2025-03-01T09:59:59.500Z',
        cpu_pct: 12.5,
        mem_used_bytes: 8e9,
        mem_total_bytes: 32e9,
        gpus: [
          { name: 'RTX 3090', busy_pct: 50, mem_used_bytes: 1e9, mem_total_bytes: 24e9 },
          { name: 'RTX 3090', busy_pct: 25, mem_used_bytes: null, mem_total_bytes: 24e9 },
        ],
      },
    }),
  );
  world.nodes.set('cpu-"2"', nodeView('cpu-"2"', { status: 'offline', latest: null, last_seen: null, services: [] }));
  world.stats = {
    ingested: { samples: 10, events: 3 },
    duplicates: 1,
    commit_failures: 0,
    streams: 1,
    auth_failures: 4,
  };
  world.runs.set('run-1', runDetail('run-1'));
  world.runs.set('run-2', runDetail('run-2', { status: 'completed' }));

  const res = await request(base, '/metrics');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const { types, samples } = parsePrometheus(res.text);

  assert.equal(valueOf(samples, 'kage_node_up', { node: 'gpu-1' }), 1);
  assert.equal(valueOf(samples, 'kage_node_up', { node: 'cpu-"2"' }), 0, 'label values are escaped and read back');
  assert.equal(valueOf(samples, 'kage_node_cpu_percent', { node: 'gpu-1' }), 12.5);
  assert.equal(valueOf(samples, 'kage_node_cpu_percent', { node: 'cpu-"2"' }), undefined, 'no sample, no series');
  assert.equal(valueOf(samples, 'kage_node_memory_used_bytes', { node: 'gpu-1' }), 8e9);
  assert.equal(valueOf(samples, 'kage_node_memory_total_bytes', { node: 'gpu-1' }), 32e9);
  assert.equal(valueOf(samples, 'kage_node_gpu_busy_percent', { node: 'gpu-1', gpu: '0' }), 50);
  assert.equal(valueOf(samples, 'kage_node_gpu_busy_percent', { node: 'gpu-1', gpu: '1' }), 25);
  assert.equal(find(samples, 'kage_node_gpu_busy_percent', { gpu_name: 'RTX 3090' }).length, 2);
  assert.equal(valueOf(samples, 'kage_node_gpu_memory_used_bytes', { node: 'gpu-1', gpu: '0' }), 1e9);
  assert.equal(valueOf(samples, 'kage_node_gpu_memory_used_bytes', { node: 'gpu-1', gpu: '1' }), undefined);
  assert.equal(
    valueOf(samples, 'kage_node_last_seen_timestamp_seconds', { node: 'gpu-1' }),
    Date.parse('2025-03-01T10:00:00.000Z') / 1000,
  );
  assert.equal(valueOf(samples, 'kage_service_up', { node: 'gpu-1', service: 'ollama' }), 1);
  assert.equal(valueOf(samples, 'kage_service_up', { node: 'gpu-1', service: 'exo' }), 0, 'running but unhealthy');
  assert.equal(valueOf(samples, 'kage_service_up', { node: 'gpu-1', service: 'vllm' }), 0);
  assert.equal(valueOf(samples, 'kage_service_restarts_total', { node: 'gpu-1', service: 'ollama' }), 2);
  assert.equal(valueOf(samples, 'kage_ingest_records_total', { kind: 'samples' }), 10);
  assert.equal(valueOf(samples, 'kage_ingest_records_total', { kind: 'events' }), 3);
  assert.equal(valueOf(samples, 'kage_ingest_duplicates_total'), 1);
  assert.equal(valueOf(samples, 'kage_ingest_commit_failures_total'), 0);
  assert.equal(valueOf(samples, 'kage_agent_streams'), 1);
  assert.equal(valueOf(samples, 'kage_agent_auth_failures_total'), 4);
  assert.equal(valueOf(samples, 'kage_run_cells_total', { run: 'run-1' }), 4);
  assert.equal(valueOf(samples, 'kage_run_cells_done', { run: 'run-1' }), 1);
  assert.equal(valueOf(samples, 'kage_run_cells_total', { run: 'run-2' }), undefined, 'only running runs');
  assert.equal(valueOf(samples, 'kage_coordinator_info', { version: '0.1.0' }), 1);
  assert.equal(types.get('kage_service_restarts_total'), 'counter');
  assert.equal(types.get('kage_ingest_records_total'), 'counter');
  assert.equal(types.get('kage_node_up'), 'gauge');
  // The process's own health, under the standard names.
  assert.ok((valueOf(samples, 'process_cpu_user_seconds_total') ?? -1) >= 0);
  assert.ok((valueOf(samples, 'nodejs_heap_size_used_bytes') ?? 0) > 0);
  assert.equal(types.get('nodejs_eventloop_lag_p99_seconds'), 'gauge');

  // The next scrape reads the deps again: new values, and a node that is gone has no series.
  world.stats = { ...world.stats, ingested: { samples: 25, events: 3 } };
  world.nodes.delete('cpu-"2"');
  const again = parsePrometheus((await request(base, '/metrics')).text).samples;
  assert.equal(valueOf(again, 'kage_ingest_records_total', { kind: 'samples' }), 25);
  assert.equal(find(again, 'kage_node_up').length, 1);
});

test('an unknown route is 404 KAGE_ERR_NOT_FOUND in the common error shape', async (t) => {
  const { base } = await startApi(t);
  const res = await request(base, '/api/v1/nope?x=1');
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { code: 'KAGE_ERR_NOT_FOUND', message: 'no route GET /api/v1/nope' });
});

test('an uncoded failure is 500 KAGE_ERR_INTERNAL without details; the log has the stack once', async (t) => {
  const { base, world } = await startApi(t);
  world.runsFailure = new TypeError('cannot read properties of undefined (reading "cells")');
  const res = await request(base, '/api/v1/runs');
  assert.equal(res.status, 500);
  const body = res.body as { code: string; message: string };
  assert.equal(body.code, 'KAGE_ERR_INTERNAL');
  assert.deepEqual(Object.keys(body).sort(), ['code', 'message']);
  assert.doesNotMatch(res.text, /cells|TypeError|at .*\.js/);

  const errors = world.log.filter((e) => e.level >= 50);
  assert.equal(errors.length, 1, 'logged once');
  assert.equal(errors[0]?.component, 'http');
  assert.match(errors[0]?.err?.stack ?? '', /TypeError: cannot read properties/);
});

test('a coded failure the API has no status for is 500 with its code and message, logged with the stack', async (t) => {
  const { base, world } = await startApi(t);
  world.runsFailure = Object.assign(new Error('disk full while writing the run'), { code: 'KAGE_ERR_DB_FULL' });
  const res = await request(base, '/api/v1/runs/run-1');
  assert.equal(res.status, 500);
  assert.deepEqual(res.body, { code: 'KAGE_ERR_DB_FULL', message: 'disk full while writing the run' });
  assert.equal(world.log.filter((e) => e.level >= 50 && e.err !== undefined).length, 1);
});

test('requests are not logged above debug, and through the http component logger', async (t) => {
  const { base, world } = await startApi(t);
  await request(base, '/healthz');
  await request(base, '/api/v1/nope');
  // The one line at info is fastify's "Server listening at …" from listen(), not a request.
  const requestLines = world.log.filter((e) => !e.msg.startsWith('Server listening'));
  assert.ok(requestLines.length > 0);
  for (const entry of requestLines) {
    assert.equal(entry.component, 'http');
    assert.ok(entry.level <= 20, `logged at ${entry.level}: ${entry.msg}`);
  }
});

test('/docs/json is a valid OpenAPI 3.1 document listing every route, POSTs secured by bearer', async (t) => {
  const { base } = await startApi(t);
  const res = await request(base, '/docs/json');
  assert.equal(res.status, 200);
  const doc = res.body as {
    openapi: string;
    info: { version: string };
    paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>;
  };
  const result = await new Validator().validate(doc);
  assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
  assert.equal(doc.openapi, '3.1.0');
  assert.equal(doc.info.version, '0.1.0');

  const expected: [string, string][] = [
    ['get', '/healthz'],
    ['get', '/readyz'],
    ['get', '/metrics'],
    ['get', '/api/v1/nodes'],
    ['get', '/api/v1/nodes/{id}'],
    ['get', '/api/v1/nodes/{id}/metrics'],
    ['post', '/api/v1/nodes/{id}/services/{name}/start'],
    ['post', '/api/v1/nodes/{id}/services/{name}/stop'],
    ['post', '/api/v1/nodes/{id}/services/{name}/restart'],
    ['post', '/api/v1/runs'],
    ['get', '/api/v1/runs'],
    ['get', '/api/v1/runs/{id}'],
    ['post', '/api/v1/runs/{id}/cancel'],
    ['get', '/api/v1/runs/{id}/report'],
    ['get', '/api/v1/events'],
  ];
  for (const [method, path] of expected) {
    const op = doc.paths[path]?.[method];
    assert.ok(op, `${method.toUpperCase()} ${path} is documented`);
    assert.ok(Object.keys(op.responses).length >= 2, `${method} ${path} documents success and errors`);
    if (method === 'post') assert.deepEqual(op.security, [{ bearerAuth: [] }], `${path} needs the token`);
    else assert.equal(op.security, undefined, `${path} is open`);
  }
  assert.ok(!Object.keys(doc.paths).some((p) => p.startsWith('/docs')), 'the UI routes are not in the document');
});

test('/docs serves Swagger UI with its assets from the package, no CDN', async (t) => {
  const { base } = await startApi(t);
  const page = await request(base, '/docs/');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  assert.ok(assets.length > 0);
  for (const asset of assets) assert.doesNotMatch(asset, /^(https?:)?\/\//, `${asset} is local`);
  const bundle = await request(base, '/docs/static/swagger-ui-bundle.js');
  assert.equal(bundle.status, 200);
  assert.ok(bundle.text.length > 100_000);
});

test('buildApiServer returns a server that is not listening yet', async () => {
  const world = createFakeWorld();
  const app = await buildApiServer(world.deps);
  try {
    assert.equal(app.server.listening, false);
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(res.statusCode, 200);
  } finally {
    await app.close();
  }
});
