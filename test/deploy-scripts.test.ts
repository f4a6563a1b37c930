/**
 * The deploy scripts, run for real as child processes: shellcheck-clean; `--dry-run` prints the plan
 * against the example inventory and changes nothing; a staged install (`--root DIR`) writes every
 * file with its mode, and a second run changes nothing and says so; a unit edited by hand is only
 * overwritten with --force; bad arguments exit 64 and a bad inventory 78. (Real users, systemctl
 * and a booted systemd are the container test's part.)
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { appendFile, copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPTS = [
  'deploy/install-agent.sh',
  'deploy/install-coordinator.sh',
  'deploy/rollback.sh',
  'deploy/install-exo.sh',
  'deploy/lib/install-common.sh',
];

function run(script: string, args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync('bash', [join(root, script), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The example inventory with its token files, and an empty staging root. */
async function lab(t: TestContext): Promise<{ inventory: string; stage: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-deploy-scripts-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'tokens'));
  for (const n of ['srv1', 'srv2', 'rog', 'api']) {
    await writeFile(join(dir, 'tokens', `${n}.token`), `${n}-tok-0123456789abcdef\n`, { mode: 0o600 });
  }
  const inventory = join(dir, 'inventory.yaml');
  await copyFile(join(root, 'deploy/inventory.example.yaml'), inventory);
  const stage = join(dir, 'stage');
  await mkdir(stage);
  return { inventory, stage };
}

test('the deploy scripts are shellcheck-clean', (t) => {
  const r = spawnSync('shellcheck', ['-x', ...SCRIPTS], { cwd: root, encoding: 'utf8' });
  if (r.error !== undefined) {
    t.skip('shellcheck is not installed');
    return;
  }
  assert.equal(r.status, 0, r.stdout);
});

test('--dry-run prints the whole plan for the example inventory and changes nothing', async (t) => {
  const { inventory, stage } = await lab(t);
  const agent = run('deploy/install-agent.sh', [
    '--inventory',
    inventory,
    '--node',
    'rog',
    '--dry-run',
    '--root',
    stage,
  ]);
  assert.equal(agent.code, 0, agent.err);
  for (const line of [
    `would run: ln -sfn ${root.replace(/\/$/, '')} ${stage}/opt/kage`,
    'would install (new): /etc/kage/agent.token (mode 0600, kage:kage)',
    'would install (new): /etc/kage/agent.yaml (mode 0640, root:kage)',
    'would install (new): /etc/polkit-1/rules.d/50-kage-agent.rules (mode 0644, root:root)',
    'would install (new): /etc/systemd/system/kage-agent.service (mode 0644, root:root)',
  ]) {
    assert.ok(agent.out.split('\n').includes(line), `${line}\nin:\n${agent.out}`);
  }
  assert.match(agent.out, /change\(s\) planned for the Kage agent on rog \(dry run: nothing was changed\)$/m);
  const coordinator = run('deploy/install-coordinator.sh', ['--inventory', inventory, '--dry-run', '--root', stage]);
  assert.equal(coordinator.code, 0, coordinator.err);
  assert.match(coordinator.out, /would install \(new\): \/etc\/kage\/agent-tokens\.yaml \(mode 0600, kage:kage\)/);
  assert.match(coordinator.out, /would install \(new\): \/etc\/systemd\/system\/kage-coordinator\.service/);
  assert.deepEqual(await readdir(stage), [], 'a dry run writes nothing');
});

