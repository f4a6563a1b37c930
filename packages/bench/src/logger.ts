/**
 * The logging surface this package needs. A pino logger satisfies it structurally, so callers pass
 * `log.child({ component: 'bench' })` and this package never imports a logger of its own.
 */
export interface BenchLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): BenchLogger;
}

const noop = (): void => undefined;

/** A logger that drops everything: the default when the caller passes none. */
export const silentLogger: BenchLogger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};
