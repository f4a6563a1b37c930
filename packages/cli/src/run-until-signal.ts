/**
 * Keeps a started resource running until SIGINT or SIGTERM, then closes it once and exits with
 * 0. A crash fault exits 1 at once, like a server that died.
 */
import type { Logger } from 'pino';

interface Closable {
  close(): Promise<void>;
}

const SHUTDOWN_FORCE_MS = 10_000;

export async function runUntilSignal<T extends Closable>(
  log: Logger,
  start: (onCrash: () => void) => Promise<T>,
  onReady: (resource: T) => void,
): Promise<void> {
  const resource = await start(() => {
    log.error('crash fault triggered: exiting');
    process.exit(1);
  });
  onReady(resource);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      log.info({ signal }, 'shutdown requested');
      // Backstop: a resource that will not close must not keep the process alive forever.
      setTimeout(() => process.exit(1), SHUTDOWN_FORCE_MS).unref();
      resource.close().then(resolve, (err: unknown) => {
        log.error({ err }, 'close failed');
        resolve();
      });
    };
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  });
}
