/**
 * The files shipped in deploy/ and systemd/ stay valid: the seed matrix parses, and the unit keeps
 * the settings the docs promise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMatrix } from '@kage/bench';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('deploy/seed-matrix.yaml is a valid matrix with the seed plan decision', async () => {
  const matrix = await loadMatrix(`${root}deploy/seed-matrix.yaml`);
  assert.equal(matrix.name, 'exo-phase1-poc');
  assert.deepEqual(
    matrix.targets.map((t) => t.id),
    ['ollama-srv1', 'ollama-rog', 'exo-cluster'],
  );
  assert.equal(matrix.decision?.go_speedup, 0.3);
  assert.equal(matrix.decision?.evaluate_speedup, 0.1);
  assert.equal(matrix.num_ctx, 4096, 'the context is pinned');
});

test('systemd/kage-agent.service keeps the behaviour the docs promise', async () => {
  const unit = await readFile(`${root}systemd/kage-agent.service`, 'utf8');
  for (const line of [
    'Type=notify',
    'KillMode=mixed',
    'RestartPreventExitStatus=78',
    'StateDirectory=kage/agent',
    'NoNewPrivileges=yes',
  ]) {
    assert.ok(unit.split('\n').includes(line), `${line} in the unit`);
  }
  assert.doesNotMatch(unit, /^MemoryDenyWriteExecute=yes/m, 'V8 needs W+X pages');
  assert.match(unit, /^ExecStart=.* agent --config /m);
});

/**
 * The systemd release that introduced each directive the units use (systemd's NEWS). Kage's units
 * must load without a warning on systemd 249–256 (Ubuntu 22.04 has 249, Debian 12 has 252): a
 * directive newer than 249 belongs in an optional drop-in that installers add only where it is known.
 */
const DIRECTIVE_SINCE: Record<string, number> = {
  Description: 1,
  Documentation: 1,
  Wants: 1,
  After: 1,
  WantedBy: 1,
  StartLimitIntervalSec: 230,
  Type: 1,
  NotifyAccess: 1,
  ExecStart: 1,
  User: 1,
  Group: 1,
  Environment: 1,
  SyslogIdentifier: 1,
  StateDirectory: 235,
  StateDirectoryMode: 235,
  WorkingDirectory: 1,
  UMask: 1,
  TimeoutStartSec: 188,
  WatchdogSec: 1,
  Restart: 1,
  RestartPreventExitStatus: 189,
  RestartSec: 1,
  RestartSteps: 254,
  RestartMaxDelaySec: 254,
  KillMode: 1,
  TimeoutStopSec: 188,
  NoNewPrivileges: 187,
  CapabilityBoundingSet: 1,
  AmbientCapabilities: 229,
  ProtectSystem: 214,
  ProtectHome: 214,
  PrivateTmp: 1,
  PrivateDevices: 209,
  PrivateIPC: 248,
  PrivateMounts: 239,
  PrivateUsers: 232,
  RemoveIPC: 232,
  DevicePolicy: 1,
  ProtectKernelTunables: 232,
  ProtectKernelModules: 232,
  ProtectKernelLogs: 244,
  ProtectControlGroups: 232,
  ProtectClock: 245,
  ProtectHostname: 242,
  ProtectProc: 247,
  ProcSubset: 247,
  KeyringMode: 235,
  RestrictAddressFamilies: 211,
  RestrictNamespaces: 233,
  RestrictRealtime: 231,
  RestrictSUIDSGID: 242,
  LockPersonality: 235,
  SystemCallArchitectures: 1,
  SystemCallFilter: 1,
  SystemCallErrorNumber: 1,
};
const OLDEST_SYSTEMD = 249;

function directives(unit: string): string[] {
  return unit
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('['))
    .map((l) => l.slice(0, l.indexOf('=')));
}

test('every shipped unit loads on systemd 249 and later; newer directives only in the optional drop-in', async () => {
  for (const name of ['kage-agent.service', 'kage-coordinator.service']) {
    for (const key of directives(await readFile(`${root}systemd/${name}`, 'utf8'))) {
      const since = DIRECTIVE_SINCE[key];
      assert.ok(since !== undefined, `${name}: ${key} is not in the version table: add it with its systemd release`);
      assert.ok(since <= OLDEST_SYSTEMD, `${name}: ${key} needs systemd ${since}; move it to a drop-in`);
    }
  }
  const dropIn = await readFile(`${root}systemd/kage-agent.service.d/50-restart-backoff.conf`, 'utf8');
  assert.match(dropIn, /^\[Service\]$/m);
  assert.deepEqual(directives(dropIn), ['RestartSteps', 'RestartMaxDelaySec']);
  assert.match(dropIn, /254 or later/, 'the drop-in says when to install it');
});

test('systemd-analyze verify: every shipped unit loads with no warning on this systemd; the drop-in only from 254', async (t) => {
  const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined) {
    t.skip('systemd-analyze is not installed');
    return;
  }
  const version = Number(/^systemd (\d+)/.exec(probe.stdout)?.[1]);
  const dir = await mkdtemp(join(tmpdir(), 'kage-units-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const name of ['kage-agent.service', 'kage-coordinator.service']) {
    // Copied alone: verify also reads a `NAME.d/` beside the unit, and the drop-in is optional.
    await copyFile(`${root}systemd/${name}`, join(dir, name));
    const verify = spawnSync('systemd-analyze', ['verify', join(dir, name)], { encoding: 'utf8' });
    const ours = `${verify.stdout}${verify.stderr}`.split('\n').filter((l) => l.includes(name));
    assert.equal(verify.status, 0, `${name}: ${verify.stderr}`);
    assert.deepEqual(ours, [], `systemd ${version} has nothing to say about ${name}`);
  }
  await mkdir(join(dir, 'kage-agent.service.d'));
  await copyFile(
    `${root}systemd/kage-agent.service.d/50-restart-backoff.conf`,
    join(dir, 'kage-agent.service.d', '50-restart-backoff.conf'),
  );
  const withDropIn = spawnSync('systemd-analyze', ['verify', join(dir, 'kage-agent.service')], { encoding: 'utf8' });
  const unknown = /Unknown key '(RestartSteps|RestartMaxDelaySec)'/.test(withDropIn.stderr);
  assert.equal(unknown, version < 254, `systemd ${version}: the drop-in's keys are ${unknown ? 'unknown' : 'known'}`);
});

test('systemd/kage-coordinator.service: notify, watchdog, no restart into a config error, exposure ≤ 2.0', async (t) => {
  const file = `${root}systemd/kage-coordinator.service`;
  const unit = await readFile(file, 'utf8');
  for (const line of [
    'Type=notify',
    'NotifyAccess=all',
    'WatchdogSec=30s',
    'RestartPreventExitStatus=78 69 74',
    'StateDirectory=kage',
  ]) {
    assert.ok(unit.split('\n').includes(line), `${line} in the unit`);
  }
  assert.doesNotMatch(unit, /^MemoryDenyWriteExecute=yes/m, 'V8 needs W+X pages');
  assert.match(unit, /^ExecStart=.* coordinator --config /m);
  const analyze = spawnSync('systemd-analyze', ['security', '--offline=true', file], { encoding: 'utf8' });
  if (analyze.error !== undefined) {
    t.skip('systemd-analyze is not installed');
    return;
  }
  const exposure = /Overall exposure level for kage-coordinator\.service: ([\d.]+)/.exec(analyze.stdout);
  assert.ok(exposure, analyze.stdout + analyze.stderr);
  assert.ok(Number(exposure[1]) <= 2.0, `exposure ${exposure[1]}`);
});
