/**
 * `kage doctor`'s checks of one node: each says pass, warn or fail, what it saw and how to fix it.
 * They only look (no check changes anything) and each is bounded in time, so the doctor answers
 * within seconds even on a broken node.
 */
import { existsSync } from 'node:fs';
import { readGitTag } from '@kage/agent';
import { fail, pass, warn, type CheckResult } from './check-result.js';
import { PROBE_TIMEOUT_MS, httpText, output } from './probes.js';

export interface DoctorOptions {
  /** Ollama's base URL on this node. */
  ollamaUrl: string;
  /** EXO's API port and the libp2p port from the inventory. */
  exoApiPort: number;
  exoLibp2pPort: number;
  /** The EXO tag the lab is pinned to. */
  exoVersion: string;
  /** Where install-exo.sh puts EXO. */
  exoDir: string;
}

export function checkNode(): CheckResult {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const ok = major > 20 || (major === 20 && minor >= 19);
  return ok
    ? pass('node', `Node.js ${process.versions.node}`)
    : fail('node', `Node.js ${process.versions.node}`, 'install Node.js 20.19 or later (Kage needs it)');
}

export async function checkSystemd(): Promise<CheckResult> {
  const out = await output('systemctl', ['--version']);
  const version = out === null ? null : Number(/^systemd (\d+)/.exec(out)?.[1]);
  if (version === null || !Number.isFinite(version)) {
    return warn('systemd', 'no systemctl on this machine', 'the Kage and EXO units need systemd 249 or later');
  }
  if (version < 249) {
    return warn('systemd', `systemd ${version}`, 'the units are tested on systemd 249 and later; expect warnings');
  }
  return pass('systemd', `systemd ${version}${version >= 254 ? ' (the restart-backoff drop-in applies)' : ''}`);
}

export async function checkOllama(o: DoctorOptions): Promise<CheckResult> {
  const root = await httpText(`${o.ollamaUrl}/`);
  if ('error' in root) {
    return fail(
      'ollama',
      `${o.ollamaUrl} does not answer (${root.error})`,
      'systemctl status ollama; journalctl -u ollama',
    );
  }
  if (root.status !== 200 || root.text.trim() !== 'Ollama is running') {
    return fail(
      'ollama',
      `${o.ollamaUrl}/ answered ${root.status} "${root.text.slice(0, 60)}", not "Ollama is running"`,
      'is something else listening on the Ollama port?',
    );
  }
  const version = await httpText(`${o.ollamaUrl}/api/version`);
  let v = 'unknown version';
  if (!('error' in version) && version.status === 200) {
    try {
      v = `version ${(JSON.parse(version.text) as { version?: string }).version ?? 'unknown'}`;
    } catch {
      // An answer that is not JSON leaves the version unknown; the server itself answered.
    }
  }
  return pass('ollama', `Ollama is running at ${o.ollamaUrl} (${v})`);
}

/** EXO from the right source: the pinned tag in /opt/exo, and not the unrelated PyPI package `exo`. */
export async function checkExoSource(o: DoctorOptions): Promise<CheckResult> {
  const pypi = await output('python3', [
    '-c',
    "import importlib.metadata as m; print(m.distribution('exo').locate_file(''))",
  ]);
  if (pypi !== null && !pypi.trim().startsWith(o.exoDir)) {
    return fail(
      'exo-source',
      `a Python package named "exo" is installed at ${pypi.trim()}: that PyPI project is not EXO`,
      'pip uninstall exo; install EXO from source with deploy/install-exo.sh',
    );
  }
  if (!existsSync(o.exoDir)) {
    return warn(
      'exo-source',
      `${o.exoDir} does not exist`,
      `deploy/install-exo.sh --inventory FILE --node NAME (EXO ${o.exoVersion})`,
    );
  }
  // The agent reports the same tag as EXO's version (`version_git`): one reader for both.
  const tag = await readGitTag(o.exoDir, { timeoutMs: PROBE_TIMEOUT_MS });
  if (tag !== o.exoVersion) {
    return fail(
      'exo-source',
      `${o.exoDir} is at ${tag ?? 'no tag'}, the lab is pinned to ${o.exoVersion}`,
      'every node must run the same EXO: deploy/install-exo.sh --force',
    );
  }
  if (!existsSync(`${o.exoDir}/.venv/bin/exo`)) {
    return fail('exo-source', `${o.exoDir} has no venv`, `cd ${o.exoDir} && uv sync --extra cpu`);
  }
  return pass('exo-source', `EXO ${tag} in ${o.exoDir}`);
}

/** EXO's ports: free, or EXO's own (its API answers /node_id with a JSON string). */
export async function checkExoPorts(o: DoctorOptions): Promise<CheckResult> {
  const api = await httpText(`http://127.0.0.1:${o.exoApiPort}/node_id`);
  if ('error' in api) {
    return api.error === 'ECONNREFUSED'
      ? warn('exo-ports', `nothing listens on ${o.exoApiPort} (EXO is not running)`, 'systemctl start exo')
      : fail('exo-ports', `port ${o.exoApiPort}: ${api.error}`, `check what listens on ${o.exoApiPort} (ss -ltnp)`);
  }
  let ownedByExo = false;
  try {
    ownedByExo = api.status === 200 && typeof JSON.parse(api.text) === 'string';
  } catch {
    ownedByExo = false;
  }
  return ownedByExo
    ? pass('exo-ports', `EXO answers on ${o.exoApiPort} (libp2p on ${o.exoLibp2pPort})`)
    : fail(
        'exo-ports',
        `port ${o.exoApiPort} is used by something that is not EXO`,
        `ss -ltnp 'sport = :${o.exoApiPort}'`,
      );
}

export async function checkUv(): Promise<CheckResult> {
  const out = await output('uv', ['--version']);
  return out === null
    ? warn('uv', 'uv is not installed', 'EXO 1.x installs with uv: https://docs.astral.sh/uv/')
    : pass('uv', out.trim());
}

export async function checkTailscale(): Promise<CheckResult> {
  const out = await output('tailscale', ['status', '--json']);
  if (out === null)
    return warn('tailscale', 'tailscale is not installed or not running', 'the lab runs over Tailscale: tailscale up');
  try {
    const status = JSON.parse(out) as { BackendState?: string; Peer?: Record<string, { Online?: boolean }> };
    const peers = Object.values(status.Peer ?? {});
    const online = peers.filter((p) => p.Online === true).length;
    return status.BackendState === 'Running'
      ? pass('tailscale', `up, ${online} of ${peers.length} peers online`)
      : fail('tailscale', `backend ${status.BackendState ?? 'unknown'}`, 'tailscale up');
  } catch {
    return warn('tailscale', 'tailscale status --json gave no JSON', 'tailscale status');
  }
}

/** `MemAvailable` from /proc/meminfo, in bytes; null where there is none (not Linux). */
export async function memAvailableBytes(): Promise<number | null> {
  try {
    const { readFile } = await import('node:fs/promises');
    const kb = /^MemAvailable:\s+(\d+) kB$/m.exec(await readFile('/proc/meminfo', 'utf8'))?.[1];
    return kb === undefined ? null : Number(kb) * 1024;
  } catch {
    return null;
  }
}
