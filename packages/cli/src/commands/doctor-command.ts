/**
 * `kage doctor`: is this node ready for Kage and EXO? Node.js, systemd, Ollama (reachable, its
 * version), EXO from the right source at the pinned tag (and not the unrelated PyPI `exo`), EXO's
 * ports, uv, Tailscale, an AMD gfx1151 GPU and its workarounds; with `--matrix`, the matrix's
 * Ollama models and EXO model ids. `kage doctor --all` asks the coordinator about every node
 * instead (online, one agent / Ollama / EXO version, services healthy; with `--matrix`, each
 * target's models and memory). One line per check with the fix; `--json` for scripts. Exit code:
 * 0 all pass, 1 a warning, 2 a failure; 64 bad flags, 69 coordinator unreachable, 77 token refused,
 * 78 a bad inventory or matrix.
 */
import { hostname } from 'node:os';
import { Command } from 'commander';
import type { Matrix } from '@kage/bench';
import { CliError } from '../errors.js';
import {
  CoordinatorClient,
  CoordinatorRequestError,
  displayUrl,
  readApiToken,
  resolveCoordinatorUrl,
} from '../coordinator-client.js';
import { onNode, pass, warn, worst, type CheckResult } from '../doctor/check-result.js';

/** A warning is worth reading but does not stop an install script: only a failure exits 1. */
const STATUS_EXIT = { pass: 0, warn: 0, fail: 1 } as const;

interface DoctorFlags {
  all?: boolean;
  inventory?: string;
  node?: string;
  ollama: string;
  exoDir: string;
  matrix?: string;
  coordinator?: string;
  tokenFile?: string;
  json?: boolean;
}

/** Flags that only mean something on one side of `--all`; given on the other they are a mistake. */
const ONE_NODE_ONLY = ['node', 'ollama', 'exoDir'] as const;
const ALL_ONLY = ['coordinator', 'tokenFile'] as const;
const FLAG_NAMES: Record<(typeof ONE_NODE_ONLY)[number] | (typeof ALL_ONLY)[number], string> = {
  node: '--node',
  ollama: '--ollama',
  exoDir: '--exo-dir',
  coordinator: '--coordinator',
  tokenFile: '--token-file',
};

function checkFlags(cmd: Command, flags: DoctorFlags): void {
  const given = (key: string): boolean => cmd.getOptionValueSource(key) === 'cli';
  if (flags.all === true) {
    const wrong = ONE_NODE_ONLY.filter(given);
    if (wrong.length > 0) {
      throw new CliError(
        'KAGE_ERR_CLI_USAGE',
        `--all checks every node the coordinator knows; ${wrong.map((k) => FLAG_NAMES[k]).join(', ')} ` +
          `${wrong.length === 1 ? 'is' : 'are'} for one node (run kage doctor on that node instead)`,
      );
    }
  } else {
    const wrong = ALL_ONLY.filter(given);
    if (wrong.length > 0) {
      throw new CliError(
        'KAGE_ERR_CLI_USAGE',
        `${wrong.map((k) => FLAG_NAMES[k]).join(', ')} ${wrong.length === 1 ? 'goes' : 'go'} with --all (every node, through the coordinator)`,
      );
    }
  }
}

/** This node, as before: its own tools, ports and services. */
async function checkThisNode(flags: DoctorFlags, matrix: Matrix | null): Promise<CheckResult[]> {
  const checks = await import('../doctor/doctor-checks.js');
  const { checkGfx1151 } = await import('../doctor/gfx1151-checks.js');
  const { checkOllamaModels } = await import('../doctor/ollama-model-checks.js');
  const { checkExoModels } = await import('../doctor/exo-model-checks.js');
  let exo = { version: 'v1.0.71', apiPort: 52415, libp2pPort: 30000 };
  if (flags.inventory !== undefined) {
    const { inventoryNode, loadInventory } = await import('../inventory/inventory.js');
    const inv = await loadInventory(flags.inventory);
    if (flags.node !== undefined) inventoryNode(inv, flags.node);
    exo = inv.exo;
  }
  const options = {
    ollamaUrl: flags.ollama.replace(/\/+$/, ''),
    exoApiPort: exo.apiPort,
    exoLibp2pPort: exo.libp2pPort,
    exoVersion: exo.version,
    exoDir: flags.exoDir,
  };
  const exoIds = matrix?.models.flatMap((m) => (m.exo === null ? [] : [m.exo])) ?? [];
  const results = [
    checks.checkNode(),
    ...(await Promise.all([
      checks.checkSystemd(),
      checks.checkOllama(options),
      checks.checkExoSource(options),
      checks.checkExoPorts(options),
      checks.checkUv(),
      checks.checkTailscale(),
    ])),
    ...(await checkGfx1151({ ollamaUrl: options.ollamaUrl })),
    ...(matrix === null
      ? []
      : await checkOllamaModels(
          options.ollamaUrl,
          matrix.models.map((m) => m.name),
          await checks.memAvailableBytes(),
        )),
    ...(exoIds.length === 0 ? [] : (await checkExoModels(`http://127.0.0.1:${exo.apiPort}`, exoIds)).checks),
  ];
  return onNode(flags.node ?? hostname(), results);
}

