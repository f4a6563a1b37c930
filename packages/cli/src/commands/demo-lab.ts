/**
 * The emulated three-node lab of the seed plan, run as the real system: a coordinator (in this
 * process) and one `kage agent` process per node, each agent supervising that node's emulated
 * Ollama and EXO (`kage emulate …`) as child services, exactly as it would supervise the real
 * servers. Agents dial the coordinator over gRPC with their own tokens; everything else goes over
 * the coordinator's REST API. Logs go to files under `<out>/lab/`, so the terminal shows only the
 * demo's own progress.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '@kage/common';
import { SEED_NODE_PROFILES } from '@kage/emulators';
import { pino } from 'pino';
import { CoordinatorClient, type NodeView } from '../coordinator-client.js';

const HOSTNAMES = ['srv1', 'srv2', 'rog'] as const;
const KAGE_BIN = fileURLToPath(new URL('../bin.js', import.meta.url));
/** Agents sample faster than the default 1 s so that short demo cells still get several samples. */
const SAMPLE_INTERVAL_MS = 500;

export interface DemoNode {
  readonly hostname: string;
  readonly ollama: { readonly url: string };
  readonly exo: { readonly url: string };
}

export interface DemoLab {
  readonly nodes: readonly DemoNode[];
  readonly client: CoordinatorClient;
  readonly apiUrl: string;
  /** The gateway: one Ollama/OpenAI endpoint over every node's Ollama and the EXO cluster. */
  readonly gatewayUrl: string;
  close(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. The lab binds it a moment later; nothing else runs in between. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

function yamlString(text: string): string {
  return JSON.stringify(text);
}

export async function startDemoLab(outDir: string, options: { deterministic: boolean }): Promise<DemoLab> {
  const labDir = resolve(outDir, 'lab');
  await rm(labDir, { recursive: true, force: true });
  await mkdir(labDir, { recursive: true, mode: 0o700 });
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const gatewayPort = await freePort();
  // Every port before the coordinator's config: its gateway names each node's servers.
  const ports = new Map<string, { ollama: number; exo: number }>();
  for (const hostname of HOSTNAMES) ports.set(hostname, { ollama: await freePort(), exo: await freePort() });
  const portsOf = (hostname: string): { ollama: number; exo: number } => {
    const p = ports.get(hostname);
    if (p === undefined) throw new TypeError(`no ports for ${hostname}`);
    return p;
  };
  const tokens = Object.fromEntries(HOSTNAMES.map((h) => [h, `demo-${h}-${randomHex()}`]));
  const apiToken = `demo-api-${randomHex()}`;
  await writeFile(
    join(labDir, 'agent-tokens.yaml'),
    HOSTNAMES.map((h) => `${h}: ${yamlString(tokens[h] ?? '')}`).join('\n') + '\n',
    { mode: 0o600 },
  );
  await writeFile(join(labDir, 'api.token'), `${apiToken}\n`, { mode: 0o600 });
  const coordinatorFile = join(labDir, 'coordinator.yaml');
  await writeFile(
    coordinatorFile,
    [
      `grpc: { listen: "127.0.0.1:${grpcPort}" }`,
      `http: { listen: "127.0.0.1:${httpPort}" }`,
      `db: ${yamlString(resolve(outDir, 'kage.db'))}`,
      'auth: { agent_tokens_file: agent-tokens.yaml, api_token_file: api.token }',
      // The dashboard labels every figure as coming from emulators.
      'emulated: true',
      // The dashboard shows where the gateway sends each request; a run's cell locks its backend.
      'gateway:',
      `  listen: "127.0.0.1:${gatewayPort}"`,
      '  backends:',
      ...HOSTNAMES.map(
        (h) => `    - { id: ollama-${h}, kind: ollama, url: "http://127.0.0.1:${portsOf(h).ollama}", nodes: [${h}] }`,
      ),
      `    - { id: exo, kind: exo, url: "http://127.0.0.1:${portsOf('srv1').exo}", nodes: [${HOSTNAMES.join(', ')}] }`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );

  const children: ChildProcess[] = [];
  const { createCoordinatorDaemon, loadCoordinatorConfig } = await import('@kage/coordinator');
  const logFile = pino.destination({ dest: join(labDir, 'coordinator.log'), sync: true });
  const log = pino({ level: 'info' }, logFile);
  const daemon = createCoordinatorDaemon({
    config: await loadCoordinatorConfig(coordinatorFile),
    env: { notifySocket: null, watchdogUsec: null, journalStream: null, stateDirectory: null, logLevel: null },
    log,
    version: 'demo',
    resumeRuns: false,
  });
  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    // The coordinator first: it leaves a running run interrupted (resumable). Stopping the agents
    // first would turn the rest of the run into failed requests and let it "complete".
    await daemon.close();
    await Promise.allSettled(children.map((c) => stopChild(c)));
    logFile.end();
  };
  try {
    await daemon.start();
    const nodes: DemoNode[] = [];
    const exoPorts: number[] = [];
    for (const [i, hostname] of HOSTNAMES.entries()) {
      const { ollama: ollamaPort, exo: exoPort } = portsOf(hostname);
      const profile = SEED_NODE_PROFILES[hostname];
      const common = [
        '--hardware',
        profile,
        '--seed',
        String(i + 1),
        ...(options.deterministic ? ['--deterministic'] : []),
      ];
      const ollama = [
        process.execPath,
        KAGE_BIN,
        'emulate',
        'ollama',
        '--listen',
        `127.0.0.1:${ollamaPort}`,
        ...common,
      ];
      const exo = [
        process.execPath,
        KAGE_BIN,
        'emulate',
        'exo',
        '--listen',
        `127.0.0.1:${exoPort}`,
        '--name',
        hostname,
        '--heartbeat-interval-ms',
        '250',
        ...(exoPorts.length > 0 ? ['--peers', exoPorts.map((p) => `127.0.0.1:${p}`).join(',')] : []),
        ...common,
      ];
      exoPorts.push(exoPort);
      const agentFile = join(labDir, `agent-${hostname}.yaml`);
      await writeFile(
        agentFile,
        [
          `node: ${hostname}`,
          `coordinator: { url: "127.0.0.1:${grpcPort}", token: ${yamlString(tokens[hostname] ?? '')} }`,
          `sample_interval_ms: ${SAMPLE_INTERVAL_MS}`,
          `buffer: { dir: ${yamlString(join(labDir, `buffer-${hostname}`))}, max_age_s: 600 }`,
          'services:',
          `  ollama: { driver: process, command: ${JSON.stringify(ollama)}, health: "http://127.0.0.1:${ollamaPort}/",`,
          `            loaded_models: { api: ollama, url: "http://127.0.0.1:${ollamaPort}/api/ps" } }`,
          `  exo: { driver: process, command: ${JSON.stringify(exo)}, health: "http://127.0.0.1:${exoPort}/node_id",`,
          `         loaded_models: { api: exo, url: "http://127.0.0.1:${exoPort}/state" } }`,
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      children.push(
        spawnLogged(
          [KAGE_BIN, 'agent', '--config', agentFile],
          join(labDir, `agent-${hostname}.log`),
          labDir,
          hostname,
        ),
      );
      nodes.push({
        hostname,
        ollama: { url: `http://127.0.0.1:${ollamaPort}` },
        exo: { url: `http://127.0.0.1:${exoPort}` },
      });
    }
    const apiUrl = `http://127.0.0.1:${httpPort}`;
    const client = new CoordinatorClient({ url: new URL(apiUrl), token: apiToken });
    return { nodes, client, apiUrl, gatewayUrl: `http://127.0.0.1:${gatewayPort}`, close: () => (closing ??= close()) };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Resolves once every node is online with both services running and every emulated Ollama
 * answers `GET /`; the node views. The emulators are asked directly rather than waiting for the
 * agents' next health round, which would add seconds to every demo.
 */
export async function waitForLab(lab: DemoLab, timeoutMs: number): Promise<NodeView[]> {
  const deadline = Date.now() + timeoutMs;
  let last: NodeView[] = [];
  while (Date.now() < deadline) {
    last = await lab.client.listNodes();
    const ready = last.filter(
      (n) =>
        n.status === 'online' &&
        ['ollama', 'exo'].every((name) => n.services.some((s) => s.name === name && s.state === 'running')),
    );
    if (ready.length === HOSTNAMES.length && (await allAnswer(lab.nodes.map((n) => n.ollama.url)))) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  const state = last.map(
    (n) =>
      `${n.id} ${n.status} [${n.services.map((s) => `${s.name} ${s.state}${s.healthy ? '' : ' unhealthy'}`).join(', ')}]`,
  );
  throw new Error(
    `the emulated lab did not come up within ${timeoutMs / 1000} s: ${state.join('; ') || 'no node connected'}`,
  );
}

async function allAnswer(urls: readonly string[]): Promise<boolean> {
  const answers = await Promise.all(
    urls.map((url) =>
      fetch(`${url}/`, { signal: AbortSignal.timeout(1000) }).then(
        (r) => r.ok,
        () => false,
      ),
    ),
  );
  return answers.every(Boolean);
}

/** Resolves with the cluster's hostnames once EXO's `/state` on `url` names all of `hostnames`. */
export async function waitForExoCluster(
  url: string,
  hostnames: readonly string[],
  timeoutMs: number,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let seen: string[] = [];
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      // A node the agent is restarting refuses for a moment: that is waited out like a small cluster.
      const res = await fetch(`${url}/state`, { signal: AbortSignal.timeout(2000) });
      const state = (await res.json()) as { nodeIdentities?: Record<string, { friendlyName?: string }> };
      seen = Object.values(state.nodeIdentities ?? {})
        .map((identity) => identity.friendlyName ?? '')
        .sort();
      lastError = '';
      if (hostnames.every((h) => seen.includes(h))) return seen;
    } catch (err) {
      lastError = `; the last GET ${url}/state failed: ${errorMessage(err)}`;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`EXO cluster did not form within ${timeoutMs} ms: saw [${seen.join(', ')}]${lastError}`);
}

function spawnLogged(args: string[], logFile: string, cwd: string, node: string): ChildProcess {
  const fd = openSync(logFile, 'a', 0o600);
  try {
    return spawn(process.execPath, args, {
      cwd,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, STATE_DIRECTORY: join(cwd, `state-${node}`), KAGE_LOG_LEVEL: 'info' },
    });
  } finally {
    closeSync(fd);
  }
}

/** SIGTERM (the agent stops its emulators), SIGKILL after 10 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function randomHex(): string {
  return randomBytes(12).toString('hex');
}
