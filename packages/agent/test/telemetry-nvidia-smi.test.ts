import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createNvidiaSmiMonitor, parseNvidiaSmiLine } from '../src/telemetry/nvidia-smi-monitor.js';
import { fakeNvidiaSmi as fakeSmi, isAlive, manualClock, recordingLogger, waitFor } from './fixtures/fixture-trees.js';

const MIB = 1024 * 1024;

describe('nvidia-smi CSV lines', () => {
  test('a full line', () => {
    assert.deepEqual(
      parseNvidiaSmiLine(
        '0, GPU-11111111-2222-3333-4444-555555555555, NVIDIA GeForce RTX 4090, 87, 24564, 20480, 71, 398.25',
      ),
      {
        index: 0,
        id: 'GPU-11111111-2222-3333-4444-555555555555',
        vendor: 'nvidia',
        name: 'NVIDIA GeForce RTX 4090',
        busy_pct: 87,
        mem_total_bytes: 24_564 * MIB,
        mem_used_bytes: 20_480 * MIB,
        unified_memory: false,
        power_w: 398.25,
        temp_c: 71,
      },
    );
  });

  test('[N/A], N/A, [Not Supported] and an integrated part with 0 MiB → null', () => {
    const na = parseNvidiaSmiLine('1, GPU-a, NVIDIA RTX A2000, [N/A], N/A, [N/A], [Not Supported], [Unknown Error]');
    assert.deepEqual(
      [na?.busy_pct, na?.mem_total_bytes, na?.mem_used_bytes, na?.temp_c, na?.power_w],
      [null, null, null, null, null],
    );
    const gb10 = parseNvidiaSmiLine('0, GPU-b, NVIDIA GB10, 3, 0, 0, 40, 11.5');
    assert.equal(gb10?.mem_total_bytes, null);
    assert.equal(gb10?.mem_used_bytes, 0);
  });

  test('a name containing ", " and lines that are not data', () => {
    assert.equal(parseNvidiaSmiLine('2, GPU-c, Weird, Inc. Card, 1, 2, 3, 4, 5')?.name, 'Weird, Inc. Card');
    assert.equal(
      parseNvidiaSmiLine("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."),
      null,
    );
    assert.equal(parseNvidiaSmiLine(''), null);
    assert.equal(parseNvidiaSmiLine('x, GPU-d, Name, 1, 2, 3, 4, 5'), null);
    assert.equal(parseNvidiaSmiLine('0, GPU-d, Name, 101, 2, 3, 4, 5')?.busy_pct, null);
  });
});

