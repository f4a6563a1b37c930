// sd_notify through systemd-notify, received by a real AF_UNIX datagram socket (a tiny python3
// receiver standing in for PID 1), for a path socket and an abstract one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { buildNotifyArgs, createFreshnessCheck, createSdNotifier, createWatchdog } from '../src/index.js';

interface Ctx {
  after: (fn: () => Promise<void> | void) => void;
  skip: (message?: string) => void;
}

// Binds the socket, says so on stdout, then prints each datagram as one JSON line until stdin closes.
// Ancillary data is not read, so the kernel closes the barrier fd systemd-notify passes, which is
// exactly what PID 1 does once it has processed the message.
const RECEIVER = `
import json, select, socket, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('\\0' + addr[1:] if addr.startswith('@') else addr)
print(json.dumps({"ready": True}), flush=True)
while True:
    r, _, _ = select.select([s, sys.stdin], [], [], 30)
    if not r or sys.stdin in r:
        break
    print(json.dumps({"msg": s.recv(65536).decode()}), flush=True)
`;

function run(command: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => execFile(command, args, { timeout: 5000 }, (err) => resolve(err === null)));
}

let toolsChecked: Promise<string | null> | undefined;
/** Null when python3 and systemd-notify are both available, else what is missing. */
function missingTools(): Promise<string | null> {
  toolsChecked ??= (async () => {
    if (!(await run('python3', ['-c', 'pass']))) return 'python3 not found';
    if (!(await run('systemd-notify', ['--version']))) return 'systemd-notify not found';
    return null;
  })();
  return toolsChecked;
}

interface Receiver {
  socket: string;
  /** Messages received so far, without systemd-notify's `BARRIER=1` follow-ups. */
  messages: string[];
  waitForCount(n: number): Promise<void>;
}

