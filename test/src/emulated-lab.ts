/**
 * A small emulated lab inside the test process: Ollama and EXO emulators on 127.0.0.1:0 with
 * named hardware profiles. The code under test still talks to them over real sockets.
 */
import { pino } from 'pino';
import {
  findHardwareProfile,
  startExoEmulator,
  startOllamaEmulator,
  type ExoEmulatorOptions,
  type FaultOptions,
  type HardwareProfile,
  type RunningEmulator,
} from '@kage/emulators';

const silent = pino({ level: 'silent' });

export function profile(id: string): HardwareProfile {
  const found = findHardwareProfile(id);
  if (!found) throw new Error(`unknown profile ${id}`);
  return found;
}

export async function startOllama(profileId: string, faults: Partial<FaultOptions> = {}): Promise<RunningEmulator> {
  return startOllamaEmulator({
    listen: { host: '127.0.0.1', port: 0 },
    profile: profile(profileId),
    deterministic: true,
    logger: silent,
    faults,
  });
}

/** Starts EXO nodes that peer with each other; resolves once every node sees all of them. */
export async function startExoCluster(
  nodes: ReadonlyArray<{ name: string; profile: string; extra?: Partial<ExoEmulatorOptions> }>,
): Promise<RunningEmulator[]> {
  const started: RunningEmulator[] = [];
  for (const node of nodes) {
    started.push(
      await startExoEmulator({
        listen: { host: '127.0.0.1', port: 0 },
        name: node.name,
        peers: started.map((s) => `127.0.0.1:${s.port}`),
        profile: profile(node.profile),
        deterministic: true,
        heartbeatIntervalMs: 100,
        peerTimeoutMs: 3000,
        logger: silent,
        ...node.extra,
      }),
    );
  }
  const deadline = Date.now() + 10_000;
  for (const node of started) {
    for (;;) {
      const state = (await (await fetch(`${node.url}/state`)).json()) as {
        nodeIdentities: Record<string, unknown>;
      };
      if (Object.keys(state.nodeIdentities).length === nodes.length) break;
      if (Date.now() > deadline) throw new Error('EXO test cluster did not form');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return started;
}
