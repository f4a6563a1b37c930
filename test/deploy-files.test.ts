/**
 * The files shipped in deploy/ and systemd/ stay valid: the seed matrix parses, and the unit keeps
 * the settings the docs promise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
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

test('systemd/kage-coordinator.service: notify, watchdog, no restart into a config error, exposure ≤ 2.0', async (t) => {
  const file = `${root}systemd/kage-coordinator.service`;
  const unit = await readFile(file, 'utf8');
  for (const line of [
    'Type=notify',
    'NotifyAccess=all',
    'WatchdogSec=30s',
    'RestartPreventExitStatus=78 69',
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
