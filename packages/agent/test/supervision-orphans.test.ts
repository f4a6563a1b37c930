// Orphans of a previous agent: found through the pidfile and killed, but never a reused pid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createProcessService } from '../src/index.js';
import {
  CRASHING_AGENT,
  FAST,
  SERVICE_CHILD,
  captureLog,
  childCommand,
  isAlive,
  killQuietly,
  tempDir,
  waitFor,
  type ReadyLine,
  defer,
} from './helpers/supervision-fixtures.js';

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

void test('a restarted agent kills the process group its killed predecessor left behind', async (t) => {
  const stateDir = await tempDir(t);
  const pidfile = join(stateDir, 'service-orphan-maker.pid');
  const agent = spawn(process.execPath, [CRASHING_AGENT, stateDir, '--', ...childCommand('--grandchild')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let ready: ReadyLine | undefined;
  defer(t, () => {
    killQuietly(agent.pid);
    killQuietly(ready?.pid);
    killQuietly(ready?.grandchild);
  });
  // The old agent logs the service's output as pino JSON on its stdout.
  const lines = createInterface({ input: agent.stdout });
  lines.on('line', (text) => {
    const entry = JSON.parse(text) as { msg?: string; line?: string };
    if (entry.msg === 'output' && entry.line?.startsWith('{"ready"') === true)
      ready = JSON.parse(entry.line) as ReadyLine;
  });
  const orphan = await waitFor('the old agent to start its service', () => ready);
  await waitFor('the pidfile', () => exists(pidfile));
  const recorded = JSON.parse(await readFile(pidfile, 'utf8')) as Record<string, unknown>;
  assert.equal(recorded['pid'], orphan.pid);
  assert.equal(recorded['pgid'], orphan.pid, 'the child leads its own process group');
  assert.equal(typeof recorded['start_time'], 'number');

  agent.kill('SIGKILL');
  await once(agent, 'exit');
  assert.ok(await isAlive(orphan.pid), 'the service outlived the agent: an orphan');
  assert.ok(orphan.grandchild !== undefined && (await isAlive(orphan.grandchild)));

  const { log, entries } = captureLog();
  const service = createProcessService({
    name: 'orphan-maker',
    config: { driver: 'process', command: childCommand('--grandchild') },
    log,
    stateDir,
    timings: FAST,
  });
  defer(t, () => service.close());
  await service.open();
  assert.equal(await isAlive(orphan.pid), false, 'orphaned main process killed');
  assert.equal(await isAlive(orphan.grandchild), false, 'orphaned grandchild killed');
  assert.equal(await exists(pidfile), false);
  const warning = entries.find((e) => e.msg === 'killing processes orphaned by a previous agent');
  assert.deepEqual(new Set(warning?.['pids'] as number[]), new Set([orphan.pid, orphan.grandchild]));
});

void test('a pidfile whose pid now belongs to another process (different start time) kills nothing', async (t) => {
  const stateDir = await tempDir(t);
  const pidfile = join(stateDir, 'service-svc.pid');
  // An unrelated process that happens to have the recorded pid (and leads its own group).
  const bystander = spawn(process.execPath, [SERVICE_CHILD], { detached: true, stdio: 'ignore' });
  defer(t, () => killQuietly(bystander.pid));
  await once(bystander, 'spawn');
  const pid = bystander.pid ?? -1;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const startTime = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  await writeFile(
    pidfile,
    JSON.stringify({ service: 'svc', pid, pgid: pid, start_time: startTime - 1, command: ['x'] }),
  );

  const { log, entries } = captureLog();
  const service = createProcessService({
    name: 'svc',
    config: { driver: 'process', command: childCommand() },
    log,
    stateDir,
    timings: FAST,
  });
  defer(t, () => service.close());
  await service.open();
  assert.ok(await isAlive(pid), 'the bystander is untouched');
  assert.ok(entries.some((e) => e.msg === 'pid was reused; not an orphan'));
  assert.equal(await exists(pidfile), false, 'the stale pidfile is removed');
});

void test('a stale pidfile of a dead process is removed and the service starts normally', async (t) => {
  const stateDir = await tempDir(t);
  const pidfile = join(stateDir, 'service-svc.pid');
  const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(gone, 'exit');
  await writeFile(
    pidfile,
    JSON.stringify({ service: 'svc', pid: gone.pid, pgid: gone.pid, start_time: 1, command: ['x'] }),
  );
  const { log } = captureLog();
  const service = createProcessService({
    name: 'svc',
    config: { driver: 'process', command: childCommand() },
    log,
    stateDir,
    timings: FAST,
  });
  defer(t, () => service.close());
  const status = await service.start();
  assert.equal(status.state, 'running');
  await waitFor('the new pidfile', async () => {
    const text = await readFile(pidfile, 'utf8').catch(() => '');
    return text.includes(`"pid":${status.pid}`);
  });
  await service.stop();
  assert.equal(await exists(pidfile), false, 'a clean stop removes the pidfile');
});
