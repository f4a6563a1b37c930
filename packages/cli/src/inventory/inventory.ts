/**
 * Reads the deploy inventory: YAML with positions, so that every problem names file:line and the
 * key, all of them at once (exit 78). Paths in it are relative to the file. Nothing here reads the
 * token files: the install scripts check them on the node that needs them.
 */
import { readFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { dirname, resolve } from 'node:path';
import {
  formatProblems,
  isRecord,
  KageError,
  parseYaml,
  problemAt,
  schemaViolations,
  type Problem,
  type Segment,
} from '@kage/common';
import { CliError } from '../errors.js';
import { INVENTORY_DEFAULTS, InventorySchema, type InventoryFile } from './inventory-schema.js';

/** Larger than any real inventory; a bigger file is the wrong file. */
const MAX_INVENTORY_BYTES = 256 * 1024;

export class InventoryError extends KageError<'KAGE_ERR_CONFIG_READ' | 'KAGE_ERR_CONFIG_INVALID'> {
  readonly problems: readonly Problem[];

  constructor(code: 'KAGE_ERR_CONFIG_READ' | 'KAGE_ERR_CONFIG_INVALID', file: string, problems: readonly Problem[]) {
    super(code, formatProblems('inventory', file, problems), {
      hint: 'deploy/inventory.example.yaml shows every key, with what it is for',
    });
    this.problems = Object.freeze([...problems]);
  }
}

export interface InventoryNode {
  name: string;
  hostname: string;
  address: string;
  /** Absolute. */
  tokenFile: string;
  exo: boolean;
}

/** A checked inventory with every default filled in and every path absolute. */
export interface Inventory {
  file: string;
  coordinator: { node: string; grpcPort: number; httpPort: number; apiTokenFile: string | null };
  exo: { version: string; extra: string; apiPort: number; libp2pPort: number };
  nodes: InventoryNode[];
}

export async function loadInventory(file: string): Promise<Inventory> {
  let text: string;
  try {
    const bytes = await readFile(file);
    if (bytes.length > MAX_INVENTORY_BYTES) {
      throw new InventoryError('KAGE_ERR_CONFIG_READ', file, [
        whole(file, `too large for an inventory (${bytes.length} bytes; at most ${MAX_INVENTORY_BYTES})`),
      ]);
    }
    text = bytes.toString('utf8');
  } catch (err) {
    if (err instanceof InventoryError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new InventoryError('KAGE_ERR_CONFIG_READ', file, [whole(file, `cannot be read (${code})`)]);
  }
  return parseInventory(text, file);
}

export function parseInventory(text: string, file: string): Inventory {
  const parsed = parseYaml(text, file);
  if (!('source' in parsed)) throw new InventoryError('KAGE_ERR_CONFIG_INVALID', file, parsed.problems);
  const source = parsed.source;
  const problems: Problem[] = [];
  const add = (path: Segment[], reason: string): void => {
    problems.push(problemAt(source, file, path, reason));
  };
  for (const v of schemaViolations(InventorySchema, parsed.value, [])) add(v.path, v.reason);
  checkCrossKeyRules(parsed.value, add);
  if (problems.length > 0) {
    problems.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
    throw new InventoryError('KAGE_ERR_CONFIG_INVALID', file, problems);
  }
  return resolveInventory(parsed.value as InventoryFile, file);
}

/** Rules that span keys. Each skips values the schema already rejected, so every problem is listed at once. */
function checkCrossKeyRules(value: unknown, add: (path: Segment[], reason: string) => void): void {
  if (!isRecord(value)) return;
  const nodes = Array.isArray(value['nodes']) ? (value['nodes'] as unknown[]) : [];
  const first = {
    name: new Map<string, number>(),
    hostname: new Map<string, number>(),
    address: new Map<string, number>(),
  };
  nodes.forEach((node, i) => {
    if (!isRecord(node)) return;
    for (const key of ['name', 'hostname', 'address'] as const) {
      const v = node[key];
      if (typeof v !== 'string') continue;
      const seen = first[key].get(v);
      if (seen === undefined) first[key].set(v, i);
      else add(['nodes', i, key], `"${v}" is already used by nodes[${seen}]`);
    }
    const address = node['address'];
    if (typeof address === 'string' && address !== '' && !isIPv4(address)) {
      add(['nodes', i, 'address'], `"${address}" is not an IPv4 address (the Tailscale 100.x.y.z one)`);
    }
  });
  const coordinator = isRecord(value['coordinator']) ? value['coordinator'] : {};
  const named = coordinator['node'];
  if (typeof named === 'string' && first.name.size > 0 && !first.name.has(named)) {
    add(['coordinator', 'node'], `"${named}" is not one of the nodes (${[...first.name.keys()].join(', ')})`);
  }
  const exo = isRecord(value['exo']) ? value['exo'] : {};
  const api = exo['api_port'] ?? INVENTORY_DEFAULTS.exo_api_port;
  if (exo['libp2p_port'] !== undefined && exo['libp2p_port'] === api)
    add(['exo', 'libp2p_port'], 'must differ from exo.api_port');
}

function resolveInventory(inv: InventoryFile, file: string): Inventory {
  const base = dirname(resolve(file));
  return {
    file,
    coordinator: {
      node: inv.coordinator.node,
      grpcPort: inv.coordinator.grpc_port ?? INVENTORY_DEFAULTS.grpc_port,
      httpPort: inv.coordinator.http_port ?? INVENTORY_DEFAULTS.http_port,
      apiTokenFile: inv.coordinator.api_token_file === undefined ? null : resolve(base, inv.coordinator.api_token_file),
    },
    exo: {
      version: inv.exo?.version ?? INVENTORY_DEFAULTS.exo_version,
      extra: inv.exo?.extra ?? INVENTORY_DEFAULTS.exo_extra,
      apiPort: inv.exo?.api_port ?? INVENTORY_DEFAULTS.exo_api_port,
      libp2pPort: inv.exo?.libp2p_port ?? INVENTORY_DEFAULTS.exo_libp2p_port,
    },
    nodes: inv.nodes.map((n) => ({
      name: n.name,
      hostname: n.hostname,
      address: n.address,
      tokenFile: resolve(base, n.token_file),
      exo: n.exo ?? true,
    })),
  };
}

function whole(file: string, reason: string): Problem {
  return { file, path: '', line: null, column: null, reason };
}

/** The node called `name` (a `--node` flag). @throws CliError, a usage error naming the nodes there are */
export function inventoryNode(inv: Inventory, name: string): InventoryNode {
  const node = inv.nodes.find((n) => n.name === name);
  if (node === undefined) {
    throw new CliError(
      'KAGE_ERR_CLI_USAGE',
      `--node ${name}: ${inv.file} has no such node (nodes: ${inv.nodes.map((n) => n.name).join(', ')})`,
    );
  }
  return node;
}
