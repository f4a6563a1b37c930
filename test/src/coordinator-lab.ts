/**
 * A lab of real processes on loopback: one `kage coordinator` and `kage agent`s, each agent
 * supervising an emulated Ollama (`kage emulate ollama`) as a process-driver service. Everything
 * talks over real sockets; the database is a real SQLite file in a temporary directory.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { KAGE_BIN } from './kage-process.js';

export interface DaemonProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Parsed pino lines of stdout so far. */
  logs(): Record<string, unknown>[];
  stderr(): string;
  /** Resolves with the first log line matching `match`, bounded by `timeoutMs`. */
  waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** SIGTERM, then SIGKILL after `graceMs`; the exit code (null if killed). */
  stop(graceMs?: number): Promise<number | null>;
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

export function spawnDaemon(args: readonly string[], env: NodeJS.ProcessEnv = {}): DaemonProcess {
  const child = spawn(process.execPath, [KAGE_BIN, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const lines: Record<string, unknown>[] = [];
  let partial = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout.on('data', (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as Record<string, unknown>);
      } catch {
        lines.push({ msg: p, unparsed: true });
      }
    }
    for (const w of waiters) w();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  return {
    child,
    logs: () => lines,
    stderr: () => stderr,
    waitForLog(match, what, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = lines.find(match);
          if (found !== undefined) {
            done();
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `no log line for ${what} within ${timeoutMs} ms; stderr:\n${stderr}\nlast lines:\n${lines
                .slice(-10)
                .map((l) => JSON.stringify(l))
                .join('\n')}`,
            ),
          );
        }, timeoutMs);
        const onExit = (): void => {
          done();
          reject(new Error(`process exited (${child.exitCode}) before ${what}; stderr:\n${stderr}`));
        };
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', onExit);
        };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const [code] = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export interface CoordinatorFiles {
  config: string;
  db: string;
  apiToken: string;
  tokens: Record<string, string>;
}

/** Writes coordinator.yaml and its token files into `dir`. */
export async function writeCoordinatorConfig(
  dir: string,
  o: { grpcPort: number; httpPort: number; nodes: readonly string[]; emulated?: boolean },
): Promise<CoordinatorFiles> {
  const tokens = Object.fromEntries(o.nodes.map((n) => [n, `token-${n}-0123456789abcdef`]));
  const apiToken = 'api-token-0123456789abcdef';
  await writeFile(
    join(dir, 'agent-tokens.yaml'),
    Object.entries(tokens)
      .map(([n, t]) => `${n}: "${t}"`)
      .join('\n') + '\n',
    { mode: 0o600 },
  );
  await writeFile(join(dir, 'api.token'), `${apiToken}\n`, { mode: 0o600 });
  const config = join(dir, 'coordinator.yaml');
  await writeFile(
    config,
    [
      `grpc: { listen: "127.0.0.1:${o.grpcPort}", keepalive_time_ms: 2000, keepalive_timeout_ms: 2000 }`,
      `http: { listen: "127.0.0.1:${o.httpPort}" }`,
      'db: kage.db',
      'auth: { agent_tokens_file: agent-tokens.yaml, api_token_file: api.token }',
      ...(o.emulated === true ? ['emulated: true'] : []),
      '',
    ].join('\n'),
  );
  return { config, db: join(dir, 'kage.db'), apiToken, tokens };
}

/**
 * Writes an agent.yaml for `node` supervising an emulated Ollama on `ollamaPort` and, when
 * `exo` is given, an emulated EXO node on `exo.port` that peers with `exo.peers`.
 */
