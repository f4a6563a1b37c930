/**
 * `kage doctor` against a node made of emulators: Ollama answering (with its version), EXO on the
 * inventory's port, an EXO checkout at the pinned tag or at another one, and a port taken by
 * something that is not EXO. Output per check with its fix, JSON, and the exit code of the worst.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findHardwareProfile, startExoEmulator, startOllamaEmulator } from '@kage/emulators';
import { pino } from 'pino';
import { runKage } from './helpers/operator-coordinator.js';
import { checkExoModels } from '../src/doctor/exo-model-checks.js';

interface DoctorJson {
  status: string;
  checks: { id: string; node: string; status: string; message: string; fix: string | null }[];
}

const silent = pino({ level: 'silent' });
const profile = findHardwareProfile('cpu-server-ddr4')!;

async function exoCheckout(t: TestContext, tag: string): Promise<string | null> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-doctor-exo-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const git = (...args: string[]) =>
    spawnSync('git', ['-C', dir, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { encoding: 'utf8' });
  if (git('init', '-q').error !== undefined) return null;
  git('commit', '-q', '--allow-empty', '-m', 'x');
  git('tag', tag);
  await mkdir(join(dir, '.venv', 'bin'), { recursive: true });
  await writeFile(join(dir, '.venv', 'bin', 'exo'), '#!/bin/sh\n', { mode: 0o755 });
  return dir;
}

async function inventoryWithExoPort(t: TestContext, port: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-doctor-inv-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'inventory.yaml');
  await writeFile(
    file,
    `coordinator: { node: srv1 }\nexo: { api_port: ${port}, libp2p_port: 30000 }\nnodes:\n  - { name: srv1, hostname: srv1, address: 127.0.0.1, token_file: t }\n`,
  );
  return file;
}

test('kage doctor: Ollama and EXO answering, EXO at the pinned tag; each check with its node and fix; warnings exit 0', async (t) => {
  const ollama = await startOllamaEmulator({ listen: { host: '127.0.0.1', port: 0 }, profile, logger: silent });
  const exo = await startExoEmulator({ listen: { host: '127.0.0.1', port: 0 }, name: 'srv1', profile, logger: silent });
  t.after(() => Promise.all([ollama.close(), exo.close()]).then(() => undefined));
  const checkout = await exoCheckout(t, 'v1.0.71');
  if (checkout === null) {
    t.skip('git is not installed');
    return;
  }
  const inventory = await inventoryWithExoPort(t, exo.port);
  const args = ['doctor', '--inventory', inventory, '--node', 'srv1', '--ollama', ollama.url, '--exo-dir', checkout];

  const json = await runKage([...args, '--json']);
  const report = JSON.parse(json.stdout) as DoctorJson;
  const check = (id: string) => report.checks.find((c) => c.id === id)!;
  assert.equal(check('ollama').status, 'pass');
  assert.match(check('ollama').message, /^Ollama is running at http:\/\/127\.0\.0\.1:\d+ \(version \d+\.\d+\.\d+\)$/);
  assert.equal(check('exo-source').status, 'pass');
  assert.equal(check('exo-source').message, `EXO v1.0.71 in ${checkout}`);
  assert.equal(check('exo-ports').status, 'pass');
  assert.equal(check('node').status, 'pass');
  // uv and Tailscale are not on a test machine: warnings, each with its fix.
  for (const c of report.checks.filter((x) => x.status !== 'pass')) assert.ok(c.fix, `${c.id} has a fix`);
  assert.notEqual(report.status, 'fail', JSON.stringify(report.checks));
  assert.equal(json.code, 0, 'warnings alone do not fail doctor');
  assert.ok(
    report.checks.every((c) => c.node === 'srv1'),
    'every check names its node',
  );

  const text = await runKage(args);
  assert.match(text.stdout, /^pass {2}ollama {6}Ollama is running/m);
  assert.equal(text.code, json.code);
});

test('kage doctor fails on EXO at another tag, a port held by something else and no Ollama', async (t) => {
  const ollama = await startOllamaEmulator({ listen: { host: '127.0.0.1', port: 0 }, profile, logger: silent });
  t.after(() => ollama.close());
  const checkout = await exoCheckout(t, 'v1.0.70');
  if (checkout === null) {
    t.skip('git is not installed');
    return;
  }
  // EXO's API port taken by the Ollama emulator: not EXO.
  const inventory = await inventoryWithExoPort(t, ollama.port);
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const refused = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const r = await runKage([
    'doctor',
    '--inventory',
    inventory,
    '--ollama',
    `http://127.0.0.1:${refused}`,
    '--exo-dir',
    checkout,
    '--json',
  ]);
  assert.equal(r.code, 1);
  const report = JSON.parse(r.stdout) as DoctorJson;
  const check = (id: string) => report.checks.find((c) => c.id === id)!;
  assert.equal(report.status, 'fail');
  assert.equal(check('ollama').status, 'fail');
  assert.match(check('ollama').message, /does not answer \(ECONNREFUSED\)/);
  assert.equal(check('exo-source').status, 'fail');
  assert.match(check('exo-source').message, /is at v1\.0\.70, the lab is pinned to v1\.0\.71/);
  assert.match(check('exo-source').fix ?? '', /install-exo\.sh --force/);
  assert.equal(check('exo-ports').status, 'fail');
  assert.match(check('exo-ports').message, new RegExp(`port ${ollama.port} is used by something that is not EXO`));

  const badNode = await runKage(['doctor', '--inventory', inventory, '--node', 'srv9']);
  assert.equal(badNode.code, 64);
});

test('kage doctor --matrix: each model pulled on this Ollama and within the memory available, before any download', async (t) => {
  const ollama = await startOllamaEmulator({ listen: { host: '127.0.0.1', port: 0 }, profile, logger: silent });
  t.after(() => ollama.close());
  const dir = await mkdtemp(join(tmpdir(), 'kage-doctor-matrix-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const matrix = join(dir, 'matrix.yaml');
  await writeFile(
    matrix,
    [
      'name: m',
      'prompt: hi',
      'num_ctx: 4096',
      `targets: [{ id: o, kind: ollama, url: "${ollama.url}" }]`,
      'models: [{ name: "qwen2.5:3b" }, { name: "llama3.3:70b" }, { name: "mistral:7b" }]',
    ].join('\n'),
  );
  const r = await runKage(['doctor', '--ollama', ollama.url, '--matrix', matrix, '--json']);
  const report = JSON.parse(r.stdout) as DoctorJson;
  const check = (id: string) => report.checks.find((c) => c.id === id)!;
  const available = Number(/^MemAvailable:\s+(\d+) kB$/m.exec(await readFile('/proc/meminfo', 'utf8'))?.[1]) * 1024;
  const tags = (await (await fetch(`${ollama.url}/api/tags`)).json()) as { models: { name: string; size: number }[] };
  for (const name of ['qwen2.5:3b', 'llama3.3:70b']) {
    const size = tags.models.find((m) => m.name === name)!.size;
    const c = check(`model ${name}`);
    assert.equal(c.status, size <= available ? 'pass' : 'warn', `${name}: ${c.message}`);
    if (size > available) assert.match(c.message, /this node cannot run it alone/);
  }
  assert.equal(check('model mistral:7b').status, 'warn');
  assert.equal(check('model mistral:7b').fix, 'ollama pull mistral:7b');

  await writeFile(matrix, 'name: m\n');
  const bad = await runKage(['doctor', '--ollama', ollama.url, '--matrix', matrix]);
  assert.equal(bad.code, 78, 'a bad matrix is a bad input, before any check');
});

test('kage doctor --matrix: EXO model ids as EXO resolves them — its cards, else a Hugging Face repository', async (t) => {
  const exo = await startExoEmulator({ listen: { host: '127.0.0.1', port: 0 }, name: 'srv1', profile, logger: silent });
  const ollama = await startOllamaEmulator({ listen: { host: '127.0.0.1', port: 0 }, profile, logger: silent });
  t.after(() => Promise.all([exo.close(), ollama.close()]).then(() => undefined));
  const inventory = await inventoryWithExoPort(t, exo.port);
  const dir = await mkdtemp(join(tmpdir(), 'kage-doctor-exo-ids-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const matrix = join(dir, 'matrix.yaml');
  const builtIn = 'mlx-community/Llama-3.2-3B-Instruct-4bit';
  const onHub = 'mlx-community/Qwen2.5-7B-Instruct-4bit';
  const typo = 'mlxcommunity/Qwen2.5-7B-Instruct-4bit';
  await writeFile(
    matrix,
    [
      'name: m',
      'prompt: hi',
      'num_ctx: 4096',
      `targets: [{ id: e, kind: exo, url: "${exo.url}", nodes: [srv1] }]`,
      'models:',
      `  - { name: "llama3.2:3b", exo: "${builtIn}" }`,
      // The name as written, without its default tag: Ollama resolves it to qwen2.5:latest.
      `  - { name: "qwen2.5", exo: "${onHub}" }`,
      `  - { name: "registry.ollama.ai/library/qwen2.5:3b", exo: "${typo}" }`,
    ].join('\n'),
  );
  const r = await runKage(['doctor', '--inventory', inventory, '--ollama', ollama.url, '--matrix', matrix, '--json']);
  const report = JSON.parse(r.stdout) as DoctorJson;
  const check = (id: string) => {
    const found = report.checks.find((c) => c.id === id);
    assert.ok(found, `no ${id} in ${r.stdout}`);
    return found;
  };
  assert.equal(check(`exo-model ${builtIn}`).status, 'pass');
  assert.match(check(`exo-model ${builtIn}`).message, /EXO has its card \(\d+\.\d GB of weights\)/);
  assert.equal(check(`exo-model ${onHub}`).status, 'pass');
  assert.match(check(`exo-model ${onHub}`).message, /EXO fetches it from Hugging Face when it places it/);
  assert.equal(check(`exo-model ${typo}`).status, 'fail');
  assert.match(check(`exo-model ${typo}`).fix ?? '', new RegExp(`Hugging Face has ${onHub.replace(/[.]/g, '\\.')}`));
  assert.equal(r.code, 1);
  // Ollama names resolve as Ollama resolves them: the registry and library/ prefix, the default tag.
  assert.equal(check('model registry.ollama.ai/library/qwen2.5:3b').status, 'pass');
  assert.equal(check('model qwen2.5').status, 'warn', 'qwen2.5 is qwen2.5:latest, which is not pulled');
  assert.equal(check('model qwen2.5').fix, 'ollama pull qwen2.5');
  // Nothing was added to EXO: the doctor only looks.
  const cards = (await (await fetch(`${exo.url}/models`)).json()) as { data: { id: string }[] };
  assert.ok(!cards.data.some((c) => c.id === onHub));
});

test('EXO model ids when EXO cannot say: not listening, Hugging Face out of reach, too little memory together', async (t) => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const refused = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const down = await checkExoModels(`http://127.0.0.1:${refused}`, ['mlx-community/Qwen2.5-7B-Instruct-4bit']);
  assert.deepEqual(
    down.checks.map((c) => [c.id, c.status]),
    [['exo-models', 'warn']],
  );
  assert.match(down.checks[0]!.message, /ECONNREFUSED/);

  // An EXO node whose search fails, as when it has no route to Hugging Face (EXO answers 500).
  const exo = await startExoEmulator({ listen: { host: '127.0.0.1', port: 0 }, name: 'srv1', profile, logger: silent });
  const offline = createHttpServer((req, res) => {
    if (req.url?.startsWith('/models/search') === true) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal Server Error');
      return;
    }
    void fetch(`${exo.url}${req.url ?? '/'}`).then(async (r) => res.writeHead(r.status).end(await r.text()));
  });
  await new Promise<void>((resolve) => offline.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    offline.close();
    await exo.close();
  });
  const url = `http://127.0.0.1:${(offline.address() as AddressInfo).port}`;
  const llama = 'mlx-community/Llama-3.3-70B-Instruct-4bit';
  const qwen = 'mlx-community/Qwen2.5-7B-Instruct-4bit';
  const { checks, resolved } = await checkExoModels(url, [llama, qwen], 8e9);
  const byId = new Map(checks.map((c) => [c.id, c]));
  assert.equal(byId.get(`exo-model ${llama}`)?.status, 'warn');
  assert.match(byId.get(`exo-model ${llama}`)?.message ?? '', /8\.0 GB available together: EXO cannot place it/);
  assert.equal(byId.get(`exo-model ${qwen}`)?.status, 'warn');
  assert.match(byId.get(`exo-model ${qwen}`)?.message ?? '', /could not search Hugging Face \(HTTP 500\)/);
  assert.deepEqual(
    resolved.map((r) => r.id),
    [llama],
  );
});
