/**
 * The `process` driver: runs a service as a child of the agent in its own process group and keeps
 * it running. The lifecycle is an explicit state machine; commands
 * are serialised on one queue while exits, backoff timers and health checks arrive as events.
 *
 *   exited ─start→ starting ─spawn→ running ─stop→ stopping → exited
 *      ↑              │ENOENT          │ main pid died: group killed
 *      │              ↓                ↓
 *      │            failed ←─budget─ backoff ─timer→ starting
 *      └──────── stop ───────────────┘
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { Logger } from 'pino';
import { RestartBudget, backoffDelayMs, resolveRestartPolicy } from './backoff.js';
import { SupervisionError } from './errors.js';
import { createServiceHealthMonitor, type HealthMonitor } from './health-monitor.js';
import { LineRing, LineSplitter } from './output-lines.js';
import { PeriodicTask } from './periodic-task.js';
import { pidfilePath, reapOrphans, removePidfile, writePidfile } from './pidfile.js';
import { readProcStat, terminateGroup } from './process-group.js';
import { ServiceEvents } from './service-events.js';
import { checkHealthUrl, checkServiceName, resolveTimings, type SupervisionTimings } from './service-options.js';
import type {
  InferenceProbe,
  LastExit,
  ProcessServiceConfig,
  RestartPolicy,
  ServiceEventListener,
  ServiceState,
  ServiceStatus,
  SupervisedService,
} from './types.js';

export interface ProcessServiceOptions {
  name: string;
  config: ProcessServiceConfig;
  /** The agent's logger; the service logs under `{ component: 'supervisor', service }`. */
  log: Logger;
  /** The agent's state directory; the pidfile lives here. */
  stateDir: string;
  timings?: Partial<SupervisionTimings>;
  probe?: InferenceProbe;
  /** Jitter source, injectable for tests. */
  random?: () => number;
}

/** A process-driver service; `logTail()` gives the child's last output lines for crash reports. */
export interface ProcessService extends SupervisedService {
  readonly driver: 'process';
  logTail(): string[];
}

/** Build an unstarted process-driver service. Throws `KAGE_ERR_AGENT_SERVICE_CONFIG` on a bad entry. */
export function createProcessService(options: ProcessServiceOptions): ProcessService {
  return new ProcessSupervisor(options);
}

/** Spawn argv without a shell as the leader of a new session and process group. */
function spawnDetached(file: string, args: string[], config: ProcessServiceConfig) {
  return execa(file, args, {
    cwd: config.cwd,
    env: config.env,
    extendEnv: true,
    shell: false,
    detached: true, // setsid: own process group, so the whole tree can be signalled at once
    cleanup: false, // exit handling is ours; orphans of a crashed agent are found via the pidfile
    forceKillAfterDelay: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
  });
}

type Child = ReturnType<typeof spawnDetached>;

function isArgv(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.length > 0 && value.every((a) => typeof a === 'string');
}

// Allowed transitions; anything else is a bug and throws.
const NEXT: Readonly<Record<ServiceState, readonly ServiceState[]>> = {
  exited: ['starting'],
  failed: ['starting'],
  starting: ['running', 'failed', 'backoff'],
  running: ['stopping', 'backoff', 'failed'],
  backoff: ['starting', 'exited'],
  stopping: ['exited'],
};

class ProcessSupervisor implements ProcessService {
  readonly name: string;
  readonly driver = 'process' as const;
  readonly #command: readonly string[];
  readonly #config: ProcessServiceConfig;
  readonly #policy: RestartPolicy;
  readonly #timings: SupervisionTimings;
  readonly #log: Logger;
  readonly #pidfile: string;
  readonly #random: () => number;
  readonly #events: ServiceEvents;
  readonly #budget: RestartBudget;
  readonly #health: HealthMonitor;
  readonly #healthTask: PeriodicTask;
  readonly #tail = new LineRing(200);

