import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createCgroupUsage, normaliseCgroupPath, parseCpuStatUsageUsec } from '../src/telemetry/cgroup-usage.js';
import { createProcessTreeUsage, parseProcPidStat } from '../src/telemetry/process-tree-usage.js';
import { createServiceUsage } from '../src/telemetry/service-usage.js';
import { copyFixture, fixtureRoots, manualClock, procPidStat } from './fixtures/fixture-trees.js';

const PAGE = 4096;

function cpuStat(usageUsec: number): string {
  return `usage_usec ${usageUsec}\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n`;
}

describe('process tree usage', () => {
  test('apu-8060s: ollama (812) → runner (2048) → helper (2049); a child born in the interval counts in full', async (t) => {
    const fx = await copyFixture(t, 'apu-8060s');
    const clock = manualClock();
    const trees = createProcessTreeUsage({ procRoot: fx.procRoot, now: clock.now });
    const first = await trees.read([812, 3000]);
    assert.deepEqual(first.get(812), {
      cpu_pct: null,
      rss_bytes: (25_600 + 2_621_440 + 256) * PAGE,
      process_count: 3,
    });
    assert.deepEqual(first.get(3000), { cpu_pct: null, rss_bytes: 51_200 * PAGE, process_count: 1 });

    clock.advance(2000);
    // 812: +40 utime +10 stime; 2048: +250 +50; 2049 exits; 2050 starts under 2048 with 20 + 10 ticks.
    await fx.write(
      'proc/812/stat',
      procPidStat({ pid: 812, comm: 'ollama', ppid: 1, utime: 5040, stime: 1010, start: 1500, rssPages: 25_600 }),
    );
    await fx.write(
      'proc/2048/stat',
      procPidStat({
        pid: 2048,
        comm: 'ollama',
        ppid: 812,
        utime: 40_250,
        stime: 2050,
        start: 90_000,
        rssPages: 2_621_696,
      }),
    );
    await fx.remove('proc/2049');
    await fx.write(
      'proc/2050/stat',
      procPidStat({ pid: 2050, comm: 'ollama', ppid: 2048, utime: 20, stime: 10, start: 90_900, rssPages: 512 }),
    );
    const second = await trees.read([812, 3000]);
    // (50 + 300 + 30) ticks = 3.8 s of CPU in 2 s = 190 % of one core.
    assert.deepEqual(second.get(812), {
      cpu_pct: 190,
      rss_bytes: (25_600 + 2_621_696 + 512) * PAGE,
      process_count: 3,
    });
    assert.deepEqual(second.get(3000), { cpu_pct: 0, rss_bytes: 51_200 * PAGE, process_count: 1 });
  });

  test('nvidia-dgpu: exo (1500) with two children, 150 % over 1 s', async (t) => {
    const fx = await copyFixture(t, 'nvidia-dgpu');
    const clock = manualClock();
    const trees = createProcessTreeUsage({ procRoot: fx.procRoot, now: clock.now });
    assert.deepEqual((await trees.read([1500])).get(1500), {
      cpu_pct: null,
      rss_bytes: 175_000 * PAGE,
      process_count: 3,
    });
    clock.advance(1000);
    await fx.write(
      'proc/1500/stat',
      procPidStat({ pid: 1500, comm: 'python3', ppid: 1, utime: 1080, stime: 220, start: 20_000, rssPages: 100_000 }),
    );
    await fx.write(
      'proc/1501/stat',
      procPidStat({ pid: 1501, comm: 'python3', ppid: 1500, utime: 550, stime: 100, start: 20_100, rssPages: 50_000 }),
    );
    assert.equal((await trees.read([1500])).get(1500)?.cpu_pct, 150);
  });

  test('cpu-only: a single process at 50 % over 500 ms', async (t) => {
    const fx = await copyFixture(t, 'cpu-only');
    const clock = manualClock();
    const trees = createProcessTreeUsage({ procRoot: fx.procRoot, now: clock.now });
    assert.equal((await trees.read([4000])).get(4000)?.rss_bytes, 12_800 * PAGE);
    clock.advance(500);
    await fx.write(
      'proc/4000/stat',
      procPidStat({ pid: 4000, comm: 'exo', ppid: 1, utime: 220, stime: 105, start: 30_000, rssPages: 12_800 }),
    );
    assert.equal((await trees.read([4000])).get(4000)?.cpu_pct, 50);
  });

  test('a missing root, pid reuse, and a process reparented into the tree', async (t) => {
    const fx = await copyFixture(t, 'apu-8060s');
    const clock = manualClock();
    const trees = createProcessTreeUsage({ procRoot: fx.procRoot, now: clock.now, fullRescanEveryTicks: 1 });
    assert.deepEqual((await trees.read([99_999, 812])).get(99_999), {
      cpu_pct: null,
      rss_bytes: null,
      process_count: 0,
    });

    // sshd (900) is reparented under ollama with a lot of CPU time already: not this interval's.
    clock.advance(1000);
    await fx.write(
      'proc/900/stat',
      procPidStat({ pid: 900, comm: 'sshd', ppid: 812, utime: 9000, stime: 100, start: 1600, rssPages: 1000 }),
    );
    const joined = (await trees.read([812])).get(812);
    assert.equal(joined?.process_count, 4);
    assert.equal(joined?.cpu_pct, 0);

    // 812 exits and the pid is reused by another process (new start time): no rate across the two.
    clock.advance(1000);
    await fx.write(
      'proc/812/stat',
      procPidStat({ pid: 812, comm: 'ollama', ppid: 1, utime: 1, stime: 1, start: 99_000, rssPages: 100 }),
    );
    assert.equal((await trees.read([812])).get(812)?.cpu_pct, null);
    clock.advance(1000);
    assert.equal((await trees.read([812])).get(812)?.cpu_pct, 0);

    // The root vanishes.
    await fx.remove('proc/812');
    clock.advance(1000);
    assert.deepEqual((await trees.read([812])).get(812), { cpu_pct: null, rss_bytes: null, process_count: 0 });
  });

  test('a garbled member stat is left out; an unreadable /proc gives unknown', async (t) => {
    const fx = await copyFixture(t, 'apu-8060s');
    await fx.write('proc/2049/stat', '2049 (broken\n');
    const trees = createProcessTreeUsage({ procRoot: fx.procRoot });
    assert.deepEqual((await trees.read([812])).get(812), {
      cpu_pct: null,
      rss_bytes: (25_600 + 2_621_440) * PAGE,
      process_count: 2,
    });
    const none = createProcessTreeUsage({ procRoot: `${fx.root}/nope` });
    assert.deepEqual((await none.read([812])).get(812), { cpu_pct: null, rss_bytes: null, process_count: 0 });
  });

  test('parseProcPidStat: command names with spaces and parentheses', () => {
    const st = parseProcPidStat(
      procPidStat({ pid: 7, comm: 'a) b (c', ppid: 3, utime: 11, stime: 22, start: 33, rssPages: 44 }),
    );
    assert.deepEqual(st, { pid: 7, ppid: 3, cpuTicks: 33, startTicks: 33, rssPages: 44 });
    assert.equal(parseProcPidStat('7 (x) S 1 2 3'), null);
    assert.equal(parseProcPidStat(''), null);
  });
});

