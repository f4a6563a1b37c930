/**
 * The files shipped in deploy/ and systemd/ stay valid: the seed matrix parses, and the unit keeps
 * the settings the docs promise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
