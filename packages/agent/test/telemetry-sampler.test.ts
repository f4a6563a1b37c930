import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants, writeFileSync } from 'node:fs';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createSampler, type Sample, type ServiceStatus, type ServiceTarget } from '../src/index.js';
import {
  copyFixture,
  fakeNvidiaSmi,
  fixtureRoots,
  isAlive,
  procPidStat,
  recordingLogger,
  waitFor,
} from './fixtures/fixture-trees.js';

const GIB = 1024 ** 3;
const BUSY_STAT =
  'cpu  10450 500 3100 81450 1000 200 300 0 0 0\n' +
  'cpu0 2700 100 850 20250 250 50 75 0 0 0\ncpu1 2600 100 700 20400 250 50 75 0 0 0\n' +
  'cpu2 2650 200 850 20300 250 50 75 0 0 0\ncpu3 2500 100 700 20500 250 50 75 0 0 0\n';
const MIB = 1024 ** 2;

describe('sampler', () => {
  test('apu-8060s on its interval timer: samples in order, exact values, host memory not double counted', async (t) => {
    // The sampling timer is the global setInterval: mocked, each tick of the clock is one firing.
    // The reads stay real (async fs); setTimeout stays real for waitFor.
    t.mock.timers.enable({ apis: ['setInterval'] });
    const fx = await copyFixture(t, 'apu-8060s');
    const { log, records } = recordingLogger();
    const samples: Sample[] = [];
    const sampler = createSampler({
      log,
      intervalMs: 50,
      procRoot: fx.procRoot,
      sysRoot: fx.sysRoot,
      nvidiaSmi: false,
      services: () => [
        { name: 'ollama', cgroup: 'system.slice/ollama.service' },
        { name: 'exo', pid: 3000 },
      ],
      onSample: (s) => {
        samples.push(s);
        // The node gets busy right after the first sample. Written synchronously here, between
        // two ticks, so no tick can read a half-written file.
        if (s.seq === 1) {
          writeFileSync(join(fx.procRoot, 'stat'), BUSY_STAT);
          writeFileSync(
            join(fx.procRoot, '3000', 'stat'),
            procPidStat({ pid: 3000, comm: 'exo', ppid: 1, utime: 900, stime: 300, start: 50_000, rssPages: 51_200 }),
          );
        }
      },
    });
    t.after(() => sampler.close());
    /** One firing of the interval, then its sample (a firing while a tick runs would be skipped). */
    const nextSample = async (): Promise<void> => {
      const want = samples.length + 1;
      t.mock.timers.tick(50);
      await waitFor(() => samples.length >= want, 10_000, `sample ${want}`);
    };
    sampler.start();
    sampler.start();
    await waitFor(() => samples.length >= 1, 10_000, 'the first sample, taken at start');
    await nextSample();

    const first = samples[0] as Sample;
    assert.equal(first.seq, 1);
    assert.ok(Math.abs(Date.parse(first.ts) - Date.now()) < 60_000, first.ts);
    assert.match(first.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(first.cpu_pct, null);
    assert.deepEqual(first.per_core_pct, [null, null, null, null]);
    assert.deepEqual([first.load1, first.load5, first.load15], [2.15, 1.8, 1.2]);
    // Host memory is MemTotal − MemAvailable exactly; the GPU's 40 GiB of GTT is NOT added to it.
    assert.equal(first.mem_used_bytes, (131_072_000 - 98_304_000) * 1024);
    assert.equal(first.mem_total_bytes, 131_072_000 * 1024);
    assert.equal(first.swap_used_bytes, 262_144 * 1024);
    const [gpu] = first.gpus;
    assert.equal(first.gpus.length, 1);
    assert.equal(gpu?.unified_memory, true);
    assert.equal(gpu?.mem_used_bytes, 128 * MIB + 40 * GIB);
    assert.equal(gpu?.mem_total_bytes, 512 * MIB + 96 * GIB);
    assert.deepEqual(
      first.net?.map((n) => n.iface),
      ['enp191s0', 'tailscale0', 'wlp192s0'],
    );
    assert.equal(first.temps.length, 7);
    assert.deepEqual(first.services, [
      { name: 'ollama', cpu_pct: null, rss_bytes: 11_811_160_064, source: 'cgroup' },
      { name: 'exo', cpu_pct: null, rss_bytes: 51_200 * 4096, source: 'process-tree' },
    ]);

    // The second sample shows the exact /proc/stat delta, and exo's 200 ticks of CPU.
    const second = samples[1] as Sample;
    assert.equal(second.cpu_pct, 27.5);
    assert.deepEqual(second.per_core_pct, [50, 20, 40, 0]);
    assert.ok((second.services[1]?.cpu_pct ?? 0) > 0);
    await nextSample();
    await nextSample();
    assert.equal(samples.length, 4);
    assert.equal(samples[3]?.cpu_pct, null, 'no change since: no time accounted, unknown');

    for (let i = 1; i < samples.length; i++) {
      const [a, b] = [samples[i - 1] as Sample, samples[i] as Sample];
      assert.equal(b.seq, a.seq + 1);
      assert.ok(b.mono_ms > a.mono_ms);
    }
    const closing = sampler.close();
    assert.equal(sampler.close(), closing);
    await closing;
    const count = samples.length;
    const ticks = sampler.stats().ticks;
    assert.equal(ticks, count);
    t.mock.timers.tick(10 * 50);
    sampler.start();
    t.mock.timers.tick(10 * 50);
    // A tick the timer started would finish before sampleNow's own (it waits for one in flight).
    await sampler.sampleNow();
    assert.equal(sampler.stats().ticks, ticks + 1, 'no tick after close, nor after a start after close');
    assert.equal(samples.length, count, 'no samples after close');
    assert.equal(sampler.stats().skipped, 0);
    assert.ok(records.some((r) => r.msg === 'telemetry sampling started' && r['component'] === 'telemetry'));
  });

  test('nvidia-dgpu: GPUs come from the nvidia-smi child, which close() stops', async (t) => {
    const smi = await fakeNvidiaSmi(t);
    const { log } = recordingLogger();
    const samples: Sample[] = [];
    const sampler = createSampler({
      log,
      intervalMs: 100,
      ...fixtureRoots('nvidia-dgpu'),
      nvidiaSmi: { command: smi.command },
      onSample: (s) => samples.push(s),
    });
    t.after(() => sampler.close());
    sampler.start();
    await waitFor(() => samples.some((s) => s.gpus.length === 2), 15_000, 'NVIDIA GPUs in a sample');
    const withGpus = samples.find((s) => s.gpus.length === 2) as Sample;
    assert.deepEqual(
      withGpus.gpus.map((g) => [g.vendor, g.index, g.name]),
      [
        ['nvidia', 0, 'NVIDIA GeForce RTX 4090'],
        ['nvidia', 1, 'NVIDIA RTX A2000'],
      ],
    );
    assert.equal(withGpus.mem_used_bytes, 12_582_912_000);
    assert.deepEqual(withGpus.services, []);
    const pid = (await smi.starts())[0]?.pid ?? 0;
    await sampler.close();
    assert.equal(isAlive(pid), false);
  });

  test('cpu-only with nvidia-smi absent: no GPUs at all', async (t) => {
    const { log } = recordingLogger();
    const sampler = createSampler({
      log,
      ...fixtureRoots('cpu-only'),
      nvidiaSmi: { command: join(fixtureRoots('cpu-only').procRoot, 'no-such-nvidia-smi') },
      onSample: () => undefined,
    });
    t.after(() => sampler.close());
    sampler.start();
    const s = await sampler.sampleNow();
    assert.deepEqual(s.gpus, []);
    assert.equal(s.mem_total_bytes, 16_777_216_000);
    assert.deepEqual(
      s.temps.map((x) => x.chip),
      ['acpitz', 'k10temp'],
    );
  });

  test(
    'a tick stuck on a read is not overlapped: later firings are skipped and counted',
    { timeout: 30_000 },
    async (t) => {
      const fx = await copyFixture(t, 'cpu-only');
      const fifo = join(fx.procRoot, 'loadavg');
      await rm(fifo);
      // Opening a FIFO for reading blocks until a writer appears: a wedged sysfs read, on demand.
      execFileSync('mkfifo', [fifo]);
      const { log, records } = recordingLogger();
      const samples: Sample[] = [];
      const sampler = createSampler({
        log,
        intervalMs: 30,
        procRoot: fx.procRoot,
        sysRoot: fx.sysRoot,
        nvidiaSmi: false,
        onSample: (s) => samples.push(s),
      });
      t.after(async () => {
        // If the test failed half-way, a tick may still be stuck on the FIFO: release it first.
        await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).then(
          (h) => h.close(),
          () => undefined,
        );
        await sampler.close();
      });
      sampler.start();
      await waitFor(() => sampler.stats().skipped >= 3, 10_000, 'skipped ticks');
      assert.equal(samples.length, 0);
      assert.equal(sampler.stats().ticks, 0);
      // Release the stuck read: put a regular file in place for later ticks, then open the writer
      // end (the reader is waiting, so this returns). The stuck read then fails (a pipe cannot be
      // read at an offset) and is retried on a fresh open, which may already find the regular file.
      await writeFile(join(fx.procRoot, 'loadavg.next'), '0.70 0.60 0.50 1/100 200\n');
      const writer = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      await rename(join(fx.procRoot, 'loadavg.next'), fifo);
      await writer.close();
      await waitFor(() => samples.some((s) => s.load1 === 0.7), 10_000, 'samples after the stall');
      assert.equal(samples[0]?.seq, 1);
      assert.ok(samples[0]?.load1 === null || samples[0]?.load1 === 0.7);
      assert.equal(samples[0]?.mem_total_bytes, 16_777_216_000, 'the other readers finished');
      const skipped = sampler.stats().skipped;
      assert.ok(skipped >= 3);
      assert.ok((sampler.stats().maxTickDurationMs ?? 0) >= 60, 'the stuck tick took at least two intervals');
      assert.equal(records.filter((r) => r.msg.startsWith('telemetry tick skipped') && r.level === 40).length, 1);
      await sampler.close();
    },
  );

  test('sampleNow without the timer; a throwing listener or target provider is counted, not fatal', async (t) => {
    const { log, records } = recordingLogger();
    let calls = 0;
    const sampler = createSampler({
      log,
      intervalMs: 20,
      ...fixtureRoots('apu-8060s'),
      nvidiaSmi: false,
      services: () => {
        throw new Error('supervisor not ready');
      },
      onSample: () => {
        calls += 1;
        throw new Error('listener bug');
      },
    });
    t.after(() => sampler.close());
    const one = await sampler.sampleNow();
    assert.equal(one.seq, 1);
    assert.deepEqual(one.services, []);
    assert.equal(calls, 0, 'sampleNow does not call the listener');
    sampler.start();
    await waitFor(() => calls >= 3, 10_000, 'the listener called again after throwing');
    assert.ok(sampler.stats().failed >= 3);
    assert.ok(records.some((r) => r.msg === 'sample listener threw'));
    assert.ok(records.some((r) => r.msg === 'service target provider failed'));
  });

  test("the supervisor's statuses are service targets as they are (systemd's ControlGroup path)", async (t) => {
    // Compile-time: a ServiceStatus[] is accepted where ServiceTarget[] is expected.
    const asTargets = (statuses: ServiceStatus[]): readonly ServiceTarget[] => statuses;
    assert.equal(asTargets([]).length, 0);
    const { log } = recordingLogger();
    const sampler = createSampler({
      log,
      ...fixtureRoots('apu-8060s'),
      nvidiaSmi: false,
      services: () => [{ name: 'ollama', pid: 812, cgroup: '/system.slice/ollama.service' }],
      onSample: () => undefined,
    });
    t.after(() => sampler.close());
    const s = await sampler.sampleNow();
    assert.deepEqual(s.services, [{ name: 'ollama', cpu_pct: null, rss_bytes: 11_811_160_064, source: 'cgroup' }]);
  });

  test('an interval below 10 ms is a TypeError', () => {
    const { log } = recordingLogger();
    assert.throws(() => createSampler({ log, intervalMs: 0, onSample: () => undefined }), TypeError);
    assert.throws(() => createSampler({ log, intervalMs: Number.NaN, onSample: () => undefined }), TypeError);
  });
});