export async function writeAgentConfig(
  dir: string,
  o: {
    node: string;
    grpcPort: number;
    token: string;
    ollamaPort: number;
    exo?: { port: number; peers: readonly number[] };
    sampleIntervalMs?: number;
  },
): Promise<string> {
  const exo =
    o.exo === undefined
      ? []
      : [
          '  exo:',
          '    driver: process',
          `    command: ${JSON.stringify([
            process.execPath,
            KAGE_BIN,
            'emulate',
            'exo',
            '--listen',
            `127.0.0.1:${o.exo.port}`,
            '--name',
            o.node,
            '--heartbeat-interval-ms',
            '250',
            ...(o.exo.peers.length > 0 ? ['--peers', o.exo.peers.map((p) => `127.0.0.1:${p}`).join(',')] : []),
          ])}`,
          `    health: "http://127.0.0.1:${o.exo.port}/node_id"`,
          `    loaded_models: { api: exo, url: "http://127.0.0.1:${o.exo.port}/state", interval_ms: 500 }`,
        ];
  const file = join(dir, `agent-${o.node}.yaml`);
  await writeFile(
    file,
    [
      `node: ${o.node}`,
      `coordinator: { url: "127.0.0.1:${o.grpcPort}", token: "${o.token}", keepalive_time_ms: 2000, keepalive_timeout_ms: 2000 }`,
      `sample_interval_ms: ${o.sampleIntervalMs ?? 250}`,
      `buffer: { dir: buffer-${o.node}, max_age_s: 600 }`,
      'services:',
      '  ollama:',
      '    driver: process',
      `    command: ["${process.execPath}", "${KAGE_BIN}", "emulate", "ollama", "--listen", "127.0.0.1:${o.ollamaPort}"]`,
      `    health: "http://127.0.0.1:${o.ollamaPort}/"`,
      `    loaded_models: { api: ollama, url: "http://127.0.0.1:${o.ollamaPort}/api/ps", interval_ms: 500 }`,
      '    restart: { initial_delay_ms: 200, max_delay_ms: 1000, max_restarts: 5, window_s: 60 }',
      ...exo,
      '',
    ].join('\n'),
  );
  return file;
}

/** Polls `check` until it returns a value (not undefined), bounded. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** One node of a lab: where its emulated servers listen. */
export interface LabNodePorts {
  ollama: number;
  exo: number;
}

/** Free ports for each node's emulated Ollama and EXO (chosen before any config names them). */
export async function allocateNodePorts(nodes: readonly string[]): Promise<Map<string, LabNodePorts>> {
  const ports = new Map<string, LabNodePorts>();
  for (const node of nodes) ports.set(node, { ollama: await freePort(), exo: await freePort() });
  return ports;
}

export interface LabAgent {
  process: DaemonProcess;
  config: string;
  /** The agent again with the same config and state directory (after `process.stop()`). */
  restart(): DaemonProcess;
}

/**
 * One `kage agent` per node, each supervising an emulated Ollama and an emulated EXO node that
 * peers with the nodes before it, so the EXO nodes form one cluster. Stopped by the caller.
 */
export async function startLabAgents(
  dir: string,
  o: {
    nodes: readonly string[];
    grpcPort: number;
    tokens: Readonly<Record<string, string>>;
    ports: ReadonlyMap<string, LabNodePorts>;
    /** @default 250 */
    sampleIntervalMs?: number;
  },
): Promise<Map<string, LabAgent>> {
  const agents = new Map<string, LabAgent>();
  const peers: number[] = [];
  for (const node of o.nodes) {
    const ports = o.ports.get(node);
    if (ports === undefined) throw new Error(`no ports for node ${node}`);
    const config = await writeAgentConfig(dir, {
      node,
      grpcPort: o.grpcPort,
      token: o.tokens[node] ?? '',
      ollamaPort: ports.ollama,
      exo: { port: ports.exo, peers: [...peers] },
      ...(o.sampleIntervalMs === undefined ? {} : { sampleIntervalMs: o.sampleIntervalMs }),
    });
    peers.push(ports.exo);
    const start = (): DaemonProcess =>
      spawnDaemon(['agent', '--config', config], { STATE_DIRECTORY: join(dir, `state-${node}`) });
    const agent: LabAgent = {
      process: start(),
      config,
      restart() {
        agent.process = start();
        return agent.process;
      },
    };
    agents.set(node, agent);
  }
  return agents;
}