  #state: ServiceState = 'exited';
  #reason: string | undefined = 'not started';
  #pid: number | null = null;
  #generation = 0;
  #childExit: Promise<void> | undefined;
  #startedAt = 0;
  #attempt = 0;
  #restarts = 0;
  #lastExit: LastExit | undefined;
  #backoffTimer: NodeJS.Timeout | undefined;
  #cleanup: Promise<void> = Promise.resolve();
  #pidfileWrite: Promise<void> = Promise.resolve();
  #ops: Promise<unknown> = Promise.resolve();
  #opened: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: ProcessServiceOptions) {
    const { name, config } = options;
    checkServiceName(name);
    checkHealthUrl(name, config.health);
    if (!isArgv(config.command)) {
      throw new SupervisionError(
        'KAGE_ERR_AGENT_SERVICE_CONFIG',
        `services.${name}.command must be a non-empty argv array`,
      );
    }
    this.name = name;
    this.#config = config;
    this.#command = [...config.command];
    this.#policy = resolveRestartPolicy(name, config.restart);
    this.#timings = resolveTimings(options.timings);
    this.#log = options.log.child({ component: 'supervisor', service: name, driver: 'process' });
    this.#pidfile = pidfilePath(options.stateDir, name);
    this.#random = options.random ?? Math.random;
    this.#events = new ServiceEvents(this.#log);
    this.#budget = new RestartBudget(this.#policy);
    this.#health = createServiceHealthMonitor({
      service: name,
      url: config.health,
      probe: options.probe,
      version: { version_url: config.version_url, version_git: config.version_git },
      timings: this.#timings,
      log: this.#log,
      events: this.#events,
      status: () => this.status(),
    });
    this.#healthTask = new PeriodicTask({
      intervalMs: this.#timings.healthIntervalMs,
      log: this.#log,
      task: async () => {
        await this.#health.check(this.#state === 'running');
      },
    });
  }

  open(): Promise<void> {
    this.#assertOpen();
    this.#opened ??= (async () => {
      try {
        await reapOrphans(this.#pidfile, { graceMs: this.#timings.stopGraceMs, log: this.#log });
      } catch (err) {
        // Not fatal: at worst the new child fails to bind and ends in `failed`, which is reported.
        this.#log.error({ err, pidfile: this.#pidfile }, 'orphan cleanup failed');
      }
      this.#healthTask.start();
    })();
    return this.#opened;
  }

  async start(): Promise<ServiceStatus> {
    this.#assertOpen();
    await this.open();
    return this.#enqueue(async () => {
      switch (this.#state) {
        case 'starting':
        case 'running':
        case 'stopping':
          break;
        case 'backoff':
          this.#cancelBackoff();
          await this.#cleanup;
          await this.#spawnUnlessClosed('start requested');
          break;
        case 'exited':
        case 'failed':
          await this.#cleanup;
          this.#resetRestarts();
          await this.#spawnUnlessClosed('start requested');
          break;
      }
      return this.status();
    });
  }

  async stop(): Promise<ServiceStatus> {
    this.#assertOpen();
    return this.#enqueue(async () => {
      await this.#stopNow('stop requested');
      return this.status();
    });
  }

  async restart(): Promise<ServiceStatus> {
    this.#assertOpen();
    await this.open();
    return this.#enqueue(async () => {
      await this.#stopNow('restart requested');
      this.#resetRestarts();
      await this.#spawnUnlessClosed('restart requested');
      return this.status();
    });
  }

  status(): ServiceStatus {
    const health = this.#health.state;
    const healthReason = this.#health.reason;
    return {
      name: this.name,
      driver: 'process',
      state: this.#state,
      pid: this.#pid,
      restarts: this.#restarts,
      healthy: this.#state === 'running' && health === 'healthy',
      health,
      ...(healthReason === undefined ? {} : { health_reason: healthReason }),
      ...(this.#lastExit === undefined ? {} : { last_exit: { ...this.#lastExit } }),
      ...(this.#reason === undefined ? {} : { reason: this.#reason }),
      ...(this.#health.version === undefined ? {} : { version: this.#health.version }),
    };
  }

  onEvent(listener: ServiceEventListener): () => void {
    return this.#events.on(listener);
  }

  logTail(): string[] {
    return this.#tail.lines();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#cancelBackoff();
      this.#health.close();
      await this.#healthTask.close();
      // Behind any command in flight, so a start that is spawning right now is stopped too.
      await this.#enqueue(() => this.#stopNow('agent shutting down'));
      await this.#cleanup;
      this.#events.clear();
    })();
    return this.#closing;
  }

  // ---- state machine ----------------------------------------------------------------------------

  #transition(to: ServiceState, reason?: string, extra: Record<string, unknown> = {}): void {
    const from = this.#state;
    if (!NEXT[from].includes(to)) throw new Error(`service ${this.name}: illegal transition ${from} → ${to}`);
    this.#state = to;
    this.#reason = reason;
    // Crash loops and failures must show in `journalctl -p warning`; routine transitions are info.
    this.#log[to === 'failed' || to === 'backoff' ? 'warn' : 'info'](
      { from, to, reason, pid: this.#pid, restarts: this.#restarts, ...extra },
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

  /**
   * starting → running, or → failed when the program cannot be started (ENOENT, EACCES, bad cwd).
   * Resolves once the state has left `starting`, so the next queued command sees a settled state.
   */
  #spawn(reason: string): Promise<void> {
    this.#transition('starting', reason);
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const generation = ++this.#generation;
    const [file, ...args] = this.#command as [string, ...string[]];
    let child: Child;
    try {
      child = spawnDetached(file, args, this.#config);
    } catch (err) {
      this.#transition('failed', `cannot start ${file}: ${err instanceof Error ? err.message : String(err)}`);
      return Promise.resolve();
    }
    const pid = child.pid;
    if (pid !== undefined) this.#pipeOutput(child, this.#log.child({ pid }));
    let exited!: () => void;
    this.#childExit = new Promise<void>((resolve) => (exited = resolve));
    child.on('exit', (code: number | null, signal: NodeJS.Signals | null) => {
      exited();
      this.#onExit(generation, pid, code, signal);
    });
    // The 'spawn' event comes before 'exit', so the state is `running` before any exit is handled.
    child.once('spawn', () => {
      if (pid === undefined) return;
      this.#pid = pid;
      this.#startedAt = performance.now();
      this.#health.markStarted();
      this.#transition('running', reason);
      this.#pidfileWrite = this.#recordPid(pid);
      settle();
    });
    // With reject: false the promise resolves for every outcome; a spawn error (ENOENT, EACCES,
    // missing cwd) is only visible here, since 'spawn' never fires.
    void child.then((result) => {
      settle();
      if (generation !== this.#generation || this.#state !== 'starting' || !result.failed) return;
      const code = typeof result.code === 'string' ? result.code : 'spawn error';
      const message = result.originalMessage ?? result.shortMessage;
      this.#log.error({ code, command: this.#command, cwd: this.#config.cwd }, 'cannot start service');
      this.#transition('failed', `cannot start ${file}: ${code}: ${message}`);
    });
    return settled;
  }

  /**
   * A command that was queued before close() must not leave a child behind after close()'s own
   * stop ran: refuse instead.
   */
  #spawnUnlessClosed(reason: string): Promise<void> {
    this.#assertOpen();
    return this.#spawn(reason);
  }

  /** The main pid exited. Expected while stopping; otherwise clean up the group and back off. */
  #onExit(generation: number, pid: number | undefined, code: number | null, signal: NodeJS.Signals | null): void {
    if (generation !== this.#generation || pid === undefined) return;
    this.#lastExit = { code, signal, at: new Date().toISOString() };
    this.#pid = null;
    if (this.#state === 'stopping') return; // #terminate owns the rest
    const uptimeMs = performance.now() - this.#startedAt;
    if (uptimeMs >= this.#timings.stableAfterMs) this.#attempt = 0;
    // Grandchildren still in the group would hold ports and GPU memory: kill them before any restart.
    this.#cleanup = this.#cleanGroup(pid);
    const exit = code === null ? `killed by ${signal ?? 'a signal'}` : `exited with code ${code}`;
    this.#log.warn({ code, signal, uptime_ms: Math.round(uptimeMs) }, 'service exited unexpectedly');
    if (this.#closing !== undefined) return; // close() is stopping everything anyway
    if (!this.#budget.take(Date.now())) {
      const reason = `crash loop: ${exit}; ${this.#policy.max_restarts} restarts within ${this.#policy.window_s} s already used`;
      this.#transition('failed', reason, { tail: this.#tail.lines().slice(-20) });
      return;
    }
    const delayMs = backoffDelayMs(this.#attempt++, this.#policy, this.#random);
    this.#transition('backoff', `${exit}; restarting in ${delayMs} ms`, { delay_ms: delayMs });
    this.#backoffTimer = setTimeout(() => {
      this.#backoffTimer = undefined;
      void this.#enqueue(async () => {
        if (this.#state !== 'backoff' || this.#closing !== undefined) return;
        await this.#cleanup;
        if (this.#state !== 'backoff' || this.#closing !== undefined) return;
        this.#restarts++;
        await this.#spawn(`automatic restart ${this.#restarts}`);
      });
    }, delayMs);
  }

  async #stopNow(reason: string): Promise<void> {
    switch (this.#state) {
      case 'backoff':
        this.#cancelBackoff(); // the pending restart must not fire after a stop
        await this.#cleanup;
        this.#transition('exited', reason);
        break;
      case 'running':
        await this.#terminate(reason);
        break;
      case 'starting': // only inside #spawn, which never yields while starting
      case 'stopping': // only inside #terminate, which runs on the same queue
      case 'exited':
      case 'failed':
        await this.#cleanup;
        break;
    }
  }

  /** SIGTERM the whole group → grace → SIGKILL the whole group; then the state is `exited`. */
  async #terminate(reason: string): Promise<void> {
    const pgid = this.#pid;
    const exited = this.#childExit;
    this.#transition('stopping', reason);
    if (pgid !== null) {
      const end = await terminateGroup(pgid, { graceMs: this.#timings.stopGraceMs });
      if (end === 'killed')
        this.#log.warn({ pgid, grace_ms: this.#timings.stopGraceMs }, 'group ignored SIGTERM; killed');
      // The 'exit' event follows the group's death at once; the bound only guards against a lost event.
      await Promise.race([exited, sleep(5000, undefined, { ref: false })]);
      await this.#pidfileWrite;
      await removePidfile(this.#pidfile);
    }
    this.#transition('exited', reason);
  }

  async #cleanGroup(pgid: number): Promise<void> {
    try {
      const end = await terminateGroup(pgid, { graceMs: this.#timings.stopGraceMs });
      if (end !== 'empty') this.#log.warn({ pgid, end }, 'killed processes left in the group of the exited service');
      await this.#pidfileWrite;
      await removePidfile(this.#pidfile);
    } catch (err) {
      this.#log.error({ err, pgid }, 'cleanup of the exited service group failed');
    }
  }

  async #recordPid(pid: number): Promise<void> {
    try {
      const stat = await readProcStat(pid);
      if (stat === undefined) return; // already gone; nothing could be orphaned by it
      await writePidfile(this.#pidfile, {
        service: this.name,
        pid,
        pgid: stat.pgid,
        start_time: stat.startTime,
        command: this.#command,
      });
    } catch (err) {
      this.#log.error({ err, pidfile: this.#pidfile }, 'cannot write pidfile');
    }
  }

  #pipeOutput(child: Child, outLog: Logger): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const source = child[stream];
      if (source === null) continue;
      const splitter = new LineSplitter((line, truncated) => {
        this.#tail.add(line);
        outLog.info({ stream, line, ...(truncated ? { truncated } : {}) }, 'output');
      });
      source.on('data', (chunk: Buffer | string) => splitter.push(chunk));
      source.on('end', () => splitter.end());
      source.on('error', (err: Error) => this.#log.debug({ err, stream }, 'output stream error'));
    }
  }

  // ---- helpers ----------------------------------------------------------------------------------

  #enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#ops.then(op);
    this.#ops = run.catch(() => undefined);
    return run;
  }

  #cancelBackoff(): void {
    clearTimeout(this.#backoffTimer);
    this.#backoffTimer = undefined;
  }

  #resetRestarts(): void {
    // An operator command is a fresh start: forget the crash-loop history and the backoff step.
    this.#budget.reset();
    this.#attempt = 0;
    this.#restarts = 0;
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) {
      throw new SupervisionError('KAGE_ERR_AGENT_SERVICE_CLOSED', `service ${this.name} is closed`);
    }
  }
}
