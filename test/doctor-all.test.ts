/**
 * `kage doctor --all` against a real `kage coordinator` and two real `kage agent`s on loopback.
 * Each agent supervises an `ollama` and an `exo` service whose health and version are answered by
 * emulators in this process (Ollama 0.32.15 on srv1, 0.30.1 on srv2; one emulated EXO cluster)
 * and by an EXO checkout per node, tagged v1.0.71 on srv1 and v1.0.70 on srv2: the mismatch the
 * doctor must name. The services' own processes are placeholders (`sleep`): what the agent checks
 * of a service is its health URL and version source, not the process behind them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DEFAULT_OLLAMA_MODELS, type RunningEmulator } from '@kage/emulators';
import {
  freePort,
  spawnDaemon,
  waitFor,
  writeCoordinatorConfig,
  type CoordinatorFiles,
  type DaemonProcess,
} from './src/coordinator-lab.js';
import { startExoCluster, startOllama } from './src/emulated-lab.js';
import { runKage } from './src/kage-process.js';

const NODES = ['srv1', 'srv2'] as const;
const EXO_TAGS = { srv1: 'v1.0.71', srv2: 'v1.0.70' } as const;

interface Check {
  id: string;
  node?: string;
  status: string;
  message: string;
  fix: string | null;
}

interface NodeView {
  id: string;
  status: string;
  services: { name: string; healthy: boolean; version: string | null }[];
  latest: { mem_used_bytes: number | null; mem_total_bytes: number | null } | null;
}

let dir: string;
let api: string;
let files: CoordinatorFiles;
let coordinator: DaemonProcess | undefined;
const agents: DaemonProcess[] = [];
const emulators: RunningEmulator[] = [];
const ollama = new Map<string, RunningEmulator>();
let exoUrl: string;
let hasGit = true;

/** The environment of a `kage` run: none of the operator variables of whoever runs the tests. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base = { ...process.env };
  delete base['KAGE_COORDINATOR'];
  delete base['KAGE_API_TOKEN'];
  return { ...base, ...extra };
}

async function doctor(args: readonly string[], extra: Record<string, string> = {}) {
  const r = await runKage(['doctor', '--all', ...args], 30_000, env(extra));
  return {
    ...r,
    report: args.includes('--json') ? (JSON.parse(r.stdout) as { status: string; checks: Check[] }) : null,
  };
}

function find(checks: readonly Check[], id: string, node?: string): Check {
  const found = checks.find((c) => c.id === id && c.node === node);
  assert.ok(found, `no ${id}${node === undefined ? '' : ` on ${node}`} in\n${JSON.stringify(checks, null, 1)}`);
  return found;
}

async function nodes(): Promise<NodeView[]> {
  return (await (await fetch(`${api}/api/v1/nodes`)).json()) as NodeView[];
}

/** An EXO checkout at `tag`, as install-exo.sh leaves /opt/exo; false when git is missing. */
function tagCheckout(path: string, tag: string): boolean {
  const git = (...args: string[]) =>
    spawnSync('git', ['-C', path, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { encoding: 'utf8' });
  if (git('init', '-q').error !== undefined) return false;
  git('commit', '-q', '--allow-empty', '-m', 'exo');
  git('tag', tag);
  return true;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kage-doctor-all-'));
  const grpcPort = await freePort();
  const httpPort = await freePort();
  api = `http://127.0.0.1:${httpPort}`;
  files = await writeCoordinatorConfig(dir, { grpcPort, httpPort, nodes: NODES });
  coordinator = spawnDaemon(['coordinator', '--config', files.config]);

  // srv2's Ollama is another version and lacks llama3.3:70b.
  ollama.set('srv1', await startOllama('cpu-server-ddr4'));
  ollama.set(
    'srv2',
    await (async () => {
      const { startOllamaEmulator, findHardwareProfile } = await import('@kage/emulators');
      const { pino } = await import('pino');
      return startOllamaEmulator({
        listen: { host: '127.0.0.1', port: 0 },
        profile: findHardwareProfile('cpu-server-ddr4')!,
        version: '0.30.1',
        models: DEFAULT_OLLAMA_MODELS.filter((m) => m.name !== 'llama3.3:70b'),
        deterministic: true,
        logger: pino({ level: 'silent' }),
      });
    })(),
  );
  const exo = await startExoCluster(NODES.map((name) => ({ name, profile: 'cpu-server-ddr4' })));
  emulators.push(...ollama.values(), ...exo);
  exoUrl = exo[0]!.url;

  await coordinator.waitForLog((l) => l['msg'] === 'coordinator started', 'coordinator started');
  for (const [i, node] of NODES.entries()) {
    const checkout = join(dir, `exo-${node}`);
    await mkdir(checkout);
    hasGit &&= tagCheckout(checkout, EXO_TAGS[node]);
    const o = ollama.get(node)!;
    const config = join(dir, `agent-${node}.yaml`);
    await writeFile(
      config,
      [
        `node: ${node}`,
        `coordinator: { url: "127.0.0.1:${grpcPort}", token: "${files.tokens[node]}", keepalive_time_ms: 2000, keepalive_timeout_ms: 2000 }`,
        'sample_interval_ms: 250',
        `buffer: { dir: buffer-${node}, max_age_s: 600 }`,
        'services:',
        `  ollama: { driver: process, command: [sleep, "600"], health: "${o.url}/", version_url: "${o.url}/api/version" }`,
        `  exo: { driver: process, command: [sleep, "600"], health: "${exo[i]!.url}/node_id", version_git: "${checkout}" }`,
        '',
      ].join('\n'),
    );
    agents.push(spawnDaemon(['agent', '--config', config], { STATE_DIRECTORY: join(dir, `state-${node}`) }));
  }
  // The agents probe health every 5 s: the versions arrive with the first healthy status.
  await waitFor(
    'both nodes online with healthy services and their versions',
    async () => {
      const list = await nodes();
      const ready = list.filter(
        (n) =>
          n.status === 'online' &&
          n.latest !== null &&
          n.services.length === 2 &&
          n.services.every((s) => s.healthy && (s.version !== null || (s.name === 'exo' && !hasGit))),
      );
      return ready.length === NODES.length ? list : undefined;
    },
    30_000,
  );
});

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await coordinator?.stop();
  await Promise.all(emulators.map((e) => e.close()));
  await rm(dir, { recursive: true, force: true });
});

