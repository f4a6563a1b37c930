/**
 * `kage doctor`'s gfx1151 checks (Radeon 8060S, as on rog) against a sysfs / procfs tree written
 * for the test and an emulated Ollama of the version under test: the GPU found by the agent's own
 * discovery, its GTT memory, which Ollama versions need which workaround, and whether a loaded
 * model landed on the GPU.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { findHardwareProfile, startOllamaEmulator, type RunningEmulator } from '@kage/emulators';
import { pino } from 'pino';
import { checkGfx1151, parseUnitEnvironment } from '../src/doctor/gfx1151-checks.js';
import type { CheckResult } from '../src/doctor/check-result.js';

const GIB = 1024 ** 3;
const silent = pino({ level: 'silent' });

/** A node's /sys and /proc with one amdgpu card (`device` = PCI id) and `ramGiB` of memory. */
async function nodeTree(
  t: TestContext,
  o: { device: string; vramGiB: number; gttGiB: number; ramGiB: number; cmdline?: string },
): Promise<{ sysRoot: string; procRoot: string }> {
  const root = await mkdtemp(join(tmpdir(), 'kage-doctor-gfx-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'sys/class/drm/card1/device/vendor': '0x1002\n',
    'sys/class/drm/card1/device/device': `${o.device}\n`,
    'sys/class/drm/card1/device/uevent': 'DRIVER=amdgpu\nPCI_ID=1002:1586\n',
    'sys/class/drm/card1/device/mem_info_vram_total': `${o.vramGiB * GIB}\n`,
    'sys/class/drm/card1/device/mem_info_gtt_total': `${o.gttGiB * GIB}\n`,
    // A connector entry shares the device and must not count as a second card.
    'sys/class/drm/card1-eDP-1/status': 'connected\n',
    'proc/meminfo': `MemTotal:       ${o.ramGiB * 1024 * 1024} kB\nMemAvailable:   ${o.ramGiB * 512 * 1024} kB\n`,
    'proc/cmdline': `${o.cmdline ?? 'BOOT_IMAGE=/vmlinuz root=/dev/nvme0n1p2 ro quiet'}\n`,
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return { sysRoot: join(root, 'sys'), procRoot: join(root, 'proc') };
}

async function ollama(t: TestContext, version: string, profile = 'strix-halo-8060s-128gb'): Promise<RunningEmulator> {
  const server = await startOllamaEmulator({
    listen: { host: '127.0.0.1', port: 0 },
    profile: findHardwareProfile(profile)!,
    version,
    deterministic: true,
    logger: silent,
  });
  t.after(() => server.close());
  return server;
}

function byId(results: readonly CheckResult[]): (id: string) => CheckResult {
  return (id) => {
    const found = results.find((r) => r.id === id);
    assert.ok(found, `no ${id} check in ${JSON.stringify(results)}`);
    return found;
  };
}

const noEnv = () => Promise.resolve({});

test('a 8060S with a current Ollama: found, GTT reported as its memory, no workaround needed', async (t) => {
  const tree = await nodeTree(t, { device: '0x1586', vramGiB: 0.5, gttGiB: 96, ramGiB: 128 });
  const server = await ollama(t, '0.32.15');
  const check = byId(await checkGfx1151({ ...tree, ollamaUrl: server.url, readOllamaEnv: noEnv }));
  assert.equal(check('gfx1151').status, 'pass');
  assert.match(check('gfx1151').message, /Radeon 8050S\/8060S.*card1, PCI 0x1586/);
  assert.equal(check('gfx1151-memory').status, 'pass');
  assert.match(
    check('gfx1151-memory').message,
    /can use 96\.5 GiB \(carve-out 0\.5 GiB \+ GTT 96\.0 GiB\) of 128\.0 GiB RAM/,
  );
  assert.equal(check('gfx1151-ollama').status, 'pass');
  assert.match(check('gfx1151-ollama').message, /Ollama 0\.32\.15 uses gfx1151 by default/);
});

test('older Ollama versions: the workaround each needs, and an override known to fail', async (t) => {
  const tree = await nodeTree(t, { device: '0x1586', vramGiB: 0.5, gttGiB: 96, ramGiB: 128 });
  const run = async (version: string, env: Record<string, string>) => {
    const server = await ollama(t, version);
    const results = await checkGfx1151({ ...tree, ollamaUrl: server.url, readOllamaEnv: () => Promise.resolve(env) });
    return byId(results)('gfx1151-ollama');
  };
  const bare = await run('0.18.0', {});
  assert.equal(bare.status, 'warn');
  assert.match(bare.message, /often runs on the CPU/);
  assert.match(bare.fix ?? '', /OLLAMA_VULKAN=1 .*HSA_OVERRIDE_GFX_VERSION=11\.5\.1/);
  assert.equal((await run('0.18.0', { HSA_OVERRIDE_GFX_VERSION: '11.5.1' })).status, 'pass');
  assert.equal((await run('0.18.0', { OLLAMA_VULKAN: '1' })).status, 'pass');
  assert.equal((await run('0.12.0', { OLLAMA_VULKAN: '1' })).status, 'warn', 'Vulkan arrived in 0.12.11');
  const dropped = await run('0.30.0', {});
  assert.equal(dropped.status, 'warn');
  assert.match(dropped.fix ?? '', /OLLAMA_IGPU_ENABLE=1/);
  assert.equal((await run('0.30.0', { OLLAMA_IGPU_ENABLE: '1' })).status, 'pass');
  const wrong = await run('0.32.15', { HSA_OVERRIDE_GFX_VERSION: '11.0.0' });
  assert.equal(wrong.status, 'warn');
  assert.match(wrong.message, /HSA_OVERRIDE_GFX_VERSION=11\.0\.0/);
});

test('a small GTT limit and the deprecated amdgpu.gttsize are warnings naming ttm.pages_limit', async (t) => {
  const server = await ollama(t, '0.32.15');
  const small = await nodeTree(t, { device: '0x1586', vramGiB: 0.5, gttGiB: 8, ramGiB: 128 });
  const memory = byId(await checkGfx1151({ ...small, ollamaUrl: server.url, readOllamaEnv: noEnv }))('gfx1151-memory');
  assert.equal(memory.status, 'warn');
  assert.match(memory.message, /less than half of RAM/);
  assert.match(memory.fix ?? '', /ttm\.pages_limit/);

  const legacy = await nodeTree(t, {
    device: '0x1586',
    vramGiB: 0.5,
    gttGiB: 96,
    ramGiB: 128,
    cmdline: 'BOOT_IMAGE=/vmlinuz amdgpu.gttsize=98304 quiet',
  });
  const deprecated = byId(await checkGfx1151({ ...legacy, ollamaUrl: server.url, readOllamaEnv: noEnv }))(
    'gfx1151-memory',
  );
  assert.equal(deprecated.status, 'warn');
  assert.match(deprecated.message, /amdgpu\.gttsize, which is deprecated/);
});

test("a loaded model's size_vram says where it runs: on the GPU, or 0 on the CPU", async (t) => {
  const tree = await nodeTree(t, { device: '0x1586', vramGiB: 0.5, gttGiB: 96, ramGiB: 128 });
  const load = async (server: RunningEmulator) => {
    const res = await fetch(`${server.url}/api/generate`, {
      method: 'POST',
      body: JSON.stringify({ model: 'qwen2.5:3b', prompt: '', stream: false }),
    });
    assert.equal(res.status, 200);
  };
  const gpu = await ollama(t, '0.32.15');
  const idle = await checkGfx1151({ ...tree, ollamaUrl: gpu.url, readOllamaEnv: noEnv });
  assert.equal(
    idle.find((r) => r.id === 'gfx1151-offload'),
    undefined,
    'nothing loaded, nothing to say',
  );
  await load(gpu);
  const onGpu = byId(await checkGfx1151({ ...tree, ollamaUrl: gpu.url, readOllamaEnv: noEnv }))('gfx1151-offload');
  assert.equal(onGpu.status, 'pass');
  assert.match(onGpu.message, /^on the GPU: qwen2\.5:3b /);

  // The CPU profile places nothing on a GPU: what a gfx1151 fallback looks like from Ollama's side.
  const cpu = await ollama(t, '0.18.0', 'cpu-server-ddr4');
  await load(cpu);
  const onCpu = byId(await checkGfx1151({ ...tree, ollamaUrl: cpu.url, readOllamaEnv: noEnv }))('gfx1151-offload');
  assert.equal(onCpu.status, 'warn');
  assert.match(onCpu.message, /qwen2\.5:3b loaded with nothing on the GPU \(size_vram 0\)/);
});

test('no gfx1151 card (another AMD GPU, or none): one passing line, and Ollama is not asked', async (t) => {
  const other = await nodeTree(t, { device: '0x744c', vramGiB: 24, gttGiB: 64, ramGiB: 128 });
  let envRead = false;
  const results = await checkGfx1151({
    ...other,
    ollamaUrl: 'http://127.0.0.1:9',
    readOllamaEnv: () => {
      envRead = true;
      return Promise.resolve({});
    },
  });
  assert.deepEqual(
    results.map((r) => [r.id, r.status]),
    [['gfx1151', 'pass']],
  );
  assert.equal(envRead, false);
});

test("ollama.service's environment as systemctl shows it: quoted pairs, drop-in variables", () => {
  assert.deepEqual(
    parseUnitEnvironment('OLLAMA_HOST=0.0.0.0:11434 "HSA_OVERRIDE_GFX_VERSION=11.5.1" OLLAMA_VULKAN=1\n'),
    {
      OLLAMA_HOST: '0.0.0.0:11434',
      HSA_OVERRIDE_GFX_VERSION: '11.5.1',
      OLLAMA_VULKAN: '1',
    },
  );
  assert.deepEqual(parseUnitEnvironment('\n'), {});
});
