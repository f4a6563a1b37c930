/**
 * The coordinator daemon: opens the database (taking its single-owner lease), then starts the
 * ingest batcher, the node registry, the agents' gRPC server, the run service and the REST API,
 * and owns their lifecycle. Built by `createCoordinatorDaemon` (nothing starts), started by
 * `start()`, stopped once by `close()`.
 *
 * Shutdown order: stop accepting HTTP requests, cancel nothing but interrupt running runs (they
 * resume at the next start), end agent streams (agents buffer and replay), commit what the batcher
 * holds, write the registry, release the lease, close the database.
 */
import {
  createFreshnessCheck,
  createSdNotifier,
  createWatchdog,
  type DaemonEnv,
  type SdNotifier,
  type Watchdog,
} from '@kage/common';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { CoordinatorConfig } from '../config/coordinator-config.js';
import { createEventHub, type EventHub } from '../events/event-hub.js';
import type { Gateway } from '../gateway/gateway-server.js';
import { createAgentGatewayServer, type AgentGatewayServer } from '../grpc/agent-gateway-server.js';
import { buildApiServer } from '../http/api-server.js';
import { createIngestBatcher, type IngestBatcher } from '../ingest/ingest-batcher.js';
import { createNodeRegistry, type NodeRegistry } from '../registry/node-registry.js';
import { createLoadedModelsBoard } from '../registry/loaded-models-board.js';
import { createRunService, type RunService } from '../runs/run-service.js';
import { leaseLostError } from '../store/db-lease.js';
import { openTelemetryStore, type TelemetryStore } from '../store/telemetry-store.js';

export interface CoordinatorDaemonOptions {
  config: CoordinatorConfig;
  env: DaemonEnv;
  log: Logger;
  version: string;
  /** @default an sd_notify client for `env.notifySocket` */
  notifier?: SdNotifier;
  /** Timings, for tests. */
  timings?: Partial<CoordinatorTimings>;
  /**
   * Resume interrupted coordinator runs at start. @default true. `kage demo` turns it off: its
   * earlier runs point at emulators that no longer exist.
   */
  resumeRuns?: boolean;
  /**
   * The daemon cannot go on (another coordinator took the database over): the owner should close
   * it and exit non-zero. Without it, the daemon closes itself.
   */
  onFatal?: (err: Error) => void;
}

export interface CoordinatorTimings {
  /** Registry check for silent nodes. */
  tickMs: number;
  /** Last-seen times written to the database. */
  flushMs: number;
  /** Lease heartbeat; a lease older than 3 × this is stale. */
  leaseMs: number;
  /** Minute means and retention. */
  rollupMs: number;
  /** Longest wait before records are committed. */
  commitDelayMs: number;
}

const DEFAULT_TIMINGS: CoordinatorTimings = {
  tickMs: 500,
  flushMs: 5000,
  leaseMs: 5000,
  rollupMs: 60_000,
  commitDelayMs: 250,
};

export interface CoordinatorDaemon {
  /** @returns the bound ports (useful with port 0) */
  /** Listens; the gateway's port is null when coordinator.yaml has no `gateway:`. */
  start(): Promise<{ grpcPort: number; httpPort: number; gatewayPort: number | null }>;
  /** Idempotent. */
  close(): Promise<void>;
}

