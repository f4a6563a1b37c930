/**
 * Listener bookkeeping shared by both drivers. A throwing listener is logged and skipped: one bad
 * subscriber (say, a closed gRPC stream) must not break supervision or starve the others.
 */
import type { Logger } from 'pino';
import type { ServiceEvent, ServiceEventListener } from './types.js';

export class ServiceEvents {
  readonly #listeners = new Set<ServiceEventListener>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  on(listener: ServiceEventListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  emit(event: ServiceEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.#log.error({ err, event: event.type }, 'service event listener threw');
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}
