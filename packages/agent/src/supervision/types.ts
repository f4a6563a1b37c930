/**
 * The one interface both drivers implement, and the shapes they report. The agent main, telemetry
 * and the gRPC command handler only ever see these types, never a driver class.
 */

/** How a service is run: as a child process group of the agent, or as an existing systemd unit. */
export type ServiceDriver = 'process' | 'systemd';

/**
 * Lifecycle state. `exited` covers "never started" and "stopped on request"; `failed`
 * is terminal until an operator command (crash loop, command not found, unit not loadable).
 */
export type ServiceState = 'starting' | 'running' | 'stopping' | 'backoff' | 'exited' | 'failed';

/**
 * Layered health: `starting` means probes fail but the startup grace has not run out yet, which is
 * not a failure; `unknown` means nothing to probe (the service is not running or no check ran yet).
 */
export type HealthState = 'unknown' | 'starting' | 'healthy' | 'unhealthy';

/** How the main process of a service last ended. */
export interface LastExit {
  /** Exit code, or null when killed by a signal (or not known). */
  code: number | null;
  /** Terminating signal, or null. */
  signal: string | null;
  /** ISO-8601 wall-clock time the exit was observed. */
  at: string;
}

/** A point-in-time snapshot of one service; cheap to call every telemetry tick. */
export interface ServiceStatus {
  name: string;
  driver: ServiceDriver;
  state: ServiceState;
  /** Main pid (for the process driver also the process group id), or null when not running. */
  pid: number | null;
  /** Automatic restarts: ours for the process driver, systemd's `NRestarts` for units. */
  restarts: number;
  /** True only when every health layer passes. */
  healthy: boolean;
  health: HealthState;
  /** Why the last health check failed, when it did. */
  health_reason?: string;
  last_exit?: LastExit;
  /** Why the service is in its state (crash loop, ENOENT, requested stop, systemctl error…). */
  reason?: string;
  /** systemd driver only: the unit's cgroup path (`ControlGroup`), for per-service telemetry. */
  cgroup?: string;
  /**
   * The service's version as read when it last became healthy (from its `version_url` or
   * `version_git`); absent when it has no version source or the version could not be read.
   */
  version?: string;
}

/** The commands an agent accepts for a configured service. */
export type ServiceAction = 'start' | 'stop' | 'restart';

/** Every accepted {@link ServiceAction}, for validation. */
export const SERVICE_ACTIONS: readonly ServiceAction[] = Object.freeze(['start', 'stop', 'restart']);

/** Emitted on every state transition and every health change (not on every probe). */
export type ServiceEvent =
  | { type: 'state'; service: string; from: ServiceState; to: ServiceState; reason?: string; status: ServiceStatus }
  | { type: 'health'; service: string; health: HealthState; reason?: string; status: ServiceStatus };

export type ServiceEventListener = (event: ServiceEvent) => void;

/**
 * A supervised service. Factories return it unstarted; `open()` begins observation (orphan cleanup,
 * health timer, unit polling). The command methods resolve with the status after the action and
 * report failures in that status rather than by throwing, except for systemd command errors and use
 * after `close()`, which throw a coded `SupervisionError`.
 */
export interface SupervisedService {
  readonly name: string;
  readonly driver: ServiceDriver;
  /** Idempotent. Starts the health timer (and for systemd the unit polling); reaps orphans. */
  open(): Promise<void>;
  start(): Promise<ServiceStatus>;
  stop(): Promise<ServiceStatus>;
  restart(): Promise<ServiceStatus>;
  status(): ServiceStatus;
  /** Subscribe to state and health changes; returns the unsubscribe function. */
  onEvent(listener: ServiceEventListener): () => void;
  /**
   * Idempotent; a second caller awaits the same promise. Clears timers. The process driver stops its
   * child group (SIGTERM → grace → SIGKILL); the systemd driver leaves the unit as it is.
   */
  close(): Promise<void>;
}

/** Restart policy of the process driver (the config's `restart` block). */
export interface RestartPolicy {
  initial_delay_ms: number;
  max_delay_ms: number;
  /** Automatic restarts allowed within `window_s`; one more exit means `failed`. */
  max_restarts: number;
  window_s: number;
}

/** The documented defaults (docs/agent.md, "Every key") for every key of {@link RestartPolicy}. */
export const DEFAULT_RESTART_POLICY: Readonly<RestartPolicy> = Object.freeze({
  initial_delay_ms: 1000,
  max_delay_ms: 60_000,
  max_restarts: 5,
  window_s: 300,
});

/** One entry of the agent config's `services` map, already validated. */
export type ServiceConfig = ProcessServiceConfig | SystemdServiceConfig;

/** Where a service's version comes from (at most one of the two; the config loader checks it). */
export interface VersionSource {
  /** An http(s) URL answering JSON whose `version` is a string (Ollama's `/api/version`). */
  version_url?: string;
  /** A git checkout whose exact tag is the version (EXO cloned at its release tag). */
  version_git?: string;
}

export interface ProcessServiceConfig extends VersionSource {
  driver: 'process';
  /** argv: the program and its arguments; never run through a shell. */
  command: readonly string[];
  cwd?: string;
  /** Added to the agent's environment. */
  env?: Readonly<Record<string, string>>;
  /** HTTP(S) URL answering 2xx when the service is ready. */
  health?: string;
  restart?: Partial<RestartPolicy>;
}

export interface SystemdServiceConfig extends VersionSource {
  driver: 'systemd';
  unit: string;
  health?: string;
}

/**
 * The optional third health layer (a tiny generation, say). Resolve `true` when healthy; `false` or
 * a rejection means unhealthy. Abort promptly when `signal` fires.
 */
export type InferenceProbe = (context: { service: string; signal: AbortSignal }) => Promise<boolean>;
