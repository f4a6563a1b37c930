/** REST API: starting, listing, following and cancelling runs, reports, and refused request bodies. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_LISTED_PROBLEMS } from '../src/http/validation.js';
import { AUTH, nodeView, postJson, request, runDetail, startApi } from './helpers/api-fakes.js';

const MATRIX = {
  name: 'smoke',
  prompt: 'Say hi',
  targets: [
    { id: 'ollama-a', kind: 'ollama', url: 'http://a.lan:11434', nodes: ['a'] },
    { id: 'ollama-b', kind: 'ollama', url: 'http://b.lan:11434', nodes: ['b'] },
  ],
  models: [{ name: 'qwen2.5:3b' }],
};

interface ErrorBody {
  code: string;
  message: string;
  problems?: { path: string; reason: string }[];
  offline?: string[];
}

test('POST /api/v1/runs starts a run of the matrix: 201 { id } with its location', async (t) => {
  const { base, world } = await startApi(t);
  const res = await postJson(base, '/api/v1/runs', MATRIX);
  assert.equal(res.status, 201);
  assert.deepEqual(res.body, { id: 'run-1' });
  assert.equal(res.headers.get('location'), '/api/v1/runs/run-1');
  assert.deepEqual(world.started, [MATRIX], 'the matrix reaches the run service as sent');

  // A resolved matrix sent back carries `decision: null`, which means "no decision".
  const again = await postJson(base, '/api/v1/runs', { ...MATRIX, decision: null });
  assert.equal(again.status, 201);
});

test('a body that fails the schema is 400 naming every wrong field', async (t) => {
  const { base, world } = await startApi(t);
  const bad = {
    name: 'smoke',
    prompt: 'Say hi',
    targets: [{ id: 'ollama-a', kind: 'vllm', url: '' }],
    repetitions: 0,
    colour: 'blue',
  };
  const res = await postJson(base, '/api/v1/runs', bad);
  assert.equal(res.status, 400);
  const body = res.body as ErrorBody;
  assert.equal(body.code, 'KAGE_ERR_BAD_REQUEST');
  const paths = (body.problems ?? []).map((p) => p.path).sort();
  assert.deepEqual(paths, [
    'body/colour',
    'body/models',
    'body/repetitions',
    'body/targets/0/kind',
    'body/targets/0/url',
  ]);
  assert.match(body.message, /body\/targets\/0\/url: expected string length greater or equal to 1, got ""/);
  assert.match(body.message, /body\/targets\/0\/kind: must be one of ollama\|exo\|openai, got "vllm"/);
  assert.match(body.message, /body\/colour: unknown key/);
  assert.match(body.message, /body\/models: required key is missing/);
  assert.equal(world.started.length, 0, 'nothing reached the run service');
});

test('a huge wrong body lists a bounded number of problems', async (t) => {
  const { base } = await startApi(t);
  const targets = Array.from({ length: 2000 }, () => ({ id: '', kind: 'x', url: 7 }));
  const res = await postJson(base, '/api/v1/runs', { ...MATRIX, targets });
  assert.equal(res.status, 400);
  const body = res.body as ErrorBody;
  assert.equal(body.problems?.length, MAX_LISTED_PROBLEMS);
  assert.match(body.message, new RegExp(`first ${MAX_LISTED_PROBLEMS} problems`));
});

test('a matrix the run service rejects is 400 KAGE_ERR_MATRIX_INVALID listing every problem', async (t) => {
  const { base } = await startApi(t);
  const matrix = {
    ...MATRIX,
    targets: [
      { id: 'dup', kind: 'ollama', url: 'http://a.lan:11434' },
      { id: 'dup', kind: 'ollama', url: 'ftp://b.lan' },
    ],
  };
  const res = await postJson(base, '/api/v1/runs', matrix);
  assert.equal(res.status, 400);
  const body = res.body as ErrorBody;
  assert.equal(body.code, 'KAGE_ERR_MATRIX_INVALID');
  assert.deepEqual(
    body.problems?.map((p) => p.path),
    ['targets[1].id', 'targets[1].url'],
  );
  assert.match(body.message, /2 problems/);
  assert.match(body.message, /duplicate target id "dup"/);
  assert.match(body.message, /must use http or https/);
});

test('a run naming offline nodes is 409 KAGE_ERR_NODES_OFFLINE listing them', async (t) => {
  const { base, world } = await startApi(t);
  world.nodes.set('a', nodeView('a', { status: 'offline' }));
  world.nodes.set('b', nodeView('b', { status: 'offline' }));
  const res = await postJson(base, '/api/v1/runs', MATRIX);
  assert.equal(res.status, 409);
  const body = res.body as ErrorBody;
  assert.equal(body.code, 'KAGE_ERR_NODES_OFFLINE');
  assert.deepEqual(body.offline, ['a', 'b']);
});

test('malformed JSON is 400, a non-object body 400, a non-JSON body 415, an oversized body 413', async (t) => {
  const { base, world } = await startApi(t, { bodyLimit: 4096 });
  const send = (body: string, type = 'application/json') =>
    request(base, '/api/v1/runs', { method: 'POST', headers: { ...AUTH, 'content-type': type }, body });

  const malformed = await send('{"name": "smoke",');
  assert.equal(malformed.status, 400);
  assert.equal((malformed.body as ErrorBody).code, 'KAGE_ERR_BAD_REQUEST');
  assert.match((malformed.body as ErrorBody).message, /JSON/);

  const proto = await send('{"__proto__": {"polluted": true}}');
  assert.equal(proto.status, 400, 'prototype pollution is refused by the parser');

  const list = await send('[1, 2]');
  assert.equal(list.status, 400);
  assert.match((list.body as ErrorBody).message, /^invalid request: body: expected object/);

  const none = await request(base, '/api/v1/runs', { method: 'POST', headers: AUTH });
  assert.equal(none.status, 400);
  assert.match((none.body as ErrorBody).message, /body: is required/);

  const text = await send('name: smoke', 'text/plain');
  assert.equal(text.status, 415);
  assert.equal((text.body as ErrorBody).code, 'KAGE_ERR_UNSUPPORTED_MEDIA_TYPE');

  const huge = await send(JSON.stringify({ ...MATRIX, prompt: 'x'.repeat(8192) }));
  assert.equal(huge.status, 413);
  assert.equal((huge.body as ErrorBody).code, 'KAGE_ERR_BODY_TOO_LARGE');
  assert.equal(world.started.length, 0);
});

test('GET /api/v1/runs lists runs; GET /api/v1/runs/:id gives one or 404 KAGE_ERR_RUN_NOT_FOUND', async (t) => {
  const { base, world } = await startApi(t);
  assert.deepEqual((await request(base, '/api/v1/runs')).body, []);
  world.runs.set('run-1', runDetail('run-1'));
  world.runs.set(
    'run-2',
    runDetail('run-2', {
      status: 'failed',
      error: 'target unreachable',
      progress: { cells_total: 2, cells_done: 2, current: null },
    }),
  );

  const list = await request(base, '/api/v1/runs');
  assert.equal(list.status, 200);
  assert.deepEqual(
    (list.body as { id: string; status: string; verdict: unknown }[]).map((r) => [r.id, r.status, r.verdict]),
    [
      ['run-1', 'running', null],
      ['run-2', 'failed', null],
    ],
  );

  const one = await request(base, '/api/v1/runs/run-2');
  assert.equal(one.status, 200);
  assert.deepEqual(one.body, world.runs.get('run-2'));

  const missing = await request(base, '/api/v1/runs/run-9');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.body, { code: 'KAGE_ERR_RUN_NOT_FOUND', message: 'no run run-9' });
});

test('POST /api/v1/runs/:id/cancel cancels and returns the run; unknown run 404; token required', async (t) => {
  const { base, world } = await startApi(t);
  world.runs.set('run-1', runDetail('run-1'));

  const noToken = await request(base, '/api/v1/runs/run-1/cancel', { method: 'POST' });
  assert.equal(noToken.status, 401);
  assert.equal(world.runs.get('run-1')?.status, 'running');

  const res = await request(base, '/api/v1/runs/run-1/cancel', { method: 'POST', headers: AUTH });
  assert.equal(res.status, 200);
  assert.equal((res.body as { status: string }).status, 'cancelled');
  assert.deepEqual(res.body, world.runs.get('run-1'));

  const unknown = await request(base, '/api/v1/runs/run-9/cancel', { method: 'POST', headers: AUTH });
  assert.equal(unknown.status, 404);
  assert.equal((unknown.body as ErrorBody).code, 'KAGE_ERR_RUN_NOT_FOUND');
});

test('GET /api/v1/runs/:id/report gives JSON by default, Markdown and HTML on request', async (t) => {
  const { base, world } = await startApi(t);
  world.runs.set('run-1', runDetail('run-1'));

  const json = await request(base, '/api/v1/runs/run-1/report');
  assert.equal(json.status, 200);
  assert.match(json.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(json.body, world.deps.runs.report('run-1'));
  assert.deepEqual((await request(base, '/api/v1/runs/run-1/report?format=json')).body, json.body);

  const md = await request(base, '/api/v1/runs/run-1/report?format=md');
  assert.equal(md.status, 200);
  assert.match(md.headers.get('content-type') ?? '', /^text\/markdown/);
  assert.equal(md.text, '# Run smoke\n');

  const html = await request(base, '/api/v1/runs/run-1/report?format=html');
  assert.equal(html.status, 200);
  assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
  assert.equal(html.text, '<!doctype html><title>smoke</title>');
  assert.equal(html.headers.get('x-content-type-options'), 'nosniff');

  const bad = await request(base, '/api/v1/runs/run-1/report?format=pdf');
  assert.equal(bad.status, 400);
  assert.match((bad.body as ErrorBody).message, /querystring\/format: must be one of json\|md\|html, got "pdf"/);

  for (const format of ['json', 'md', 'html']) {
    const missing = await request(base, `/api/v1/runs/run-9/report?format=${format}`);
    assert.equal(missing.status, 404, format);
    assert.equal((missing.body as ErrorBody).code, 'KAGE_ERR_RUN_NOT_FOUND');
  }
});
