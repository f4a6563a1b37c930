/**
 * Spawns the built `kage` CLI as a real child process, waits for its ready line and stops it.
 * Every e2e test goes through this, so no test leaves a process behind.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const KAGE_BIN = fileURLToPath(new URL('../../../packages/cli/dist/src/bin.js', import.meta.url));

export interface KageProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** The URL from the `listening on …` line. */
  readonly url: string;
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null if killed). */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL now, as a crashed node. */
  kill(): Promise<void>;
}

/**
 * Runs `kage …args` to completion (bounded) and returns its exit code and output, all of it: the
 * wait is for the pipes to close, not only for the exit. `env` replaces the environment.
 */
export async function runKage(
  args: readonly string[],
  timeoutMs = 30_000,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [KAGE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Starts a long-running `kage` command and resolves once it printed `listening on URL`. */
export async function startKage(args: readonly string[], readyTimeoutMs = 20_000): Promise<KageProcess> {
  const child = spawn(process.execPath, [KAGE_BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kage ${args.join(' ')}: no ready line within ${readyTimeoutMs} ms; stderr:\n${stderr}`));
    }, readyTimeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const match = /listening on (\S+)/.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`kage ${args.join(' ')} exited with ${code} before ready; stderr:\n${stderr}`));
    });
  });
  return {
    child,
    url,
    stderr: () => stderr,
    async stop(graceMs = 5000): Promise<number | null> {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const [code] = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls `check` every `intervalMs` until it returns a value, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
}
