/**
 * The `systemd` driver: controls an existing unit (ollama.service, exo.service) with systemctl and
 * observes it by polling `systemctl show`. systemd owns the process, its
 * restarts and its cgroup, so the state here is observed, not driven: any jump systemd makes is
 * accepted and logged. `close()` never stops the unit — an agent restart must not stop inference.
 */
import type { Logger } from 'pino';
import { SupervisionError } from './errors.js';
import { createServiceHealthMonitor, type HealthMonitor } from './health-monitor.js';
import { PeriodicTask } from './periodic-task.js';
import { ServiceEvents } from './service-events.js';
import { checkHealthUrl, checkServiceName, resolveTimings, type SupervisionTimings } from './service-options.js';
import {
  isValidUnitName,
  systemctlShow,
  systemctlVerb,
  type SystemctlOptions,
  type UnitProperties,
  type UnitVerb,
} from './systemctl.js';
import type {
  InferenceProbe,
  LastExit,
  ServiceEventListener,
  ServiceState,
  ServiceStatus,
  SupervisedService,
  SystemdServiceConfig,
} from './types.js';

export interface SystemdServiceOptions {
  name: string;
  config: SystemdServiceConfig;
  log: Logger;
  /** The systemctl binary; tests pass a fake. @default 'systemctl' */
  systemctlPath?: string;
  timings?: Partial<SupervisionTimings>;
  probe?: InferenceProbe;
}

/** A systemd-driver service; `controlGroup()` is the unit's cgroup path for telemetry. */
export interface SystemdService extends SupervisedService {
  readonly driver: 'systemd';
  readonly unit: string;
  /** `ControlGroup` as last read (e.g. `/system.slice/ollama.service`), or undefined. */
  controlGroup(): string | undefined;
  /** Read the unit now instead of waiting for the next poll. */
  refresh(): Promise<ServiceStatus>;
}

/** Build an unstarted systemd-driver service. Throws `KAGE_ERR_AGENT_SERVICE_CONFIG` on a bad entry. */
export function createSystemdService(options: SystemdServiceOptions): SystemdService {
  return new SystemdSupervisor(options);
}

/** Map the unit's properties to our state union, with a reason for the non-obvious cases. */
export function unitState(props: UnitProperties): { state: ServiceState; reason?: string } {
  const load = props.LoadState;
  if (load !== undefined && load !== 'loaded') return { state: 'failed', reason: `unit is ${load}` };
  const sub = props.SubState ?? '';
  switch (props.ActiveState ?? '') {
    case 'active':
    case 'reloading':
    case 'refreshing':
      return { state: 'running' };
    case 'activating':
      // systemd waits RestartSec in activating/auto-restart(-queued): that is our backoff.
      return sub.startsWith('auto-restart') ? { state: 'backoff', reason: `systemd ${sub}` } : { state: 'starting' };
    case 'deactivating':
    case 'maintenance':
      return { state: 'stopping' };
    case 'inactive':
      return { state: 'exited', reason: `unit inactive (${sub || 'dead'})` };
    case 'failed':
      return { state: 'failed', reason: `unit failed (${sub || 'failed'}, status ${props.ExecMainStatus ?? '?'})` };
    default:
      return { state: 'failed', reason: `unknown ActiveState ${JSON.stringify(props.ActiveState ?? '')}` };
  }
}

class SystemdSupervisor implements SystemdService {
  readonly name: string;
  readonly driver = 'systemd' as const;
  readonly unit: string;
  readonly #systemctl: SystemctlOptions;
  readonly #log: Logger;
  readonly #events: ServiceEvents;
  readonly #health: HealthMonitor;
  readonly #poll: PeriodicTask;

