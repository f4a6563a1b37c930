/**
 * Where each target's requests are sent from when the coordinator runs a matrix. A target's
 * `probe` key decides; without it the agent on the target's first node sends them when the
 * registry knows that node (the numbers then include no hop from the coordinator to the node),
 * else the coordinator sends them itself. Matrix `nodes` are names a person wrote: a node id, or a
 * hostname an agent reported.
 */
import type { Matrix, MatrixTarget } from '@kage/bench';
import { CoordinatorError } from '../coordinator-error.js';
import type { AgentCommander } from '../grpc/agent-commander.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import type { NodeView } from '../registry/node-view.js';

export type ProbePlace = NonNullable<MatrixTarget['probe']>;

/** Where one target's requests go from. */
export interface ProbeRoute {
  place: ProbePlace;
  /**
   * The node whose agent sends the requests (`agent` only): its registry id, or the name as the
   * matrix wrote it when the registry does not know it (every command then fails as offline).
   */
  node: string | null;
}

/** The registry id of a node a matrix names: that id, else the node with that hostname; null when unknown. */
export function resolveNode(name: string, nodes: readonly NodeView[]): string | null {
  return (nodes.find((n) => n.id === name) ?? nodes.find((n) => n.hostname === name))?.id ?? null;
}

/** The route of every target of `matrix`, by target id. */
export function planProbeRoutes(matrix: Matrix, nodes: readonly NodeView[]): Map<string, ProbeRoute> {
  const routes = new Map<string, ProbeRoute>();
  for (const t of matrix.targets) {
    const first = t.nodes[0];
    const known = first === undefined ? null : resolveNode(first, nodes);
    const place: ProbePlace = t.probe ?? (known !== null ? 'agent' : 'coordinator');
    routes.set(t.id, { place, node: place === 'agent' ? (known ?? first ?? null) : null });
  }
  return routes;
}

/**
 * Names (as the matrix wrote them, in matrix order) of the nodes of agent-probed targets that are
 * not online. The node that sends a target's requests also needs a live stream right now: the
 * registry keeps a node online for a few sample intervals after its stream ended.
 */
export function offlineNodes(
  matrix: Matrix,
  routes: ReadonlyMap<string, ProbeRoute>,
  registry: Pick<NodeRegistry, 'list' | 'online'>,
  commander: Pick<AgentCommander, 'isConnected'>,
): string[] {
  const nodes = registry.list();
  const online = registry.online();
  const offline: string[] = [];
  for (const t of matrix.targets) {
    const route = routes.get(t.id);
    if (route?.place !== 'agent') continue;
    t.nodes.forEach((name, i) => {
      const id = resolveNode(name, nodes);
      const up = id !== null && online.has(id) && (i > 0 || commander.isConnected(id));
      if (!up && !offline.includes(name)) offline.push(name);
    });
  }
  return offline;
}

/** @throws `KAGE_ERR_NODES_OFFLINE` naming the offline nodes in `details.offline` */
export function assertNodesOnline(offline: readonly string[]): void {
  if (offline.length === 0) return;
  throw new CoordinatorError('KAGE_ERR_NODES_OFFLINE', `run refused: nodes offline: ${offline.join(', ')}`, {
    details: { offline: [...offline] },
    hint: 'start their agents, or set `probe: coordinator` on targets whose requests may come from the coordinator',
  });
}

/** Registry ids (or names, when unknown) of every node the matrix names, for utilization summaries. */
export function matrixNodes(matrix: Matrix, nodes: readonly NodeView[]): string[] {
  const ids: string[] = [];
  for (const t of matrix.targets) {
    for (const name of t.nodes) {
      const id = resolveNode(name, nodes) ?? name;
      if (!ids.includes(id)) ids.push(id);
    }
  }
  return ids;
}
