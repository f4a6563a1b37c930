/**
 * `kage doctor --all`: every node the coordinator knows, from where the operator sits.
 *
 * Where each fact comes from, and why:
 * - Online, agent version, each service's state and health: `GET /api/v1/nodes`, as the agents
 *   report them. Health is what the agent sees on its own node, which is what matters for EXO and
 *   for probes sent by agents, and it needs no address of the node.
 * - Ollama's and EXO's versions: reported by the agents too (`services[].version`, an optional
 *   field added to the agent's status). EXO v1.0.71 has no version on its API at all — only its
 *   checkout's tag says it — so no query from here could tell; reading it on the node and sending
 *   it with the status was the one additive change that covers both services with the same field,
 *   for every node, without knowing any node's address.
 * - With a matrix: the models on each Ollama target and the EXO model ids are asked of the
 *   targets' own URLs (which the coordinator must reach anyway to run the matrix), and each node's
 *   available memory is its latest sample (used = MemTotal − MemAvailable).
 */
import type { Matrix } from '@kage/bench';
import type { NodeView, ServiceView } from '../coordinator-client.js';
import { relativeTime } from '../commands/nodes-command.js';
import { fail, pass, warn, type CheckResult } from './check-result.js';
import { checkExoModels } from './exo-model-checks.js';
import { checkOllamaModels } from './ollama-model-checks.js';

/** The service names the lab's agent configs use (`kage deploy files` writes them). */
const OLLAMA = 'ollama';
const EXO = 'exo';

export interface ClusterCheckOptions {
  /** The EXO tag the lab is pinned to (from `--inventory`); null: the nodes must only agree. */
  pinnedExoVersion: string | null;
  /** For the "no node" message. */
  coordinatorUrl: string;
  now?: number;
}

/** `srv1 v1.0.71, srv2 v1.0.70` */
function listVersions(byNode: ReadonlyMap<string, string>): string {
  return [...byNode].map(([node, version]) => `${node} ${version}`).join(', ');
}

/** The version held by most nodes (first seen on a tie). */
function commonest(versions: Iterable<string>): string | undefined {
  const counts = new Map<string, number>();
  for (const v of versions) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined;
  for (const [v, n] of counts) if (best === undefined || n > (counts.get(best) ?? 0)) best = v;
  return best;
}

function serviceCheck(node: NodeView, service: ServiceView, label: string): CheckResult {
  const version = service.version ?? null; // absent when the coordinator predates the field
  const what = `${label}${version === null ? '' : ` ${version}`}`;
  if (service.healthy) {
    // Unknown either because agent.yaml names no version source, or because the source gave
    // nothing (for EXO: /opt/exo not a git checkout at a tag, or no git on the node).
    const unknown =
      version === null
        ? ` (version unknown: the agent has no version_url/version_git for it in agent.yaml, or ${service.name === 'exo' ? 'its checkout is not a git clone at a tag or git is missing' : 'the version source did not answer'})`
        : '';
    return { ...pass(service.name, `${what} is running and healthy${unknown}`), node: node.id };
  }
  const reason = service.reason === null ? '' : `: ${service.reason}`;
  return {
    ...fail(
      service.name,
      `${what} is ${service.state}, health ${service.health}${reason}`,
      `kage service ${node.id} ${service.name} restart; on ${node.id}: journalctl -u ${service.name}`,
    ),
    node: node.id,
  };
}

/** Every node online, one agent version, Ollama and EXO healthy on each and at one version. */
export function checkClusterNodes(nodes: readonly NodeView[], o: ClusterCheckOptions): CheckResult[] {
  if (nodes.length === 0) {
    return [
      fail(
        'nodes',
        `the coordinator at ${o.coordinatorUrl} knows no node yet`,
        'install and start kage-agent on each node (deploy/install-agent.sh)',
      ),
    ];
  }
  const now = o.now ?? Date.now();
  const checks: CheckResult[] = [pass('nodes', `${nodes.length} nodes: ${nodes.map((n) => n.id).join(', ')}`)];
  for (const n of nodes) {
    checks.push(
      n.status === 'online'
        ? { ...pass('online', `online, heard ${relativeTime(n.last_seen, now)}`), node: n.id }
        : {
            ...fail(
              'online',
              `offline, last heard ${relativeTime(n.last_seen, now)}`,
              `on ${n.id}: systemctl status kage-agent; journalctl -u kage-agent`,
            ),
            node: n.id,
          },
    );
  }

  const agents = new Map(nodes.map((n) => [n.id, n.agent_version || 'unknown']));
  checks.push(
    new Set(agents.values()).size === 1
      ? pass('agent-version', `every node runs agent ${[...agents.values()][0]}`)
      : warn(
          'agent-version',
          `agent versions differ: ${listVersions(agents)}`,
          `deploy/install-agent.sh on the nodes not at ${commonest(agents.values())}: one version everywhere`,
        ),
  );

  // A node that is offline reports nothing new: its last service states would only mislead.
  const online = nodes.filter((n) => n.status === 'online');
  const ollamaVersions = new Map<string, string>();
  const exoVersions = new Map<string, string>();
  const exoUnknown: string[] = [];
  for (const n of online) {
    const ollama = n.services.find((s) => s.name === OLLAMA);
    if (ollama === undefined) {
      checks.push({
        ...warn(OLLAMA, 'the agent supervises no ollama service', 'add services.ollama to agent.yaml'),
        node: n.id,
      });
    } else {
      checks.push(serviceCheck(n, ollama, 'Ollama'));
      if (ollama.version) ollamaVersions.set(n.id, ollama.version);
    }
    const exo = n.services.find((s) => s.name === EXO);
    if (exo === undefined) {
      checks.push({ ...pass(EXO, 'no EXO on this node'), node: n.id });
    } else {
      checks.push(serviceCheck(n, exo, 'EXO'));
      if (exo.version) exoVersions.set(n.id, exo.version);
      else exoUnknown.push(n.id);
    }
  }

  if (new Set(ollamaVersions.values()).size > 1) {
    // Not an error: each node serves alone. But the benchmark compares nodes, so it is worth knowing.
    checks.push(
      warn(
        'ollama-version',
        `Ollama versions differ: ${listVersions(ollamaVersions)}; benchmarks compare nodes, so their numbers differ for this too`,
        `upgrade Ollama to one version on every node (curl -fsSL https://ollama.com/install.sh | sh)`,
      ),
    );
  } else if (ollamaVersions.size > 0) {
    checks.push(
      pass('ollama-version', `every node with a known version runs Ollama ${[...ollamaVersions.values()][0]}`),
    );
  }

  checks.push(...exoVersionCheck(exoVersions, exoUnknown, o.pinnedExoVersion));
  return checks;
}

