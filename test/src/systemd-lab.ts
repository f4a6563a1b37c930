/**
 * The seed lab as three booted systemd containers (srv1, srv2, rog) on one bridge, installed the
 * way a user installs Kage: the inventory and its token files, then `deploy/install-*.sh` run as
 * root inside each node from the checkout (bind-mounted read-only at /srv/kage, where a user would
 * clone it). Ollama and EXO cannot run here, so each node gets them as units running the project's
 * emulators: `ollama.service` (`kage emulate ollama`) and the `exo.service` that `kage deploy files`
 * renders from the inventory, with a drop-in replacing EXO's command by `kage emulate exo` and the
 * inventory's peers. Everything else — users, files, units, polkit, journald — is the real thing.
 *
 * Network: one namespace holds the bridge; each container joins its own namespace, linked to the
 * bridge by a veth. {@link SystemdLab.setLink} cuts a node's link from the bridge side, where the
 * container cannot see or undo it. Nothing is configured in the host's own network namespace.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SEED_NODE_PROFILES } from '@kage/emulators';
import { bootContainer, ensureDebianRoot, type CommandResult, type Container } from './nspawn.js';
import { createNetnsLab } from './netns.js';

export const LAB_NODES = ['srv1', 'srv2', 'rog'] as const;
export type LabNode = (typeof LAB_NODES)[number];

/** Where the checkout is mounted in every container, as a user would clone it (not under /root or /tmp). */
export const CHECKOUT_IN_CONTAINER = '/srv/kage';
const KAGE = `/usr/bin/node ${CHECKOUT_IN_CONTAINER}/packages/cli/dist/src/bin.js`;
const CHECKOUT_ON_HOST = fileURLToPath(new URL('../../../', import.meta.url));
/** The inventory and its token files, on every node. */
export const INVENTORY = '/etc/kage-lab/inventory.yaml';
const SUBNET = '10.231.250';
const ADDRESSES: Record<LabNode, string> = { srv1: `${SUBNET}.11`, srv2: `${SUBNET}.12`, rog: `${SUBNET}.13` };
export const HTTP_PORT = 7080;
const GRPC_PORT = 50551;
const EXO_API_PORT = 52415;
const INSTALL_TIMEOUT_MS = 120_000;

export interface SystemdLab {
  readonly nodes: Readonly<Record<LabNode, Container>>;
  readonly apiToken: string;
  address(node: LabNode): string;
  /** Runs a deploy script inside `node` as root: `deploy/NAME …args`. */
  deploy(node: LabNode, script: string, args: readonly string[]): Promise<CommandResult>;
  /** A REST call to the coordinator, made with curl on srv1 (as an operator there would). */
  api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: string }>;
  /** Brings a node's link to the bridge down (cut) or up. */
  setLink(node: LabNode, up: boolean): Promise<void>;
  /** Every container's journal for `unit` (or all), for a failing test's message. */
  journals(unit?: string): Promise<string>;
  close(): Promise<void>;
}

export interface SystemdLabOptions {
  workDir: string;
  progress: (line: string) => void;
}

