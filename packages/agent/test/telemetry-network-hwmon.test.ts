import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createHwmonReader } from '../src/telemetry/hwmon-reader.js';
import { createNetworkReader, parseNetDev } from '../src/telemetry/network-reader.js';
import { compareNumericSuffix, createFileReader } from '../src/telemetry/proc-file.js';
import { copyFixture, fixtureRoots, manualClock } from './fixtures/fixture-trees.js';

const HEAD =
  'Inter-|   Receive                                                |  Transmit\n' +
  ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n';

function line(iface: string, rx: number, tx: number): string {
  return `${iface}: ${rx} 10 0 0 0 0 0 0 ${tx} 10 0 0 0 0 0 0\n`;
}

describe('network reader', () => {
  test('apu-8060s: lo left out, tailscale0 in; rates in bits/s from deltas', async (t) => {
    const fx = await copyFixture(t, 'apu-8060s');
    const clock = manualClock();
    const net = createNetworkReader({ procRoot: fx.procRoot, now: clock.now });
    assert.deepEqual(await net.read(), [
      { iface: 'enp191s0', rx_bytes: 900_000_000, tx_bytes: 300_000_000, rx_bps: null, tx_bps: null },
      { iface: 'tailscale0', rx_bytes: 120_000_000, tx_bytes: 80_000_000, rx_bps: null, tx_bps: null },
      { iface: 'wlp192s0', rx_bytes: 0, tx_bytes: 0, rx_bps: null, tx_bps: null },
    ]);
    clock.advance(2000);
    await fx.write(
      'proc/net/dev',
      HEAD +
        line('lo', 6_000_000, 6_000_000) +
        line('enp191s0', 900_250_000, 300_050_000) +
        line('tailscale0', 121_000_000, 80_125_000) +
        line('wlp192s0', 0, 0),
    );
    // enp191s0: 250 000 B × 8 / 2 s = 1 Mbit/s rx, 50 000 B → 200 kbit/s tx;
    // tailscale0: 1 000 000 B → 4 Mbit/s, 125 000 B → 500 kbit/s; idle wifi is a real 0.
    assert.deepEqual(await net.read(), [
      { iface: 'enp191s0', rx_bytes: 900_250_000, tx_bytes: 300_050_000, rx_bps: 1_000_000, tx_bps: 200_000 },
      { iface: 'tailscale0', rx_bytes: 121_000_000, tx_bytes: 80_125_000, rx_bps: 4_000_000, tx_bps: 500_000 },
      { iface: 'wlp192s0', rx_bytes: 0, tx_bytes: 0, rx_bps: 0, tx_bps: 0 },
    ]);
  });

  test('nvidia-dgpu: veth pairs left out, docker0 kept; 10 Gbit/s over 1 s', async (t) => {
    const fx = await copyFixture(t, 'nvidia-dgpu');
    const clock = manualClock();
    const net = createNetworkReader({ procRoot: fx.procRoot, now: clock.now });
    const first = await net.read();
    assert.deepEqual(
      first?.map((n) => [n.iface, n.rx_bytes, n.tx_bytes]),
      [
        ['eth0', 5_000_000_000, 2_000_000_000],
        ['docker0', 1000, 2000],
        ['tailscale0', 700_000_000, 600_000_000],
      ],
    );
    clock.advance(1000);
    await fx.write(
      'proc/net/dev',
      HEAD +
        line('eth0', 6_250_000_000, 2_000_000_100) +
        line('docker0', 1000, 2000) +
        line('tailscale0', 700_000_000, 600_000_000),
    );
    const second = await net.read();
    assert.deepEqual(second?.[0], {
      iface: 'eth0',
      rx_bytes: 6_250_000_000,
      tx_bytes: 2_000_000_100,
      rx_bps: 10_000_000_000,
      tx_bps: 800,
    });
  });

  test('cpu-only: ens18 and tailscale0', async () => {
    const net = createNetworkReader(fixtureRoots('cpu-only'));
    assert.deepEqual(await net.read(), [
      { iface: 'ens18', rx_bytes: 123_456_789, tx_bytes: 98_765_432, rx_bps: null, tx_bps: null },
      { iface: 'tailscale0', rx_bytes: 1_000_000, tx_bytes: 2_000_000, rx_bps: null, tx_bps: null },
    ]);
  });

  test('counter reset, new interface, garbled line → null rates/counters; missing file → null', async (t) => {
    const fx = await copyFixture(t, 'cpu-only');
    const clock = manualClock();
    // A file removed mid-test is only seen by fresh opens (a kept descriptor still reads the unlinked
    // inode; on real procfs/sysfs a vanished attribute fails it with ENODEV instead).
    const files = createFileReader({ keepOpen: false });
    const net = createNetworkReader({ procRoot: fx.procRoot, now: clock.now, files });
    await net.read();
    clock.advance(1000);
    await fx.write(
      'proc/net/dev',
      HEAD +
        line('ens18', 123_456_789, 98_765_432) +
        line('tailscale0', 10, 20) +
        line('wg0', 5, 5) +
        'broken: 1 2 x\n',
    );
    assert.deepEqual(await net.read(), [
      { iface: 'ens18', rx_bytes: 123_456_789, tx_bytes: 98_765_432, rx_bps: 0, tx_bps: 0 },
      { iface: 'tailscale0', rx_bytes: 10, tx_bytes: 20, rx_bps: null, tx_bps: null },
      { iface: 'wg0', rx_bytes: 5, tx_bytes: 5, rx_bps: null, tx_bps: null },
      { iface: 'broken', rx_bytes: null, tx_bytes: null, rx_bps: null, tx_bps: null },
    ]);
    await fx.remove('proc/net/dev');
    assert.equal(await net.read(), null);
  });

  test('old kernels without a space after the colon; a custom filter can keep lo', async () => {
    assert.deepEqual(parseNetDev(HEAD + 'eth0:12345 1 0 0 0 0 0 0 678 1 0 0 0 0 0 0\n'), [
      { iface: 'eth0', rx_bytes: 12345, tx_bytes: 678 },
    ]);
    const net = createNetworkReader({ ...fixtureRoots('apu-8060s'), includeInterface: (i) => i === 'lo' });
    assert.deepEqual(
      (await net.read())?.map((n) => n.iface),
      ['lo'],
    );
  });
});

