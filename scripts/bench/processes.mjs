// The child processes a benchmark starts (daemons, proxies, emulators, load generators): their
// output goes to a log file, they are stopped within a bound, and none outlives the benchmark, even
// when it is interrupted or fails.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

/** Children started and not stopped yet; stopOnSignals kills what is left at exit. */
export const live = new Set();

export const exited = (child) => child.exitCode !== null || child.signalCode !== null;

/** Resolves true once the child has exited, false after `ms`. */
export function waitExit(child, ms) {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`, then up to `killWaitMs` for the exit. */
export async function stopChild(child, graceMs = 5000, killWaitMs = 5000) {
  if (!child) return;
  if (!exited(child)) {
    child.kill('SIGTERM');
    if (!(await waitExit(child, graceMs))) {
      child.kill('SIGKILL');
      await waitExit(child, killWaitMs);
    }
  }
  live.delete(child);
}

/** The last `lines` lines of a log, for an error message. */
export function tail(file, lines = 15) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Starts a process with stdout and stderr appended to `log`. */
export function spawnLogged(cmd, args, log, env = process.env) {
  const fd = openSync(log, 'a');
  const child = spawn(cmd, args, { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  live.add(child);
  return child;
}

/**
 * The first SIGINT or SIGTERM aborts `signal` (the benchmark then cleans up; a second one is
 * ignored, as the cleanup is bounded); at exit, every child still live is killed. `signalled()`
 * names the signal that came, or is null.
 */
export function stopOnSignals() {
  const abort = new AbortController();
  let signalled = null;
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      if (signalled) return; // cleanup is already running and bounded
      signalled = sig;
      process.stderr.write(`\n  ${sig}: stopping…\n`);
      abort.abort();
    });
  }
  // Last resort if something throws past the cleanup: no process of ours outlives the benchmark.
  process.on('exit', () => {
    for (const c of live) if (!exited(c)) c.kill('SIGKILL');
  });
  return { signal: abort.signal, signalled: () => signalled };
}