export function createCoordinatorDaemon(o: CoordinatorDaemonOptions): CoordinatorDaemon {
  const { config } = o;
  // The components take the root logger and name themselves; the daemon's own lines say `daemon`.
  const root = o.log;
  const log = root.child({ component: 'daemon' });
  const t = { ...DEFAULT_TIMINGS, ...o.timings };
  const notifier = o.notifier ?? createSdNotifier({ socket: o.env.notifySocket, log: root });
  let store: TelemetryStore | undefined;
  let events: EventHub | undefined;
  let registry: NodeRegistry | undefined;
  let batcher: IngestBatcher | undefined;
  let grpc: AgentGatewayServer | undefined;
  let runs: RunService | undefined;
  let http: FastifyInstance | undefined;
  let gateway: Gateway | null = null;
  let watchdog: Watchdog | undefined;
  const timers: NodeJS.Timeout[] = [];
  let lastCommit: { ok: boolean; detail: string } = { ok: true, detail: 'no commit yet' };
  let lastTickMono = performance.now();
  let closing: Promise<void> | undefined;

  async function start(): Promise<{ grpcPort: number; httpPort: number; gatewayPort: number | null }> {
    // The lease is taken before anything is written: a refused coordinator leaves the file alone.
    store = openTelemetryStore({ path: config.db, log: root, lease: { staleAfterMs: 3 * t.leaseMs } });
    const db = store;
    events = createEventHub();
    registry = createNodeRegistry({ store: db, events, log: root });
    const reg = registry;
    const models = createLoadedModelsBoard({
      events,
      isOnline: (id) => reg.get(id)?.status === 'online',
      hostnames: () => new Map(reg.list().map((n) => [n.id, n.hostname])),
    });
    batcher = createIngestBatcher({
      store: db,
      log: root,
      maxDelayMs: t.commitDelayMs,
      onCommit: (ok, err) => {
        lastCommit = ok ? { ok, detail: 'last commit succeeded' } : { ok, detail: err?.message ?? 'commit failed' };
      },
    });
    grpc = createAgentGatewayServer({
      listen: config.grpc,
      agentTokens: config.agentTokens,
      store: db,
      batcher,
      registry: reg,
      models,
      log: root,
      version: o.version,
    });
    runs = createRunService({ store: db, commander: grpc, registry: reg, events, log: root });
    const { port: grpcPort } = await grpc.listen();

    const gw = grpc;
    const feeder = batcher;
    const runService = runs;
    if (config.gateway !== null) {
      const { createGateway } = await import('../gateway/gateway-server.js');
      const { benchRates } = await import('../gateway/bench-rates.js');
      const bench = db.bench;
      gateway = createGateway({
        config: config.gateway,
        log: root,
        busyUrls: () => runService.measuringUrls(),
        benchRates: () => benchRates(bench),
      });
    }
    const gatewayNow = gateway;
    http = await buildApiServer({
      nodes: reg,
      models,
      commander: gw,
      events,
      runs: runService,
      readiness: () => ({
        // After a failed commit the write probe decides: once it succeeds the database is
        // usable again, even before an agent's next commit proves it.
        db: ((): { ok: boolean; detail: string } => {
          const probe = db.writable();
          if (lastCommit.ok || !probe.ok)
            return lastCommit.ok ? probe : { ok: false, detail: `telemetry cannot be stored: ${probe.detail}` };
          lastCommit = { ok: true, detail: 'writable again' };
          return probe;
        })(),
        grpc: { ok: gw.listening(), detail: gw.listening() ? `listening on port ${grpcPort}` : 'not listening' },
      }),
      stats: () => {
        const s = feeder.stats();
        return {
          ingested: { samples: s.samples, events: s.events },
          duplicates: s.duplicates,
          commit_failures: s.commit_failures,
          streams: gw.streams(),
          auth_failures: gw.authFailures(),
        };
      },
      apiToken: config.apiToken,
      emulated: config.emulated,
      log: root,
      version: o.version,
      ...(gatewayNow === null ? {} : { extraMetrics: () => gatewayNow.metricsText(), gateway: gatewayNow }),
    });
    let httpPort: number;
    try {
      await http.listen({ host: config.http.host, port: config.http.port });
      const address = http.server.address();
      httpPort = typeof address === 'object' && address !== null ? address.port : config.http.port;
    } catch (err) {
      const { CoordinatorError } = await import('../coordinator-error.js');
      throw new CoordinatorError(
        'KAGE_ERR_COORDINATOR_LISTEN',
        `cannot listen for HTTP on ${config.http.host}:${config.http.port}: ${(err as Error).message}`,
        { cause: err, hint: 'is the port taken? (ss -ltnp)' },
      );
    }

    timers.push(
      setInterval(() => {
        lastTickMono = performance.now();
        reg.tick(Date.now());
      }, t.tickMs),
      setInterval(() => guard('registry flush', () => reg.flush()), t.flushMs),
      setInterval(() => guard('lease renewal', () => renewLeaseOrStop(db)), t.leaseMs),
      setInterval(() => {
        db.rollupAndPrune(Date.now(), config.retention).catch((err: unknown) => log.error({ err }, 'rollup failed'));
      }, t.rollupMs),
    );
    for (const timer of timers) timer.unref();

    if (o.resumeRuns !== false) await runService.resumeInterrupted();

    watchdog = createWatchdog({ notifier, log: root, watchdogUsec: o.env.watchdogUsec });
    watchdog.register(
      'event-loop',
      createFreshnessCheck({
        lastMonoMs: () => lastTickMono,
        maxAgeMs: 10 * t.tickMs + 5000,
        what: 'the registry tick',
      }),
    );
    let gatewayPort: number | null = null;
    if (gateway !== null) {
      try {
        gatewayPort = await gateway.start();
      } catch (err) {
        const { CoordinatorError } = await import('../coordinator-error.js');
        const g = config.gateway;
        throw new CoordinatorError(
          'KAGE_ERR_COORDINATOR_LISTEN',
          `cannot listen for the gateway on ${g?.host ?? '?'}:${g?.port ?? '?'}: ${(err as Error).message}`,
          { cause: err, hint: 'is the port taken? (ss -ltnp)' },
        );
      }
    }
    await notifier.ready(
      `agents on :${grpcPort}, API on :${httpPort}${gatewayPort === null ? '' : `, gateway on :${gatewayPort}`}`,
    );
    watchdog.start();
    log.info({ grpc: grpcPort, http: httpPort, gateway: gatewayPort, db: config.db }, 'coordinator started');
    return { grpcPort, httpPort, gatewayPort };
  }

  let leaseLost = false;
  /** Two coordinators writing one file would double-commit telemetry and fight over runs: stop. */
  function renewLeaseOrStop(db: TelemetryStore): void {
    if (leaseLost || db.renewLease()) return;
    leaseLost = true;
    const err = leaseLostError(config.db);
    log.fatal({ err }, err.message);
    if (o.onFatal !== undefined) o.onFatal(err);
    else (closing ??= shutdown()).catch((e: unknown) => log.error({ err: e }, 'shutdown failed'));
  }

  /** Periodic tasks whose last run failed: logged when they start failing and when they recover. */
  const failingTasks = new Set<string>();
  function guard(what: string, fn: () => unknown): void {
    try {
      fn();
      if (failingTasks.delete(what)) log.info(`${what} works again`);
    } catch (err) {
      if (!failingTasks.has(what)) log.error({ err }, `${what} failed; retried quietly until it works`);
      failingTasks.add(what);
    }
  }

  async function shutdown(): Promise<void> {
    log.info('coordinator stopping');
    await notifier.stopping('stopping');
    await watchdog?.close();
    for (const timer of timers) clearInterval(timer);
    await gateway?.close().catch((err: unknown) => log.warn({ err }, 'gateway close failed'));
    await http?.close().catch((err: unknown) => log.warn({ err }, 'HTTP close failed'));
    await runs?.close();
    await grpc?.close();
    batcher?.close();
    if (registry !== undefined) guard('registry flush', () => registry?.flush());
    events?.close();
    if (store !== undefined) {
      guard('lease release', () => store?.releaseLease());
      store.close();
    }
    await notifier.close();
    log.info('coordinator stopped');
  }

  return {
    start,
    close: () => (closing ??= shutdown()),
  };
}
