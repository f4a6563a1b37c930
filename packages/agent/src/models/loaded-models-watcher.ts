/**
 * What the node's model servers hold in memory, read from their own APIs: Ollama's `/api/ps`,
 * EXO's `/state`. Neither request loads or touches a model. Each configured source is read every
 * `interval_ms` while its service is up; the result goes to the coordinator as a live message
 * (after each Welcome and on every change), so the dashboard shows what is loaded where now.
 */
import type { Logger } from 'pino';
import type { AgentMessage, ServiceModels } from '@kage/wire';
import { probeHttp } from '../supervision/http-probe.js';
import { PeriodicTask } from '../supervision/periodic-task.js';
import type { LiveMessages } from '../stream/live-messages.js';
import { readExoInstances } from './read-exo-instances.js';
import { readOllamaPs } from './read-ollama-ps.js';

/** `services.<name>.loaded_models` in agent.yaml. */
export interface LoadedModelsSource {
  /** Whose API `url` is: `ollama` (`/api/ps`) or `exo` (`/state`). */
  api: 'ollama' | 'exo';
  url: string;
  interval_ms: number;
}

export const DEFAULT_LOADED_MODELS_INTERVAL_MS = 2000;

/** EXO's `/state` grows with downloads and tasks; a bigger answer is refused rather than parsed. */
const ANSWER_LIMIT_BYTES = 16 * 1024 * 1024;

export interface LoadedModelsWatcherOptions {
  /** Service name → where its loaded models are read. */
  sources: Readonly<Record<string, LoadedModelsSource>>;
  /** The service's state (`starting`, `running`, …): only a starting or running service is asked. */
  serviceState: (service: string) => string | undefined;
  log: Logger;
  /** @default 5000 */
  timeoutMs?: number;
  /** @default Date.now */
  now?: () => number;
}

export interface LoadedModelsWatcher extends LiveMessages {
  /** Reads every source now, then on each source's interval. Idempotent. */
  start(): void;
  /** Reads every source now (after a service action, or in tests). */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

const ASKED_STATES: ReadonlySet<string> = new Set(['starting', 'running']);

export function createLoadedModelsWatcher(options: LoadedModelsWatcherOptions): LoadedModelsWatcher {
  const log = options.log.child({ component: 'loaded-models' });
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 5000;
  const abort = new AbortController();
  const readings = new Map<string, ServiceModels>();
  const failing = new Set<string>();
  const listeners = new Set<(message: AgentMessage) => void>();
  /** The last message sent (what a new stream sends first), and its services as JSON. */
  let latest: AgentMessage | null = null;
  let latestKey = '';

  const read = async (service: string, source: LoadedModelsSource): Promise<ServiceModels> => {
    const base = { service, api: source.api };
    const state = options.serviceState(service);
    if (state === undefined || !ASKED_STATES.has(state)) {
      return { ...base, error: `${service} is not running (${state ?? 'unknown'})`, models: [], instances: [] };
    }
    const answer = await probeHttp(source.url, { timeoutMs, bodyLimitBytes: ANSWER_LIMIT_BYTES, signal: abort.signal });
    if (!answer.ok) return { ...base, error: `${source.url}: ${answer.reason}`, models: [], instances: [] };
    try {
      const body: unknown = JSON.parse(answer.body ?? '');
      return source.api === 'ollama'
        ? { ...base, models: readOllamaPs(body, now()), instances: [] }
        : { ...base, models: [], instances: readExoInstances(body) };
    } catch (err) {
      const why = err instanceof SyntaxError ? 'the answer is not JSON' : (err as Error).message;
      return { ...base, error: `${source.url}: ${why}`, models: [], instances: [] };
    }
  };

  const publish = (): void => {
    const services = Object.keys(options.sources).flatMap((name) => readings.get(name) ?? []);
    const key = JSON.stringify(services);
    if (key === latestKey) return;
    latestKey = key;
    const message: AgentMessage = { loaded_models: { ts_ms: now(), services } };
    latest = message;
    for (const listener of listeners) listener(message);
  };

  const tasks = Object.entries(options.sources).map(
    ([service, source]) =>
      new PeriodicTask({
        intervalMs: source.interval_ms,
        log,
        task: async () => {
          const reading = await read(service, source);
          if (abort.signal.aborted) return;
          // Logged on the change only: a server that stays down is one line, not one per read.
          if (reading.error !== undefined && !failing.has(service)) {
            failing.add(service);
            log.info({ service, why: reading.error }, 'loaded models cannot be read');
          } else if (reading.error === undefined && failing.delete(service)) {
            log.info({ service }, 'loaded models are read again');
          }
          readings.set(service, reading);
          publish();
        },
      }),
  );

  return {
    start() {
      for (const task of tasks) {
        task.start();
        void task.runNow();
      }
    },
    current: () => latest,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async refresh() {
      await Promise.all(tasks.map((task) => task.runFresh()));
    },
    async close() {
      abort.abort();
      listeners.clear();
      await Promise.all(tasks.map((task) => task.close()));
    },
  };
}
