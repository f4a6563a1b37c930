// The watchdog pings only while every registered check passes; a stuck loop stops the pings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino, type Logger } from 'pino';
import { createFreshnessCheck, createWatchdog, readDaemonEnv, scrubDaemonEnv } from '../src/index.js';

function captureLog(): { log: Logger; entries: { level: number; msg: string }[] } {
  const entries: { level: number; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void entries.push(JSON.parse(s) as never) });
  return { log, entries };
}

function countingNotifier(): { watchdog: () => Promise<boolean>; count: () => number } {
  let n = 0;
  return {
    watchdog: () => {
      n++;
      return Promise.resolve(true);
    },
    count: () => n,
  };
}

test('pings while healthy, withholds while a check fails, resumes after; logs transitions only', async (t) => {
  // The ping timer is the global setInterval: mocked, every slot is one exact tick of the clock.
  t.mock.timers.enable({ apis: ['setInterval'] });
  const { log, entries } = captureLog();
  const notifier = countingNotifier();
  const watchdog = createWatchdog({ notifier, log, watchdogUsec: 60_000 });
  t.after(() => watchdog.close());
  assert.equal(watchdog.enabled, true);
  assert.equal(watchdog.intervalMs, 30, 'half of WATCHDOG_USEC');
  let streamAlive = true;
  watchdog.register('sampler', () => null);
  watchdog.register('stream', () => (streamAlive ? null : 'stream loop stopped'));
  watchdog.start();
  assert.equal(notifier.count(), 1, 'the first ping goes out at start');
  t.mock.timers.tick(29);
  assert.equal(notifier.count(), 1, 'no ping before the interval');
  t.mock.timers.tick(1 + 30);
  assert.equal(notifier.count(), 3, 'one ping per interval');

  streamAlive = false;
  t.mock.timers.tick(5 * 30);
  assert.equal(watchdog.stats().withheld, 5, 'every slot of the failing streak withheld');
  assert.equal(notifier.count(), 3, 'no ping while the stream check fails');
  assert.deepEqual(watchdog.stats().failing, ['stream']);

  streamAlive = true;
  t.mock.timers.tick(2 * 30);
  assert.equal(notifier.count(), 5, 'pings resume');
  assert.deepEqual(watchdog.stats(), { pings: 5, withheld: 5, failing: [] });

  const warns = entries.filter((e) => e.level === 40);
  assert.equal(warns.length, 1, 'one warning for the whole failing streak');
  assert.equal(warns[0]?.msg, 'health check failing: watchdog pings withheld');
  assert.equal(entries.filter((e) => e.msg === 'health checks pass again: watchdog pings resumed').length, 1);

  await watchdog.close();
  t.mock.timers.tick(100 * 30);
  assert.equal(notifier.count(), 5, 'no ping after close');
  assert.equal(watchdog.stats().withheld, 5, 'no slot after close');
  watchdog.start();
  assert.equal(notifier.count(), 5, 'start after close does nothing');
});

test('disabled without WATCHDOG_USEC: start() sends nothing, checks still evaluate', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
  const notifier = countingNotifier();
  const watchdog = createWatchdog({ notifier, log: captureLog().log, watchdogUsec: null });
  assert.equal(watchdog.enabled, false);
  assert.equal(watchdog.intervalMs, null);
  watchdog.register('broken', () => {
    throw new Error('boom');
  });
  watchdog.start();
  t.mock.timers.tick(60_000); // any timer start() had armed would have fired by now
  assert.equal(notifier.count(), 0);
  assert.deepEqual(watchdog.stats(), { pings: 0, withheld: 0, failing: [] });
  assert.deepEqual(watchdog.evaluate(), [{ name: 'broken', reason: 'check threw: boom' }]);
  await watchdog.close();
});

test('register rejects a duplicate name; the returned function removes the check', () => {
  const watchdog = createWatchdog({ notifier: countingNotifier(), log: captureLog().log, watchdogUsec: 1_000_000 });
  const remove = watchdog.register('sampler', () => 'stale');
  assert.throws(() => watchdog.register('sampler', () => null), /already registered/);
  assert.equal(watchdog.evaluate().length, 1);
  remove();
  assert.deepEqual(watchdog.evaluate(), []);
});

test('freshness check: grace before the first tick, then the age of the last tick', () => {
  let now = 1000;
  let last: number | null = null;
  const check = createFreshnessCheck({ lastMonoMs: () => last, maxAgeMs: 3000, what: 'sampler', now: () => now });
  assert.equal(check(), null, 'a loop that has not ticked yet gets maxAgeMs from creation');
  now = 4500;
  assert.equal(check(), 'sampler has not run once in 3.5 s');
  last = 4000;
  assert.equal(check(), null);
  now = 7001;
  assert.equal(check(), 'sampler last ran 3 s ago (limit 3 s)');
  now = 12_000;
  assert.match(check() ?? '', /last ran 8 s ago/);
});

test('readDaemonEnv reads systemd variables; a watchdog meant for another pid is ignored', () => {
  const env = {
    NOTIFY_SOCKET: '@/org/freedesktop/systemd1/notify/123',
    WATCHDOG_USEC: '30000000',
    WATCHDOG_PID: '77',
    JOURNAL_STREAM: '8:12345',
    STATE_DIRECTORY: '/var/lib/kage/agent',
    KAGE_LOG_LEVEL: 'debug',
  };
  assert.deepEqual(readDaemonEnv(env, 77), {
    notifySocket: '@/org/freedesktop/systemd1/notify/123',
    watchdogUsec: 30_000_000,
    journalStream: '8:12345',
    stateDirectory: '/var/lib/kage/agent',
    logLevel: 'debug',
  });
  assert.equal(readDaemonEnv(env, 78).watchdogUsec, null, 'inherited from a parent that is being watched');
  assert.equal(readDaemonEnv({ WATCHDOG_USEC: 'x' }, 1).watchdogUsec, null);
  assert.deepEqual(readDaemonEnv({}, 1), {
    notifySocket: null,
    watchdogUsec: null,
    journalStream: null,
    stateDirectory: null,
    logLevel: null,
  });
  const mutable: Record<string, string | undefined> = { ...env, PATH: '/usr/bin' };
  scrubDaemonEnv(mutable);
  assert.deepEqual(Object.keys(mutable).sort(), ['JOURNAL_STREAM', 'KAGE_LOG_LEVEL', 'PATH', 'STATE_DIRECTORY']);
});
