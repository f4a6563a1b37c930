import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAmdGpuReader, isUnifiedMemory } from '../src/telemetry/amdgpu-reader.js';
import { createFileReader, type FileReader } from '../src/telemetry/proc-file.js';
import { copyFixture, fixtureRoots, waitFor } from './fixtures/fixture-trees.js';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const CARD1 = 'sys/class/drm/card1/device';

function metricsHeader(formatRevision: number): Buffer {
  const b = Buffer.alloc(264);
  b.writeUInt16LE(264, 0);
  b.writeUInt8(formatRevision, 2);
  return b;
}

describe('amdgpu reader', () => {
  test('apu-8060s: card1 found (connector and render nodes skipped), VRAM + GTT, unified', async () => {
    const gpus = await createAmdGpuReader(fixtureRoots('apu-8060s')).read();
    assert.deepEqual(gpus, [
      {
        index: 0,
        id: 'card1',
        vendor: 'amd',
        name: 'AMD Radeon 8050S/8060S (Strix Halo)',
        busy_pct: 37,
        // 128 MiB of the 512 MiB carve-out + 40 GiB of the 96 GiB GTT.
        mem_used_bytes: 128 * MIB + 40 * GIB,
        mem_total_bytes: 512 * MIB + 96 * GIB,
        vram_used_bytes: 128 * MIB,
        vram_total_bytes: 512 * MIB,
        gtt_used_bytes: 40 * GIB,
        gtt_total_bytes: 96 * GIB,
        unified_memory: true,
        // power1_average is present but unreadable (empty) there: power1_input, 62.5 W of package power.
        power_w: 62.5,
        temp_c: 48,
      },
    ]);
  });

  test('nvidia-dgpu (vendor 0x10de) and cpu-only (ASPEED BMC on ast) have no AMD GPU', async () => {
    assert.deepEqual(await createAmdGpuReader(fixtureRoots('nvidia-dgpu')).read(), []);
    assert.deepEqual(await createAmdGpuReader(fixtureRoots('cpu-only')).read(), []);
  });

  test('a discrete card (gpu_metrics format 1): memory is VRAM only, product_name used', async (t) => {
    const fx = await copyFixture(t, 'apu-8060s');
    await fx.write(`${CARD1}/gpu_metrics`, metricsHeader(1));
    await fx.write(`${CARD1}/product_name`, 'AMD Radeon RX 7900 XTX\n');
    await fx.write(`${CARD1}/mem_info_vram_total`, `${24 * GIB}\n`);
    await fx.write(`${CARD1}/mem_info_vram_used`, `${20 * GIB}\n`);
    await fx.write(`${CARD1}/hwmon/hwmon2/power1_average`, '250000000\n');
    const [gpu] = await createAmdGpuReader({ sysRoot: fx.sysRoot }).read();
    assert.equal(gpu?.name, 'AMD Radeon RX 7900 XTX');
    assert.equal(gpu?.unified_memory, false);
    assert.equal(gpu?.mem_total_bytes, 24 * GIB);
    assert.equal(gpu?.mem_used_bytes, 20 * GIB);
    assert.equal(gpu?.gtt_used_bytes, 40 * GIB);
    assert.equal(gpu?.power_w, 250, 'a readable power1_average is preferred');
  });

  test('unified-memory detection without gpu_metrics, and the override', async (t) => {
    assert.equal(isUnifiedMemory(2, null, null), true);
    assert.equal(isUnifiedMemory(3, 96 * GIB, 0), true, 'a 96 GiB carve-out is still an APU');
    assert.equal(isUnifiedMemory(1, 512 * MIB, 32 * GIB), false);
    assert.equal(isUnifiedMemory(null, 512 * MIB, 32 * GIB), true);
    assert.equal(isUnifiedMemory(null, 16 * GIB, 32 * GIB), false);
    assert.equal(isUnifiedMemory(null, null, 32 * GIB), false);

    const fx = await copyFixture(t, 'apu-8060s');
    await fx.remove(`${CARD1}/gpu_metrics`);
    const [auto] = await createAmdGpuReader({ sysRoot: fx.sysRoot }).read();
    assert.equal(auto?.unified_memory, true);
    const [forced] = await createAmdGpuReader({ sysRoot: fx.sysRoot, unifiedMemory: false }).read();
    assert.equal(forced?.unified_memory, false);
    assert.equal(forced?.mem_total_bytes, 512 * MIB);
  });

  test('garbled or missing attributes → null, never 0', async (t) => {
    const fx = await copyFixture(t, 'apu-8060s');
    // A file removed mid-test is only seen by fresh opens (a kept descriptor still reads the unlinked
    // inode; on real procfs/sysfs a vanished attribute fails it with ENODEV instead).
    const reader = createAmdGpuReader({ sysRoot: fx.sysRoot, files: createFileReader({ keepOpen: false }) });
    await reader.read();
    // gpu_busy_percent fails with EINVAL on some APUs: an empty or junk read is the stand-in here.
    await fx.write(`${CARD1}/gpu_busy_percent`, '');
    await fx.remove(`${CARD1}/mem_info_gtt_used`);
    await fx.write(`${CARD1}/hwmon/hwmon2/temp1_input`, 'garbage\n');
    await fx.remove(`${CARD1}/hwmon/hwmon2/power1_input`);
    const [gpu] = await reader.read();
    assert.equal(gpu?.busy_pct, null);
    assert.equal(gpu?.gtt_used_bytes, null);
    assert.equal(gpu?.mem_used_bytes, null, 'VRAM + unknown GTT is unknown');
    assert.equal(gpu?.vram_used_bytes, 128 * MIB);
    assert.equal(gpu?.temp_c, null);
    assert.equal(gpu?.power_w, null);
    await fx.write(`${CARD1}/gpu_busy_percent`, '250\n');
    assert.equal((await reader.read())[0]?.busy_pct, null, 'out of range');
  });

  test('driver check: radeon is skipped; without uevent, the amdgpu memory files decide', async (t) => {
    const fx = await copyFixture(t, 'apu-8060s');
    await fx.write(`${CARD1}/uevent`, 'DRIVER=radeon\n');
    assert.deepEqual(await createAmdGpuReader({ sysRoot: fx.sysRoot }).read(), []);
    await fx.remove(`${CARD1}/uevent`);
    assert.equal((await createAmdGpuReader({ sysRoot: fx.sysRoot }).read()).length, 1);
    await fx.remove(`${CARD1}/mem_info_vram_total`);
    assert.deepEqual(await createAmdGpuReader({ sysRoot: fx.sysRoot }).read(), []);
  });

  test('busy is sub-sampled between ticks and reported as the mean', async (t) => {
    const fx = await copyFixture(t, 'apu-8060s');
    const busyPath = `${fx.sysRoot}/class/drm/card1/device/gpu_busy_percent`;
    const inner = createFileReader();
    let busyReads = 0;
    const files: FileReader = {
      readText: (path) => inner.readText(path),
      async readStable(path) {
        const text = await inner.readStable(path);
        if (path === busyPath) busyReads += 1;
        return text;
      },
      readBytes: (path, n) => inner.readBytes(path, n),
      release: (path) => inner.release(path),
      close: () => inner.close(),
      get keptCount() {
        return inner.keptCount;
      },
    };
    const reader = createAmdGpuReader({ sysRoot: fx.sysRoot, files, busySampleIntervalMs: 5 });
    t.after(() => reader.close());
    await reader.read(); // discovers the card; busy read directly (no sub-samples yet)
    await fx.write(`${CARD1}/gpu_busy_percent`, '100\n');
    reader.start();
    let mark = busyReads;
    await waitFor(() => busyReads >= mark + 3, 10_000, 'sub-samples at 100 %');
    await fx.write(`${CARD1}/gpu_busy_percent`, '0\n');
    mark = busyReads;
    // The first read after the rewrite may have started before it: wait for two more.
    await waitFor(() => busyReads >= mark + 3, 10_000, 'sub-samples at 0 %');
    const busy = (await reader.read())[0]?.busy_pct;
    assert.ok(busy !== null && busy !== undefined && busy > 0 && busy < 100, `mean of 100s and 0s, got ${busy}`);
    reader.close();
    reader.close();
    // Closed: no more sub-samples, so the next read goes straight to the file again.
    await fx.write(`${CARD1}/gpu_busy_percent`, '42\n');
    await reader.read();
    assert.equal((await reader.read())[0]?.busy_pct, 42);
  });
});
