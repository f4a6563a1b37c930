/**
 * Parent side of the selftest server: forks it, learns its port, and hands out the token write
 * stamps of each finished response.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SelftestServerMessage } from './selftest-server.js';

/** A running selftest server. `close()` ends the child (idempotent). */
export interface SelftestServerProcess {
  url: string;
  pid: number;
  /** The server's token write stamps (ns) for request `id`, once its response ended. */
  writes(id: number, timeoutMs?: number): Promise<bigint[]>;
  close(): Promise<void>;
}

/** Forks the server and waits until it listens. */
export async function startSelftestServer(): Promise<SelftestServerProcess> {
  const entry = fileURLToPath(new URL('./selftest-server.js', import.meta.url));
  const child: ChildProcess = fork(entry, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const received = new Map<number, bigint[]>();
  const waiters = new Map<number, (w: bigint[]) => void>();

  const port = await new Promise<number>((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`selftest server exited early (code ${code})`));
    child.once('error', reject);
    child.once('exit', onExit);
    child.on('message', (raw: unknown) => {
      const m = raw as SelftestServerMessage;
      if (m.type === 'listening') {
        child.off('exit', onExit);
        resolve(m.port);
      } else {
        const writes = m.writes.map((s) => BigInt(s));
        const w = waiters.get(m.id);
        if (w === undefined) received.set(m.id, writes);
        else {
          waiters.delete(m.id);
          w(writes);
        }
      }
    });
  });

  let closing: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    writes(id, timeoutMs = 10_000) {
      const have = received.get(id);
      if (have !== undefined) {
        received.delete(id);
        return Promise.resolve(have);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(id);
          reject(new Error(`selftest server sent no write stamps for request ${id}`));
        }, timeoutMs);
        waiters.set(id, (w) => {
          clearTimeout(timer);
          resolve(w);
        });
      });
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          resolve();
          return;
        }
        child.once('exit', () => resolve());
        child.disconnect();
        // If it does not leave on disconnect, end it (this child only, by its own handle).
        setTimeout(() => child.kill('SIGKILL'), 2000).unref();
      });
      return closing;
    },
  };
}