describe('cgroup usage', () => {
  test('apu-8060s: ollama.service 100 %, exo.service 25 % over 2 s; memory.current', async (t) => {
    const fx = await copyFixture(t, 'apu-8060s');
    const clock = manualClock();
    const cg = createCgroupUsage({ sysRoot: fx.sysRoot, now: clock.now });
    const paths = ['system.slice/ollama.service', '/system.slice/exo.service'];
    const first = await cg.read(paths);
    assert.deepEqual(first.get('system.slice/ollama.service'), { cpu_pct: null, mem_bytes: 11_811_160_064 });
    assert.deepEqual(first.get('/system.slice/exo.service'), { cpu_pct: null, mem_bytes: 2_147_483_648 });
    clock.advance(2000);
    await fx.write('sys/fs/cgroup/system.slice/ollama.service/cpu.stat', cpuStat(125_456_789));
    await fx.write('sys/fs/cgroup/system.slice/exo.service/cpu.stat', cpuStat(5_500_000));
    const second = await cg.read(paths);
    assert.equal(second.get('system.slice/ollama.service')?.cpu_pct, 100);
    assert.equal(second.get('/system.slice/exo.service')?.cpu_pct, 25);
  });

  test('nvidia-dgpu 25 % and cpu-only 1 % over 1 s', async (t) => {
    for (const [box, before, after, mem, pct] of [
      ['nvidia-dgpu', 900_000_000, 900_250_000, 26_843_545_600, 25],
      ['cpu-only', 1_000_000, 1_010_000, 524_288_000, 1],
    ] as const) {
      const fx = await copyFixture(t, box);
      const clock = manualClock();
      const cg = createCgroupUsage({ sysRoot: fx.sysRoot, now: clock.now });
      const path = 'system.slice/ollama.service';
      assert.deepEqual((await cg.read([path])).get(path), { cpu_pct: null, mem_bytes: mem });
      assert.equal(parseCpuStatUsageUsec(cpuStat(before)), before);
      clock.advance(1000);
      await fx.write(`sys/fs/cgroup/${path}/cpu.stat`, cpuStat(after));
      assert.deepEqual((await cg.read([path])).get(path), { cpu_pct: pct, mem_bytes: mem }, box);
    }
  });

  test('restart (counter reset), missing files, garbled values, escaping paths → null', async (t) => {
    const fx = await copyFixture(t, 'apu-8060s');
    const clock = manualClock();
    const cg = createCgroupUsage({ sysRoot: fx.sysRoot, now: clock.now });
    const path = 'system.slice/ollama.service';
    await cg.read([path]);
    clock.advance(1000);
    await fx.write(`sys/fs/cgroup/${path}/cpu.stat`, cpuStat(10));
    assert.equal((await cg.read([path])).get(path)?.cpu_pct, null);
    clock.advance(1000);
    await fx.write(`sys/fs/cgroup/${path}/cpu.stat`, cpuStat(500_010));
    assert.equal((await cg.read([path])).get(path)?.cpu_pct, 50);

    await fx.write(`sys/fs/cgroup/${path}/memory.current`, 'max\n');
    await fx.write(`sys/fs/cgroup/${path}/cpu.stat`, 'usage_usec lots\n');
    assert.deepEqual((await cg.read([path])).get(path), { cpu_pct: null, mem_bytes: null });
    assert.deepEqual((await cg.read(['system.slice/gone.service'])).get('system.slice/gone.service'), {
      cpu_pct: null,
      mem_bytes: null,
    });
    assert.deepEqual((await cg.read(['../../proc'])).get('../../proc'), { cpu_pct: null, mem_bytes: null });
    assert.equal(normaliseCgroupPath('/system.slice//a.service/'), 'system.slice/a.service');
    assert.equal(normaliseCgroupPath('a/../../b'), null);
  });
});

describe('service usage', () => {
  test('cgroup preferred, pid tree otherwise, no pid or cgroup → unknown', async () => {
    const svc = createServiceUsage(fixtureRoots('apu-8060s'));
    assert.deepEqual(
      await svc.read([
        { name: 'ollama', cgroup: 'system.slice/ollama.service', pid: 812 },
        { name: 'exo', pid: 3000 },
        { name: 'stopped', pid: null },
        { name: 'gone', pid: 99_999 },
      ]),
      [
        { name: 'ollama', cpu_pct: null, rss_bytes: 11_811_160_064, source: 'cgroup' },
        { name: 'exo', cpu_pct: null, rss_bytes: 51_200 * PAGE, source: 'process-tree' },
        { name: 'stopped', cpu_pct: null, rss_bytes: null, source: null },
        { name: 'gone', cpu_pct: null, rss_bytes: null, source: 'process-tree' },
      ],
    );
    assert.deepEqual(await svc.read([]), []);
  });
});
