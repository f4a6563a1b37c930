// Layered health: process alive → HTTP health URL → inference probe, with a startup grace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { createProcessService, type HealthState, type ServiceEvent } from '../src/index.js';
import { probeHttp } from '../src/supervision/http-probe.js';
import {
  FAST,
  captureLog,
  childCommand,
  killQuietly,
  readyLines,
  tempDir,
  waitFor,
  defer,
  type HasAfter,
} from './helpers/supervision-fixtures.js';

/**
 * A loopback port nobody listens on: bind port 0, read it, close it. The tests that need a
 * *refused* connection first and a listener later re-bind this port from the service child after a
 * delay; that re-bind is the one pick-then-bind here, because a health URL is fixed at config time
 * and a refused connection cannot be produced on a listening port.
 */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

async function httpServer(t: HasAfter, handler: Parameters<typeof createHttpServer>[1]): Promise<string> {
  const server: Server = createHttpServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  defer(t, async () => {
    server.close();
    server.closeAllConnections();
    // Bounded: a probe racing the close must not keep the test (and its children) waiting.
    await Promise.race([once(server, 'close'), sleep(2000)]);
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function healthPath(events: readonly ServiceEvent[]): HealthState[] {
  return events.flatMap((e) => (e.type === 'health' ? [e.health] : []));
}

void test('a refusing health URL makes a running service unhealthy, then healthy once it listens', async (t) => {
  const port = await closedPort();
  const { log, entries } = captureLog();
  const service = createProcessService({
    name: 'exo',
    config: {
      driver: 'process',
      command: childCommand(`--listen=${port}`, '--listen-after-ms=500'),
      health: `http://127.0.0.1:${port}/health`,
    },
    log,
    stateDir: await tempDir(t),
    timings: { ...FAST, healthIntervalMs: 25, startupGraceMs: 100 },
  });
  const events: ServiceEvent[] = [];
  const seenAt = new Map<HealthState, number>();
  service.onEvent((e) => {
    events.push(e);
    if (e.type === 'health') seenAt.set(e.health, performance.now());
  });
  defer(t, async () => {
    await service.close();
    for (const r of readyLines(entries)) killQuietly(r.pid);
  });
  await service.start();

  const unhealthy = await waitFor('unhealthy', () => service.status().health === 'unhealthy' && service.status());
  assert.equal(unhealthy.state, 'running', 'the process is alive; only the health layer fails');
  assert.equal(unhealthy.healthy, false);
  assert.match(unhealthy.health_reason ?? '', /connection refused/);

  const healthy = await waitFor('healthy', () => service.status().healthy && service.status());
  assert.equal(healthy.health, 'healthy');
  assert.equal(healthy.health_reason, undefined);
  const unhealthyForMs = (seenAt.get('healthy') ?? 0) - (seenAt.get('unhealthy') ?? 0);
  assert.ok(unhealthyForMs > 2 * 25, `several probes failed while unhealthy (${Math.round(unhealthyForMs)} ms)`);

  // Every change is one event and one log entry (unhealthy at warn), however many probes failed
  // in between. Failures inside the grace are `starting` (if the first probe ran that early on a
  // loaded machine; the grace itself is asserted in the next test).
  const path = healthPath(events);
  assert.deepEqual(
    path.filter((h) => h !== 'starting'),
    ['unhealthy', 'healthy'],
  );
  assert.ok(path.indexOf('starting') <= 0, 'starting can only come first');
  const logged = entries
    .filter((e) => e.msg === 'health changed' && e['to'] !== 'starting')
    .map((e) => [e['to'], e.level]);
  assert.deepEqual(logged, [
    ['unhealthy', 40],
    ['healthy', 30],
  ]);
});

void test('during the startup grace a failing health URL is reported as starting, not unhealthy', async (t) => {
  const port = await closedPort();
  const { log, entries } = captureLog();
  const service = createProcessService({
    name: 'exo',
    config: {
      driver: 'process',
      command: childCommand(`--listen=${port}`, '--listen-after-ms=300'),
      health: `http://127.0.0.1:${port}/health`,
    },
    log,
    stateDir: await tempDir(t),
    timings: { ...FAST, healthIntervalMs: 25, startupGraceMs: 30_000 },
  });
  const events: ServiceEvent[] = [];
  service.onEvent((e) => events.push(e));
  defer(t, async () => {
    await service.close();
    for (const r of readyLines(entries)) killQuietly(r.pid);
  });
  await service.start();
  await waitFor('starting', () => service.status().health === 'starting');
  assert.equal(service.status().healthy, false);
  await waitFor('healthy', () => service.status().healthy);
  assert.deepEqual(healthPath(events), ['starting', 'healthy']);

  // Stopping the process drops the health layer back to unknown.
  await service.stop();
  assert.equal(service.status().health, 'unknown');
  assert.equal(service.status().healthy, false);
});

void test('the inference probe is the third layer, consulted only when the HTTP check passes', async (t) => {
  const base = await httpServer(t, (_req, res) => res.writeHead(200).end('ok'));
  let calls = 0;
  let verdict = false;
  const { log, entries } = captureLog();
  const service = createProcessService({
    name: 'ollama-dev',
    config: { driver: 'process', command: childCommand(), health: `${base}/api/version` },
    log,
    stateDir: await tempDir(t),
    timings: { ...FAST, healthIntervalMs: 20, healthTimeoutMs: 5000, probeIntervalMs: 0 },
    probe: ({ signal }) => {
      calls++;
      assert.ok(signal instanceof AbortSignal);
      return Promise.resolve(verdict);
    },
  });
  defer(t, async () => {
    await service.close();
    for (const r of readyLines(entries)) killQuietly(r.pid);
  });
  await service.start();
  const bad = await waitFor('unhealthy', () => service.status().health === 'unhealthy' && service.status());
  assert.equal(bad.health_reason, 'inference probe failed', 'the HTTP layer passed; the probe failed');
  verdict = true;
  await waitFor('healthy', () => service.status().healthy);
  assert.ok(calls >= 2);
});

void test('probeHttp: 2xx is healthy; a non-2xx, a refused connection and a timeout are not', async (t) => {
  const ok = await httpServer(t, (_req, res) => res.writeHead(204).end());
  const busy = await httpServer(t, (_req, res) => res.writeHead(503).end('loading'));
  const silent = await httpServer(t, () => undefined); // accepts, never answers
  assert.deepEqual(await probeHttp(`${ok}/`, { timeoutMs: 1000 }), { ok: true, status: 204 });
  assert.deepEqual(await probeHttp(`${busy}/`, { timeoutMs: 1000 }), { ok: false, reason: 'HTTP 503' });
  const port = await closedPort();
  assert.deepEqual(await probeHttp(`http://127.0.0.1:${port}/`, { timeoutMs: 1000 }), {
    ok: false,
    reason: 'connection refused',
  });
  const started = performance.now();
  assert.deepEqual(await probeHttp(`${silent}/`, { timeoutMs: 100 }), { ok: false, reason: 'timed out after 100 ms' });
  assert.ok(performance.now() - started < 2000);
});