/** Every node, through the coordinator. */
async function checkAllNodes(flags: DoctorFlags, matrix: Matrix | null): Promise<CheckResult[]> {
  const { checkClusterMatrix, checkClusterNodes } = await import('../doctor/cluster-checks.js');
  let pinned: string | null = null;
  if (flags.inventory !== undefined) {
    const { loadInventory } = await import('../inventory/inventory.js');
    pinned = (await loadInventory(flags.inventory)).exo.version;
  }
  const url = resolveCoordinatorUrl(flags.coordinator);
  // Reads need no token; one given is checked, since `kage service` and `bench run` will send it.
  const envToken = process.env['KAGE_API_TOKEN']?.trim() ?? '';
  const token = flags.tokenFile !== undefined || envToken !== '' ? await readApiToken(flags.tokenFile) : null;
  const client = new CoordinatorClient({ url, token });
  // Unreachable (69), refused token (77): errors, raised once at the CLI's edge, not checks.
  const nodes = await client.listNodes();
  const results: CheckResult[] = [];
  if (token !== null) results.push(await tokenCheck(client));
  results.push(...checkClusterNodes(nodes, { pinnedExoVersion: pinned, coordinatorUrl: displayUrl(url) }));
  if (matrix !== null) results.push(...(await checkClusterMatrix(nodes, matrix)));
  return results;
}

async function tokenCheck(client: CoordinatorClient): Promise<CheckResult> {
  try {
    await client.checkToken();
    return pass('api-token', 'the coordinator accepts the API token');
  } catch (err) {
    if (err instanceof CoordinatorRequestError && err.code === 'KAGE_ERR_NOT_FOUND') {
      return warn(
        'api-token',
        'this coordinator cannot check a token (it predates POST /api/v1/auth/check)',
        'upgrade the coordinator to the version of this CLI',
      );
    }
    throw err;
  }
}

function render(results: readonly CheckResult[], status: string): string {
  const idWidth = Math.max(...results.map((r) => r.id.length));
  // A node column only when the checks are about more than one node (--all).
  const manyNodes = new Set(results.map((r) => r.node)).size > 1;
  const nodeWidth = manyNodes ? Math.max(...results.map((r) => (r.node ?? '').length)) : 0;
  const lines: string[] = [];
  for (const r of results) {
    const node = nodeWidth === 0 ? '' : `${(r.node ?? '').padEnd(nodeWidth)}  `;
    lines.push(`${r.status.padEnd(4)}  ${node}${r.id.padEnd(idWidth)}  ${r.message}`);
    if (r.fix !== null)
      lines.push(`${' '.repeat(6 + (nodeWidth === 0 ? 0 : nodeWidth + 2) + idWidth + 2)}fix: ${r.fix}`);
  }
  lines.push(status === 'pass' ? 'all checks pass' : `worst: ${status}`);
  return `${lines.join('\n')}\n`;
}

export function createDoctorCommand(): Command {
  return new Command('doctor')
    .description(
      "check this node (or with --all every node, through the coordinator) for Kage and EXO: each check's result and fix (exit 0 when no check fails, 1 when one does)",
    )
    .option('--all', 'every node the coordinator knows, instead of this one')
    .option('--inventory <file>', 'take the EXO version and ports from this inventory')
    .option('--node <name>', 'with --inventory: this node')
    .option('--ollama <url>', "Ollama's address on this node", 'http://127.0.0.1:11434')
    .option('--exo-dir <dir>', 'where EXO is installed', '/opt/exo')
    .option(
      '--matrix <file>',
      "also check the matrix's models: pulled on each Ollama and within its memory, EXO ids resolvable",
    )
    .option(
      '--coordinator <url>',
      'with --all: coordinator REST API (default: $KAGE_COORDINATOR or http://127.0.0.1:7080)',
    )
    .option('--token-file <file>', 'with --all: also check this API token (default: $KAGE_API_TOKEN)')
    .option('--json', 'one JSON object: the checks and the worst status')
    .action(async (flags: DoctorFlags, cmd: Command) => {
      checkFlags(cmd, flags);
      // Read before any check: a bad matrix is a bad input (exit 78), not a node problem.
      let matrix: Matrix | null = null;
      if (flags.matrix !== undefined) {
        const { loadMatrix } = await import('@kage/bench');
        matrix = await loadMatrix(flags.matrix);
      }
      const results = flags.all === true ? await checkAllNodes(flags, matrix) : await checkThisNode(flags, matrix);
      const status = worst(results);
      process.stdout.write(
        flags.json === true ? `${JSON.stringify({ status, checks: results }, null, 2)}\n` : render(results, status),
      );
      process.exitCode = STATUS_EXIT[status];
    });
}
