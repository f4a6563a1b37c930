// The process driver against real child processes: restarts, group kills, crash loops, stop paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createProcessService, type ProcessService, type ServiceEvent } from '../src/index.js';
import {
  FAST,
  captureLog,
  childCommand,
  isAlive,
  killQuietly,
  readyLines,
  tempDir,
  waitFor,
  type LogEntry,
  defer,
  type HasAfter,
} from './helpers/supervision-fixtures.js';

interface Setup {
  service: ProcessService;
  entries: LogEntry[];
  events: ServiceEvent[];
}

async function setup(
  t: HasAfter,
  command: string[],
  extra: { restart?: Parameters<typeof createProcessService>[0]['config']['restart']; stopGraceMs?: number } = {},
): Promise<Setup> {
  const { log, entries } = captureLog();
  const stateDir = await tempDir(t);
  const service = createProcessService({
    name: 'svc',
    config: {
      driver: 'process',
      command,
      restart: extra.restart ?? { initial_delay_ms: 20, max_delay_ms: 80, max_restarts: 5, window_s: 60 },
    },
    log,
    stateDir,
    timings: { ...FAST, ...(extra.stopGraceMs === undefined ? {} : { stopGraceMs: extra.stopGraceMs }) },
  });
  const events: ServiceEvent[] = [];
  service.onEvent((e) => events.push(e));
  defer(t, async () => {
    const pids = readyLines(entries).flatMap((r) => [r.pid, r.grandchild]);
    await service.close();
    for (const pid of pids) killQuietly(pid); // belt and braces: never leak a helper
  });
  return { service, entries, events };
}

void test('stdout and stderr reach the log one entry per line, tagged with service and pid', async (t) => {
  const { service, entries } = await setup(t, childCommand());
  const status = await service.start();
  assert.equal(status.state, 'running');
  assert.equal(typeof status.pid, 'number');
  const [ready] = await waitFor('ready line', () => readyLines(entries).length > 0 && readyLines(entries));
  assert.equal(ready?.pid, status.pid, 'the helper is the main pid itself (no shell in between)');
  const stderr = await waitFor('stderr line', () =>
    entries.find((e) => e.msg === 'output' && e['stream'] === 'stderr'),
  );
  assert.equal(stderr['line'], 'a line on stderr');
  assert.equal(stderr['service'], 'svc');
  assert.equal(stderr['pid'], status.pid);
  assert.ok(service.logTail().includes('a line on stderr'));
  const changes = entries.filter((e) => e.msg === 'state change').map((e) => `${String(e['from'])}→${String(e['to'])}`);
  assert.deepEqual(changes, ['exited→starting', 'starting→running']);
  assert.ok(
    entries.filter((e) => e.msg === 'state change').every((e) => e.level === 30),
    'transitions at info',
  );
});

void test('killing the main pid kills its grandchild and restarts the service', async (t) => {
  const { service, entries, events } = await setup(t, childCommand('--grandchild'));
  await service.start();
  const [first] = await waitFor('first ready line', () => readyLines(entries).length === 1 && readyLines(entries));
  assert.ok(first?.grandchild !== undefined && (await isAlive(first.grandchild)));

  process.kill(first.pid, 'SIGKILL');
  const [, second] = await waitFor('second ready line', () => readyLines(entries).length === 2 && readyLines(entries));
  assert.ok(second !== undefined && second.pid !== first.pid);
  assert.equal(await isAlive(first.grandchild), false, 'the old grandchild does not linger');
  const status = service.status();
  assert.equal(status.state, 'running');
  assert.equal(status.restarts, 1);
  assert.equal(status.last_exit?.signal, 'SIGKILL');
  const path = events.filter((e) => e.type === 'state').map((e) => (e.type === 'state' ? e.to : ''));
  assert.deepEqual(path, ['starting', 'running', 'backoff', 'starting', 'running']);
  const gone = entries.find((e) => e.msg === 'killed processes left in the group of the exited service');
  assert.ok(gone, 'the group cleanup is logged');
});

void test('a grandchild that dies takes the service down with it, and the service is restarted', async (t) => {
  const { service, entries } = await setup(t, childCommand('--grandchild', '--exit-with-grandchild'));
  await service.start();
  const [first] = await waitFor('first ready line', () => readyLines(entries).length === 1 && readyLines(entries));
  assert.ok(first?.grandchild !== undefined);
  process.kill(first.grandchild, 'SIGKILL');
  const [, second] = await waitFor('restart', () => readyLines(entries).length === 2 && readyLines(entries));
  assert.notEqual(second?.pid, first.pid);
  assert.equal(service.status().last_exit?.code, 2);
  assert.equal(service.status().restarts, 1);
});

void test('a crash loop ends in failed after max_restarts restarts within the window', async (t) => {
  const { service, entries, events } = await setup(t, childCommand('--exit=3'), {
    restart: { initial_delay_ms: 10, max_delay_ms: 40, max_restarts: 3, window_s: 60 },
  });
  await service.start();
  const failed = await waitFor('failed', () => service.status().state === 'failed' && service.status());
  assert.equal(failed.restarts, 3);
  assert.equal(failed.last_exit?.code, 3);
  assert.match(failed.reason ?? '', /crash loop: exited with code 3; 3 restarts within 60 s/);
  const spawns = events.filter((e) => e.type === 'state' && e.to === 'running').length;
  assert.equal(spawns, 4, 'the first run plus three restarts');
  await waitFor('log tail of the runs', () => service.logTail().filter((l) => l === 'exiting with 3').length === 4);
  assert.ok(entries.some((e) => e.msg === 'state change' && e['to'] === 'failed' && Array.isArray(e['tail'])));
  // Backoff grew: every backoff delay at least half its ceiling (10, 20, 40 ms).
  const delays = entries.filter((e) => e['to'] === 'backoff').map((e) => Number(e['delay_ms']));
  assert.equal(delays.length, 3);
  delays.forEach((d, i) => assert.ok(d >= Math.min(40, 10 * 2 ** i) / 2, `delay ${i} = ${d}`));

  // An operator start is a fresh start: budget and counter are reset.
  const again = await service.start();
  assert.equal(again.restarts, 0);
  assert.notEqual(again.state, 'failed');
});

