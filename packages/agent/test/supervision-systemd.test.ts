// The systemd driver against a fake systemctl that keeps unit state in a temp file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSystemdService, type ServiceEvent, type SystemdService } from '../src/index.js';
import {
  FAST,
  activeUnit,
  captureLog,
  defer,
  fakeSystemctl,
  tempDir,
  waitFor,
  type HasAfter,
} from './helpers/supervision-fixtures.js';

// Every poll spawns the fake (a node process): poll less often than the process tests do.
const TIMINGS = { ...FAST, healthIntervalMs: 150 };

async function setup(
  t: HasAfter,
  options: { unit?: string; health?: string; systemctlPath?: string } = {},
): Promise<{ service: SystemdService; fake: Awaited<ReturnType<typeof fakeSystemctl>>; events: ServiceEvent[] }> {
  const fake = await fakeSystemctl(await tempDir(t), { 'ollama.service': activeUnit('ollama.service') });
  const { log } = captureLog();
  const service = createSystemdService({
    name: 'ollama',
    config: {
      driver: 'systemd',
      unit: options.unit ?? 'ollama.service',
      ...(options.health === undefined ? {} : { health: options.health }),
    },
    log,
    systemctlPath: options.systemctlPath ?? fake.path,
    timings: TIMINGS,
  });
  const events: ServiceEvent[] = [];
  service.onEvent((e) => events.push(e));
  defer(t, () => service.close());
  return { service, fake, events };
}

void test('open() reads the unit: state, main pid, restarts and the cgroup for telemetry', async (t) => {
  const server = createServer((_req, res) => res.writeHead(200).end('Ollama is running'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  defer(t, async () => {
    server.close();
    server.closeAllConnections();
    await Promise.race([once(server, 'close'), sleep(2000)]);
  });
  const health = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const { service } = await setup(t, { health });
  await service.open();
  const status = service.status();
  assert.equal(status.driver, 'systemd');
  assert.equal(status.state, 'running');
  assert.equal(status.pid, 4242);
  assert.equal(status.restarts, 0);
  assert.equal(status.cgroup, '/system.slice/ollama.service');
  assert.equal(service.controlGroup(), '/system.slice/ollama.service');
  assert.equal(status.healthy, true, 'the first read also ran the health check');
});

void test('start, stop and restart run systemctl on the unit and report the unit as it is after', async (t) => {
  const { service, fake, events } = await setup(t);
  await service.open();
  const stopped = await service.stop();
  assert.equal(stopped.state, 'exited');
  assert.equal(stopped.pid, null);
  assert.equal(stopped.last_exit?.code, 0);
  const started = await service.start();
  assert.equal(started.state, 'running');
  assert.ok(started.pid !== null && started.pid !== 4242);
  const restarted = await service.restart();
  assert.equal(restarted.state, 'running');
  assert.notEqual(restarted.pid, started.pid);
  assert.deepEqual((await fake.read()).calls, [
    ['stop', 'ollama.service'],
    ['start', 'ollama.service'],
    ['restart', 'ollama.service'],
  ]);
  const path = events.flatMap((e) => (e.type === 'state' ? [`${e.from}→${e.to}`] : []));
  assert.deepEqual(path, ['exited→running', 'running→exited', 'exited→running']);
});

void test('polling follows what systemd does on its own: auto-restart backoff, NRestarts, failure', async (t) => {
  const { service, fake } = await setup(t);
  await service.open();
  await fake.update((s) => {
    Object.assign(s.units['ollama.service'] ?? {}, {
      ActiveState: 'activating',
      SubState: 'auto-restart',
      MainPID: 0,
      NRestarts: 2,
      ExecMainStatus: 1,
    });
  });
  const backoff = await waitFor('backoff', () => service.status().state === 'backoff' && service.status());
  assert.equal(backoff.restarts, 2);
  assert.equal(backoff.last_exit?.code, 1);
  await fake.update((s) => {
    Object.assign(s.units['ollama.service'] ?? {}, { ActiveState: 'failed', SubState: 'failed' });
  });
  const failed = await waitFor('failed', () => service.status().state === 'failed' && service.status());
  assert.match(failed.reason ?? '', /unit failed \(failed, status 1\)/);
});

void test('a failing systemctl command rejects with KAGE_ERR_AGENT_SYSTEMCTL_FAILED and its message', async (t) => {
  const { service, fake } = await setup(t);
  await service.open();
  await fake.update((s) => {
    s.fail = { restart: 'Access denied' };
  });
  await assert.rejects(service.restart(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'KAGE_ERR_AGENT_SYSTEMCTL_FAILED');
    assert.match(
      err.message,
      /systemctl restart ollama\.service failed: exit 1: Failed to restart ollama\.service: Access denied/,
    );
    return true;
  });
  assert.equal(service.status().state, 'running', 'the unit is still read after the failure');
});

void test('an unknown unit and a missing systemctl show up as failed with the reason', async (t) => {
  const { service } = await setup(t, { unit: 'nope.service' });
  await service.open();
  assert.equal(service.status().state, 'failed');
  assert.equal(service.status().reason, 'unit is not-found');

  const missing = await setup(t, { systemctlPath: '/nonexistent/systemctl' });
  await missing.service.open();
  assert.equal(missing.service.status().state, 'failed');
  assert.match(missing.service.status().reason ?? '', /ENOENT/);
  await assert.rejects(missing.service.start(), { code: 'KAGE_ERR_AGENT_SYSTEMCTL_FAILED' });
});

void test('close() leaves the unit running and calls no systemctl verb', async (t) => {
  const { service, fake } = await setup(t);
  await service.open();
  await Promise.all([service.close(), service.close()]);
  const state = await fake.read();
  assert.deepEqual(state.calls, []);
  assert.equal(state.units['ollama.service']?.ActiveState, 'active');
  await assert.rejects(service.stop(), { code: 'KAGE_ERR_AGENT_SERVICE_CLOSED' });
});

void test('a unit name that could be read as an option is rejected', () => {
  const { log } = captureLog();
  for (const unit of ['--now', '', 'a b.service', 'x;rm.service']) {
    assert.throws(() => createSystemdService({ name: 'x', config: { driver: 'systemd', unit }, log }), {
      code: 'KAGE_ERR_AGENT_SERVICE_CONFIG',
    });
  }
});
