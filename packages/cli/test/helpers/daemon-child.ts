/**
 * A tiny daemon on `runDaemon`, run as a real child process by run-daemon.test.ts:
 * `node daemon-child.js SCENARIO`. It prints what the test observes on stdout, one word a line
 * (`starting`, `ready`, `close`, `rejected: …`), and runDaemon's pino log on stderr. Where the
 * test must act while the daemon is in a given state, the daemon waits for a line on stdin
 * instead of a timer, so no step depends on timing.
 */
import { createLogger } from '../../src/logger.js';
import { runDaemon, type DaemonHooks, type DaemonResource } from '../../src/run-daemon.js';

const scenarios = [
  // Ready, then stopped by a signal; close finishes at once.
  'signal',
  // Like `signal`, but close waits for a stdin line, so a second signal can land mid-close.
  'slow-close',
  // start waits for a stdin line, so a signal can land before the daemon is ready.
  'slow-start',
  // Once ready, the resource reports a fatal error.
  'fatal',
  // Once ready, the resource crashes.
  'crash',
  // close never finishes: only the force-exit backstop ends the process.
  'stuck-close',
  // close rejects.
  'failing-close',
  // start rejects.
  'failing-start',
] as const;
type Scenario = (typeof scenarios)[number];

const scenario = process.argv[2] as Scenario;
if (!scenarios.includes(scenario)) {
  process.stderr.write(`usage: daemon-child.js ${scenarios.join('|')}\n`);
  process.exit(64);
}

function say(word: string): void {
  process.stdout.write(`${word}\n`);
}

/** Resolves with the next stdin line, then lets go of stdin so it does not keep the process alive. */
function nextStdinLine(): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      const end = text.indexOf('\n');
      if (end < 0) return;
      process.stdin.off('data', onData);
      process.stdin.destroy();
      resolve(text.slice(0, end));
    };
    process.stdin.on('data', onData);
  });
}

async function close(): Promise<void> {
  say('close');
  if (scenario === 'slow-close') await nextStdinLine();
  if (scenario === 'stuck-close') await new Promise<never>(() => undefined);
  if (scenario === 'failing-close') throw new Error('disk vanished while flushing');
}

async function start(hooks: DaemonHooks): Promise<DaemonResource> {
  say('starting');
  if (scenario === 'slow-start') await nextStdinLine();
  if (scenario === 'failing-start') throw new Error('port taken');
  // After the ready line, like a real resource failing some time into its life.
  if (scenario === 'fatal') setImmediate(() => hooks.onFatal(new Error('database went read-only')));
  if (scenario === 'crash') setImmediate(() => hooks.onCrash('crash fault triggered'));
  return { close };
}

try {
  await runDaemon({
    log: createLogger({ destination: 'stderr' }),
    start,
    onReady: () => say('ready'),
    forceExitMs: scenario === 'stuck-close' ? 200 : 10_000,
  });
} catch (err) {
  say(`rejected: ${(err as Error).message}`);
  process.exitCode = 2;
}
