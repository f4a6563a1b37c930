/**
 * `kage nodes [--json]`: the nodes the coordinator knows, one line each: id, hostname, status,
 * when it was last heard from, agent version and its services.
 */
import { Command } from 'commander';
import { CoordinatorClient, displayUrl, resolveCoordinatorUrl, type NodeView } from '../coordinator-client.js';
import { formatColumns, NONE, serviceMark } from './status-command.js';

/** `2s ago`, `5m ago`, `3h ago`, `2d ago`; `just now` for a time at or after `now` (clock skew). */
export function relativeTime(iso: string | null, now: number = Date.now()): string {
  if (iso === null) return 'never';
  const at = Date.parse(iso);
  if (!Number.isFinite(at)) return NONE;
  const s = Math.floor((now - at) / 1000);
  if (s <= 0) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

function servicesSummary(node: NodeView): string {
  if (node.services.length === 0) return NONE;
  return node.services.map((s) => `${s.name} ${s.state} ${serviceMark(s)}`).join(', ');
}

export function renderNodes(nodes: readonly NodeView[], coordinator: string, now: number = Date.now()): string {
  if (nodes.length === 0) return `no node has connected to the coordinator at ${coordinator} yet\n`;
  const header = ['ID', 'HOSTNAME', 'STATUS', 'LAST SEEN', 'AGENT', 'SERVICES'];
  const rows = nodes.map((n) => [
    n.id,
    n.hostname,
    n.status,
    relativeTime(n.last_seen, now),
    n.agent_version || NONE,
    servicesSummary(n),
  ]);
  return `${formatColumns([header, ...rows]).join('\n')}\n`;
}

export function createNodesCommand(): Command {
  return new Command('nodes')
    .description('list the nodes the coordinator knows, with their status and services')
    .option('--coordinator <url>', 'coordinator REST API (default: $KAGE_COORDINATOR or http://127.0.0.1:7080)')
    .option('--json', 'print JSON (the GET /api/v1/nodes answer)')
    .action(async (flags: { coordinator?: string; json?: boolean }) => {
      const client = new CoordinatorClient({ url: resolveCoordinatorUrl(flags.coordinator) });
      const nodes = await client.listNodes();
      process.stdout.write(
        flags.json ? `${JSON.stringify(nodes, null, 2)}\n` : renderNodes(nodes, displayUrl(client.url)),
      );
    });
}
