/**
 * `kage bench run --coordinator URL` as a real child process against a stand-in coordinator: the
 * matrix is validated locally, sent as JSON with the token, followed to its end with progress on
 * stderr and the run id as the last stdout line; a refusal for offline nodes exits 69; Ctrl-C
 * cancels the run on the coordinator and exits 130.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  API_TOKEN,
  authorized,
  runKage,
  startFakeCoordinator,
  startKage,
  type FakeCoordinator,
} from './helpers/operator-coordinator.js';

const MATRIX_YAML = `name: operator-test
prompt: 'hi'
max_tokens: 8
repetitions: 1
targets:
  - { id: ollama-srv1, kind: ollama, url: 'http://127.0.0.1:11434', nodes: [srv1] }
models:
  - { name: 'qwen2.5:3b' }
  - { name: 'llama3.2:1b' }
`;

const MATRIX_JSON = {
  name: 'operator-test',
  prompt: 'hi',
  max_tokens: 8,
  repetitions: 1,
  targets: [{ id: 'ollama-srv1', kind: 'ollama', url: 'http://127.0.0.1:11434', nodes: ['srv1'] }],
  models: [{ name: 'qwen2.5:3b' }, { name: 'llama3.2:1b' }],
};

const RUN_ID = 'r_01JOPERATORTEST';

function runDetail(status: string, done: number, current: { model: string } | null): unknown {
  return {
    id: RUN_ID,
    name: 'operator-test',
    status,
    started_at: '2025-01-31T12:00:00.000Z',
    finished_at: status === 'running' ? null : '2025-01-31T12:00:05.000Z',
    error: null,
    progress: {
      cells_total: 2,
      cells_done: done,
      current: current === null ? null : { model: current.model, target: 'ollama-srv1', concurrency: 1 },
    },
  };
}

async function setUp(t: {
  after: (fn: () => Promise<void>) => void;
}): Promise<{ fake: FakeCoordinator; matrix: string; tokenFile: string }> {
  const fake = await startFakeCoordinator();
  const dir = await mkdtemp(join(tmpdir(), 'kage-operator-bench-'));
  t.after(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });
  const matrix = join(dir, 'matrix.yaml');
  const tokenFile = join(dir, 'token');
  await writeFile(matrix, MATRIX_YAML);
  await writeFile(tokenFile, `${API_TOKEN}\n`);
  return { fake, matrix, tokenFile };
}

test('bench run --coordinator posts the matrix, follows the run and prints its id last', async (t) => {
  const { fake, matrix, tokenFile } = await setUp(t);
  fake.route(
    'POST',
    '/api/v1/runs',
    authorized(() => ({ status: 201, body: { id: RUN_ID } })),
  );
  let reads = 0;
  fake.route('GET', `/api/v1/runs/${RUN_ID}`, () => {
    reads += 1;
    return {
      status: 200,
      body: reads === 1 ? runDetail('running', 1, { model: 'llama3.2:1b' }) : runDetail('completed', 2, null),
    };
  });

  const r = await runKage(['bench', 'run', '--matrix', matrix, '--coordinator', fake.url, '--token-file', tokenFile]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trimEnd().split('\n').at(-1), RUN_ID);
  assert.match(r.stderr, new RegExp(`run ${RUN_ID} started on ${fake.url}`));
  assert.match(r.stderr, /1\/2 cells done; now llama3\.2:1b × ollama-srv1/);
  assert.match(r.stderr, new RegExp(`run ${RUN_ID} completed: 2/2 cells done`));

  const post = fake.requests.find((q) => q.method === 'POST' && q.path === '/api/v1/runs');
  assert.equal(post?.headers.authorization, `Bearer ${API_TOKEN}`);
  assert.match(String(post?.headers['content-type']), /^application\/json/);
  assert.deepEqual(JSON.parse(post?.body ?? 'null'), MATRIX_JSON);
});

test('bench run --coordinator: offline nodes print the coordinator message and exit 69', async (t) => {
  const { fake, matrix, tokenFile } = await setUp(t);
  fake.route(
    'POST',
    '/api/v1/runs',
    authorized(() => ({
      status: 409,
      body: {
        code: 'KAGE_ERR_NODES_OFFLINE',
        message: 'the matrix needs nodes that are offline: srv1',
        offline: ['srv1'],
      },
    })),
  );
  const r = await runKage(['bench', 'run', '--matrix', matrix, '--coordinator', fake.url, '--token-file', tokenFile]);
  assert.equal(r.code, 69, r.stderr);
  assert.match(r.stderr, /the matrix needs nodes that are offline: srv1 \[KAGE_ERR_NODES_OFFLINE\]/);
  assert.equal(r.stdout, '');
});

test('bench run --coordinator validates the matrix locally first (exit 78, no request)', async (t) => {
  const { fake, matrix, tokenFile } = await setUp(t);
  await writeFile(matrix, MATRIX_YAML.replace('max_tokens: 8', 'max_tokens: -1'));
  const r = await runKage(['bench', 'run', '--matrix', matrix, '--coordinator', fake.url, '--token-file', tokenFile]);
  assert.equal(r.code, 78, r.stderr);
  assert.match(r.stderr, /max_tokens/);
  assert.match(r.stderr, /\[KAGE_ERR_MATRIX_INVALID\]/);
  assert.equal(fake.requests.length, 0);
});

test('bench run --coordinator: problems the coordinator finds are listed, exit 78', async (t) => {
  const { fake, matrix, tokenFile } = await setUp(t);
  fake.route(
    'POST',
    '/api/v1/runs',
    authorized(() => ({
      status: 400,
      body: {
        code: 'KAGE_ERR_MATRIX_INVALID',
        message: 'the matrix has 1 problem',
        problems: [{ path: 'targets/0/nodes/0', reason: 'no node "srv1" has ever connected' }],
      },
    })),
  );
  const r = await runKage(['bench', 'run', '--matrix', matrix, '--coordinator', fake.url, '--token-file', tokenFile]);
  assert.equal(r.code, 78, r.stderr);
  assert.match(r.stderr, /targets\/0\/nodes\/0: no node "srv1" has ever connected/);
});

test('bench run --coordinator without a token exits 64 before any request', async (t) => {
  const { fake, matrix } = await setUp(t);
  const r = await runKage(['bench', 'run', '--matrix', matrix, '--coordinator', fake.url]);
  assert.equal(r.code, 64, r.stderr);
  assert.match(r.stderr, /KAGE_API_TOKEN/);
  assert.equal(fake.requests.length, 0);
});

test('bench run --coordinator: Ctrl-C cancels the run on the coordinator and exits 130', async (t) => {
  const { fake, matrix } = await setUp(t);
  fake.route(
    'POST',
    '/api/v1/runs',
    authorized(() => ({ status: 201, body: { id: RUN_ID } })),
  );
  fake.route('GET', `/api/v1/runs/${RUN_ID}`, () => ({
    status: 200,
    body: runDetail('running', 0, { model: 'qwen2.5:3b' }),
  }));
  fake.route(
    'POST',
    `/api/v1/runs/${RUN_ID}/cancel`,
    authorized(() => ({ status: 200, body: runDetail('cancelled', 0, null) })),
  );
  const kage = startKage(t, ['bench', 'run', '--matrix', matrix, '--coordinator', fake.url], {
    KAGE_API_TOKEN: API_TOKEN,
  });
  await kage.stderrMatches(/0\/2 cells done; now qwen2\.5:3b/);
  kage.child.kill('SIGINT');
  assert.equal(await kage.exited(), 130, kage.stderr());
  assert.ok(fake.requests.some((q) => q.method === 'POST' && q.path === `/api/v1/runs/${RUN_ID}/cancel`));
  assert.match(kage.stderr(), new RegExp(`run ${RUN_ID} cancelled`));
  assert.equal(kage.stdout().trimEnd().split('\n').at(-1), RUN_ID);
});
