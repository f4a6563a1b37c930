/**
 * `kage bench run` and `kage report` as a user runs them: real CLI processes against emulators,
 * a real SQLite file, and verdicts checked against what the timing model predicts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  DEFAULT_EXO_MODELS,
  DEFAULT_OLLAMA_MODELS,
  decodeSecondsPerToken,
  type RunningEmulator,
} from '@kage/emulators';
import { profile, startExoCluster, startOllama } from './src/emulated-lab.js';
import { KAGE_BIN, runKage } from './src/kage-process.js';

const OLLAMA_MODEL = 'qwen2.5:3b';
const EXO_MODEL = 'mlx-community/Qwen2.5-3B-Instruct-4bit';

interface ReportJson {
  schema: string;
  run: { id: string; status: string };
  cells: Array<{
    model: string;
    target: string;
    successes: number;
    success_rate: number;
    decode_tps: { median: number };
  }>;
  decisions: Array<{
    model: string;
    baseline: string | null;
    speedup: number | null;
    verdict: string;
    cluster_ok: boolean;
  }>;
  recommendation: { verdict: string; reasons: string[] };
}

interface ExoShardState {
  instances: Record<
    string,
    {
      MlxRingInstance: {
        shardAssignments: {
          nodeToRunner: Record<string, string>;
          runnerToShard: Record<
            string,
            { PipelineShardMetadata: { startLayer: number; endLayer: number; nLayers: number } }
          >;
        };
      };
    }
  >;
  nodeIdentities: Record<string, { friendlyName: string }>;
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-bench-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function matrix(targets: object[], decision: object): object {
  return {
    name: 'bench-cli-test',
    prompt: 'Write a Python function that implements binary search.',
    // Long enough that a scheduling hiccup of a loaded test machine moves the decode rate by a few
    // percent, not by the tolerance.
    max_tokens: 48,
    repetitions: 3,
    warmup: 1,
    temperature: 0,
    seed: 1,
    targets,
    models: [{ name: OLLAMA_MODEL, exo: EXO_MODEL }],
    decision: { go_speedup: 0.3, evaluate_speedup: 0.1, max_ttft_ratio: 2, ...decision },
  };
}

/** Per-token seconds the timing model predicts for the EXO instance as it was placed. */
async function predictedExoTps(nodes: RunningEmulator[], profileByName: Record<string, string>): Promise<number> {
  const state = (await (await fetch(`${nodes[0]!.url}/state`)).json()) as ExoShardState;
  const instance = Object.values(state.instances)[0]?.MlxRingInstance;
  assert.ok(instance, 'the instance stays placed after the run');
  const storage = DEFAULT_EXO_MODELS.find((m) => m.id === EXO_MODEL)!.storageBytes;
  let seconds = 0;
  const stages = Object.entries(instance.shardAssignments.nodeToRunner);
  for (const [nodeId, runnerId] of stages) {
    const shard = instance.shardAssignments.runnerToShard[runnerId]!.PipelineShardMetadata;
    const name = state.nodeIdentities[nodeId]!.friendlyName;
    const cpu = profile(profileByName[name]!).cpu; // EXO 1.x on Linux runs on the CPU only
    seconds += decodeSecondsPerToken((storage * (shard.endLayer - shard.startLayer)) / shard.nLayers, cpu);
  }
  const hops = stages.length > 1 ? stages.length : 0;
  return 1 / (seconds + hops * 0.001);
}

function ollamaTps(profileId: string): number {
  const p = profile(profileId);
  const size = DEFAULT_OLLAMA_MODELS.find((m) => m.name === OLLAMA_MODEL)!.sizeBytes;
  return 1 / decodeSecondsPerToken(size, p.gpu ?? p.cpu);
}

function assertClose(actual: number, expected: number, relative: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= Math.abs(expected) * relative,
    `${what}: measured ${actual.toFixed(2)}, timing model ${expected.toFixed(2)} (±${relative * 100} %)`,
  );
}