describe('hwmon reader', () => {
  test('apu-8060s: every chip and channel, labels or tempN, in hwmon and channel order', async () => {
    const hw = createHwmonReader(fixtureRoots('apu-8060s'));
    assert.deepEqual(await hw.read(), [
      { chip: 'nvme', label: 'Composite', celsius: 38.85 },
      { chip: 'nvme', label: 'Sensor 1', celsius: 41.85 },
      { chip: 'k10temp', label: 'Tctl', celsius: 65.25 },
      { chip: 'k10temp', label: 'Tccd1', celsius: 61 },
      { chip: 'k10temp', label: 'Tccd2', celsius: 59.125 },
      { chip: 'amdgpu', label: 'edge', celsius: 48 },
      { chip: 'mt7925_phy0', label: 'temp1', celsius: 41 },
    ]);
  });

  test('nvidia-dgpu and cpu-only', async () => {
    assert.deepEqual(await createHwmonReader(fixtureRoots('nvidia-dgpu')).read(), [
      { chip: 'coretemp', label: 'Package id 0', celsius: 55 },
      { chip: 'coretemp', label: 'Core 0', celsius: 52 },
      { chip: 'coretemp', label: 'Core 1', celsius: 54 },
      { chip: 'nvme', label: 'Composite', celsius: 41.85 },
    ]);
    assert.deepEqual(await createHwmonReader(fixtureRoots('cpu-only')).read(), [
      { chip: 'acpitz', label: 'temp1', celsius: 27.8 },
      { chip: 'k10temp', label: 'Tctl', celsius: 45.5 },
    ]);
  });

  test('cached channel list: reads follow file changes, new sensors appear only on rediscovery', async (t) => {
    const fx = await copyFixture(t, 'cpu-only');
    const clock = manualClock();
    const hw = createHwmonReader({ sysRoot: fx.sysRoot, now: clock.now, rediscoverIntervalMs: 60_000 });
    await hw.read();
    await fx.write('sys/class/hwmon/hwmon1/temp1_input', '-5000\n');
    await fx.write('sys/class/hwmon/hwmon0/temp1_input', 'N/A\n');
    await fx.write('sys/class/hwmon/hwmon10/name', 'nvme\n');
    await fx.write('sys/class/hwmon/hwmon10/temp1_input', '30000\n');
    await fx.write('sys/class/hwmon/hwmon2/name', 'drivetemp\n');
    await fx.write('sys/class/hwmon/hwmon2/temp1_input', '31000\n');
    assert.deepEqual(await hw.read(), [
      { chip: 'acpitz', label: 'temp1', celsius: null },
      { chip: 'k10temp', label: 'Tctl', celsius: -5 },
    ]);
    clock.advance(60_000);
    await fx.remove('sys/class/hwmon/hwmon0');
    assert.deepEqual(await hw.read(), [
      { chip: 'k10temp', label: 'Tctl', celsius: -5 },
      { chip: 'drivetemp', label: 'temp1', celsius: 31 },
      { chip: 'nvme', label: 'temp1', celsius: 30 },
    ]);
  });

  test('a sensor that vanishes between discoveries reads null; no hwmon class → no temps', async (t) => {
    const fx = await copyFixture(t, 'nvidia-dgpu');
    // A file removed mid-test is only seen by fresh opens (a kept descriptor still reads the unlinked
    // inode; on real procfs/sysfs a vanished attribute fails it with ENODEV instead).
    const hw = createHwmonReader({ sysRoot: fx.sysRoot, files: createFileReader({ keepOpen: false }) });
    await hw.read();
    await fx.remove('sys/class/hwmon/hwmon1/temp1_input');
    assert.deepEqual((await hw.read()).at(-1), { chip: 'nvme', label: 'Composite', celsius: null });
    await fx.remove('sys/class/hwmon');
    assert.deepEqual(await createHwmonReader({ sysRoot: fx.sysRoot }).read(), []);
  });

  test('hwmon10 sorts after hwmon9', () => {
    assert.deepEqual(['hwmon10', 'hwmon9', 'hwmon1'].sort(compareNumericSuffix), ['hwmon1', 'hwmon9', 'hwmon10']);
  });
});
