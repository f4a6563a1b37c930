/**
 * `kage nodes`, `kage status` and `kage service` as real child processes against a stand-in
 * coordinator that answers in the REST API's documented shapes: what they print and how they exit
 * for each answer, a missing or refused token, and a coordinator that is not there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  API_TOKEN,
  GIB,
  authorized,
  runKage,
  startFakeCoordinator,
  type FakeCoordinator,
} from './helpers/operator-coordinator.js';

async function withCoordinator(run: (fake: FakeCoordinator) => Promise<void>): Promise<void> {
  const fake = await startFakeCoordinator();
  try {
    await run(fake);
  } finally {
    await fake.close();
  }
}

async function withTokenFile(content: string, run: (file: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-operator-'));
  try {
    const file = join(dir, 'api-token');
    await writeFile(file, content);
    await run(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

const SERVICE_PATH = '/api/v1/nodes/srv1/services/ollama/restart';

test('kage nodes prints one line per node: id, hostname, status, last seen, agent version, services', async () => {
  await withCoordinator(async (fake) => {
    const r = await runKage(['nodes', '--coordinator', fake.url]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 4, r.stdout);
    assert.match(lines[0]!, /^ID\s+HOSTNAME\s+STATUS\s+LAST SEEN\s+AGENT\s+SERVICES$/);
    assert.match(lines[1]!, /^srv1\s+srv1\.lan\s+online\s+2s ago\s+0\.1\.0\s+ollama running ✓$/);
    assert.match(lines[2]!, /^rog\s+rog-flow-z13\s+online\s+1s ago\s+0\.1\.0\s+ollama running ✓, exo backoff ✗$/);
    assert.match(lines[3]!, /^srv2\s+srv2\.lan\s+offline\s+5m ago\s+0\.0\.9\s+—$/);
    assert.deepEqual(
      fake.requests.map((q) => `${q.method} ${q.path}`),
      ['GET /api/v1/nodes'],
    );
  });
});

test('kage nodes --json prints the API answer; KAGE_COORDINATOR gives the address', async () => {
  await withCoordinator(async (fake) => {
    const r = await runKage(['nodes', '--json'], { KAGE_COORDINATOR: fake.url });
    assert.equal(r.code, 0, r.stderr);
    const nodes = JSON.parse(r.stdout) as { id: string; services: unknown[] }[];
    assert.deepEqual(
      nodes.map((n) => n.id),
      ['srv1', 'rog', 'srv2'],
    );
    assert.equal(nodes[1]!.services.length, 2);
  });
});

test('kage status prints load per node and each service with its state, pid and restarts', async () => {
  await withCoordinator(async (fake) => {
    const r = await runKage(['status', '--coordinator', fake.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [
      'NODE  STATUS   CPU %  MEM used/total (GiB)  GPU busy %  GPU MEM (GiB)',
      'srv1  online   12.5   8.0/32.0              —           —',
      '  ollama: running ✓ (pid 123, 0 restarts)',
      'rog   online   3.3    20.0/64.0             45.0        10.0/96.0',
      '  ollama: running ✓ (pid 77, 0 restarts)',
      '  exo: backoff ✗ (no pid, 3 restarts) — exited with code 1',
      // An offline node's last sample is not shown as its current load.
      'srv2  offline  —      —                     —           —',
    ]);
  });
});

test('kage status shows the models each service holds and the EXO instances; an older coordinator shows none', async () => {
  await withCoordinator(async (fake) => {
    const runner = (node: string, start: number, end: number, state = 'RunnerReady', error: string | null = null) => ({
      host: node,
      node,
      state,
      layers_loaded: null,
      total_layers: null,
      start_layer: start,
      end_layer: end,
      n_layers: 28,
      weights_bytes: 1000,
      error,
    });
    fake.route('GET', '/api/v1/models', () => ({
      status: 200,
      body: {
        sources: [],
        ollama: [
          {
            node: 'srv1',
            service: 'ollama',
            model: 'qwen2.5:3b',
            size_bytes: 2.4 * GIB,
            vram_bytes: 0,
            processor: '100% CPU',
            expires_at: null,
            context_length: 4096,
            parameter_size: '3.1B',
            quantization: 'Q4_K_M',
          },
          {
            node: 'srv1',
            service: 'ollama',
            model: 'llama3.2:1b',
            size_bytes: 2 * GIB,
            vram_bytes: 1 * GIB,
            processor: '50%/50% CPU/GPU',
            expires_at: null,
            context_length: null,
            parameter_size: null,
            quantization: null,
          },
          {
            node: 'rog',
            service: 'ollama',
            model: 'qwen2.5-coder:32b',
            size_bytes: 20 * GIB,
            vram_bytes: 20 * GIB,
            processor: '100% GPU',
            expires_at: null,
            context_length: null,
            parameter_size: null,
            quantization: null,
          },
        ],
        exo: [
          {
            instance_id: 'i1',
            model: 'mlx-community/Qwen2.5-3B-Instruct-4bit',
            kind: 'MlxRingInstance',
            state: 'failed',
            reported_by: 'srv1',
            runners: [runner('srv1', 0, 14), runner('rog', 14, 28, 'RunnerFailed', 'out of memory')],
          },
        ],
      },
    }));
    const r = await runKage(['status', '--coordinator', fake.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [
      'NODE  STATUS   CPU %  MEM used/total (GiB)  GPU busy %  GPU MEM (GiB)',
      'srv1  online   12.5   8.0/32.0              —           —',
      '  ollama: running ✓ (pid 123, 0 restarts)',
      '    loaded: qwen2.5:3b 2.4 GiB, 100% CPU; llama3.2:1b 2.0 GiB, 50%/50% CPU/GPU',
      'rog   online   3.3    20.0/64.0             45.0        10.0/96.0',
      '  ollama: running ✓ (pid 77, 0 restarts)',
      '    loaded: qwen2.5-coder:32b 20.0 GiB, 100% GPU',
      '  exo: backoff ✗ (no pid, 3 restarts) — exited with code 1',
      'srv2  offline  —      —                     —           —',
      'EXO instances:',
      '  mlx-community/Qwen2.5-3B-Instruct-4bit failed: srv1 layers 0–13, rog layers 14–27 (failed: out of memory)',
    ]);
  });
});

test('kage status --json prints the nodes as JSON', async () => {
  await withCoordinator(async (fake) => {
    const r = await runKage(['status', '--json', '--coordinator', fake.url]);
    assert.equal(r.code, 0, r.stderr);
    const nodes = JSON.parse(r.stdout) as { id: string; latest: { cpu_pct: number } | null }[];
    assert.equal(nodes[0]!.latest?.cpu_pct, 12.5);
  });
});

test('kage service … restart prints the new state, pid and restarts; the token file is trimmed', async () => {
  await withCoordinator(async (fake) => {
    fake.route(
      'POST',
      SERVICE_PATH,
      authorized(() => ({
        status: 200,
        body: {
          ok: true,
          error: null,
          service: {
            name: 'ollama',
            driver: 'systemd',
            state: 'running',
            pid: 4242,
            restarts: 1,
            healthy: true,
            health: 'healthy',
            reason: null,
          },
        },
      })),
    );
    await withTokenFile(`${API_TOKEN}\n`, async (file) => {
      const r = await runKage([
        'service',
        'srv1',
        'ollama',
        'restart',
        '--coordinator',
        fake.url,
        '--token-file',
        file,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'srv1 ollama: running ✓ (pid 4242, 1 restart)\n');
      const sent = fake.requests.find((q) => q.path === SERVICE_PATH);
      assert.equal(sent?.method, 'POST');
      assert.equal(sent?.headers.authorization, `Bearer ${API_TOKEN}`);
    });
  });
});

test('kage service: an agent refusal (409 with its code) prints the code and message and exits 1', async () => {
  await withCoordinator(async (fake) => {
    fake.route(
      'POST',
      '/api/v1/nodes/srv1/services/nope/start',
      authorized(() => ({
        status: 409,
        body: {
          code: 'KAGE_ERR_AGENT_SERVICE_UNKNOWN',
          message: 'no service "nope" in the agent config',
          service: null,
        },
      })),
    );
    const r = await runKage(['service', 'srv1', 'nope', 'start', '--coordinator', fake.url], {
      KAGE_API_TOKEN: API_TOKEN,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /srv1 refused to start nope: no service "nope" in the agent config \[KAGE_ERR_AGENT_SERVICE_UNKNOWN\]/,
    );
    assert.equal(r.stdout, '');
  });
});

test('kage service: an answer with ok false prints the agent error and the service, exits 1', async () => {
  await withCoordinator(async (fake) => {
    fake.route(
      'POST',
      '/api/v1/nodes/rog/services/exo/start',
      authorized(() => ({
        status: 200,
        body: {
          ok: false,
          error: { code: 'KAGE_ERR_AGENT_COMMAND_FAILED', message: 'exo exited at once' },
          service: {
            name: 'exo',
            driver: 'process',
            state: 'failed',
            pid: null,
            restarts: 5,
            healthy: false,
            health: 'unhealthy',
            reason: 'crash loop',
          },
        },
      })),
    );
    const r = await runKage(['service', 'rog', 'exo', 'start', '--coordinator', fake.url], {
      KAGE_API_TOKEN: API_TOKEN,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /exo exited at once \[KAGE_ERR_AGENT_COMMAND_FAILED\]/);
    assert.match(r.stderr, /now: rog exo: failed ✗ \(no pid, 5 restarts\) — crash loop/);
  });
});

test('kage service: an offline node exits 69, an unknown node 65, an agent timeout 69', async () => {
  await withCoordinator(async (fake) => {
    fake.route(
      'POST',
      '/api/v1/nodes/srv2/services/ollama/stop',
      authorized(() => ({ status: 409, body: { code: 'KAGE_ERR_NODE_OFFLINE', message: 'node srv2 is offline' } })),
    );
    fake.route(
      'POST',
      '/api/v1/nodes/ghost/services/ollama/stop',
      authorized(() => ({
        status: 404,
        body: { code: 'KAGE_ERR_NODE_UNKNOWN', message: 'no node "ghost" has ever connected' },
      })),
    );
    fake.route(
      'POST',
      '/api/v1/nodes/rog/services/ollama/stop',
      authorized(() => ({
        status: 504,
        body: { code: 'KAGE_ERR_COMMAND_TIMEOUT', message: 'node rog did not answer command 1 within 60000 ms' },
      })),
    );
    const env = { KAGE_API_TOKEN: API_TOKEN, KAGE_COORDINATOR: fake.url };
    const [offline, unknown, timeout] = await Promise.all([
      runKage(['service', 'srv2', 'ollama', 'stop'], env),
      runKage(['service', 'ghost', 'ollama', 'stop'], env),
      runKage(['service', 'rog', 'ollama', 'stop'], env),
    ]);
    assert.equal(offline.code, 69, offline.stderr);
    assert.match(offline.stderr, /node srv2 is offline \[KAGE_ERR_NODE_OFFLINE\]/);
    assert.equal(unknown.code, 65, unknown.stderr);
    assert.match(unknown.stderr, /no node "ghost" has ever connected \[KAGE_ERR_NODE_UNKNOWN\]/);
    assert.equal(timeout.code, 69, timeout.stderr);
    assert.match(timeout.stderr, /\[KAGE_ERR_COMMAND_TIMEOUT\]/);
  });
});

test('kage service: no answer within --timeout exits 69 naming the coordinator', async () => {
  await withCoordinator(async (fake) => {
    fake.route('POST', SERVICE_PATH, () => 'hang');
    const r = await runKage(['service', 'srv1', 'ollama', 'restart', '--coordinator', fake.url, '--timeout', '0.3'], {
      KAGE_API_TOKEN: API_TOKEN,
    });
    assert.equal(r.code, 69, r.stderr);
    assert.match(r.stderr, new RegExp(`${fake.url} did not answer POST ${SERVICE_PATH} within 300 ms`));
    assert.match(r.stderr, /\[KAGE_ERR_COORDINATOR_TIMEOUT\]/);
  });
});

test('kage service without a token exits 64 saying how to give one, before any request', async () => {
  await withCoordinator(async (fake) => {
    const r = await runKage(['service', 'srv1', 'ollama', 'restart', '--coordinator', fake.url]);
    assert.equal(r.code, 64, r.stderr);
    assert.match(r.stderr, /--token-file FILE or the KAGE_API_TOKEN environment variable/);
    assert.match(r.stderr, /\[KAGE_ERR_CLI_TOKEN_MISSING\]/);
    assert.equal(fake.requests.length, 0);
  });
});

test('kage service with an empty token file exits 64', async () => {
  await withCoordinator(async (fake) => {
    await withTokenFile(' \n', async (file) => {
      const r = await runKage([
        'service',
        'srv1',
        'ollama',
        'restart',
        '--coordinator',
        fake.url,
        '--token-file',
        file,
      ]);
      assert.equal(r.code, 64, r.stderr);
      assert.match(r.stderr, /is empty/);
      assert.equal(fake.requests.length, 0);
    });
  });
});

test('kage service with a wrong token exits 77 and says to check --token-file / KAGE_API_TOKEN', async () => {
  await withCoordinator(async (fake) => {
    fake.route(
      'POST',
      SERVICE_PATH,
      authorized(() => ({ status: 200, body: { ok: true, error: null, service: null } })),
    );
    const r = await runKage(['service', 'srv1', 'ollama', 'restart', '--coordinator', fake.url], {
      KAGE_API_TOKEN: 'not-the-token',
    });
    assert.equal(r.code, 77, r.stderr);
    assert.match(r.stderr, /\[KAGE_ERR_UNAUTHORIZED\]/);
    assert.match(r.stderr, /check --token-file \/ KAGE_API_TOKEN/);
  });
});

test('an unreachable coordinator is one line naming the URL, exit 69', async () => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  for (const args of [['nodes'], ['status'], ['status', '--watch']]) {
    const r = await runKage([...args, '--coordinator', url]);
    assert.equal(r.code, 69, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`^kage: cannot reach the coordinator at ${url} \\(connection refused\\)`));
    assert.match(lines[0]!, /\[KAGE_ERR_COORDINATOR_UNREACHABLE\]$/);
  }
});

test('a --coordinator that is not an http URL is a usage error (64)', async () => {
  const r = await runKage(['nodes', '--coordinator', 'ftp://example']);
  assert.equal(r.code, 64, r.stderr);
  assert.match(r.stderr, /must be an http:\/\/ or https:\/\/ URL/);
});
