import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { busyPercent, createCpuReader, parseLoadavg, parseProcStat } from '../src/telemetry/cpu-reader.js';
import { createMemoryReader, parseMeminfo } from '../src/telemetry/memory-reader.js';
import { createFileReader } from '../src/telemetry/proc-file.js';
import { copyFixture, fixtureRoots } from './fixtures/fixture-trees.js';

const STAT_TAIL = 'intr 1 2 3\nctxt 4\nbtime 5\n';

describe('cpu reader', () => {
  test('apu-8060s: first read is unknown, then exact deltas per core and in total', async (t) => {
    const fx = await copyFixture(t, 'apu-8060s');
    const cpu = createCpuReader({ procRoot: fx.procRoot });
    const first = await cpu.read();
    assert.deepEqual(first, {
      cpu_pct: null,
      per_core_pct: [null, null, null, null],
      load1: 2.15,
      load5: 1.8,
      load15: 1.2,
    });
    // cpu0 +250 busy (user 200, system 50) +250 idle → 50 %; cpu1 +100/+400 → 20 %;
    // cpu2 +200/+300 → 40 %; cpu3 +0/+500 → 0 %; total +550/+1450 → 27.5 %.
    await fx.write(
      'proc/stat',
      'cpu  10450 500 3100 81450 1000 200 300 0 0 0\n' +
        'cpu0 2700 100 850 20250 250 50 75 0 0 0\n' +
        'cpu1 2600 100 700 20400 250 50 75 0 0 0\n' +
        'cpu2 2650 200 850 20300 250 50 75 0 0 0\n' +
        'cpu3 2500 100 700 20500 250 50 75 0 0 0\n' +
        STAT_TAIL,
    );
    const second = await cpu.read();
    assert.equal(second.cpu_pct, 27.5);
    assert.deepEqual(second.per_core_pct, [50, 20, 40, 0]);
  });

  test('nvidia-dgpu: two cores, 40 % each', async (t) => {
    const fx = await copyFixture(t, 'nvidia-dgpu');
    const cpu = createCpuReader({ procRoot: fx.procRoot });
    assert.deepEqual(await cpu.read(), {
      cpu_pct: null,
      per_core_pct: [null, null],
      load1: 0.5,
      load5: 0.4,
      load15: 0.3,
    });
    await fx.write(
      'proc/stat',
      'cpu  3600 0 1200 17200 0 0 0 0 0 0\ncpu0 1800 0 600 8600 0 0 0 0 0 0\ncpu1 1800 0 600 8600 0 0 0 0 0 0\n' +
        STAT_TAIL,
    );
    const second = await cpu.read();
    assert.equal(second.cpu_pct, 40);
    assert.deepEqual(second.per_core_pct, [40, 40]);
  });

  test('cpu-only VM: steal counts as busy and iowait as idle', async (t) => {
    const fx = await copyFixture(t, 'cpu-only');
    const cpu = createCpuReader({ procRoot: fx.procRoot });
    const first = await cpu.read();
    assert.equal(first.cpu_pct, null);
    assert.deepEqual([first.load1, first.load5, first.load15], [1, 0.75, 0.5]);
    // total: user +300, system +100, steal +200 = 600 busy; idle +300, iowait +100 = 400 → 60 %.
    await fx.write(
      'proc/stat',
      'cpu  20300 1000 4100 70300 2100 500 500 2200 0 0\n' +
        'cpu0 10150 500 2050 35150 1050 250 250 1100 0 0\n' +
        'cpu1 10150 500 2050 35150 1050 250 250 1100 0 0\n' +
        STAT_TAIL,
    );
    const second = await cpu.read();
    assert.equal(second.cpu_pct, 60);
    assert.deepEqual(second.per_core_pct, [60, 60]);
  });

  test('no time passed between reads → null, not 0', async () => {
    const cpu = createCpuReader(fixtureRoots('apu-8060s'));
    await cpu.read();
    const again = await cpu.read();
    assert.equal(again.cpu_pct, null);
    assert.deepEqual(again.per_core_pct, [null, null, null, null]);
  });

  test('missing /proc/stat → unknown; the next good read starts a new baseline', async (t) => {
    const fx = await copyFixture(t, 'apu-8060s');
    // A file removed mid-test is only seen by fresh opens (a kept descriptor still reads the unlinked
    // inode; on real procfs/sysfs a vanished attribute fails it with ENODEV instead).
    const cpu = createCpuReader({ procRoot: fx.procRoot, files: createFileReader({ keepOpen: false }) });
    await cpu.read();
    await fx.remove('proc/stat');
    await fx.remove('proc/loadavg');
    assert.deepEqual(await cpu.read(), { cpu_pct: null, per_core_pct: [], load1: null, load5: null, load15: null });
    await fx.write('proc/stat', 'cpu  100 0 0 100 0 0 0 0 0 0\ncpu0 100 0 0 100 0 0 0 0 0 0\n');
    assert.equal((await cpu.read()).cpu_pct, null);
    await fx.write('proc/stat', 'cpu  150 0 0 150 0 0 0 0 0 0\ncpu0 150 0 0 150 0 0 0 0 0 0\n');
    assert.equal((await cpu.read()).cpu_pct, 50);
  });

  test('garbled /proc/stat → null; a garbled core line → that core null', async (t) => {
    const fx = await copyFixture(t, 'nvidia-dgpu');
    const cpu = createCpuReader({ procRoot: fx.procRoot });
    await cpu.read();
    await fx.write('proc/stat', 'cpu  lots of time\ncpu0 1 2 3 4\n');
    assert.equal((await cpu.read()).cpu_pct, null);
    await fx.write('proc/stat', 'cpu  3000 0 1000 16000 0 0 0 0 0 0\ncpu0 1500 0 500 8000 0 0 0 0 0 0\ncpu1 x\n');
    await cpu.read();
    await fx.write('proc/stat', 'cpu  3100 0 1000 16100 0 0 0 0 0 0\ncpu0 1600 0 500 8100 0 0 0 0 0 0\ncpu1 x\n');
    const r = await cpu.read();
    assert.equal(r.cpu_pct, 50);
    assert.deepEqual(r.per_core_pct, [50]);
  });

  test('an offline CPU leaves a null hole at its id', async (t) => {
    const fx = await copyFixture(t, 'apu-8060s');
    const cpu = createCpuReader({ procRoot: fx.procRoot });
    await cpu.read();
    await fx.write(
      'proc/stat',
      'cpu  10100 500 3000 80100 1000 200 300 0 0 0\ncpu0 2600 100 800 20100 250 50 75 0 0 0\ncpu3 2500 100 700 20000 250 50 75 0 0 0\n',
    );
    const r = await cpu.read();
    assert.deepEqual(r.per_core_pct, [50, null, null, null]);
  });

  test('parsers: four-field lines, counters stepping back, loadavg junk', () => {
    const parsed = parseProcStat('cpu  10 20 30 40\ncpu0 10 20 30 40\n');
    assert.deepEqual(parsed?.total, { busy: 60, idle: 40 });
    assert.equal(parseProcStat('intr 1 2\n'), null);
    // iowait stepping back (NO_HZ) must not produce a negative or >100 value.
    assert.equal(busyPercent({ busy: 100, idle: 100 }, { busy: 150, idle: 90 }), 100);
    assert.equal(busyPercent({ busy: 100, idle: 100 }, { busy: 100, idle: 100 }), null);
    assert.deepEqual(parseLoadavg('a b c 1/2 3'), { load1: null, load5: null, load15: null });
    assert.deepEqual(parseLoadavg(''), { load1: null, load5: null, load15: null });
    assert.deepEqual(parseLoadavg('0.00 0.01 0.05 1/100 42\n'), { load1: 0, load5: 0.01, load15: 0.05 });
  });
});