test('bench run + report: a 3-node EXO pipeline loses to the 8060S GPU, as the timing model predicts (shelve)', async (t) => {
  const dir = await tempDir(t);
  const srv1 = await startOllama('cpu-server-ddr4');
  const rog = await startOllama('strix-halo-8060s-32gb');
  const profiles = { srv1: 'cpu-server-ddr4', srv2: 'cpu-server-ddr4', rog: 'strix-halo-8060s-32gb' };
  const exo = await startExoCluster(Object.entries(profiles).map(([name, p]) => ({ name, profile: p })));
  t.after(() => Promise.all([srv1, rog, ...exo].map((e) => e.close())).then(() => undefined));

  const file = join(dir, 'matrix.yaml');
  await writeFile(
    file,
    stringify(
      matrix(
        [
          { id: 'ollama-srv1', kind: 'ollama', url: srv1.url, nodes: ['srv1'] },
          { id: 'ollama-rog', kind: 'ollama', url: rog.url, nodes: ['rog'] },
          { id: 'exo-cluster', kind: 'exo', url: exo[1]!.url, nodes: ['srv1', 'srv2', 'rog'] },
        ],
        { candidate: 'exo-cluster', baselines: ['ollama-srv1', 'ollama-rog'] },
      ),
    ),
  );
  const db = join(dir, 'results.db');
  const run = await runKage(['bench', 'run', '--matrix', file, '--db', db], 120_000);
  assert.equal(run.code, 0, run.stderr);
  const runId = run.stdout.trim().split('\n').at(-1)!;
  assert.match(runId, /^[0-9A-HJKMNP-TV-Z]{26}$/, 'the run id is the last stdout line');
  assert.match(run.stderr, /cell 3\/3 qwen2\.5:3b × exo-cluster: completed/, 'plain progress lines off a TTY');
  assert.match(
    run.stderr,
    /^warning: \S*matrix\.yaml: num_ctx is not set: every Ollama request \(ollama-srv1, ollama-rog\) asks for 4096 tokens/m,
    'a matrix without num_ctx is run, with a warning first',
  );

  const json = await runKage(['report', runId, '--db', db, '--format', 'json']);
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as ReportJson;
  assert.equal(report.schema, 'kage.report/v1');
  assert.equal(report.run.id, runId);
  assert.equal(report.run.status, 'completed');
  const cell = (target: string) => report.cells.find((c) => c.target === target)!;
  for (const target of ['ollama-srv1', 'ollama-rog', 'exo-cluster']) {
    assert.equal(cell(target).successes, 3, `${target} measured requests`);
    assert.equal(cell(target).success_rate, 1);
  }
  assertClose(cell('ollama-srv1').decode_tps.median, ollamaTps('cpu-server-ddr4'), 0.1, 'ollama-srv1 tok/s');
  // The 8060S decodes a token every 10 ms: on a loaded two-core test machine a single late timer in
  // the in-process emulator shifts a 0.5 s decode window by a fifth, either way (a late first token
  // followed by a catch-up burst reads fast). The CPU targets' 50 ms steps hold ±10 %.
  assertClose(cell('ollama-rog').decode_tps.median, ollamaTps('strix-halo-8060s-32gb'), 0.25, 'ollama-rog tok/s');
  const exoTps = await predictedExoTps(exo, profiles);
  assertClose(cell('exo-cluster').decode_tps.median, exoTps, 0.1, 'exo-cluster tok/s');

  const decision = report.decisions[0]!;
  assert.equal(decision.baseline, 'ollama-rog', 'the best single node is the GPU');
  const predictedSpeedup = exoTps / ollamaTps('strix-halo-8060s-32gb') - 1;
  assertClose(decision.speedup!, predictedSpeedup, 0.15, 'speedup');
  assert.ok(predictedSpeedup < 0.1, 'the model itself predicts shelve');
  assert.equal(decision.verdict, 'shelve');
  assert.equal(decision.cluster_ok, true);
  assert.equal(report.recommendation.verdict, 'shelve');

  const md = await runKage(['report', 'latest', '--db', db, '--format', 'md']);
  assert.equal(md.code, 0, md.stderr);
  assert.match(md.stdout, /\| qwen2\.5:3b +\| [\d.]+ tok\/s · \d+ ms · [\d.]+ s/);
  assert.match(md.stdout, /\*\*shelve\*\*/);

  const html = join(dir, 'report.html');
  const htmlRun = await runKage(['report', runId, '--db', db, '--format', 'html', '--out', html]);
  assert.equal(htmlRun.code, 0, htmlRun.stderr);
  const page = await readFile(html, 'utf8');
  assert.match(page, /^<!DOCTYPE html>/i);
  assert.match(page, /<svg/);

  const list = await runKage(['bench', 'list', '--db', db]);
  assert.equal(list.code, 0);
  assert.match(list.stdout, new RegExp(`${runId}\\s+bench-cli-test\\s+completed`));
});

test('bench run: one fast EXO node against a slow CPU baseline is phase-2, as predicted', async (t) => {
  const dir = await tempDir(t);
  const srv1 = await startOllama('cpu-server-ddr4');
  const exo = await startExoCluster([{ name: 'rog', profile: 'strix-halo-8060s-32gb' }]);
  t.after(() => Promise.all([srv1, ...exo].map((e) => e.close())).then(() => undefined));
  const file = join(dir, 'matrix.json');
  await writeFile(
    file,
    JSON.stringify(
      matrix(
        [
          { id: 'ollama-srv1', kind: 'ollama', url: srv1.url, nodes: ['srv1'] },
          { id: 'exo-rog', kind: 'exo', url: exo[0]!.url, nodes: ['rog'] },
        ],
        { candidate: 'exo-rog', baselines: ['ollama-srv1'] },
      ),
    ),
  );
  const db = join(dir, 'results.db');
  const run = await runKage(['bench', 'run', '--matrix', file, '--db', db], 120_000);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse((await runKage(['report', 'latest', '--db', db, '--format', 'json'])).stdout) as ReportJson;
  const predicted = (await predictedExoTps(exo, { rog: 'strix-halo-8060s-32gb' })) / ollamaTps('cpu-server-ddr4') - 1;
  assert.ok(predicted >= 0.3, `the model predicts phase-2 (${predicted})`);
  assertClose(report.decisions[0]!.speedup!, predicted, 0.1, 'speedup');
  assert.equal(report.decisions[0]!.verdict, 'phase-2');
});

