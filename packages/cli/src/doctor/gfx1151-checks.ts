/**
 * The AMD Radeon 8050S/8060S (Strix Halo, LLVM target gfx1151), as on the `rog` node: whether
 * Ollama can use it and what to set when it cannot. What is known to be true:
 *
 * - Ollama has a gfx1151 build since 0.6.2, but until 0.30 it often ran on the CPU on this chip
 *   (ROCm page faults on 0.13–0.17, the GPU filtered out on 0.18). Users' workarounds are Vulkan
 *   (`OLLAMA_VULKAN=1`, from 0.12.11) or ROCm with `HSA_OVERRIDE_GFX_VERSION=11.5.1`; `11.0.0` is
 *   reported to fail ("no matching kernel image"). 0.30.0 drops integrated GPUs unless
 *   `OLLAMA_IGPU_ENABLE=1`; 0.30.1 admits gfx1151 by default.
 * - The GPU's memory is host DRAM: the BIOS carve-out (`mem_info_vram_total`) plus GTT
 *   (`mem_info_gtt_total`), whose limit is the kernel parameter `ttm.pages_limit`;
 *   `amdgpu.gttsize` is deprecated. Tools that read VRAM alone see about 512 MiB.
 * - Whether a loaded model is on the GPU shows in `/api/ps`: `size_vram` 0 means the CPU.
 *
 * The GPU is found by the agent's own sysfs discovery (`listAmdGpus`); the sysfs and procfs roots
 * are options so tests can point them at a fixture tree.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listAmdGpus, type AmdGpuFacts } from '@kage/agent';
import { gb, gib, pass, warn, type CheckResult } from './check-result.js';
import { httpJson, output } from './probes.js';

/** PCI device ids of gfx1151 parts (Strix Halo: Radeon 8050S and 8060S share it). */
const GFX1151_DEVICE_IDS: ReadonlySet<string> = new Set(['0x1586']);
const WORKING_OVERRIDE = '11.5.1';

export interface Gfx1151Options {
  /** @default '/sys' */
  sysRoot?: string;
  /** @default '/proc' */
  procRoot?: string;
  /** Ollama's base URL on this node. */
  ollamaUrl: string;
  /**
   * Ollama's service environment, or null when it cannot be read; asked only when the node has
   * such a GPU. @default the `Environment=` of ollama.service
   */
  readOllamaEnv?: () => Promise<Readonly<Record<string, string>> | null>;
}

