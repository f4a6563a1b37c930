/**
 * The emulated three-node lab of the seed plan on loopback: per node an Ollama and an EXO
 * emulator with that node's hardware profile; the EXO emulators peer into one cluster.
 */
import type { Logger } from 'pino';
import {
  SEED_NODE_PROFILES,
  findHardwareProfile,
  startExoEmulator,
  startOllamaEmulator,
  type HardwareProfile,
  type RunningEmulator,
} from '@kage/emulators';

export interface DemoNode {
  readonly hostname: string;
  readonly profile: HardwareProfile;
  readonly ollama: RunningEmulator;
  readonly exo: RunningEmulator;
}

export interface DemoCluster {
  readonly nodes: readonly DemoNode[];
  close(): Promise<void>;
}

const HOSTNAMES = ['srv1', 'srv2', 'rog'] as const;

function profileFor(hostname: (typeof HOSTNAMES)[number]): HardwareProfile {
  const profile = findHardwareProfile(SEED_NODE_PROFILES[hostname]);
  if (!profile) throw new Error(`seed profile ${SEED_NODE_PROFILES[hostname]} missing from the catalogue`);
  return profile;
}

/**
 * Starts the six emulators. EXO peers are wired after all three bound their ports: each later node
 * names the earlier ones, and the emulators learn the reverse direction from heartbeats.
 */
export async function startDemoCluster(log: Logger, options: { deterministic: boolean }): Promise<DemoCluster> {
  const started: RunningEmulator[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled(started.reverse().map((e) => e.close()));
  };
  try {
    const nodes: DemoNode[] = [];
    for (const hostname of HOSTNAMES) {
      const profile = profileFor(hostname);
      // `host`, not `node`: the EXO emulator logs its own node id under `node`.
      const nodeLog = log.child({ host: hostname });
      const ollama = await startOllamaEmulator({
        listen: { host: '127.0.0.1', port: 0 },
        profile,
        deterministic: options.deterministic,
        seed: nodes.length + 1,
        logger: nodeLog,
      });
      started.push(ollama);
      const exo = await startExoEmulator({
        listen: { host: '127.0.0.1', port: 0 },
        name: hostname,
        peers: nodes.map((n) => `127.0.0.1:${n.exo.port}`),
        profile,
        deterministic: options.deterministic,
        seed: nodes.length + 101,
        heartbeatIntervalMs: 250,
        logger: nodeLog,
      });
      started.push(exo);
      nodes.push({ hostname, profile, ollama, exo });
    }
    let closing: Promise<void> | undefined;
    return {
      nodes,
      close: () => (closing ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

interface ExoStateView {
  nodeIdentities?: Record<string, { friendlyName?: string }>;
}

/** Polls an EXO node's /state until every hostname is present (bounded by `timeoutMs`). */
export async function waitForExoCluster(
  url: string,
  hostnames: readonly string[],
  timeoutMs: number,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let seen: string[] = [];
  while (Date.now() < deadline) {
    const response = await fetch(`${url}/state`);
    const state = (await response.json()) as ExoStateView;
    seen = Object.values(state.nodeIdentities ?? {})
      .map((identity) => identity.friendlyName ?? '')
      .sort();
    if (hostnames.every((h) => seen.includes(h))) return seen;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`EXO cluster did not form within ${timeoutMs} ms: saw [${seen.join(', ')}]`);
}
