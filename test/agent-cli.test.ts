/**
 * `kage agent` as systemd runs it: a bad config exits 78 (RestartPreventExitStatus=78) with every
 * problem listed; a good one keeps running with the coordinator away and stops cleanly on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KAGE_BIN, runKage } from './src/kage-process.js';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-agent-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('kage agent: a bad config exits 78 naming file, line and key of every problem', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'agent.yaml');
  await writeFile(
    file,
    [
      'node: srv1',
      'coordinator: { url: "http://nowhere", token: abc }',
      'sample_interval_ms: fast',
      'colour: blue',
      'services:',
      '  ollama: { driver: systemd }',
      '',
    ].join('\n'),
  );
  const result = await runKage(['agent', '--config', file]);
  assert.equal(result.code, 78, result.stderr);
  assert.ok(result.stderr.includes(file));
  assert.match(result.stderr, /:2:\d+: coordinator\.url/);
  assert.match(result.stderr, /:3:\d+: sample_interval_ms/);
  assert.match(result.stderr, /:4:\d+: colour/);
  assert.match(result.stderr, /services\.ollama/);
  assert.match(result.stderr, /KAGE_ERR_CONFIG_INVALID/);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
});

test('kage agent: runs with the coordinator away, logs JSON, and exits 0 on SIGTERM', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'agent.yaml');
  await writeFile(
    file,
    [
      'node: lonely',
      // Port 1 on loopback: nothing listens, the agent must keep retrying.
      'coordinator: { url: "127.0.0.1:1", token: abc }',
      'sample_interval_ms: 250',
      'buffer: { dir: buffer, max_age_s: 60 }',
      'services: {}',
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [KAGE_BIN, 'agent', '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, STATE_DIRECTORY: join(dir, 'state') },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  t.after(() => clearTimeout(killer));

  const show = (): string => `stdout:\n${stdout}\nstderr:\n${stderr}`;
  /** Log lines complete so far (the text after the last newline may be a line still arriving). */
  const logged = (): Record<string, unknown>[] =>
    stdout
      .split('\n')
      .slice(0, -1)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  // Keeps running while the coordinator is unreachable: after the start, a failed attempt, its
  // backoff and the next failed attempt all go by without the process exiting.
  const secondAttemptAfterStart = (): boolean => {
    const msgs = logged();
    const started = msgs.findIndex((m) => m['msg'] === 'agent started');
    const retry = msgs.findIndex((m) => m['msg'] === 'cannot reach the coordinator; retrying' && m['attempt'] === 2);
    return started !== -1 && retry > started;
  };
  const deadline = Date.now() + 15_000;
  while (!secondAttemptAfterStart()) {
    assert.equal(child.exitCode, null, `the agent exited early\n${show()}`);
    assert.ok(Date.now() < deadline, `no second attempt to reach the coordinator\n${show()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(child.exitCode, null, 'still running');

  child.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0, stderr);
  for (const line of stdout.trim().split('\n')) JSON.parse(line); // every log line is JSON
  assert.match(stdout, /"msg":"agent stopped"/);
});