/** Boots the three nodes, writes the inventory and starts the emulated Ollama and EXO units. Kage is not installed yet. */
export async function startSystemdLab(options: SystemdLabOptions): Promise<SystemdLab> {
  const root = await ensureDebianRoot(options.progress);
  const net = createNetnsLab();
  const containers: Partial<Record<LabNode, Container>> = {};
  const close = async (): Promise<void> => {
    await Promise.all(Object.values(containers).map((c) => c.close()));
    await net.close();
  };
  try {
    const lan = await net.addNamespace('lan');
    await net.ipIn(lan, ['link', 'add', 'br0', 'type', 'bridge']);
    await net.ipIn(lan, ['link', 'set', 'br0', 'up']);
    const namespaces = {} as Record<LabNode, string>;
    for (const node of LAB_NODES) {
      const ns = await net.addNamespace(node);
      namespaces[node] = ns;
      // Made inside the bridge's namespace with the peer moved straight into the node's.
      await net.ipIn(lan, ['link', 'add', `to-${node}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await net.ipIn(lan, ['link', 'set', `to-${node}`, 'master', 'br0', 'up']);
      await net.ipIn(ns, ['addr', 'add', `${ADDRESSES[node]}/24`, 'dev', 'eth0']);
      await net.ipIn(ns, ['link', 'set', 'eth0', 'up']);
    }
    options.progress('booting srv1, srv2 and rog');
    const booted = await Promise.all(
      LAB_NODES.map((node) =>
        bootContainer({
          name: node,
          root,
          workDir: options.workDir,
          netns: namespaces[node],
          bindReadOnly: [
            [process.execPath, '/usr/bin/node'],
            [CHECKOUT_ON_HOST, CHECKOUT_IN_CONTAINER],
          ],
        }),
      ),
    );
    for (const [i, node] of LAB_NODES.entries()) containers[node] = booted[i];
    const nodes = containers as Record<LabNode, Container>;

    const tokens = Object.fromEntries(LAB_NODES.map((n) => [n, `lab-${n}-token-${randomHex()}`]));
    const apiToken = `lab-api-token-${randomHex()}`;
    for (const node of LAB_NODES) {
      await writeInventory(nodes[node].rootDir, tokens, apiToken);
      await installEmulatedServers(nodes[node], node);
    }

    const lab: SystemdLab = {
      nodes,
      apiToken,
      address: (node) => ADDRESSES[node],
      deploy: (node, script, args) =>
        nodes[node].exec([`${CHECKOUT_IN_CONTAINER}/deploy/${script}`, ...args], { timeoutMs: INSTALL_TIMEOUT_MS }),
      async api(method, path, body) {
        const args = ['curl', '-sS', '--max-time', '30', '-X', method, '-w', '\n%{http_code}'];
        args.push('-H', `authorization: Bearer ${apiToken}`);
        if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', '@-');
        args.push(`http://127.0.0.1:${HTTP_PORT}${path}`);
        const result = await nodes.srv1.exec(args, {
          timeoutMs: 40_000,
          ...(body === undefined ? {} : { input: JSON.stringify(body) }),
        });
        if (result.code !== 0) return { status: 0, body: result.stderr.trim() };
        const cut = result.stdout.lastIndexOf('\n');
        return { status: Number(result.stdout.slice(cut + 1)), body: result.stdout.slice(0, cut) };
      },
      async setLink(node, up) {
        await net.ipIn(lan, ['link', 'set', `to-${node}`, up ? 'up' : 'down']);
      },
      async journals(unit) {
        const parts = await Promise.all(
          LAB_NODES.map(async (node) => {
            const args = ['journalctl', '--no-pager', '-o', 'short-monotonic', '-n', '80'];
            if (unit !== undefined) args.push('-u', unit);
            const out = await nodes[node].exec(args);
            return `--- ${node}${unit === undefined ? '' : ` ${unit}`} ---\n${out.stdout}${out.stderr}`;
          }),
        );
        return parts.join('\n');
      },
      close,
    };
    return lab;
  } catch (err) {
    await close();
    throw err;
  }
}

function randomHex(): string {
  return randomBytes(12).toString('hex');
}

/** The seed inventory with this lab's addresses; hostnames are the node names (what EXO reports). */
async function writeInventory(rootDir: string, tokens: Record<string, string>, apiToken: string): Promise<void> {
  const dir = join(rootDir, dirname(INVENTORY));
  await mkdir(join(dir, 'tokens'), { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  for (const [name, token] of Object.entries(tokens)) {
    await writeFile(join(dir, 'tokens', `${name}.token`), `${token}\n`, { mode: 0o600 });
  }
  await writeFile(join(dir, 'tokens', 'api.token'), `${apiToken}\n`, { mode: 0o600 });
  const inventory = [
    'coordinator:',
    '  node: srv1',
    `  grpc_port: ${GRPC_PORT}`,
    `  http_port: ${HTTP_PORT}`,
    '  api_token_file: tokens/api.token',
    'exo:',
    '  version: v1.0.71',
    '  extra: cpu',
    `  api_port: ${EXO_API_PORT}`,
    '  libp2p_port: 30000',
    'nodes:',
    ...LAB_NODES.flatMap((n) => [
      `  - name: ${n}`,
      `    hostname: ${n}`,
      `    address: ${ADDRESSES[n]}`,
      `    token_file: tokens/${n}.token`,
    ]),
    '',
  ].join('\n');
  await writeFile(join(rootDir, INVENTORY), inventory, { mode: 0o600 });
}

/**
 * Ollama and EXO as a user has them before Kage: their own units, already running. Ollama's unit
 * runs the emulator from the checkout's path (not /opt/kage, which a rollback removes: Ollama must
 * outlive Kage). EXO's unit is the one the inventory renders, run as the `exo` user from /opt/exo,
 * with a drop-in swapping EXO's command for the emulator.
 */
async function installEmulatedServers(container: Container, node: LabNode): Promise<void> {
  const peers = LAB_NODES.filter((n) => n !== node)
    .map((n) => `${ADDRESSES[n]}:${EXO_API_PORT}`)
    .join(',');
  const profile = SEED_NODE_PROFILES[node];
  const seed = LAB_NODES.indexOf(node) + 1;
  const ollamaUnit = [
    '[Unit]',
    'Description=Ollama (emulated)',
    'After=network-online.target',
    '[Service]',
    'DynamicUser=yes',
    `ExecStart=${KAGE} emulate ollama --listen 0.0.0.0:11434 --hardware ${profile} --seed ${seed}`,
    'Restart=always',
    'RestartSec=3',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
  const exoDropIn = [
    '[Service]',
    'ExecStart=',
    `ExecStart=${KAGE} emulate exo --listen 0.0.0.0:${EXO_API_PORT} --name ${node} --peers ${peers} ` +
      `--hardware ${profile} --seed ${seed} --heartbeat-interval-ms 500`,
    '',
  ].join('\n');
  await writeFile(join(container.rootDir, 'etc/systemd/system/ollama.service'), ollamaUnit);
  await mkdir(join(container.rootDir, 'etc/systemd/system/exo.service.d'), { recursive: true });
  await writeFile(join(container.rootDir, 'etc/systemd/system/exo.service.d/10-emulated.conf'), exoDropIn);
  const script = [
    'set -euo pipefail',
    'useradd --system --user-group --home-dir /var/lib/exo --no-create-home --shell /usr/sbin/nologin exo',
    'install -d -m 0755 /opt/exo',
    'files="$(mktemp -d)"',
    `${KAGE} deploy files --inventory ${INVENTORY} --node ${node} --out "$files" >/dev/null`,
    'install -d -m 0750 /etc/kage',
    'install -m 0644 "$files/etc/kage/exo.env" /etc/kage/exo.env',
    'install -m 0644 "$files/etc/systemd/system/exo.service" /etc/systemd/system/exo.service',
    'rm -rf "$files"',
    'systemctl daemon-reload',
    'systemctl enable --now ollama.service exo.service',
  ].join('\n');
  await container.execOk(['bash', '-c', script], { timeoutMs: 60_000 });
}
