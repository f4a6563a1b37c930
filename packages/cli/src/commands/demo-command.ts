/**
 * `kage demo`: starts the emulated three-node lab, shows that it formed, and shuts it down.
 * Every figure it prints comes from emulators and is labelled so.
 */
import { Command } from 'commander';
import { createLogger } from '../logger.js';
import { startDemoCluster, waitForExoCluster } from './demo-cluster.js';

const GiB = 1024 ** 3;

interface OllamaTags {
  models: { name: string }[];
}

export function createDemoCommand(): Command {
  return new Command('demo')
    .description('run the emulated 3-node lab (Ollama + EXO per node) on loopback')
    .option('--deterministic', 'no jitter, fixed seeds')
    .action(async (flags: { deterministic?: boolean }) => {
      const log = createLogger({ destination: 'stderr', level: process.env['KAGE_LOG_LEVEL'] ?? 'warn' });
      const cluster = await startDemoCluster(log, { deterministic: flags.deterministic ?? false });
      const stop = (): void => {
        void cluster.close().then(() => process.exit(130));
      };
      process.once('SIGINT', stop).once('SIGTERM', stop);
      try {
        const first = cluster.nodes[0];
        if (!first) throw new Error('no demo nodes started');
        const members = await waitForExoCluster(
          first.exo.url,
          cluster.nodes.map((n) => n.hostname),
          15_000,
        );
        const out: string[] = ['EMULATED cluster (protocol emulators with a timing model, not real hardware)', ''];
        out.push('| node | hardware profile | RAM | Ollama | models pulled | EXO |');
        out.push('|---|---|---|---|---|---|');
        for (const node of cluster.nodes) {
          const tags = (await (await fetch(`${node.ollama.url}/api/tags`)).json()) as OllamaTags;
          out.push(
            `| ${node.hostname} | ${node.profile.id} | ${(node.profile.memTotalBytes / GiB).toFixed(0)} GiB | ` +
              `${node.ollama.url} | ${tags.models.map((m) => m.name).join(', ')} | ${node.exo.url} |`,
          );
        }
        out.push('', `EXO cluster formed: ${members.length} nodes (${members.join(', ')})`);
        process.stdout.write(`${out.join('\n')}\n`);
      } finally {
        process.off('SIGINT', stop).off('SIGTERM', stop);
        await cluster.close();
      }
    });
}
