/**
 * The deploy inventory and `kage exo config`: the shipped example is valid and gives each node the
 * EXO flags that peer it with the others over Tailscale; a wrong inventory lists every problem
 * with file:line and exits 78; a wrong node is a usage error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exoLaunch } from '../src/inventory/exo-launch.js';
import { InventoryError, loadInventory, parseInventory } from '../src/inventory/inventory.js';
import { runKage } from './helpers/operator-coordinator.js';

const EXAMPLE = fileURLToPath(new URL('../../../../deploy/inventory.example.yaml', import.meta.url));

test('the example inventory: three nodes, the coordinator on srv1, defaults filled in, paths made absolute', async () => {
  const inv = await loadInventory(EXAMPLE);
  assert.deepEqual(
    inv.nodes.map((n) => [n.name, n.hostname, n.address]),
    [
      ['srv1', 'ndnlinuxsrv1', '100.77.248.9'],
      ['srv2', 'ndnlinuxsrv2', '100.113.166.1'],
      ['rog', 'rog-flow-z13', '100.93.122.109'],
    ],
  );
  assert.deepEqual(inv.coordinator, {
    node: 'srv1',
    grpcPort: 50551,
    httpPort: 7080,
    apiTokenFile: resolve(EXAMPLE, '../tokens/api.token'),
  });
  assert.deepEqual(inv.exo, { version: 'v1.0.71', extra: 'cpu', apiPort: 52415, libp2pPort: 30000 });
  assert.equal(inv.nodes[2]?.tokenFile, resolve(EXAMPLE, '../tokens/rog.token'));
  assert.ok(inv.nodes.every((n) => n.exo));
});

test("each node's EXO listens on the fixed libp2p port and dials every other EXO node", async () => {
  const inv = await loadInventory(EXAMPLE);
  const rog = exoLaunch(inv, inv.nodes[2]!);
  assert.deepEqual(rog.args, [
    '--api-port',
    '52415',
    '--libp2p-port',
    '30000',
    '--bootstrap-peers',
    '/ip4/100.77.248.9/tcp/30000,/ip4/100.113.166.1/tcp/30000',
  ]);
  const noExoOnSrv2 = parseInventory(
    `coordinator: { node: srv1 }\nnodes:\n  - { name: srv1, hostname: a, address: 10.0.0.1, token_file: t }\n` +
      `  - { name: srv2, hostname: b, address: 10.0.0.2, token_file: t2, exo: false }\n`,
    'two.yaml',
  );
  assert.deepEqual(
    exoLaunch(noExoOnSrv2, noExoOnSrv2.nodes[0]!).args,
    ['--api-port', '52415', '--libp2p-port', '30000'],
    'a node alone (the other runs no EXO) has no bootstrap peers',
  );
});

test('a wrong inventory lists every problem at once, each with file:line and key', () => {
  const text = [
    'coordinator:',
    '  node: srv9',
    '  http_port: 70800',
    'exo:',
    '  version: 1.0.71',
    '  colour: blue',
    'nodes:',
    '  - { name: srv1, hostname: a, address: 100.77.248.9, token_file: t1 }',
    '  - { name: srv1, hostname: b, address: 100.77.248, token_file: t2 }',
    '  - { name: Rog!, hostname: a, address: 100.93.122.109 }',
    '',
  ].join('\n');
  let err: unknown;
  try {
    parseInventory(text, 'bad.yaml');
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof InventoryError);
  assert.equal(err.code, 'KAGE_ERR_CONFIG_INVALID');
  const got = err.problems.map((p) => `${p.line}: ${p.path}: ${p.reason}`);
  for (const expected of [
    /^2: coordinator\.node: "srv9" is not one of the nodes \(srv1, Rog!\)/,
    /^3: coordinator\.http_port: must be a TCP port/,
    /^5: exo\.version: must be an EXO 1\.x git tag/,
    /^6: exo\.colour: unknown key/,
    /^9: nodes\[1\]\.name: "srv1" is already used by nodes\[0\]/,
    /^9: nodes\[1\]\.address: "100\.77\.248" is not an IPv4 address/,
    /^10: nodes\[2\]\.name: must be 1-63 lowercase letters/,
    /^10: nodes\[2\]\.hostname: "a" is already used by nodes\[0\]/,
    /^10: nodes\[2\]\.token_file: required key is missing/,
  ]) {
    assert.ok(
      got.some((g) => expected.test(g)),
      `${expected} in:\n${got.join('\n')}`,
    );
  }
  assert.ok(err.message.startsWith('invalid inventory bad.yaml ('));
});

test('kage exo config: one argument per line, a unit drop-in, an EnvironmentFile, JSON; bad inventories exit 78, a bad node 64', async (t) => {
  const peers = '/ip4/100.113.166.1/tcp/30000,/ip4/100.93.122.109/tcp/30000';
  // The default: the argv of `env` that starts EXO, the environment first.
  const args = await runKage(['exo', 'config', '--inventory', EXAMPLE, '--node', 'srv1']);
  assert.equal(args.code, 0, args.stderr);
  assert.deepEqual(args.stdout.trim().split('\n'), [
    'PYTHONUNBUFFERED=1',
    'NO_COLOR=1',
    '/opt/exo/.venv/bin/exo',
    '--api-port',
    '52415',
    '--libp2p-port',
    '30000',
    '--bootstrap-peers',
    peers,
  ]);

  const unit = await runKage(['exo', 'config', '--inventory', EXAMPLE, '--node', 'srv1', '--format', 'unit']);
  assert.equal(unit.code, 0, unit.stderr);
  const unitLines = unit.stdout.trim().split('\n');
  assert.equal(
    unitLines.filter((l) => !l.startsWith('#')).join('\n'),
    [
      '[Service]',
      'Environment=PYTHONUNBUFFERED=1',
      'Environment=NO_COLOR=1',
      'ExecStart=',
      `ExecStart=/opt/exo/.venv/bin/exo --api-port 52415 --libp2p-port 30000 --bootstrap-peers ${peers}`,
    ].join('\n'),
  );

  const env = await runKage(['exo', 'config', '--inventory', EXAMPLE, '--node', 'srv1', '--format', 'env']);
  assert.equal(env.code, 0, env.stderr);
  const lines = env.stdout.trim().split('\n');
  assert.match(lines[0]!, /^# EXO v1\.0\.71 on srv1 \(ndnlinuxsrv1, 100\.77\.248\.9\); backend: uv sync --extra cpu$/);
  assert.ok(lines.includes(`EXO_ARGS=--api-port 52415 --libp2p-port 30000 --bootstrap-peers ${peers}`), env.stdout);
  assert.ok(
    lines.every((l) => l.startsWith('#') || /^[A-Z_][A-Z0-9_]*=/.test(l)),
    'EnvironmentFile syntax',
  );

  const json = await runKage(['exo', 'config', '--inventory', EXAMPLE, '--node', 'rog', '--format', 'json']);
  assert.equal(json.code, 0, json.stderr);
  assert.equal((JSON.parse(json.stdout) as { node: string }).node, 'rog');

  const dir = await mkdtemp(join(tmpdir(), 'kage-inventory-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const bad = join(dir, 'inventory.yaml');
  await writeFile(bad, 'coordinator: { node: x }\nnodes: []\n');
  const invalid = await runKage(['exo', 'config', '--inventory', bad, '--node', 'x']);
  assert.equal(invalid.code, 78);
  assert.match(invalid.stderr, /inventory\.yaml:2:\d+: nodes: must list at least one node/);
  assert.match(invalid.stderr, /\[KAGE_ERR_CONFIG_INVALID\]/);

  const missing = await runKage(['exo', 'config', '--inventory', join(dir, 'none.yaml'), '--node', 'x']);
  assert.equal(missing.code, 78);
  assert.match(missing.stderr, /none\.yaml: cannot be read \(ENOENT\)/);

  const binary = join(dir, 'binary.yaml');
  await writeFile(binary, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]));
  const notText = await runKage(['exo', 'config', '--inventory', binary, '--node', 'x']);
  assert.equal(notText.code, 78);
  assert.match(notText.stderr, /not a text file/);

  const unknown = await runKage(['exo', 'config', '--inventory', EXAMPLE, '--node', 'srv3']);
  assert.equal(unknown.code, 64);
  assert.match(unknown.stderr, /--node srv3: .* has no such node \(nodes: srv1, srv2, rog\)/);
});