test('bench run rejects a bad matrix before anything runs: exit 78, file, line and key path', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'bad.yaml');
  await writeFile(
    file,
    [
      'name: bad',
      'prompt: hi',
      'max_tokens: 8',
      'repetitions: 2',
      'warmup: 0',
      'colour: blue',
      'targets:',
      '  - { id: a, kind: ollama, url: "ftp://x", nodes: [n1] }',
      '  - { id: a, kind: exo, url: "http://127.0.0.1:1", nodes: [n1] }',
      'models:',
      '  - { name: "qwen2.5:3b" }',
      'decision: { candidate: nope, baselines: [a], go_speedup: 0.3, evaluate_speedup: 0.1, max_ttft_ratio: 2 }',
      '',
    ].join('\n'),
  );
  const db = join(dir, 'never.db');
  const result = await runKage(['bench', 'run', '--matrix', file, '--db', db]);
  assert.equal(result.code, 78, result.stderr);
  assert.ok(result.stderr.includes(file), 'names the file');
  assert.match(result.stderr, /colour/);
  assert.match(result.stderr, /targets\[0\]\.url/);
  assert.match(result.stderr, /targets\[1\]\.id/);
  assert.match(result.stderr, /exo/);
  assert.match(result.stderr, /decision\.candidate/);
  assert.match(result.stderr, /:6:\d+/, 'line of the unknown key');
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(result.stdout, '');
  assert.equal(existsSync(db), false, 'nothing written');
});

test('report on an unknown run or a corrupt database fails clearly', async (t) => {
  const dir = await tempDir(t);
  const missing = await runKage(['report', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '--db', join(dir, 'none.db')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /none\.db/);
  const corrupt = join(dir, 'corrupt.db');
  await writeFile(corrupt, Buffer.alloc(8192, 0x5a));
  const result = await runKage(['report', 'latest', '--db', corrupt]);
  assert.equal(result.code, 74, result.stderr);
  assert.match(result.stderr, /corrupt\.db/);
  assert.match(result.stderr, /KAGE_ERR_DB_CORRUPT/);
});

test('Ctrl-C leaves a resumable run; bench resume finishes it without redoing finished cells', async (t) => {
  const dir = await tempDir(t);
  const srv1 = await startOllama('cpu-server-ddr4');
  const rog = await startOllama('strix-halo-8060s-32gb');
  t.after(() => Promise.all([srv1.close(), rog.close()]).then(() => undefined));
  const file = join(dir, 'matrix.json');
  await writeFile(
    file,
    JSON.stringify(
      matrix(
        [
          { id: 'ollama-rog', kind: 'ollama', url: rog.url, nodes: ['rog'] },
          { id: 'ollama-srv1', kind: 'ollama', url: srv1.url, nodes: ['srv1'] },
        ],
        { candidate: 'ollama-rog', baselines: ['ollama-srv1'] },
      ),
    ),
  );
  const db = join(dir, 'results.db');
  const child = spawn(process.execPath, [KAGE_BIN, 'bench', 'run', '--matrix', file, '--db', db], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  t.after(() => clearTimeout(killer));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // The first cell (the fast GPU node) is done; the slow CPU cell has just started.
      if (/cell 2\/2 qwen2\.5:3b × ollama-srv1: started/.test(stderr)) resolve();
    });
    void exited.then(() => reject(new Error(`bench run exited early:\n${stderr}`)));
  });
  child.kill('SIGINT');
  const [code] = await exited;
  assert.equal(code, 130, stderr);
  assert.match(stderr, /resume with: kage bench resume /);

  const resumed = await runKage(['bench', 'resume', 'latest', '--db', db], 120_000);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming after 1 finished cells/);
  assert.doesNotMatch(resumed.stderr, /cell 1\/2 .*started/, 'the finished cell is not run again');
  const report = JSON.parse((await runKage(['report', 'latest', '--db', db, '--format', 'json'])).stdout) as ReportJson;
  assert.equal(report.run.status, 'completed');
  assert.deepEqual(
    report.cells.map((c) => [c.target, c.successes]),
    [
      ['ollama-rog', 3],
      ['ollama-srv1', 3],
    ],
  );
  assert.equal(report.decisions[0]!.verdict, 'phase-2', 'the GPU node is far faster than the CPU server');
});