void test('stop during a restart backoff cancels the pending restart', async (t) => {
  const { service, events } = await setup(t, childCommand('--exit=1'), {
    restart: { initial_delay_ms: 300, max_delay_ms: 300, max_restarts: 5, window_s: 60 },
  });
  await service.start();
  await waitFor('backoff', () => service.status().state === 'backoff');
  const stopped = await service.stop();
  assert.equal(stopped.state, 'exited');
  assert.equal(stopped.reason, 'stop requested');
  const runsBefore = events.filter((e) => e.type === 'state' && e.to === 'starting').length;
  await sleep(450); // longer than the largest possible backoff delay: a restart would have happened
  assert.equal(service.status().state, 'exited');
  assert.equal(events.filter((e) => e.type === 'state' && e.to === 'starting').length, runsBefore);
});

void test('a child that ignores SIGTERM is SIGKILLed after the grace, with its whole group', async (t) => {
  const graceMs = 250;
  const { service, entries } = await setup(
    t,
    childCommand('--ignore-term', '--grandchild', '--grandchild-ignore-term'),
    {
      stopGraceMs: graceMs,
    },
  );
  await service.start();
  const [ready] = await waitFor('ready line', () => readyLines(entries).length === 1 && readyLines(entries));
  const started = performance.now();
  const stopped = await service.stop();
  const tookMs = performance.now() - started;
  assert.equal(stopped.state, 'exited');
  assert.equal(stopped.pid, null);
  assert.equal(stopped.last_exit?.signal, 'SIGKILL');
  assert.ok(tookMs >= graceMs * 0.8, `waited the grace before SIGKILL (${Math.round(tookMs)} ms)`);
  assert.equal(await isAlive(ready?.grandchild ?? -1), false, 'the SIGTERM-ignoring grandchild is gone too');
  assert.ok(entries.some((e) => e.msg === 'group ignored SIGTERM; killed'));
});

void test('a child that honours SIGTERM stops without waiting for the grace', async (t) => {
  const { service } = await setup(t, childCommand('--grandchild'), { stopGraceMs: 5000 });
  await service.start();
  const started = performance.now();
  const stopped = await service.stop();
  assert.equal(stopped.state, 'exited');
  assert.equal(stopped.last_exit?.signal, 'SIGTERM');
  assert.ok(performance.now() - started < 4000, 'no SIGKILL escalation needed');
});

void test('a command that does not exist leaves the service failed with ENOENT and throws nothing', async (t) => {
  const { service, events } = await setup(t, ['/nonexistent/kage-no-such-binary', '--flag']);
  const status = await service.start();
  assert.equal(status.state, 'failed');
  assert.equal(status.pid, null);
  assert.match(status.reason ?? '', /ENOENT/);
  assert.deepEqual(
    events.filter((e) => e.type === 'state').map((e) => (e.type === 'state' ? e.to : '')),
    ['starting', 'failed'],
  );
  // Still usable: a restart tries again and fails the same way.
  assert.equal((await service.restart()).state, 'failed');
});

void test('restart replaces the child and close() stops it; close is idempotent', async (t) => {
  const { service, entries } = await setup(t, childCommand('--grandchild'));
  const first = await service.start();
  await waitFor('ready line', () => readyLines(entries).length === 1);
  const second = await service.restart();
  assert.equal(second.state, 'running');
  assert.notEqual(second.pid, first.pid);
  assert.equal(second.restarts, 0, 'an operator restart is not an automatic one');
  assert.equal(await isAlive(first.pid ?? -1), false);
  const [, ready] = await waitFor('second ready line', () => readyLines(entries).length === 2 && readyLines(entries));
  await Promise.all([service.close(), service.close()]);
  assert.equal(service.status().state, 'exited');
  assert.equal(await isAlive(ready?.pid ?? -1), false);
  assert.equal(await isAlive(ready?.grandchild ?? -1), false);
  await assert.rejects(service.start(), { code: 'KAGE_ERR_AGENT_SERVICE_CLOSED' });
});

void test('a bad service entry is rejected with a coded error', () => {
  const { log } = captureLog();
  for (const config of [
    { driver: 'process' as const, command: [] },
    { driver: 'process' as const, command: ['x'], health: 'ftp://127.0.0.1/' },
    { driver: 'process' as const, command: ['x'], restart: { initial_delay_ms: 100, max_delay_ms: 10 } },
  ]) {
    assert.throws(() => createProcessService({ name: 'svc', config, log, stateDir: '.' }), {
      code: 'KAGE_ERR_AGENT_SERVICE_CONFIG',
    });
  }
  assert.throws(
    () => createProcessService({ name: '../etc', config: { driver: 'process', command: ['x'] }, log, stateDir: '.' }),
    { code: 'KAGE_ERR_AGENT_SERVICE_CONFIG' },
  );
});
