/**
 * The verdicts of `kage doctor --all` on the nodes the coordinator reports (`GET /api/v1/nodes`
 * shapes): the cases a running lab rarely shows at will — an offline node, agents at different
 * versions, an EXO whose version is unknown, no node at all. The whole command against a real
 * coordinator and agents is the e2e test `doctor-all`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeView, ServiceView } from '../src/coordinator-client.js';
import { availableBytes, checkClusterNodes } from '../src/doctor/cluster-checks.js';
import type { CheckResult } from '../src/doctor/check-result.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const GIB = 1024 ** 3;

function service(name: string, o: Partial<ServiceView> = {}): ServiceView {
  return {
    name,
    driver: 'systemd',
    state: 'running',
    pid: 100,
    restarts: 0,
    healthy: true,
    health: 'healthy',
    reason: null,
    version: null,
    ...o,
  };
}

function node(id: string, o: Partial<NodeView> = {}): NodeView {
  return {
    id,
    hostname: id,
    status: 'online',
    last_seen: new Date(NOW - 2000).toISOString(),
    agent_version: '0.1.0',
    services: [service('ollama', { version: '0.32.15' }), service('exo', { version: 'v1.0.71' })],
    latest: {
      ts: new Date(NOW - 1000).toISOString(),
      cpu_pct: 1,
      mem_used_bytes: 8 * GIB,
      mem_total_bytes: 32 * GIB,
      gpus: [],
    },
    clock_skew_ms: 0,
    ...o,
  };
}

const options = { pinnedExoVersion: null, coordinatorUrl: 'http://srv1:7080', now: NOW };

function find(checks: readonly CheckResult[], id: string, nodeId?: string): CheckResult {
  const found = checks.find((c) => c.id === id && c.node === nodeId);
  assert.ok(found, `no ${id}${nodeId === undefined ? '' : ` on ${nodeId}`}: ${JSON.stringify(checks)}`);
  return found;
}

test('a healthy lab: every check passes, versions named once', () => {
  const checks = checkClusterNodes([node('srv1'), node('srv2'), node('rog')], options);
  assert.deepEqual(
    checks.filter((c) => c.status !== 'pass'),
    [],
  );
  assert.equal(find(checks, 'nodes').message, '3 nodes: srv1, srv2, rog');
  assert.equal(find(checks, 'online', 'rog').message, 'online, heard 2s ago');
  assert.equal(find(checks, 'exo-version').message, 'every EXO node runs v1.0.71');
  assert.equal(find(checks, 'agent-version').message, 'every node runs agent 0.1.0');
});

test('an offline node fails and its stale services are not judged; differing agents warn, naming the odd one', () => {
  const checks = checkClusterNodes(
    [
      node('srv1'),
      node('srv2', { agent_version: '0.0.9' }),
      node('rog', { status: 'offline', last_seen: new Date(NOW - 10 * 60_000).toISOString() }),
    ],
    options,
  );
  const offline = find(checks, 'online', 'rog');
  assert.equal(offline.status, 'fail');
  assert.equal(offline.message, 'offline, last heard 10m ago');
  assert.match(offline.fix ?? '', /systemctl status kage-agent/);
  assert.equal(
    checks.find((c) => c.node === 'rog' && c.id !== 'online'),
    undefined,
  );
  const agents = find(checks, 'agent-version');
  assert.equal(agents.status, 'warn');
  assert.equal(agents.message, 'agent versions differ: srv1 0.1.0, srv2 0.0.9, rog 0.1.0');
  assert.match(agents.fix ?? '', /nodes not at 0\.1\.0/);
});

test('EXO: an unhealthy service fails with its reason; an unknown version warns; the pinned tag decides', () => {
  const broken = node('rog', {
    services: [
      service('ollama', { version: '0.32.15' }),
      service('exo', {
        state: 'backoff',
        healthy: false,
        health: 'unhealthy',
        reason: 'exited with code 1',
        version: null,
      }),
    ],
  });
  const checks = checkClusterNodes([node('srv1'), broken, node('srv2', { services: [service('ollama')] })], options);
  const exo = find(checks, 'exo', 'rog');
  assert.equal(exo.status, 'fail');
  assert.equal(exo.message, 'EXO is backoff, health unhealthy: exited with code 1');
  assert.equal(exo.fix, 'kage service rog exo restart; on rog: journalctl -u exo');
  assert.equal(find(checks, 'exo', 'srv2').message, 'no EXO on this node');
  assert.match(find(checks, 'ollama', 'srv2').message, /version unknown/);
  const version = find(checks, 'exo-version');
  assert.equal(version.status, 'warn');
  assert.equal(version.message, "EXO's version is unknown on rog; srv1 v1.0.71");

  const pinned = checkClusterNodes([node('srv1'), node('srv2')], { ...options, pinnedExoVersion: 'v1.0.70' });
  assert.equal(find(pinned, 'exo-version').status, 'fail');
  assert.match(find(pinned, 'exo-version').fix ?? '', /^on srv1, srv2: .*\(EXO v1\.0\.70\)$/);
});

test('no node yet fails naming the coordinator; available memory is total − used, unknown when either is', () => {
  const none = checkClusterNodes([], options);
  assert.deepEqual(
    none.map((c) => [c.id, c.status, c.message]),
    [['nodes', 'fail', 'the coordinator at http://srv1:7080 knows no node yet']],
  );
  assert.equal(availableBytes(node('srv1')), 24 * GIB);
  assert.equal(availableBytes(node('srv1', { latest: null })), null);
  assert.equal(
    availableBytes(
      node('srv1', { latest: { ts: '', cpu_pct: null, mem_used_bytes: null, mem_total_bytes: GIB, gpus: [] } }),
    ),
    null,
  );
});
