/**
 * `kage deploy files --inventory FILE (--node NAME | --coordinator) --out DIR`: writes every file the node needs
 * under DIR, at its path on the node (DIR/etc/kage/agent.yaml …), with its mode, and prints one
 * line per file: `MODE OWNER:GROUP PATH`. The install scripts copy from there and compare with
 * what is installed, so a second run changes nothing.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { CliError } from '../errors.js';

export function createDeployCommand(): Command {
  const deploy = new Command('deploy').description('the files the deploy scripts install on a node');
  deploy
    .command('files')
    .description("render a node's config, tokens and units from the inventory into a directory")
    .requiredOption('--inventory <file>', 'the deploy inventory (see deploy/inventory.example.yaml)')
    .option('--node <name>', 'the node, as named in the inventory')
    .option('--coordinator', "the coordinator's node (instead of --node)")
    .requiredOption('--out <dir>', 'where to write them (created 0700; the tokens are in it)')
    .action(async (flags: { inventory: string; node?: string; coordinator?: boolean; out: string }) => {
      if ((flags.node === undefined) === (flags.coordinator !== true)) {
        throw new CliError('KAGE_ERR_CLI_USAGE', 'give exactly one of --node NAME and --coordinator');
      }
      // Loaded on use: every other command (the agent daemon above all) starts without them.
      const { inventoryNode, loadInventory } = await import('../inventory/inventory.js');
      const { renderNodeFiles } = await import('../inventory/node-files.js');
      const inv = await loadInventory(flags.inventory);
      const name = flags.node ?? inv.coordinator.node;
      const node = inventoryNode(inv, name);
      const files = await renderNodeFiles(inv, node);
      try {
        await mkdir(flags.out, { recursive: true, mode: 0o700 });
        await chmod(flags.out, 0o700);
        for (const f of files) {
          const target = join(flags.out, f.path);
          await mkdir(dirname(target), { recursive: true, mode: 0o700 });
          await writeFile(target, f.content, { mode: f.mode });
          await chmod(target, f.mode);
        }
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
        throw new CliError('KAGE_ERR_CLI_OUTPUT', `--out ${flags.out}: cannot write the files (${code})`, 73, {
          cause: err,
        });
      }
      for (const f of files) {
        process.stdout.write(`${f.mode.toString(8).padStart(4, '0')} ${f.owner}:${f.group} ${f.path}\n`);
      }
    });
  return deploy;
}