/** EXO nodes of different versions do not form one cluster: any difference is a failure. */
function exoVersionCheck(versions: ReadonlyMap<string, string>, unknown: readonly string[], pinned: string | null) {
  const id = 'exo-version';
  if (versions.size === 0 && unknown.length === 0) return [];
  const distinct = new Set(versions.values());
  const target = pinned ?? commonest(versions.values());
  const fix = (nodes: string[]): string =>
    `on ${nodes.join(', ')}: deploy/install-exo.sh --inventory FILE --node NAME --force (EXO ${target ?? 'at the lab’s tag'})`;
  if (distinct.size > 1 || (pinned !== null && versions.size > 0 && !distinct.has(pinned))) {
    const off = [...versions].filter(([, v]) => v !== target).map(([n]) => n);
    return [
      fail(
        id,
        `EXO versions differ: ${listVersions(versions)}${pinned === null ? '' : ` (the lab is pinned to ${pinned})`}; ` +
          'nodes at different versions do not join one cluster',
        fix(off),
      ),
    ];
  }
  if (unknown.length > 0) {
    return [
      warn(
        id,
        `EXO's version is unknown on ${unknown.join(', ')}${versions.size > 0 ? `; ${listVersions(versions)}` : ''}`,
        'give exo a version_git (its checkout, e.g. /opt/exo) in agent.yaml; the version is read once EXO is healthy',
      ),
    ];
  }
  return [pass(id, `every EXO node runs ${[...distinct][0]}${pinned === null ? '' : ' (the pinned tag)'}`)];
}

/** A node's available memory from its latest sample, or null when the node cannot say. */
export function availableBytes(node: NodeView | undefined): number | null {
  const latest = node?.latest;
  if (latest === null || latest === undefined) return null;
  if (latest.mem_total_bytes === null || latest.mem_used_bytes === null) return null;
  return Math.max(0, latest.mem_total_bytes - latest.mem_used_bytes);
}

/**
 * The matrix against the lab: each Ollama target's models (pulled, within its node's available
 * memory) and each EXO target's model ids (resolvable, within its nodes' memory together).
 */
export async function checkClusterMatrix(nodes: readonly NodeView[], matrix: Matrix): Promise<CheckResult[]> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const checks: CheckResult[] = [];
  for (const target of matrix.targets) {
    const unknown = target.nodes.filter((n) => !byId.has(n));
    if (unknown.length > 0) {
      checks.push(
        warn(
          `target ${target.id}`,
          `${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not known to the coordinator`,
          "the target's nodes are agents' node names (agent.yaml `node:`): check the matrix or start those agents",
        ),
      );
    }
  }
  const perTarget = await Promise.all(
    matrix.targets.map(async (target): Promise<CheckResult[]> => {
      if (target.kind === 'ollama') {
        // An Ollama target is one server: the first node named is where it runs.
        const node = target.nodes[0];
        const results = await checkOllamaModels(
          target.url,
          matrix.models.map((m) => m.name),
          availableBytes(node === undefined ? undefined : byId.get(node)),
        );
        return results.map((r) => ({ ...r, node: node ?? target.id }));
      }
      if (target.kind === 'exo') {
        const ids = matrix.models.flatMap((m) => (m.exo === null ? [] : [m.exo]));
        const each = target.nodes.map((n) => availableBytes(byId.get(n)));
        const together = each.some((b) => b === null) ? null : each.reduce<number>((sum, b) => sum + (b ?? 0), 0);
        return (await checkExoModels(target.url, ids, together)).checks;
      }
      return [];
    }),
  );
  return [...checks, ...perTarget.flat()];
}