  #state: ServiceState = 'exited';
  #reason: string | undefined = 'not read yet';
  #props: UnitProperties = {};
  #lastExit: LastExit | undefined;
  #ops: Promise<unknown> = Promise.resolve();
  #opened: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: SystemdServiceOptions) {
    const { name, config } = options;
    checkServiceName(name);
    checkHealthUrl(name, config.health);
    if (typeof config.unit !== 'string' || !isValidUnitName(config.unit)) {
      throw new SupervisionError(
        'KAGE_ERR_AGENT_SERVICE_CONFIG',
        `services.${name}.unit must be a systemd unit name, got ${JSON.stringify(config.unit)}`,
      );
    }
    const timings = resolveTimings(options.timings);
    this.name = name;
    this.unit = config.unit;
    this.#systemctl = { path: options.systemctlPath ?? 'systemctl', timeoutMs: timings.systemctlTimeoutMs };
    this.#log = options.log.child({ component: 'supervisor', service: name, driver: 'systemd', unit: config.unit });
    this.#events = new ServiceEvents(this.#log);
    this.#health = createServiceHealthMonitor({
      service: name,
      url: config.health,
      probe: options.probe,
      version: { version_url: config.version_url, version_git: config.version_git },
      timings: timings,
      log: this.#log,
      events: this.#events,
      status: () => this.status(),
    });
    this.#poll = new PeriodicTask({
      intervalMs: timings.healthIntervalMs,
      log: this.#log,
      task: async () => {
        await this.#read();
        await this.#health.check(this.#state === 'running');
      },
    });
  }

  open(): Promise<void> {
    this.#assertOpen();
    this.#opened ??= (async () => {
      this.#health.markStarted(); // a unit that just came up with the node gets the grace too
      await this.#poll.runNow();
      this.#poll.start();
    })();
    return this.#opened;
  }

  start(): Promise<ServiceStatus> {
    return this.#command('start');
  }

  stop(): Promise<ServiceStatus> {
    return this.#command('stop');
  }

  restart(): Promise<ServiceStatus> {
    return this.#command('restart');
  }

  async refresh(): Promise<ServiceStatus> {
    this.#assertOpen();
    await this.#poll.runFresh();
    return this.status();
  }

  status(): ServiceStatus {
    const health = this.#health.state;
    const healthReason = this.#health.reason;
    const mainPid = Number(this.#props.MainPID ?? 0);
    const restarts = Number(this.#props.NRestarts ?? 0);
    const cgroup = this.controlGroup();
    return {
      name: this.name,
      driver: 'systemd',
      state: this.#state,
      pid: Number.isInteger(mainPid) && mainPid > 0 ? mainPid : null,
      restarts: Number.isInteger(restarts) && restarts >= 0 ? restarts : 0,
      healthy: this.#state === 'running' && health === 'healthy',
      health,
      ...(healthReason === undefined ? {} : { health_reason: healthReason }),
      ...(this.#lastExit === undefined ? {} : { last_exit: { ...this.#lastExit } }),
      ...(this.#reason === undefined ? {} : { reason: this.#reason }),
      ...(cgroup === undefined ? {} : { cgroup }),
      ...(this.#health.version === undefined ? {} : { version: this.#health.version }),
    };
  }

  controlGroup(): string | undefined {
    const cgroup = this.#props.ControlGroup;
    return cgroup === undefined || cgroup === '' ? undefined : cgroup;
  }

  onEvent(listener: ServiceEventListener): () => void {
    return this.#events.on(listener);
  }

  close(): Promise<void> {
    // Deliberately no systemctl here: the unit keeps running when the agent stops.
    this.#closing ??= (async () => {
      this.#health.close();
      await this.#poll.close();
      await this.#ops;
      this.#events.clear();
    })();
    return this.#closing;
  }

  async #command(verb: UnitVerb): Promise<ServiceStatus> {
    this.#assertOpen();
    await this.open();
    const run = this.#ops.then(async () => {
      this.#log.info({ verb }, 'systemctl command');
      try {
        await systemctlVerb(this.#systemctl, verb, this.unit);
      } finally {
        // Whatever happened, report the unit as it is now.
        await this.#poll.runFresh();
      }
      if (verb !== 'stop') this.#health.markStarted();
      return this.status();
    });
    this.#ops = run.catch(() => undefined);
    return run;
  }

  async #read(): Promise<void> {
    let next: { state: ServiceState; reason?: string };
    try {
      this.#props = await systemctlShow(this.#systemctl, this.unit);
      next = unitState(this.#props);
    } catch (err) {
      next = { state: 'failed', reason: err instanceof Error ? err.message : String(err) };
    }
    this.#apply(next.state, next.reason);
  }

  #apply(to: ServiceState, reason: string | undefined): void {
    const from = this.#state;
    this.#reason = reason;
    if (from === to) return;
    this.#state = to;
    if (to === 'running') this.#health.markStarted();
    if (from === 'running' || (this.#lastExit === undefined && (to === 'exited' || to === 'failed'))) {
      const code = Number(this.#props.ExecMainStatus);
      this.#lastExit = { code: Number.isInteger(code) ? code : null, signal: null, at: new Date().toISOString() };
    }
    const props = this.#props;
    // A unit that failed is what an operator filters the journal for (`journalctl -p warning`).
    this.#log[to === 'failed' ? 'warn' : 'info'](
      { from, to, reason, active_state: props.ActiveState, sub_state: props.SubState, main_pid: props.MainPID },
      'state change',
    );
    if (to !== 'running') this.#health.markDown();
    this.#events.emit({
      type: 'state',
      service: this.name,
      from,
      to,
      ...(reason === undefined ? {} : { reason }),
      status: this.status(),
    });
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) {
      throw new SupervisionError('KAGE_ERR_AGENT_SERVICE_CLOSED', `service ${this.name} is closed`);
    }
  }
}