describe('memory reader', () => {
  test('apu-8060s: used = MemTotal − MemAvailable, swap used = SwapTotal − SwapFree', async () => {
    const mem = createMemoryReader(fixtureRoots('apu-8060s'));
    assert.deepEqual(await mem.read(), {
      mem_used_bytes: 32_768_000 * 1024, // (131072000 − 98304000) kB
      mem_total_bytes: 131_072_000 * 1024,
      swap_used_bytes: 262_144 * 1024, // (8388604 − 8126460) kB
      swap_total_bytes: 8_388_604 * 1024,
    });
  });

  test('nvidia-dgpu: no swap is 0 of 0, which is known', async () => {
    const mem = createMemoryReader(fixtureRoots('nvidia-dgpu'));
    assert.deepEqual(await mem.read(), {
      mem_used_bytes: 12_582_912_000,
      mem_total_bytes: 33_554_432_000,
      swap_used_bytes: 0,
      swap_total_bytes: 0,
    });
  });

  test('cpu-only', async () => {
    const mem = createMemoryReader(fixtureRoots('cpu-only'));
    assert.deepEqual(await mem.read(), {
      mem_used_bytes: 8_388_608_000,
      mem_total_bytes: 16_777_216_000,
      swap_used_bytes: 1_073_741_824,
      swap_total_bytes: 2_147_479_552,
    });
  });

  test('missing file → all null; missing or garbled fields → null, never 0', async (t) => {
    const fx = await copyFixture(t, 'cpu-only');
    const mem = createMemoryReader({ procRoot: fx.procRoot });
    await fx.remove('proc/meminfo');
    assert.deepEqual(await mem.read(), {
      mem_used_bytes: null,
      mem_total_bytes: null,
      swap_used_bytes: null,
      swap_total_bytes: null,
    });
    // A pre-3.14 kernel has no MemAvailable: used is unknown, total is still known.
    await fx.write('proc/meminfo', 'MemTotal: 1000 kB\nMemFree: 10 kB\nSwapTotal: lots kB\nSwapFree: 0 kB\n');
    assert.deepEqual(await mem.read(), {
      mem_used_bytes: null,
      mem_total_bytes: 1_024_000,
      swap_used_bytes: null,
      swap_total_bytes: null,
    });
    await fx.write('proc/meminfo', 'garbage\n\n');
    assert.equal((await mem.read()).mem_total_bytes, null);
    assert.deepEqual(parseMeminfo('MemTotal: 12 MB\n').MemTotal, null);
  });
});
