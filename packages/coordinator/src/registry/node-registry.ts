/**
 * The live picture of every node: who is connected, when each was last heard from, its services
 * and its latest sample. Online/offline comes from time alone: a node is offline once it has
 * missed three sample intervals (no sample or heartbeat for 3 × its `sample_interval_ms`), so a
 * node whose stream hangs without closing turns offline exactly like one whose stream ended.
 * Changes are published on the event hub (`node`, `service`, `sample`).
 */
import type { Hello__Output, ServiceStatus__Output } from '@kage/wire';
import type { Logger } from 'pino';
import type { EventHub } from '../events/event-hub.js';
import type { ServiceEventRow, StoredNode, TelemetryStore } from '../store/telemetry-store.js';
import { toLatestView, type SampleRow } from '../store/sample-row.js';
import type { LatestView, MetricPoint, NodeStatus, NodeView, ServiceView } from './node-view.js';

/** Intervals without a word from a node before it is offline. */
export const MISSED_INTERVALS_OFFLINE = 3;
/** A sample this far ahead of the coordinator's clock is reported as clock skew (once per node). */
const SKEW_WARN_MS = 2000;

interface NodeState {
  id: string;
  hostname: string;
  agent_version: string;
  boot_id: string;
  sample_interval_ms: number;
  inventory_json: string;
  first_seen_ms: number;
  last_seen_ms: number | null;
  status: NodeStatus;
  services: Map<string, ServiceView>;
  latest: LatestView | null;
  /** `latest`'s time as a number: compared for every commit, so not parsed back from its ISO text. */
  latest_ts_ms: number;
  clock_skew_ms: number | null;
  skew_warned: boolean;
  /** Details changed since the last flush: the whole row is written. */
  dirty: boolean;
  /** Heard from since the last flush: only last-seen and clock skew are written. */
  seen: boolean;
}

export interface NodeRegistry {
  /** A Hello was accepted: the node is online with the services it listed. */
  hello(hello: Hello__Output, now: number): void;
  /** Any message from the node (keeps it online). */
  heard(nodeId: string, now: number): void;
  /** Committed records (live or replayed): latest sample, service states, events on the hub. */
  applyCommitted(nodeId: string, samples: readonly SampleRow[], events: readonly ServiceEventRow[], now: number): void;
  /** A service status the agent reported outside the buffered stream (a command's answer). */
  applyServiceStatus(nodeId: string, status: ServiceStatus__Output): ServiceView;
  /** Turns silent nodes offline; call about once a second. */
  tick(now: number): void;
  list(): NodeView[];
  get(id: string): NodeView | null;
  metrics(id: string, since: number, until: number): MetricPoint[];
  /** Node ids whose status is online. */
  online(): Set<string>;
  /** Writes last-seen times to the store (batched: not on every message). */
  flush(): void;
}

