/**
 * `kage doctor`: is this node ready for Kage and EXO? Node.js, systemd, Ollama (reachable, its
 * version), EXO from the right source at the pinned tag (and not the unrelated PyPI `exo`), EXO's
 * ports, uv, Tailscale. One line per check with the fix; `--json` for scripts. Exit code: 0 all
 * pass, 1 a warning, 2 a failure.
 */
import { Command } from 'commander';

const STATUS_EXIT = { pass: 0, warn: 1, fail: 2 } as const;

export function createDoctorCommand(): Command {
  return new Command('doctor')
    .description("check this node for Kage and EXO: each check's result and fix (exit 0 pass, 1 warn, 2 fail)")
    .option('--inventory <file>', 'take the EXO version and ports from this inventory')
    .option('--node <name>', 'with --inventory: this node')
    .option('--ollama <url>', "Ollama's address on this node", 'http://127.0.0.1:11434')
    .option('--exo-dir <dir>', 'where EXO is installed', '/opt/exo')
    .option('--matrix <file>', "also check each of this matrix's models on this node's Ollama: pulled, and fits")
    .option('--json', 'one JSON object: the checks and the worst status')
    .action(
      async (flags: {
        inventory?: string;
        node?: string;
        ollama: string;
        exoDir: string;
        matrix?: string;
        json?: boolean;
      }) => {
        const checks = await import('../doctor/doctor-checks.js');
        // Read before any check: a bad matrix is a bad input (exit 78), not a node problem.
        let models: string[] = [];
        if (flags.matrix !== undefined) {
          const { loadMatrix } = await import('@kage/bench');
          models = (await loadMatrix(flags.matrix)).models.map((m) => m.name);
        }
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
          ...(models.length > 0 ? await checks.checkMatrixModels(options, models) : []),
        ];
        const status = checks.worst(results);
        if (flags.json === true) {
          process.stdout.write(`${JSON.stringify({ status, checks: results }, null, 2)}\n`);
        } else {
          const width = Math.max(...results.map((r) => r.id.length));
          for (const r of results) {
            process.stdout.write(`${r.status.padEnd(4)}  ${r.id.padEnd(width)}  ${r.detail}\n`);
            if (r.fix !== null) process.stdout.write(`${' '.repeat(width + 8)}fix: ${r.fix}\n`);
          }
          process.stdout.write(`${status === 'pass' ? 'all checks pass' : `worst: ${status}`}\n`);
        }
        process.exitCode = STATUS_EXIT[status];
      },
    );
}