test('kage doctor --all: every node online, one agent version, the services healthy with their versions; EXO at two versions fails naming both', async (t) => {
  if (!hasGit) {
    t.skip('git is not installed: no EXO checkout to read a tag from');
    return;
  }
  const { code, report } = await doctor(['--coordinator', api, '--json']);
  const checks = report!.checks;
  assert.equal(find(checks, 'nodes').status, 'pass');
  for (const node of NODES) {
    assert.equal(find(checks, 'online', node).status, 'pass');
    assert.equal(find(checks, 'exo', node).status, 'pass');
    assert.match(find(checks, 'exo', node).message, new RegExp(`^EXO ${EXO_TAGS[node]} is running and healthy$`));
  }
  assert.match(find(checks, 'ollama', 'srv1').message, /^Ollama 0\.32\.15 is running and healthy$/);
  assert.match(find(checks, 'ollama', 'srv2').message, /^Ollama 0\.30\.1 is running and healthy$/);
  assert.equal(find(checks, 'agent-version').status, 'pass');
  assert.equal(find(checks, 'ollama-version').status, 'warn');
  assert.match(find(checks, 'ollama-version').message, /srv1 0\.32\.15, srv2 0\.30\.1/);

  const exo = find(checks, 'exo-version');
  assert.equal(exo.status, 'fail');
  assert.match(exo.message, /EXO versions differ: srv1 v1\.0\.71, srv2 v1\.0\.70/);
  assert.match(exo.fix ?? '', /^on srv2: deploy\/install-exo\.sh .*--force/);
  assert.equal(report!.status, 'fail');
  assert.equal(code, 1);

  // Text: one line per check with its node; the fix under it.
  const text = await doctor(['--coordinator', api]);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /^fail {2} {6}exo-version +EXO versions differ: srv1 v1\.0\.71, srv2 v1\.0\.70/m);
  assert.match(text.stdout, /^pass {2}srv2 {2}ollama +Ollama 0\.30\.1 is running and healthy$/m);
  assert.match(text.stdout, /^ +fix: on srv2: deploy\/install-exo\.sh/m);
  assert.match(text.stdout, /worst: fail\n$/);
});

test('kage doctor --all with an inventory: a node off the pinned EXO tag is named, KAGE_COORDINATOR is read', async (t) => {
  if (!hasGit) {
    t.skip('git is not installed');
    return;
  }
  const inventory = join(dir, 'inventory.yaml');
  await writeFile(
    inventory,
    [
      'coordinator: { node: srv1 }',
      'exo: { version: v1.0.70 }',
      'nodes:',
      '  - { name: srv1, hostname: srv1, address: 127.0.0.1, token_file: t }',
      '  - { name: srv2, hostname: srv2, address: 127.0.0.2, token_file: t }',
      '',
    ].join('\n'),
  );
  const { report } = await doctor(['--inventory', inventory, '--json'], { KAGE_COORDINATOR: api });
  const exo = find(report!.checks, 'exo-version');
  assert.equal(exo.status, 'fail');
  assert.match(exo.message, /\(the lab is pinned to v1\.0\.70\)/);
  assert.match(exo.fix ?? '', /^on srv1: .*\(EXO v1\.0\.70\)$/);
});

