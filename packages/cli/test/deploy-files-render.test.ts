/**
 * `kage deploy files`: what a node gets from the inventory. The rendered agent and coordinator
 * configs are loaded by the real loaders (so the scripts never install a config the daemons
 * refuse), the exo unit passes systemd-analyze, tokens stay 0600, and a missing or weak token file
 * is named before anything is written.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAgentConfig } from '@kage/agent';
import { loadCoordinatorConfig } from '@kage/coordinator';
import { runKage } from './helpers/operator-coordinator.js';

const EXAMPLE = fileURLToPath(new URL('../../../../deploy/inventory.example.yaml', import.meta.url));

/** The example inventory beside fresh token files, in a temp dir. */
async function lab(t: TestContext): Promise<{ dir: string; inventory: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-deploy-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'tokens'));
  for (const name of ['srv1', 'srv2', 'rog', 'api']) {
    await writeFile(join(dir, 'tokens', `${name}.token`), `${name}-${'0123456789abcdef'.repeat(2)}\n`, { mode: 0o600 });
  }
  const inventory = join(dir, 'inventory.yaml');
  await copyFile(EXAMPLE, inventory);
  return { dir, inventory };
}

/** A rendered config with /etc/kage pointing into the render directory, so the loaders find its files. */
async function relocated(out: string, file: string): Promise<string> {
  const path = join(out, file);
  const text = (await readFile(path, 'utf8'))
    .replaceAll('/etc/kage/', `${out}/etc/kage/`)
    .replaceAll('/var/lib/kage/', `${out}/var/`);
  const copy = `${path}.local.yaml`;
  await writeFile(copy, text, { mode: 0o640 });
  return copy;
}

test('the coordinator node gets the agent, EXO and coordinator files; the real loaders accept the configs', async (t) => {
  const { dir, inventory } = await lab(t);
  const out = join(dir, 'out');
  const r = await runKage(['deploy', 'files', '--inventory', inventory, '--node', 'srv1', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    '0600 kage:kage /etc/kage/agent-tokens.yaml',
    '0600 kage:kage /etc/kage/agent.token',
    '0640 root:kage /etc/kage/agent.yaml',
    '0600 kage:kage /etc/kage/api.token',
    '0640 root:kage /etc/kage/coordinator.yaml',
    '0644 root:root /etc/kage/exo.env',
    '0644 root:root /etc/systemd/system/exo.service',
  ]);
  assert.equal((await stat(out)).mode & 0o777, 0o700, 'the render directory holds tokens');
  assert.equal((await stat(join(out, 'etc/kage/agent-tokens.yaml'))).mode & 0o777, 0o600);

  const agent = await loadAgentConfig(await relocated(out, 'etc/kage/agent.yaml'));
  assert.equal(agent.node, 'srv1');
  assert.deepEqual(Object.keys(agent.services), ['ollama', 'exo']);
  const coordinator = await loadCoordinatorConfig(await relocated(out, 'etc/kage/coordinator.yaml'));
  assert.deepEqual([...coordinator.agentTokens.keys()].sort(), ['rog', 'srv1', 'srv2']);
  assert.equal(coordinator.agentTokens.get('rog'), `rog-${'0123456789abcdef'.repeat(2)}`);

  const env = await readFile(join(out, 'etc/kage/exo.env'), 'utf8');
  assert.match(
    env,
    /^EXO_ARGS=--api-port 52415 --libp2p-port 30000 --bootstrap-peers \/ip4\/100\.113\.166\.1\/tcp\/30000,\/ip4\/100\.93\.122\.109\/tcp\/30000$/m,
  );
  const verify = spawnSync('systemd-analyze', ['verify', join(out, 'etc/systemd/system/exo.service')], {
    encoding: 'utf8',
  });
  if (verify.error === undefined) {
    const ours = verify.stderr
      .split('\n')
      .filter((l) => l.includes('exo.service') && !/Command .* is not executable/.test(l));
    assert.deepEqual(ours, [], 'the exo unit has no unknown or misspelt key');
  }
});

test('another node gets only the agent and EXO files; a missing or weak token file is named, nothing written', async (t) => {
  const { dir, inventory } = await lab(t);
  const out = join(dir, 'rog');
  const r = await runKage(['deploy', 'files', '--inventory', inventory, '--node', 'rog', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[2]),
    ['/etc/kage/agent.token', '/etc/kage/agent.yaml', '/etc/kage/exo.env', '/etc/systemd/system/exo.service'],
  );
  assert.match(await readFile(join(out, 'etc/kage/agent.yaml'), 'utf8'), /url: 100\.77\.248\.9:50551/);

  await writeFile(join(dir, 'tokens', 'srv2.token'), 'short\n');
  const weak = await runKage([
    'deploy',
    'files',
    '--inventory',
    inventory,
    '--node',
    'srv2',
    '--out',
    join(dir, 'weak'),
  ]);
  assert.equal(weak.code, 78);
  assert.match(weak.stderr, /srv2\.token: must hold one token of at least 16 printable ASCII characters/);
  await writeFile(join(dir, 'tokens', 'srv2.token'), `srv2-${'0123456789abcdef'.repeat(2)}\n`);
  await rm(join(dir, 'tokens', 'rog.token'));
  const missing = await runKage([
    'deploy',
    'files',
    '--inventory',
    inventory,
    '--node',
    'srv1',
    '--out',
    join(dir, 'x'),
  ]);
  assert.equal(missing.code, 78);
  assert.match(missing.stderr, /rog\.token: token file cannot be read \(ENOENT\)/);
  await assert.rejects(stat(join(dir, 'x')), 'nothing written');
});
