/**
 * The whole agent in one process, as `kage agent` runs it: a config parsed from YAML, a real
 * supervised child, the real sampler on this machine's /proc, and the gRPC stream to a real
 * coordinator server on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createAgentDaemon, parseAgentConfig } from '@kage/agent';
import { readDaemonEnv } from '@kage/common';
import type { CommandResult__Output } from '@kage/wire';
import { createTestCoordinator, waitFor } from '@kage/wire/testing';

const SERVICE_CHILD = fileURLToPath(new URL('./helpers/service-child.js', import.meta.url));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('agent daemon: hello, samples and service events reach the coordinator; commands work; close stops the child', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kage-agent-daemon-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const coordinator = createTestCoordinator({ token: 's3cret' });
  const port = await coordinator.start();
  t.after(() => coordinator.close());

  const yaml = [
    'node: testnode',
    `coordinator: { url: "127.0.0.1:${port}", token: s3cret }`,
    'sample_interval_ms: 200',
    `buffer: { dir: ${JSON.stringify(join(dir, 'buffer'))}, max_age_s: 60 }`,
    'services:',
    '  worker:',
    '    driver: process',
    `    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(SERVICE_CHILD)}, "--grandchild"]`,
    '    restart: { initial_delay_ms: 50, max_delay_ms: 200, max_restarts: 3, window_s: 60 }',
    '',
  ].join('\n');
  const config = await parseAgentConfig(yaml, {
    file: join(dir, 'agent.yaml'),
    env: { STATE_DIRECTORY: join(dir, 'state') },
  });
  const daemon = createAgentDaemon({
    config,
    env: readDaemonEnv({}),
    log: pino({ level: 'silent' }),
    agentVersion: '0.0.0-test',
    inventorySource: null,
    nvidiaSmi: false,
  });
  let closed = false;
  t.after(async () => {
    if (!closed) await daemon.close();
  });
  await daemon.start();

  const store = coordinator.store;
  await waitFor(() => store.hellos.length > 0, 'hello');
  const hello = store.hellos[0]!;
  assert.equal(hello.node_id, 'testnode');
  assert.equal(hello.agent_version, '0.0.0-test');
  assert.deepEqual(
    hello.services.map((s) => s.name),
    ['worker'],
  );
  await waitFor(() => store.samples.length >= 3, 'three samples');
  const sample = store.samples.at(-1)!;
  assert.ok(typeof sample.cpu_pct === 'number' && sample.cpu_pct >= 0 && sample.cpu_pct <= 100, 'cpu_pct from /proc');
  assert.ok(Number(sample.mem_total_bytes) > 0, 'memory from /proc/meminfo');
  await waitFor(
    () => store.events.some((e) => e.service === 'worker' && e.to_state === 'running'),
    'worker running event',
  );
  const firstPid = daemon.registry!.statuses()[0]!.pid!;
  assert.ok(isAlive(firstPid));
  await waitFor(
    () => store.samples.some((s) => s.services.some((u) => u.name === 'worker' && Number(u.rss_bytes) > 0)),
    'per-service RSS of the worker tree',
  );

  const restart = (await coordinator.sendCommand({
    id: 'r1',
    service_action: { service: 'worker', action: 'RESTART' },
  })) as CommandResult__Output;
  assert.equal(restart.ok, true, JSON.stringify(restart.error));
  assert.equal(restart.status?.state, 'running');
  assert.notEqual(restart.status?.pid, firstPid, 'a new process');
  await waitFor(() => !isAlive(firstPid), 'the old process gone');

  const refused = (await coordinator.sendCommand({
    id: 'r2',
    service_action: { service: 'sshd', action: 'STOP' },
  })) as CommandResult__Output;
  assert.equal(refused.ok, false);
  assert.equal(refused.error?.code, 'KAGE_ERR_AGENT_SERVICE_UNKNOWN');

  const pid = daemon.registry!.statuses()[0]!.pid!;
  await daemon.close();
  closed = true;
  assert.equal(isAlive(pid), false, 'process-driver children stop with the agent');
  assert.equal(daemon.stream!.status().state, 'closed');
});
