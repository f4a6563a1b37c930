/**
 * The agent's services, built from the config's `services` map, and the one door
 * commands come through. An agent only ever acts on the services named in its own config (see the
 * polkit section of docs/agent.md): anything else is rejected with a coded error before any process
 * or systemctl is touched.
 */
import type { Logger } from 'pino';
import { SupervisionError } from './errors.js';
import { createProcessService } from './process-service.js';
import { ServiceEvents } from './service-events.js';
import type { SupervisionTimings } from './service-options.js';
import { createSystemdService } from './systemd-service.js';
import {
  SERVICE_ACTIONS,
  type InferenceProbe,
  type ServiceAction,
  type ServiceConfig,
  type ServiceEventListener,
  type ServiceStatus,
  type SupervisedService,
} from './types.js';

export interface ServiceRegistryOptions {
  /** The validated `services` map of the agent config. */
  services: Readonly<Record<string, ServiceConfig>>;
  log: Logger;
  /** The agent's state directory (pidfiles of process-driver services). */
  stateDir: string;
  /** The systemctl binary for systemd-driver services. @default 'systemctl' */
  systemctlPath?: string;
  timings?: Partial<SupervisionTimings>;
  /** Optional inference probes by service name (the third health layer). */
  probes?: Readonly<Record<string, InferenceProbe>>;
  /**
   * Start process-driver services in `open()`: the agent is the only thing that runs them. Units
   * are never started on open; systemd (and the operator) own their lifecycle. @default true
   */
  autostart?: boolean;
}

export interface ServiceRegistry {
  /**
   * Begin supervision: reap orphans of a previous agent, start process-driver services (unless
   * `autostart: false`), read every unit and start the health timers. Never throws for a service
   * that cannot start; that service reports `failed` with a reason.
   */
  open(): Promise<void>;
  /** Configured service names, in config order. */
  names(): string[];
  get(name: string): SupervisedService | undefined;
  /** Snapshot of every service, for the telemetry tick. */
  statuses(): ServiceStatus[];
  /**
   * Run a command from the coordinator or an operator. `service` and `action` are untrusted input:
   * an unconfigured service throws `KAGE_ERR_AGENT_SERVICE_UNKNOWN`, anything but
   * start/stop/restart throws `KAGE_ERR_AGENT_ACTION_UNKNOWN`. A systemctl failure throws
   * `KAGE_ERR_AGENT_SYSTEMCTL_FAILED`. Resolves with the service's status after the action.
   */
  command(service: string, action: string): Promise<ServiceStatus>;
  /** State and health changes of every service. */
  onEvent(listener: ServiceEventListener): () => void;
  /**
   * Idempotent. Stops process-driver children (SIGTERM → grace → SIGKILL of each group) and stops
   * watching systemd units, which keep running: the agent never stops the user's Ollama on its
   * own shutdown.
   */
  close(): Promise<void>;
}

/** Build the registry; throws `KAGE_ERR_AGENT_SERVICE_CONFIG` for an entry that cannot be supervised. */
export function createServiceRegistry(options: ServiceRegistryOptions): ServiceRegistry {
  return new Registry(options);
}

/** True when `action` is one of {@link SERVICE_ACTIONS}. */
export function isServiceAction(action: string): action is ServiceAction {
  return (SERVICE_ACTIONS as readonly string[]).includes(action);
}

class Registry implements ServiceRegistry {
  readonly #services = new Map<string, SupervisedService>();
  readonly #log: Logger;
  readonly #events: ServiceEvents;
  readonly #autostart: boolean;
  #opened: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: ServiceRegistryOptions) {
    this.#log = options.log.child({ component: 'services' });
    this.#events = new ServiceEvents(this.#log);
    this.#autostart = options.autostart ?? true;
    for (const [name, config] of Object.entries(options.services)) {
      const probe =
        options.probes !== undefined && Object.hasOwn(options.probes, name) ? options.probes[name] : undefined;
      const common = {
        name,
        log: options.log,
        ...(options.timings === undefined ? {} : { timings: options.timings }),
        ...(probe === undefined ? {} : { probe }),
      };
      const driver = (config as { driver?: unknown }).driver;
      let service: SupervisedService;
      if (config.driver === 'process') {
        service = createProcessService({ ...common, config, stateDir: options.stateDir });
      } else if (config.driver === 'systemd') {
        service = createSystemdService({
          ...common,
          config,
          ...(options.systemctlPath === undefined ? {} : { systemctlPath: options.systemctlPath }),
        });
      } else {
        throw new SupervisionError(
          'KAGE_ERR_AGENT_SERVICE_CONFIG',
          `services.${name}.driver must be "process" or "systemd", got ${JSON.stringify(driver)}`,
        );
      }
      service.onEvent((event) => this.#events.emit(event));
      this.#services.set(name, service);
    }
  }

  open(): Promise<void> {
    this.#assertOpen();
    this.#opened ??= (async () => {
      await Promise.all(
        [...this.#services.values()].map(async (service) => {
          await service.open();
          if (this.#autostart && service.driver === 'process') await service.start();
        }),
      );
      this.#log.info({ services: this.statuses().map((s) => ({ name: s.name, state: s.state })) }, 'services opened');
    })();
    return this.#opened;
  }

  names(): string[] {
    return [...this.#services.keys()];
  }

  get(name: string): SupervisedService | undefined {
    return this.#services.get(name);
  }

  statuses(): ServiceStatus[] {
    return [...this.#services.values()].map((s) => s.status());
  }

  async command(service: string, action: string): Promise<ServiceStatus> {
    this.#assertOpen();
    const target = typeof service === 'string' ? this.#services.get(service) : undefined;
    if (target === undefined) {
      throw new SupervisionError(
        'KAGE_ERR_AGENT_SERVICE_UNKNOWN',
        `service ${JSON.stringify(service)} is not configured on this agent (configured: ${this.names().join(', ') || 'none'})`,
      );
    }
    if (typeof action !== 'string' || !isServiceAction(action)) {
      throw new SupervisionError(
        'KAGE_ERR_AGENT_ACTION_UNKNOWN',
        `action ${JSON.stringify(action)} is not one of ${SERVICE_ACTIONS.join(', ')}`,
      );
    }
    this.#log.info({ service, action }, 'service command');
    switch (action) {
      case 'start':
        return target.start();
      case 'stop':
        return target.stop();
      case 'restart':
        return target.restart();
    }
  }

  onEvent(listener: ServiceEventListener): () => void {
    return this.#events.on(listener);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#opened?.catch(() => undefined);
      await Promise.all([...this.#services.values()].map((s) => s.close()));
      this.#events.clear();
      this.#log.info('services closed');
    })();
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) {
      throw new SupervisionError('KAGE_ERR_AGENT_SERVICE_CLOSED', 'service registry is closed');
    }
  }
}