describe('nvidia-smi monitor', () => {
  test('one long-running child; lines parsed as they stream; close stops it', async (t) => {
    const smi = await fakeSmi(t);
    const { log } = recordingLogger();
    const mon = createNvidiaSmiMonitor({ log, command: smi.command, intervalMs: 100 });
    t.after(() => mon.close());
    assert.equal(mon.readings(), null, 'nothing before start');
    mon.start();
    mon.start();
    // Loop counter 2 means the third loop: the same child kept printing.
    await waitFor(() => (mon.readings()?.[0]?.busy_pct ?? -1) >= 2, 10_000, 'three loops from the child');
    const [gpu0, gpu1] = mon.readings() ?? [];
    assert.equal(mon.state, 'running');
    assert.equal(mon.spawnCount, 1);
    assert.equal(gpu0?.name, 'NVIDIA GeForce RTX 4090');
    assert.equal(gpu0?.mem_total_bytes, 24_564 * MIB);
    assert.equal(gpu0?.power_w, 120.53);
    assert.equal(gpu0?.temp_c, 45);
    assert.deepEqual(gpu1, {
      index: 1,
      id: 'GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      vendor: 'nvidia',
      name: 'NVIDIA RTX A2000',
      busy_pct: null,
      mem_total_bytes: 6138 * MIB,
      mem_used_bytes: null,
      unified_memory: false,
      power_w: null,
      temp_c: null,
    });
    const starts = await smi.starts();
    assert.equal(starts.length, 1);
    const pid = starts[0]?.pid ?? 0;
    assert.ok(isAlive(pid));
    const closing = mon.close();
    assert.equal(mon.close(), closing, 'close is idempotent');
    await closing;
    assert.equal(mon.state, 'closed');
    assert.equal(mon.readings(), null);
    assert.equal(isAlive(pid), false);
  });

  test('a child that dies is restarted', async (t) => {
    const smi = await fakeSmi(t, { FAKE_NVSMI_EXIT_AFTER: '2' });
    const { log, records } = recordingLogger();
    const mon = createNvidiaSmiMonitor({ log, command: smi.command, intervalMs: 100, restartInitialDelayMs: 20 });
    t.after(() => mon.close());
    mon.start();
    await waitFor(async () => (await smi.starts()).length >= 3, 15_000, 'two restarts');
    // Each restarted child printed data again: the monitor said so and went back to running.
    await waitFor(() => records.filter((r) => r.msg === 'nvidia-smi recovered').length >= 2, 10_000, 'recovery');
    assert.ok(records.some((r) => r.msg === 'nvidia-smi exited; restarting' && r['code'] === 1));
  });

  test('a child that fails at once backs off exponentially and logs one warning', async (t) => {
    const smi = await fakeSmi(t, { FAKE_NVSMI_MODE: 'fail' });
    const { log, records } = recordingLogger();
    const mon = createNvidiaSmiMonitor({ log, command: smi.command, restartInitialDelayMs: 100 });
    t.after(() => mon.close());
    mon.start();
    await waitFor(async () => (await smi.starts()).length >= 4, 15_000, 'three restarts');
    await mon.close();
    const exits = records.filter((r) => r.msg === 'nvidia-smi exited; restarting');
    // The delays the monitor chose (process start-up time would make measured gaps noisy).
    assert.deepEqual(
      exits.slice(0, 3).map((r) => r['restartInMs']),
      [100, 200, 400],
    );
    const starts = await smi.starts();
    const gap = (i: number): number => (starts[i + 1]?.atMs ?? 0) - (starts[i]?.atMs ?? 0);
    assert.ok(gap(0) >= 100 && gap(2) >= 400, `gaps ${gap(0)}, ${gap(1)}, ${gap(2)} ms`);
    assert.equal(exits.filter((r) => r.level === 40).length, 1, 'one warning');
    assert.ok(exits.length >= 3);
    assert.equal(exits[0]?.['code'], 9);
  });

  test('no nvidia-smi binary: no NVIDIA section, logged once, never retried', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'kage-nvsmi-absent-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const { log, records } = recordingLogger();
    const mon = createNvidiaSmiMonitor({ log, command: join(dir, 'nvidia-smi'), restartInitialDelayMs: 10 });
    t.after(() => mon.close());
    mon.start();
    await waitFor(() => mon.state === 'absent', 5000, 'absent state');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(mon.readings(), null);
    assert.equal(mon.spawnCount, 1);
    assert.equal(records.filter((r) => r.msg === 'nvidia-smi not found; no NVIDIA telemetry').length, 1);
  });

  test('stale readings are dropped', async (t) => {
    const smi = await fakeSmi(t);
    const { log } = recordingLogger();
    const clock = manualClock();
    const mon = createNvidiaSmiMonitor({
      log,
      command: smi.command,
      intervalMs: 100,
      staleAfterMs: 500,
      now: clock.now,
    });
    t.after(() => mon.close());
    mon.start();
    await waitFor(() => (mon.readings()?.length ?? 0) === 2, 10_000, 'readings');
    clock.advance(501);
    assert.deepEqual(mon.readings(), []);
  });

  test('close escalates to SIGKILL when SIGTERM is ignored; start after close does nothing', async (t) => {
    const smi = await fakeSmi(t, { FAKE_NVSMI_IGNORE_TERM: '1' });
    const { log } = recordingLogger();
    const mon = createNvidiaSmiMonitor({ log, command: smi.command, intervalMs: 100, killGraceMs: 200 });
    t.after(() => mon.close());
    mon.start();
    await waitFor(() => (mon.readings()?.length ?? 0) === 2, 10_000, 'readings');
    const pid = (await smi.starts())[0]?.pid ?? 0;
    await mon.close();
    assert.equal(isAlive(pid), false);
    mon.start();
    assert.equal(mon.spawnCount, 1);

    const never = createNvidiaSmiMonitor({ log, command: smi.command });
    await never.close();
    never.start();
    assert.equal(never.spawnCount, 0);
    assert.equal(never.state, 'closed');
  });
});