test("kage doctor --all --matrix: each Ollama target's models against its node's memory, the EXO ids against the cluster's", async () => {
  const matrix = join(dir, 'matrix.yaml');
  const qwen = 'mlx-community/Qwen2.5-3B-Instruct-4bit';
  const llama = 'mlx-community/Llama-3.3-70B-Instruct-4bit';
  await writeFile(
    matrix,
    [
      'name: lab',
      'prompt: hi',
      'num_ctx: 4096',
      'targets:',
      `  - { id: ollama-srv1, kind: ollama, url: "${ollama.get('srv1')!.url}", nodes: [srv1] }`,
      `  - { id: ollama-srv2, kind: ollama, url: "${ollama.get('srv2')!.url}", nodes: [srv2] }`,
      `  - { id: exo-cluster, kind: exo, url: "${exoUrl}", nodes: [srv1, srv2, srv3] }`,
      'models:',
      `  - { name: "qwen2.5:3b", exo: "${qwen}" }`,
      `  - { name: "llama3.3:70b", exo: "${llama}" }`,
      '',
    ].join('\n'),
  );
  const { report } = await doctor(['--coordinator', api, '--matrix', matrix, '--json']);
  const checks = report!.checks;
  const list = await nodes();
  const available = (id: string): number => {
    const latest = list.find((n) => n.id === id)!.latest!;
    return latest.mem_total_bytes! - latest.mem_used_bytes!;
  };
  const tags = (await (await fetch(`${ollama.get('srv1')!.url}/api/tags`)).json()) as {
    models: { name: string; size: number }[];
  };
  const size = (name: string) => tags.models.find((m) => m.name === name)!.size;

  // Memory moves between the doctor's read and this one: only a model far from the line is judged.
  const qwenOnSrv1 = find(checks, 'model qwen2.5:3b', 'srv1');
  if (Math.abs(size('qwen2.5:3b') - available('srv1')) > 1e9) {
    assert.equal(qwenOnSrv1.status, size('qwen2.5:3b') < available('srv1') ? 'pass' : 'warn');
  }
  assert.match(qwenOnSrv1.message, /^pulled, 1\.9 GB of weights, \d+\.\d GB available$/);
  const llamaOnSrv2 = find(checks, 'model llama3.3:70b', 'srv2');
  assert.equal(llamaOnSrv2.status, 'warn');
  assert.equal(llamaOnSrv2.fix, 'ollama pull llama3.3:70b');

  // srv3 is in the EXO target but not in the lab: said, and the cluster's memory is then unknown.
  assert.match(find(checks, 'target exo-cluster').message, /^srv3 is not known to the coordinator$/);
  assert.equal(find(checks, `exo-model ${qwen}`).status, 'pass');
  assert.match(find(checks, `exo-model ${llama}`).message, /^EXO has its card \(\d+\.\d GB of weights\)$/);
});

test('kage doctor --all: the API token is checked when given (refused: exit 77); bad input exits 64 and 69', async () => {
  const tokenFile = join(dir, 'api.token');
  const wrongFile = join(dir, 'wrong.token');
  await writeFile(tokenFile, `${files.apiToken}\n`);
  await writeFile(wrongFile, 'not-the-api-token-0123456789\n');

  const ok = await doctor(['--coordinator', api, '--token-file', tokenFile, '--json']);
  assert.equal(find(ok.report!.checks, 'api-token').status, 'pass');
  const fromEnv = await doctor(['--coordinator', api, '--json'], { KAGE_API_TOKEN: files.apiToken });
  assert.equal(find(fromEnv.report!.checks, 'api-token').status, 'pass');
  const noToken = await doctor(['--coordinator', api, '--json']);
  assert.equal(
    noToken.report!.checks.find((c) => c.id === 'api-token'),
    undefined,
    'reads need no token: none given, none checked',
  );

  const refused = await doctor(['--coordinator', api, '--token-file', wrongFile]);
  assert.equal(refused.code, 77);
  assert.match(refused.stderr, /the coordinator refused the API token.*\[KAGE_ERR_UNAUTHORIZED\]/);
  assert.equal(refused.stdout, '');

  const stopped = `http://127.0.0.1:${await freePort()}`;
  const unreachable = await doctor(['--coordinator', stopped]);
  assert.equal(unreachable.code, 69);
  assert.match(
    unreachable.stderr,
    new RegExp(`cannot reach the coordinator at ${stopped.replace(/[.]/g, '\\.')} \\(connection refused\\)`),
  );

  const both = await doctor(['--node', 'srv1', '--coordinator', api]);
  assert.equal(both.code, 64);
  assert.match(both.stderr, /--all checks every node the coordinator knows; --node is for one node/);
  const notAll = await runKage(['doctor', '--coordinator', api], 30_000, env());
  assert.equal(notAll.code, 64);
  assert.match(notAll.stderr, /--coordinator goes with --all/);
});
