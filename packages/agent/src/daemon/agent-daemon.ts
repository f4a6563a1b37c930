/**
 * The agent daemon: wires supervision, telemetry and the coordinator stream together, and owns
 * their lifecycle. Built by `createAgentDaemon` (nothing starts), started by `start()`, stopped
 * once by `close()` — which stops process-driver children but leaves systemd units (the user's
 * Ollama) running.
 */
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/agent-config-types.js';
import type { DaemonEnv } from '@kage/common';
import { createServiceRegistry, type ServiceRegistry } from '../supervision/service-registry.js';
import { createSampler, type Sampler } from '../telemetry/sampler.js';
import { readInventory, type InventorySource } from '../telemetry/inventory.js';
import { createAgentStream, type AgentStream } from '../stream/agent-stream.js';
import { readBootId } from '../stream/boot-id.js';
import { createSdNotifier, type SdNotifier } from '@kage/common';
import { createFreshnessCheck, createWatchdog, type Watchdog } from '@kage/common';
import { createProbeHandler } from './probe-handler.js';
import {
  createLoadedModelsWatcher,
  type LoadedModelsSource,
  type LoadedModelsWatcher,
} from '../models/loaded-models-watcher.js';

export interface AgentDaemonOptions {
  config: AgentConfig;
  env: DaemonEnv;
  log: Logger;
  agentVersion: string;
  /** @default an sd_notify client for `env.notifySocket` */
  notifier?: SdNotifier;
  /** Test seams: fixture trees and fake binaries. */
  procRoot?: string;
  sysRoot?: string;
  systemctlPath?: string;
  nvidiaSmi?: false | { command?: string };
  /** null skips systeminformation (tests); @default the real one */
  inventorySource?: InventorySource | null;
}

export interface AgentDaemon {
  start(): Promise<void>;
  /** Idempotent: a second caller awaits the same shutdown. */
  close(): Promise<void>;
  readonly stream: AgentStream | undefined;
  readonly registry: ServiceRegistry | undefined;
}

/** How often `systemctl status kage-agent` gets a fresh STATUS= line when the stream state changed. */
const STATUS_REFRESH_MS = 5000;

export function createAgentDaemon(o: AgentDaemonOptions): AgentDaemon {
  const { config, log } = o;
  const notifier = o.notifier ?? createSdNotifier({ socket: o.env.notifySocket, log });
  let registry: ServiceRegistry | undefined;
  let sampler: Sampler | undefined;
  let stream: AgentStream | undefined;
  let models: LoadedModelsWatcher | undefined;
  let watchdog: Watchdog | undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;

  async function start(): Promise<void> {
    const bootId = await readBootId({ log: log.child({ component: 'boot-id' }) });
    const inventory = await readInventory({
      log: log.child({ component: 'inventory' }),
      ...(o.inventorySource !== undefined && { source: o.inventorySource }),
    });
    registry = createServiceRegistry({
      services: config.services,
      log,
      stateDir: config.stateDir,
      timings: { stopGraceMs: config.stopGraceMs },
      ...(o.systemctlPath !== undefined && { systemctlPath: o.systemctlPath }),
    });
    const services = registry;
    const modelSources: Record<string, LoadedModelsSource> = {};
    for (const [name, service] of Object.entries(config.services)) {
      if (service.loaded_models !== undefined) modelSources[name] = service.loaded_models;
    }
    models = createLoadedModelsWatcher({
      sources: modelSources,
      serviceState: (name) => services.statuses().find((s) => s.name === name)?.state,
      log,
    });
    const tls = config.coordinator.tls;
    stream = createAgentStream({
      url: config.coordinator.address,
      token: config.coordinator.token,
      tls: tls && {
        ...(tls.caPem !== null && { ca: tls.caPem }),
        ...(tls.certPem !== null && { cert: tls.certPem }),
        ...(tls.keyPem !== null && { key: tls.keyPem }),
      },
      node: config.node,
      bootId,
      agentVersion: o.agentVersion,
      inventory,
      services: () => services.statuses(),
      live: models,
      commands: {
        service: (name, action) => services.command(name, action),
        probe: createProbeHandler(log),
      },
      buffer: {
        dir: config.buffer.dir,
        maxAgeS: config.buffer.maxAgeS,
        ...(config.buffer.maxBytes !== null && { maxBytes: config.buffer.maxBytes }),
      },
      sampleIntervalMs: config.sampleIntervalMs,
      ...(config.coordinator.keepaliveTimeMs !== null && { keepaliveTimeMs: config.coordinator.keepaliveTimeMs }),
      ...(config.coordinator.keepaliveTimeoutMs !== null && {
        keepaliveTimeoutMs: config.coordinator.keepaliveTimeoutMs,
      }),
      log,
    });
    const out = stream;
    registry.onEvent((event) => out.pushServiceEvent(event));
    sampler = createSampler({
      log,
      intervalMs: config.sampleIntervalMs,
      onSample: (sample) => out.pushSample(sample),
      services: () => services.statuses(),
      ...(o.procRoot !== undefined && { procRoot: o.procRoot }),
      ...(o.sysRoot !== undefined && { sysRoot: o.sysRoot }),
      ...(o.nvidiaSmi !== undefined && { nvidiaSmi: o.nvidiaSmi }),
    });
    // The stream first: it opens the buffer, so nothing sampled or supervised is lost while the
    // coordinator is away. It never waits for a connection.
    await stream.open();
    await registry.open();
    sampler.start();
    models.start();

    const watched = sampler;
    watchdog = createWatchdog({ notifier, log, watchdogUsec: o.env.watchdogUsec });
    watchdog.register(
      'sampler',
      createFreshnessCheck({
        lastMonoMs: () => watched.stats().lastSampleMonoMs,
        maxAgeMs: 3 * config.sampleIntervalMs + 5000,
        what: 'the sampling loop',
      }),
    );
    watchdog.register('stream', () =>
      out.status().state === 'closed' ? 'the coordinator stream loop has stopped' : null,
    );
    await notifier.ready(describe());
    watchdog.start();
    let lastStatus = describe();
    statusTimer = setInterval(() => {
      const text = describe();
      if (text !== lastStatus) void notifier.status(text);
      lastStatus = text;
    }, STATUS_REFRESH_MS).unref();
    log.info(
      { node: config.node, services: registry.names(), coordinator: config.coordinator.address },
      'agent started',
    );
  }

  function describe(): string {
    const s = stream?.status();
    return `${config.node}: ${registry?.names().length ?? 0} services, coordinator ${config.coordinator.address} ${s ? s.state : 'not started'}`;
  }

  async function shutdown(): Promise<void> {
    log.info('agent stopping');
    if (statusTimer) clearInterval(statusTimer);
    await notifier.stopping('stopping');
    await watchdog?.close();
    // Sampling stops first; then the services (their stop events still reach the buffer); the
    // stream last, so it can flush what was buffered.
    await sampler?.close();
    await models?.close();
    await registry?.close();
    await stream?.close();
    await notifier.close();
    log.info('agent stopped');
  }

  return {
    start,
    close: () => (closing ??= shutdown()),
    get stream() {
      return stream;
    },
    get registry() {
      return registry;
    },
  };
}