export function createNodeRegistry(options: { store: TelemetryStore; events: EventHub; log: Logger }): NodeRegistry {
  const { store, events } = options;
  const log = options.log.child({ component: 'registry' });
  const nodes = new Map<string, NodeState>();
  let writeFailing = false;

  for (const n of store.loadNodes()) {
    nodes.set(n.id, {
      id: n.id,
      hostname: n.hostname,
      agent_version: n.agent_version,
      boot_id: n.boot_id,
      sample_interval_ms: n.sample_interval_ms,
      inventory_json: n.inventory_json,
      first_seen_ms: n.first_seen_ms,
      last_seen_ms: n.last_seen_ms,
      status: 'offline',
      // Rows written before services had a version lack the key: it reads as unknown.
      services: new Map(
        (JSON.parse(n.services_json) as ServiceView[]).map((s) => [s.name, { ...s, version: s.version ?? null }]),
      ),
      latest: null,
      latest_ts_ms: -Infinity,
      clock_skew_ms: n.clock_skew_ms,
      skew_warned: false,
      dirty: false,
      seen: false,
    });
  }

  const view = (n: NodeState): NodeView => ({
    id: n.id,
    hostname: n.hostname,
    status: n.status,
    last_seen: n.last_seen_ms === null ? null : new Date(n.last_seen_ms).toISOString(),
    agent_version: n.agent_version,
    services: [...n.services.values()],
    latest: n.latest,
    clock_skew_ms: n.clock_skew_ms,
  });

  const setStatus = (n: NodeState, status: NodeStatus, why: string): void => {
    if (n.status === status) return;
    n.status = status;
    log.info({ node: n.id, status, why }, `node ${status}`);
    events.publish('node', {
      node: n.id,
      status,
      last_seen: n.last_seen_ms === null ? null : new Date(n.last_seen_ms).toISOString(),
      why,
    });
  };

  const storedNode = (n: NodeState): StoredNode => ({
    id: n.id,
    hostname: n.hostname,
    agent_version: n.agent_version,
    boot_id: n.boot_id,
    sample_interval_ms: n.sample_interval_ms,
    inventory_json: n.inventory_json,
    services_json: JSON.stringify([...n.services.values()]),
    first_seen_ms: n.first_seen_ms,
    last_seen_ms: n.last_seen_ms ?? n.first_seen_ms,
    clock_skew_ms: n.clock_skew_ms,
  });

  /** Writes what changed; on failure everything stays marked and the next flush tries again. */
  const save = (full: NodeState[], seen: NodeState[]): void => {
    if (full.length === 0 && seen.length === 0) return;
    try {
      store.saveNodes(
        full.map(storedNode),
        seen.map((n) => ({
          id: n.id,
          last_seen_ms: n.last_seen_ms ?? n.first_seen_ms,
          clock_skew_ms: n.clock_skew_ms,
        })),
      );
      for (const n of full) n.dirty = false;
      for (const n of [...full, ...seen]) n.seen = false;
      if (writeFailing) log.info('node records are written again');
      writeFailing = false;
    } catch (err) {
      // The in-memory picture stays right. Logged once per outage, not every flush.
      if (!writeFailing) log.warn({ err }, 'node records not written; retried at each flush');
      writeFailing = true;
    }
  };
  const persist = (n: NodeState): void => save([n], []);

  return {
    hello(hello, now) {
      const existing = nodes.get(hello.node_id);
      const n: NodeState = existing ?? {
        id: hello.node_id,
        hostname: hello.inventory?.hostname ?? hello.node_id,
        agent_version: hello.agent_version,
        boot_id: hello.boot_id,
        sample_interval_ms: hello.sample_interval_ms,
        inventory_json: '{}',
        first_seen_ms: now,
        last_seen_ms: now,
        status: 'offline',
        services: new Map(),
        latest: null,
        latest_ts_ms: -Infinity,
        clock_skew_ms: null,
        skew_warned: false,
        dirty: true,
        seen: false,
      };
      n.hostname = hello.inventory?.hostname || hello.node_id;
      n.agent_version = hello.agent_version;
      n.boot_id = hello.boot_id;
      n.sample_interval_ms = hello.sample_interval_ms > 0 ? hello.sample_interval_ms : 1000;
      n.inventory_json = JSON.stringify(hello.inventory ?? {});
      n.last_seen_ms = now;
      n.services = new Map(
        hello.services.map((c) => [
          c.name,
          c.status === null ? unknownService(c.name, c.driver) : toServiceView(c.status),
        ]),
      );
      nodes.set(n.id, n);
      persist(n);
      setStatus(n, 'online', 'agent connected');
      for (const s of n.services.values()) events.publish('service', { node: n.id, service: s, kind: 'snapshot' });
    },
    heard(nodeId, now) {
      const n = nodes.get(nodeId);
      if (n === undefined) return;
      n.last_seen_ms = now;
      n.seen = true;
      setStatus(n, 'online', 'agent heard');
    },
    applyCommitted(nodeId, samples, serviceEvents, now) {
      const n = nodes.get(nodeId);
      if (n === undefined) return;
      for (const e of serviceEvents) {
        const status = JSON.parse(e.status_json) as ServiceStatus__Output;
        const service = toServiceView(status);
        n.services.set(service.name, service);
        events.publish('service', {
          node: nodeId,
          service,
          kind: e.kind,
          from_state: e.from_state,
          to_state: e.to_state,
          ts: new Date(e.ts_ms).toISOString(),
        });
        n.dirty = true;
      }
      let newest: SampleRow | null = null;
      for (const s of samples) if (newest === null || s.ts_ms >= newest.ts_ms) newest = s;
      if (newest !== null && n.latest_ts_ms <= newest.ts_ms) {
        n.latest = toLatestView(newest);
        n.latest_ts_ms = newest.ts_ms;
        // Skew from a fresh sample only: a replayed one is old by design.
        const skew = newest.ts_ms - now;
        if (Math.abs(skew) < 5 * n.sample_interval_ms || skew > 0) n.clock_skew_ms = skew;
        if (skew > SKEW_WARN_MS && !n.skew_warned) {
          n.skew_warned = true;
          log.warn(
            { node: nodeId, skew_ms: skew },
            'node clock is ahead of the coordinator; timestamps are kept as the agent sent them',
          );
        }
      }
      for (const s of samples) events.publish('sample', { node: nodeId, ...toLatestView(s) });
    },
    applyServiceStatus(nodeId, status) {
      const service = toServiceView(status);
      const n = nodes.get(nodeId);
      if (n !== undefined) {
        n.services.set(service.name, service);
        n.dirty = true;
        events.publish('service', { node: nodeId, service, kind: 'command' });
      }
      return service;
    },
    tick(now) {
      for (const n of nodes.values()) {
        if (n.status !== 'online' || n.last_seen_ms === null) continue;
        if (now - n.last_seen_ms > MISSED_INTERVALS_OFFLINE * n.sample_interval_ms) {
          setStatus(
            n,
            'offline',
            `nothing heard for ${now - n.last_seen_ms} ms (${MISSED_INTERVALS_OFFLINE} intervals)`,
          );
        }
      }
    },
    // Plain code-unit order: node ids are ASCII, and localeCompare costs microseconds per call.
    list: () => [...nodes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(view),
    get(id) {
      const n = nodes.get(id);
      return n === undefined ? null : view(n);
    },
    metrics: (id, since, until) => store.metrics(id, since, until),
    online: () => new Set([...nodes.values()].filter((n) => n.status === 'online').map((n) => n.id)),
    flush() {
      // One transaction per flush: with 10,000 nodes, one per node stalled the event loop for
      // a fifth of a second every flush.
      const all = [...nodes.values()];
      save(
        all.filter((n) => n.dirty),
        all.filter((n) => n.seen && !n.dirty),
      );
    },
  };
}

export function toServiceView(s: ServiceStatus__Output): ServiceView {
  return {
    name: s.name,
    driver: s.driver,
    state: s.state,
    pid: s.pid ?? null,
    restarts: s.restarts,
    healthy: s.healthy,
    health: s.health,
    reason: s.reason ?? s.health_reason ?? null,
    version: s.version ?? null,
  };
}

function unknownService(name: string, driver: string): ServiceView {
  return {
    name,
    driver,
    state: 'unknown',
    pid: null,
    restarts: 0,
    healthy: false,
    health: 'unknown',
    reason: null,
    version: null,
  };
}