/** `0.17.8-rc1` → [0, 17, 8]; null for anything else. */
function parseVersion(version: string): number[] | null {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(version.trim());
  return m === null ? null : [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

/** True when `a` is at least `b` (numbers only; a pre-release counts as its release). */
function atLeast(a: readonly number[], b: string): boolean {
  const want = parseVersion(b) ?? [];
  for (let i = 0; i < 3; i++) {
    const x = a[i] ?? 0;
    const y = want[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/**
 * `systemctl show -p Environment --value` output as a map. systemd quotes a whole pair that needs
 * it (`"A=b c"`); the variables read here have no spaces in their values.
 */
export function parseUnitEnvironment(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of text.trim().split(/\s+/)) {
    const bare = pair.replace(/^"|"$/g, '');
    const at = bare.indexOf('=');
    if (at > 0) env[bare.slice(0, at)] = bare.slice(at + 1);
  }
  return env;
}

/** The `Environment=` of a systemd unit (drop-ins included), or null when systemctl cannot tell. */
export async function readUnitEnvironment(unit: string): Promise<Record<string, string> | null> {
  const out = await output('systemctl', ['show', unit, '-p', 'Environment', '--value']);
  return out === null ? null : parseUnitEnvironment(out);
}

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

function memoryCheck(gpu: AmdGpuFacts, memTotalBytes: number | null, cmdline: string): CheckResult {
  const id = 'gfx1151-memory';
  if (gpu.gttTotalBytes === null) {
    return warn(
      id,
      `${gpu.card}: mem_info_gtt_total cannot be read`,
      'is the amdgpu driver loaded? (lsmod | grep amdgpu)',
    );
  }
  const usable = (gpu.vramTotalBytes ?? 0) + gpu.gttTotalBytes;
  const seen =
    `${gpu.card}: the GPU can use ${gib(usable)} (carve-out ${gib(gpu.vramTotalBytes ?? 0)} + GTT ${gib(gpu.gttTotalBytes)})` +
    (memTotalBytes === null ? '' : ` of ${gib(memTotalBytes)} RAM`);
  if (/(^|\s)amdgpu\.gttsize=/.test(cmdline)) {
    return warn(
      id,
      `${seen}; the kernel command line sets amdgpu.gttsize, which is deprecated`,
      'set ttm.pages_limit (in 4 KiB pages) instead of amdgpu.gttsize',
    );
  }
  // The kernel's default GTT limit is half of RAM: less means a setting shrank it.
  if (memTotalBytes !== null && usable < memTotalBytes / 2) {
    return warn(
      id,
      `${seen}: less than half of RAM, so large models will not fit on the GPU`,
      'raise the kernel parameter ttm.pages_limit (4 KiB pages) or the BIOS UMA carve-out',
    );
  }
  return pass(id, seen);
}

function ollamaCheck(version: string | null, env: Readonly<Record<string, string>> | null): CheckResult {
  const id = 'gfx1151-ollama';
  const e = env ?? {};
  const unread = env === null ? " (ollama.service's environment could not be read)" : '';
  const override = e['HSA_OVERRIDE_GFX_VERSION'];
  const dropIn = 'in a drop-in: systemctl edit ollama, then systemctl restart ollama';
  if (override !== undefined && override !== WORKING_OVERRIDE) {
    return warn(
      id,
      `HSA_OVERRIDE_GFX_VERSION=${override} makes ROCm load another target's kernels; on gfx1151 that is reported to fail`,
      `set HSA_OVERRIDE_GFX_VERSION=${WORKING_OVERRIDE} or remove it, ${dropIn}`,
    );
  }
  const v = version === null ? null : parseVersion(version);
  if (v === null) {
    return warn(id, `Ollama's version is unknown, so which workaround applies is too${unread}`, 'see the ollama check');
  }
  if (atLeast(v, '0.30.1')) return pass(id, `Ollama ${version} uses gfx1151 by default${unread}`);
  if (atLeast(v, '0.30.0')) {
    return e['OLLAMA_IGPU_ENABLE'] === '1'
      ? pass(id, `Ollama ${version} with OLLAMA_IGPU_ENABLE=1`)
      : warn(
          id,
          `Ollama ${version} drops integrated GPUs such as this one: it runs on the CPU${unread}`,
          `upgrade Ollama to 0.30.1 or later, or set OLLAMA_IGPU_ENABLE=1 ${dropIn}`,
        );
  }
  const workaround =
    override === WORKING_OVERRIDE
      ? `HSA_OVERRIDE_GFX_VERSION=${WORKING_OVERRIDE}`
      : e['OLLAMA_VULKAN'] === '1' && atLeast(v, '0.12.11')
        ? 'OLLAMA_VULKAN=1'
        : null;
  if (workaround !== null) return pass(id, `Ollama ${version} with ${workaround}`);
  return warn(
    id,
    atLeast(v, '0.6.2')
      ? `Ollama ${version} often runs on the CPU on gfx1151 (ROCm faults, or the GPU filtered out)${unread}`
      : `Ollama ${version} has no gfx1151 build: it runs on the CPU${unread}`,
    `upgrade Ollama to 0.30.1 or later; or set OLLAMA_VULKAN=1 (0.12.11 and later) or HSA_OVERRIDE_GFX_VERSION=${WORKING_OVERRIDE} ${dropIn}`,
  );
}

interface PsEntry {
  name?: string;
  size?: number;
  size_vram?: number;
}

/** Where the loaded models run; no check when nothing is loaded (there is nothing to see). */
function offloadCheck(loaded: readonly PsEntry[]): CheckResult[] {
  const models = loaded.filter((m) => typeof m.name === 'string' && typeof m.size_vram === 'number');
  if (models.length === 0) return [];
  const onCpu = models.filter((m) => m.size_vram === 0);
  if (onCpu.length > 0) {
    return [
      warn(
        'gfx1151-offload',
        `${onCpu.map((m) => m.name).join(', ')} loaded with nothing on the GPU (size_vram 0): Ollama runs on the CPU`,
        "journalctl -u ollama | grep -i 'inference compute' names the library Ollama found; see the gfx1151-ollama fix",
      ),
    ];
  }
  const on = models.map((m) => `${m.name} ${gb(m.size_vram ?? 0)} of ${gb(m.size ?? 0)}`).join(', ');
  return [pass('gfx1151-offload', `on the GPU: ${on}`)];
}

/** The gfx1151 checks; one pass when the node has no such GPU. */
export async function checkGfx1151(o: Gfx1151Options): Promise<CheckResult[]> {
  const sysRoot = o.sysRoot ?? '/sys';
  const procRoot = o.procRoot ?? '/proc';
  const gpu = (await listAmdGpus(sysRoot)).find((g) => GFX1151_DEVICE_IDS.has(g.deviceId));
  if (gpu === undefined)
    return [pass('gfx1151', 'no Radeon 8050S/8060S (gfx1151) on this node: nothing to work around')];
  const [meminfo, cmdline, version, ps, env] = await Promise.all([
    readText(join(procRoot, 'meminfo')),
    readText(join(procRoot, 'cmdline')),
    httpJson(`${o.ollamaUrl}/api/version`),
    httpJson(`${o.ollamaUrl}/api/ps`),
    (o.readOllamaEnv ?? (() => readUnitEnvironment('ollama.service')))(),
  ]);
  const kb = meminfo === null ? undefined : /^MemTotal:\s+(\d+) kB$/m.exec(meminfo)?.[1];
  const ollamaVersion =
    'error' in version
      ? null
      : (((version.json as { version?: unknown } | null)?.version as string | undefined) ?? null);
  const loaded = 'error' in ps ? [] : ((ps.json as { models?: PsEntry[] } | null)?.models ?? []);
  return [
    pass('gfx1151', `${gpu.name} (${gpu.card}, PCI ${gpu.deviceId})`),
    memoryCheck(gpu, kb === undefined ? null : Number(kb) * 1024, cmdline ?? ''),
    ollamaCheck(typeof ollamaVersion === 'string' ? ollamaVersion : null, env),
    ...offloadCheck(Array.isArray(loaded) ? loaded : []),
  ];
}