async function startReceiver(t: Ctx, abstract: boolean): Promise<Receiver> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-notify-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const socket = abstract ? `@kage-test-${randomBytes(6).toString('hex')}` : join(dir, 'notify.sock');
  const child = spawn('python3', ['-c', RECEIVER, socket], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => {
    child.stdin.end();
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const messages: string[] = [];
  const waiters: (() => void)[] = [];
  let buffered = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffered.slice(0, nl)) as { ready?: true; msg?: string };
      buffered = buffered.slice(nl + 1);
      if (line.ready === true) onReady();
      if (line.msg !== undefined && line.msg !== 'BARRIER=1') messages.push(line.msg);
      for (const w of waiters.splice(0)) w();
    }
  });
  await ready;
  return {
    socket,
    messages,
    async waitForCount(n) {
      const deadline = Date.now() + 10_000;
      while (messages.length < n) {
        assert.ok(Date.now() < deadline, `only ${messages.length} of ${n} messages arrived: ${messages.join(' | ')}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200).unref();
        });
      }
    },
  };
}

function captureLog(): { log: Logger; entries: { level: number; msg: string }[] } {
  const entries: { level: number; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void entries.push(JSON.parse(s) as never) });
  return { log, entries };
}

/** `"A=1\nB=2"` → `{ A: '1', B: '2' }`. */
function fields(message: string | undefined): Record<string, string> {
  return Object.fromEntries(
    (message ?? '').split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

test('READY, STATUS, WATCHDOG and STOPPING reach a path socket in order', async (t) => {
  const missing = await missingTools();
  if (missing !== null) return t.skip(missing);
  const receiver = await startReceiver(t, false);
  const { log } = captureLog();
  const notifier = createSdNotifier({ socket: receiver.socket, log, pid: 4242 });
  t.after(() => notifier.close());
  assert.equal(notifier.enabled, true);
  // Fired without awaiting in between: the notifier must still deliver them in call order.
  const results = await Promise.all([
    notifier.ready('connecting to 100.77.248.9:50551'),
    notifier.status('streaming\nto coordinator'),
    notifier.watchdog(),
    notifier.stopping('draining'),
  ]);
  assert.deepEqual(results, [true, true, true, true]);
  await receiver.waitForCount(4);
  const [ready, status, ping, stopping] = receiver.messages.map(fields);
  assert.deepEqual(ready, { READY: '1', STATUS: 'connecting to 100.77.248.9:50551', MAINPID: '4242' });
  assert.deepEqual(status, { STATUS: 'streaming to coordinator' }, 'a status stays one line');
  assert.deepEqual(ping, { WATCHDOG: '1' });
  assert.deepEqual(stopping, { STOPPING: '1', STATUS: 'draining' });
});

test('an abstract socket (@name) works too', async (t) => {
  const missing = await missingTools();
  if (missing !== null) return t.skip(missing);
  const receiver = await startReceiver(t, true);
  const notifier = createSdNotifier({ socket: receiver.socket, log: captureLog().log });
  t.after(() => notifier.close());
  assert.equal(await notifier.ready(), true);
  await receiver.waitForCount(1);
  assert.deepEqual(fields(receiver.messages[0]), { READY: '1', MAINPID: String(process.pid) });
});

test('the health-gated watchdog pings a real socket at half of WATCHDOG_USEC', async (t) => {
  const missing = await missingTools();
  if (missing !== null) return t.skip(missing);
  const receiver = await startReceiver(t, false);
  const { log } = captureLog();
  const notifier = createSdNotifier({ socket: receiver.socket, log });
  let lastTick: number | null = performance.now();
  const watchdog = createWatchdog({ notifier, log, watchdogUsec: 400_000 });
  t.after(() => watchdog.close());
  watchdog.register('sampler', createFreshnessCheck({ lastMonoMs: () => lastTick, maxAgeMs: 10_000, what: 'sampler' }));
  assert.equal(watchdog.intervalMs, 200);
  watchdog.start();
  await receiver.waitForCount(2);
  assert.ok(receiver.messages.every((m) => m === 'WATCHDOG=1'));
  lastTick = null;
  assert.ok(watchdog.stats().pings >= 2);
});

test('without a socket every call is a no-op that resolves false and spawns nothing', async () => {
  const { log, entries } = captureLog();
  const notifier = createSdNotifier({ socket: null, log, command: '/nonexistent/systemd-notify' });
  assert.equal(notifier.enabled, false);
  assert.deepEqual(
    await Promise.all([notifier.ready('x'), notifier.status('y'), notifier.watchdog(), notifier.stopping()]),
    [false, false, false, false],
  );
  await notifier.close();
  assert.deepEqual(entries, [], 'nothing was attempted, so nothing was logged');
});

test('a missing systemd-notify is reported once; a failing one at each failure; neither throws', async (t) => {
  const { log, entries } = captureLog();
  const absent = createSdNotifier({ socket: '/run/nowhere', log, command: '/nonexistent/systemd-notify' });
  assert.equal(await absent.ready(), false);
  assert.equal(await absent.watchdog(), false);
  await absent.close();
  const warns = entries.filter((e) => e.level === 40);
  assert.equal(warns.length, 1);
  assert.match(warns[0]?.msg ?? '', /not found/);

  const dir = await mkdtemp(join(tmpdir(), 'kage-notify-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const failing = join(dir, 'failing-notify');
  await writeFile(failing, '#!/bin/sh\necho "no socket here" >&2\nexit 1\n');
  await chmod(failing, 0o755);
  const broken = createSdNotifier({ socket: '/run/nowhere', log, command: failing });
  assert.equal(await broken.status('x'), false);
  await broken.close();
  const failure = entries.find((e) => e.msg === 'systemd-notify failed') as { stderr?: string } | undefined;
  assert.equal(failure?.stderr, 'no socket here');
});

test('a watchdog ping still in flight is not doubled; close() waits and then refuses', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kage-notify-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const slow = join(dir, 'slow-notify');
  const record = join(dir, 'calls');
  await writeFile(slow, `#!/bin/sh\nsleep 0.3\necho "$@" >> '${record}'\n`);
  await chmod(slow, 0o755);
  const notifier = createSdNotifier({ socket: '/run/x', log: captureLog().log, command: slow });
  const first = notifier.watchdog();
  assert.equal(await notifier.watchdog(), false, 'second ping while the first is pending');
  assert.equal(await first, true);
  const pending = notifier.status('last words');
  await notifier.close();
  assert.equal(await pending, true, 'close() waited for the queued message');
  assert.equal(await notifier.ready(), false, 'after close');
  assert.deepEqual((await readFile(record, 'utf8')).trim().split('\n'), ['WATCHDOG=1', 'STATUS=last words']);
});

test('buildNotifyArgs: --pid only when asked, one line per assignment', () => {
  assert.deepEqual(buildNotifyArgs(['READY=1', 'STATUS=a\r\nb'], 7), ['--pid=7', 'READY=1', 'STATUS=a b']);
  assert.deepEqual(buildNotifyArgs(['WATCHDOG=1'], null), ['WATCHDOG=1']);
});