test('a staged install writes every file with its mode; the second run changes nothing; hand edits need --force', async (t) => {
  const { inventory, stage } = await lab(t);
  const first = run('deploy/install-agent.sh', ['--inventory', inventory, '--node', 'srv1', '--root', stage]);
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /installed \(new\): \/etc\/kage\/agent\.yaml/);
  assert.equal((await stat(join(stage, 'etc/kage/agent.token'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(stage, 'etc/kage/agent.yaml'))).mode & 0o777, 0o640);
  assert.equal((await readFile(join(stage, 'etc/kage/agent.token'), 'utf8')).trim(), 'srv1-tok-0123456789abcdef');
  assert.equal(
    await readFile(join(stage, 'etc/systemd/system/kage-agent.service'), 'utf8'),
    await readFile(join(root, 'systemd/kage-agent.service'), 'utf8'),
  );

  const again = run('deploy/install-agent.sh', ['--inventory', inventory, '--node', 'srv1', '--root', stage]);
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /^nothing to change: the Kage agent on srv1 is installed as the inventory says$/m);
  assert.doesNotMatch(again.out, /^(installed \(|run: )/m);

  const unit = join(stage, 'etc/systemd/system/kage-agent.service');
  await appendFile(unit, 'Environment=EDITED=1\n');
  const refused = run('deploy/install-agent.sh', ['--inventory', inventory, '--node', 'srv1', '--root', stage]);
  assert.equal(refused.code, 65);
  assert.match(refused.err, /kage-agent\.service was changed since it was installed \(by hand\?\); rerun with --force/);
  assert.match(refused.out, /^ {2}-Environment=EDITED=1$/m, 'the diff shows what would be lost');
  assert.match(await readFile(unit, 'utf8'), /EDITED/, 'nothing overwritten');
  const forced = run('deploy/install-agent.sh', [
    '--inventory',
    inventory,
    '--node',
    'srv1',
    '--root',
    stage,
    '--force',
  ]);
  assert.equal(forced.code, 0, forced.err);
  assert.match(forced.out, /installed \(changed\): \/etc\/systemd\/system\/kage-agent\.service/);

  // An upgrade: the installed unit is exactly what an earlier version shipped (its recorded sum
  // matches), and this checkout ships another. That is replaced without --force.
  const record = join(stage, 'etc/kage/.installed/_etc_systemd_system_kage-agent.service.sha256');
  assert.match(await readFile(record, 'utf8'), /^[0-9a-f]{64}\n$/);
  const older = '# the unit as an older Kage shipped it\n[Service]\nExecStart=/bin/true\n';
  await writeFile(unit, older);
  await writeFile(record, `${createHash('sha256').update(older).digest('hex')}\n`);
  const upgraded = run('deploy/install-agent.sh', ['--inventory', inventory, '--node', 'srv1', '--root', stage]);
  assert.equal(upgraded.code, 0, upgraded.err);
  assert.match(
    upgraded.out,
    /installed \(upgraded: untouched since installed\): \/etc\/systemd\/system\/kage-agent\.service/,
  );
  assert.equal(await readFile(unit, 'utf8'), await readFile(join(root, 'systemd/kage-agent.service'), 'utf8'));

  // A changed inventory re-renders the generated config (it says so in its header), unguarded.
  await writeFile(inventory, (await readFile(inventory, 'utf8')).replace('grpc_port: 50551', 'grpc_port: 50552'));
  const changed = run('deploy/install-agent.sh', ['--inventory', inventory, '--node', 'srv1', '--root', stage]);
  assert.equal(changed.code, 0, changed.err);
  assert.match(changed.out, /installed \(changed\): \/etc\/kage\/agent\.yaml/);
  assert.match(await readFile(join(stage, 'etc/kage/agent.yaml'), 'utf8'), /100\.77\.248\.9:50552/);
});

test('bad arguments exit 64, a bad inventory 78 with its problems, nothing written', async (t) => {
  const { inventory, stage } = await lab(t);
  const missing = run('deploy/install-agent.sh', ['--inventory', inventory]);
  assert.equal(missing.code, 64);
  assert.match(missing.err, /usage: .* --inventory FILE --node NAME/);
  assert.equal(run('deploy/install-agent.sh', ['--bogus']).code, 64);
  const unknownNode = run('deploy/install-agent.sh', ['--inventory', inventory, '--node', 'srv9', '--root', stage]);
  assert.equal(unknownNode.code, 64);
  assert.match(unknownNode.err, /--node srv9: .* has no such node \(nodes: srv1, srv2, rog\)/);

  await writeFile(
    inventory,
    'coordinator: { node: srv1 }\nnodes: [{ name: srv1, hostname: a, address: nope, token_file: t }]\n',
  );
  const bad = run('deploy/install-coordinator.sh', ['--inventory', inventory, '--root', stage]);
  assert.equal(bad.code, 78);
  assert.match(bad.err, /inventory\.yaml:2:\d+: nodes\[0\]\.address: "nope" is not an IPv4 address/);
  assert.deepEqual(await readdir(stage), []);
});

