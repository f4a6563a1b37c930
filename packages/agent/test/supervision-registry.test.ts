// The service registry: built from the config's services map, the one door for commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServiceRegistry, type ServiceConfig, type ServiceEvent, type ServiceRegistry } from '../src/index.js';
import {
  FAST,
  activeUnit,
  captureLog,
  childCommand,
  fakeSystemctl,
  isAlive,
  killQuietly,
  readyLines,
  tempDir,
  waitFor,
  type LogEntry,
  defer,
  type HasAfter,
} from './helpers/supervision-fixtures.js';

async function setup(
  t: HasAfter,
  autostart?: boolean,
): Promise<{
  registry: ServiceRegistry;
  fake: Awaited<ReturnType<typeof fakeSystemctl>>;
  entries: LogEntry[];
  events: ServiceEvent[];
}> {
  const dir = await tempDir(t);
  const fake = await fakeSystemctl(dir, { 'ollama.service': activeUnit('ollama.service') });
  const { log, entries } = captureLog();
  const services: Record<string, ServiceConfig> = {
    ollama: { driver: 'systemd', unit: 'ollama.service' },
    exo: { driver: 'process', command: childCommand('--grandchild') },
  };
  const registry = createServiceRegistry({
    services,
    log,
    stateDir: dir,
    systemctlPath: fake.path,
    timings: { ...FAST, healthIntervalMs: 150 },
    ...(autostart === undefined ? {} : { autostart }),
  });
  const events: ServiceEvent[] = [];
  registry.onEvent((e) => events.push(e));
  defer(t, async () => {
    await registry.close();
    for (const r of readyLines(entries)) {
      killQuietly(r.pid);
      killQuietly(r.grandchild);
    }
  });
  return { registry, fake, entries, events };
}

void test('open() starts process services, reads units, and commands reach the right driver', async (t) => {
  const { registry, fake, entries, events } = await setup(t);
  await registry.open();
  assert.deepEqual(registry.names(), ['ollama', 'exo']);
  const byName = new Map(registry.statuses().map((s) => [s.name, s]));
  assert.equal(byName.get('ollama')?.state, 'running');
  assert.equal(byName.get('ollama')?.driver, 'systemd');
  assert.equal(byName.get('exo')?.state, 'running');
  assert.equal(byName.get('exo')?.driver, 'process');
  assert.deepEqual((await fake.read()).calls, [], 'open() never starts or stops a unit');

  const before = byName.get('exo')?.pid;
  const after = await registry.command('exo', 'restart');
  assert.equal(after.state, 'running');
  assert.notEqual(after.pid, before);
  await registry.command('ollama', 'restart');
  assert.deepEqual((await fake.read()).calls, [['restart', 'ollama.service']]);
  assert.ok(events.some((e) => e.type === 'state' && e.service === 'exo' && e.to === 'stopping'));
  assert.ok(entries.some((e) => e.msg === 'service command' && e['service'] === 'exo' && e['action'] === 'restart'));
});

void test('unknown services and actions are rejected with coded errors before anything runs', async (t) => {
  const { registry, fake } = await setup(t);
  await registry.open();
  for (const name of ['nope', '__proto__', 'constructor', 'toString', '']) {
    await assert.rejects(registry.command(name, 'start'), { code: 'KAGE_ERR_AGENT_SERVICE_UNKNOWN' }, name);
  }
  for (const action of ['kill', 'status', 'toString', 'START', '']) {
    await assert.rejects(registry.command('ollama', action), { code: 'KAGE_ERR_AGENT_ACTION_UNKNOWN' }, action);
  }
  assert.deepEqual((await fake.read()).calls, []);
});

void test('close() stops process children but leaves systemd units running', async (t) => {
  const { registry, fake, entries } = await setup(t);
  await registry.open();
  const [ready] = await waitFor('exo ready', () => readyLines(entries).length > 0 && readyLines(entries));
  assert.ok(ready?.grandchild !== undefined);
  await Promise.all([registry.close(), registry.close()]);
  assert.equal(await isAlive(ready.pid), false, 'the process-driver child is stopped');
  assert.equal(await isAlive(ready.grandchild), false, 'with its whole group');
  const state = await fake.read();
  assert.deepEqual(state.calls, [], 'no systemctl stop on agent shutdown');
  assert.equal(state.units['ollama.service']?.ActiveState, 'active');
  assert.equal(registry.get('exo')?.status().state, 'exited');
  await assert.rejects(registry.command('exo', 'start'), { code: 'KAGE_ERR_AGENT_SERVICE_CLOSED' });
});

void test('autostart: false leaves process services exited until a start command', async (t) => {
  const { registry } = await setup(t, false);
  await registry.open();
  assert.equal(registry.get('exo')?.status().state, 'exited');
  assert.equal((await registry.command('exo', 'start')).state, 'running');
});

void test('a config entry with an unknown driver or missing fields is rejected with a coded error', () => {
  const { log } = captureLog();
  const bad = [
    { x: { driver: 'docker', image: 'exo' } },
    { x: { driver: 'systemd' } },
    { x: { driver: 'process' } },
  ] as unknown as Record<string, ServiceConfig>[];
  for (const services of bad) {
    assert.throws(() => createServiceRegistry({ services, log, stateDir: '.' }), {
      code: 'KAGE_ERR_AGENT_SERVICE_CONFIG',
    });
  }
});
