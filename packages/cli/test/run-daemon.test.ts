/**
 * `runDaemon` in a real child process with real signals: a stop closes the resource exactly once
 * and exits 0; a fatal error closes it and exits 1; a crash exits 1 without closing; the backstop
 * ends a close that never finishes. Each step waits for the child's output or its exit, bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const DAEMON_CHILD = fileURLToPath(new URL('./helpers/daemon-child.js', import.meta.url));
const WAIT_MS = 10_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface DaemonChild {
  /** Resolves once stdout (or stderr) matches, or rejects after WAIT_MS naming what was missing. */
  stdoutMatches(pattern: RegExp): Promise<void>;
  stderrMatches(pattern: RegExp): Promise<void>;
  signal(signal: NodeJS.Signals): void;
  sendLine(line: string): void;
  /** Resolves with the exit, or SIGKILLs the child and rejects after WAIT_MS. */
  exited(): Promise<Exit>;
  stdoutLines(): string[];
  stderr(): string;
}

function startDaemonChild(t: { after: (fn: () => void) => void }, scenario: string): DaemonChild {
  const child = spawn(process.execPath, [DAEMON_CHILD, scenario], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const exit = (once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>).then(
    ([code, signal]): Exit => ({ code, signal }),
  );
  // A failed assertion must not leave the child behind.
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  const outputMatches = (stream: 'stdout' | 'stderr', pattern: RegExp): Promise<void> => {
    const text = (): string => (stream === 'stdout' ? stdout : stderr);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pattern.test(text())) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${scenario}: no ${pattern} on ${stream} within ${WAIT_MS} ms\n${describe()}`));
      }, WAIT_MS);
      const onExit = (): void => {
        done();
        reject(new Error(`${scenario}: exited before ${pattern} on ${stream}\n${describe()}`));
      };
      const done = (): void => {
        clearTimeout(timer);
        child[stream].off('data', check);
        child.off('exit', onExit);
      };
      child[stream].on('data', check);
      child.once('exit', onExit);
      check();
    });
  };
  const describe = (): string => `stdout:\n${stdout}\nstderr:\n${stderr}`;
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));

  return {
    stdoutMatches: (pattern) => outputMatches('stdout', pattern),
    stderrMatches: (pattern) => outputMatches('stderr', pattern),
    signal: (signal) => assert.ok(child.kill(signal), `${signal} delivered`),
    sendLine: (line) => child.stdin.write(`${line}\n`),
    async exited() {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`${scenario}: still running after ${WAIT_MS} ms\n${describe()}`));
        }, WAIT_MS);
      });
      try {
        return await Promise.race([exit, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    stdoutLines: () => stdout.trim().split('\n'),
    stderr: () => stderr,
  };
}

function count(lines: string[], word: string): number {
  return lines.filter((line) => line === word).length;
}

test('runDaemon: SIGTERM closes the resource once and exits 0', async (t) => {
  const daemon = startDaemonChild(t, 'signal');
  await daemon.stdoutMatches(/^ready$/m);
  daemon.signal('SIGTERM');
  assert.deepEqual(await daemon.exited(), { code: 0, signal: null });
  assert.deepEqual(daemon.stdoutLines(), ['starting', 'ready', 'close']);
  assert.match(daemon.stderr(), /"signal":"SIGTERM".*"msg":"shutdown requested"/);
});

test('runDaemon: SIGINT is a clean stop too', async (t) => {
  const daemon = startDaemonChild(t, 'signal');
  await daemon.stdoutMatches(/^ready$/m);
  daemon.signal('SIGINT');
  assert.deepEqual(await daemon.exited(), { code: 0, signal: null });
  assert.equal(count(daemon.stdoutLines(), 'close'), 1);
});

test('runDaemon: a second signal while closing neither closes again nor kills the process', async (t) => {
  const daemon = startDaemonChild(t, 'slow-close');
  await daemon.stdoutMatches(/^ready$/m);
  daemon.signal('SIGTERM');
  await daemon.stdoutMatches(/^close$/m);
  daemon.signal('SIGINT');
  await daemon.stderrMatches(/"msg":"shutdown already under way"/);
  daemon.sendLine('finish closing');
  assert.deepEqual(await daemon.exited(), { code: 0, signal: null });
  assert.equal(count(daemon.stdoutLines(), 'close'), 1);
});

test('runDaemon: a signal during start closes the resource once it is up, without reporting it ready', async (t) => {
  const daemon = startDaemonChild(t, 'slow-start');
  await daemon.stdoutMatches(/^starting$/m);
  daemon.signal('SIGTERM');
  await daemon.stderrMatches(/"msg":"shutdown requested"/);
  daemon.sendLine('finish starting');
  assert.deepEqual(await daemon.exited(), { code: 0, signal: null });
  assert.deepEqual(daemon.stdoutLines(), ['starting', 'close']);
});

test('runDaemon: a fatal error from the resource closes it once and exits 1', async (t) => {
  const daemon = startDaemonChild(t, 'fatal');
  assert.deepEqual(await daemon.exited(), { code: 1, signal: null });
  assert.deepEqual(daemon.stdoutLines(), ['starting', 'ready', 'close']);
  assert.match(daemon.stderr(), /"message":"database went read-only".*"msg":"fatal error; shutting down"/);
});

test('runDaemon: a crash exits 1 at once without closing', async (t) => {
  const daemon = startDaemonChild(t, 'crash');
  assert.deepEqual(await daemon.exited(), { code: 1, signal: null });
  assert.deepEqual(daemon.stdoutLines(), ['starting', 'ready']);
  assert.match(daemon.stderr(), /"msg":"crash fault triggered: exiting"/);
});

test('runDaemon: a close that never finishes is ended by the backstop with exit 1', async (t) => {
  const daemon = startDaemonChild(t, 'stuck-close');
  await daemon.stdoutMatches(/^ready$/m);
  daemon.signal('SIGTERM');
  assert.deepEqual(await daemon.exited(), { code: 1, signal: null });
  assert.equal(count(daemon.stdoutLines(), 'close'), 1);
  assert.match(daemon.stderr(), /"forceExitMs":200.*"msg":"shutdown took too long; exiting"/);
});

test('runDaemon: a close that fails exits 1', async (t) => {
  const daemon = startDaemonChild(t, 'failing-close');
  await daemon.stdoutMatches(/^ready$/m);
  daemon.signal('SIGTERM');
  assert.deepEqual(await daemon.exited(), { code: 1, signal: null });
  assert.match(daemon.stderr(), /"message":"disk vanished while flushing".*"msg":"shutdown failed"/);
});

test('runDaemon: a start that fails rejects with its error and closes nothing', async (t) => {
  const daemon = startDaemonChild(t, 'failing-start');
  assert.deepEqual(await daemon.exited(), { code: 2, signal: null });
  assert.deepEqual(daemon.stdoutLines(), ['starting', 'rejected: port taken']);
});