test("rollback removes everything the installers put there, leaves Ollama's files alone, and a second run finds nothing", async (t) => {
  const { inventory, stage } = await lab(t);
  assert.equal(run('deploy/install-coordinator.sh', ['--inventory', inventory, '--root', stage]).code, 0);
  assert.equal(run('deploy/install-agent.sh', ['--inventory', inventory, '--node', 'srv1', '--root', stage]).code, 0);
  // Ollama's unit and models, as a real node has them.
  await mkdir(join(stage, 'usr/share/ollama/.ollama/models'), { recursive: true });
  await writeFile(join(stage, 'usr/share/ollama/.ollama/models/blob'), 'weights');
  await writeFile(
    join(stage, 'etc/systemd/system/ollama.service'),
    '[Service]\nExecStart=/usr/local/bin/ollama serve\n',
  );

  const plan = run('deploy/rollback.sh', ['--inventory', inventory, '--node', 'srv1', '--root', stage, '--dry-run']);
  assert.equal(plan.code, 0, plan.err);
  for (const path of [
    '/etc/systemd/system/kage-agent.service',
    '/etc/systemd/system/kage-coordinator.service',
    '/etc/polkit-1/rules.d/50-kage-agent.rules',
    '/etc/kage',
  ]) {
    assert.ok(plan.out.includes(`would run: rm -rf ${stage}${path}`), `${path} in:\n${plan.out}`);
  }
  assert.ok(plan.out.includes(`would run: rm -f ${stage}/opt/kage`));
  assert.doesNotMatch(plan.out, /ollama/);

  const done = run('deploy/rollback.sh', ['--inventory', inventory, '--node', 'srv1', '--root', stage]);
  assert.equal(done.code, 0, done.err);
  await assert.rejects(stat(join(stage, 'etc/kage')));
  await assert.rejects(stat(join(stage, 'etc/systemd/system/kage-agent.service')));
  await assert.rejects(stat(join(stage, 'opt/kage')));
  assert.equal(await readFile(join(stage, 'usr/share/ollama/.ollama/models/blob'), 'utf8'), 'weights');
  assert.match(await readFile(join(stage, 'etc/systemd/system/ollama.service'), 'utf8'), /ollama serve/);

  const twice = run('deploy/rollback.sh', ['--inventory', inventory, '--node', 'srv1', '--root', stage]);
  assert.equal(twice.code, 0, twice.err);
  assert.match(twice.out, /^nothing to remove: no Kage or EXO left on srv1$/m);
  assert.equal(run('deploy/rollback.sh', ['--inventory', inventory, '--node', 'srv7', '--root', stage]).code, 64);
});

test('install-exo: the plan clones the pinned tag and builds with uv; a local --source installs; another version needs --force', async (t) => {
  const { inventory, stage } = await lab(t);
  const plan = run('deploy/install-exo.sh', ['--inventory', inventory, '--node', 'srv2', '--dry-run']);
  assert.equal(plan.code, 0, plan.err);
  assert.match(
    plan.out,
    /^would run: git clone --branch v1\.0\.71 --depth 1 https:\/\/github\.com\/exo-explore\/exo \/opt\/exo$/m,
  );
  assert.match(plan.out, /uv sync --extra 'cpu'/);
  assert.match(plan.out, /would install \(new\): \/etc\/kage\/exo\.env/);
  assert.doesNotMatch(plan.out, /pip install/);

  const source = await mkdtemp(join(tmpdir(), 'kage-exo-src-'));
  t.after(() => rm(source, { recursive: true, force: true }));
  await writeFile(join(source, 'pyproject.toml'), '[project]\nname = "exo"\n');
  const staged = run('deploy/install-exo.sh', [
    '--inventory',
    inventory,
    '--node',
    'srv2',
    '--root',
    stage,
    '--source',
    source,
  ]);
  assert.equal(staged.code, 0, staged.err);
  assert.match(await readFile(join(stage, 'opt/exo/pyproject.toml'), 'utf8'), /name = "exo"/);
  assert.match(
    await readFile(join(stage, 'etc/kage/exo.env'), 'utf8'),
    /^EXO_ARGS=--api-port 52415 --libp2p-port 30000 --bootstrap-peers \/ip4\/100\.77\.248\.9\/tcp\/30000,\/ip4\/100\.93\.122\.109\/tcp\/30000$/m,
  );
  assert.match(
    await readFile(join(stage, 'etc/systemd/system/exo.service'), 'utf8'),
    /^ExecStart=\/opt\/exo\/\.venv\/bin\/exo \$EXO_ARGS$/m,
  );
  const again = run('deploy/install-exo.sh', [
    '--inventory',
    inventory,
    '--node',
    'srv2',
    '--root',
    stage,
    '--source',
    source,
  ]);
  assert.match(again.out, /^nothing to change: EXO v1\.0\.71 on srv2 is installed as the inventory says$/m);

  // An /opt/exo checked out at another tag is not replaced silently.
  const other = join(stage, 'opt/exo');
  await rm(other, { recursive: true });
  await mkdir(other);
  const git = (...args: string[]) =>
    spawnSync('git', ['-C', other, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { encoding: 'utf8' });
  if (git('init', '-q').error !== undefined) {
    t.diagnostic('git is not installed: the version check was not exercised');
    return;
  }
  git('commit', '-q', '--allow-empty', '-m', 'x');
  git('tag', 'v1.0.70');
  const older = run('deploy/install-exo.sh', ['--inventory', inventory, '--node', 'srv2', '--root', stage]);
  assert.equal(older.code, 65);
  assert.match(older.err, /\/opt\/exo holds EXO v1\.0\.70, not v1\.0\.71; rerun with --force/);

  await writeFile(
    inventory,
    (await readFile(inventory, 'utf8')).replace(
      '    token_file: tokens/srv2.token',
      '    token_file: tokens/srv2.token\n    exo: false',
    ),
  );
  const none = run('deploy/install-exo.sh', ['--inventory', inventory, '--node', 'srv2', '--root', stage]);
  assert.equal(none.code, 64);
  assert.match(none.err, /node srv2 runs no EXO \(exo: false/);
});
