import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, test } from 'node:test';
import { readInventory, type InventorySource } from '../src/index.js';
import { recordingLogger } from './fixtures/fixture-trees.js';

const FAKE: InventorySource = {
  cpu: () => Promise.resolve({ manufacturer: 'AMD', brand: 'Ryzen AI Max+ 395', cores: 32, physicalCores: 16 }),
  mem: () => Promise.resolve({ total: 133_143_986_176 }),
  osInfo: () =>
    Promise.resolve({
      distro: 'Ubuntu',
      release: '24.04.3 LTS',
      kernel: '6.14.0-29-generic',
      arch: 'x64',
      hostname: 'rog',
    }),
};

describe('inventory', () => {
  test('from an injected systeminformation-like source', async () => {
    const { log } = recordingLogger();
    assert.deepEqual(await readInventory({ log, source: FAKE }), {
      hostname: 'rog',
      cpu_model: 'AMD Ryzen AI Max+ 395',
      cpu_cores: 32,
      cpu_physical_cores: 16,
      mem_total_bytes: 133_143_986_176,
      os_distro: 'Ubuntu',
      os_release: '24.04.3 LTS',
      kernel: '6.14.0-29-generic',
      arch: 'x64',
      source: 'systeminformation',
    });
  });

  test('source null skips systeminformation: the os module only', async () => {
    const { log } = recordingLogger();
    const inv = await readInventory({ log, source: null });
    assert.equal(inv.source, 'os');
    assert.equal(inv.hostname, os.hostname());
    assert.equal(inv.mem_total_bytes, os.totalmem());
    assert.equal(inv.cpu_cores, os.cpus().length);
    assert.equal(inv.os_distro, null);
  });

  test('a failing or hanging source falls back and logs why', async () => {
    const { log, records } = recordingLogger();
    const failing: InventorySource = { ...FAKE, mem: () => Promise.reject(new Error('no /proc/meminfo')) };
    assert.equal((await readInventory({ log, source: failing })).source, 'os');
    const hanging: InventorySource = { ...FAKE, osInfo: () => new Promise(() => undefined) };
    const started = Date.now();
    assert.equal((await readInventory({ log, source: hanging, timeoutMs: 50 })).source, 'os');
    assert.ok(Date.now() - started < 5000);
    assert.equal(records.filter((r) => r.msg === 'systeminformation inventory failed; using the os module').length, 2);
    // 'unknown' and empty strings from systeminformation are not facts.
    const vague: InventorySource = {
      ...FAKE,
      osInfo: () => Promise.resolve({ distro: 'unknown', release: '', kernel: '', arch: '', hostname: '' }),
    };
    const inv = await readInventory({ log, source: vague });
    assert.deepEqual([inv.os_distro, inv.os_release, inv.hostname], [null, null, os.hostname()]);
  });

  test('the real systeminformation, once', async () => {
    const { log } = recordingLogger();
    const inv = await readInventory({ log });
    assert.equal(inv.source, 'systeminformation');
    assert.ok((inv.cpu_cores ?? 0) >= 1);
    assert.ok((inv.mem_total_bytes ?? 0) > 0);
    assert.equal(inv.arch, os.arch());
  });
});
