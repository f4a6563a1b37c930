/**
 * How EXO v1.0.71 is started on one node of the inventory, as the install script writes it into
 * the exo unit and the agent's exo service runs it. Over Tailscale, EXO's discovery (mDNS) finds
 * nothing, so every node listens on a fixed libp2p port and dials the others' addresses as
 * bootstrap peers (`/ip4/ADDR/tcp/PORT`; no peer id needed, re-dialled periodically).
 */
import type { Inventory, InventoryNode } from './inventory.js';

/** EXO's entry point in the venv `uv sync` makes in its checkout (/opt/exo). */
export const EXO_EXECUTABLE = '/opt/exo/.venv/bin/exo';

export interface ExoLaunch {
  node: string;
  /** The arguments after `exo` (run as `uv run --extra EXTRA exo …` from the checkout). */
  args: string[];
  env: Record<string, string>;
  /** The uv extra selecting the MLX backend (`uv sync --extra cpu`). */
  extra: string;
  version: string;
  peers: string[];
}

export function exoLaunch(inv: Inventory, node: InventoryNode): ExoLaunch {
  const peers = inv.nodes
    .filter((n) => n.exo && n.name !== node.name)
    .map((n) => `/ip4/${n.address}/tcp/${inv.exo.libp2pPort}`);
  const args = ['--api-port', String(inv.exo.apiPort), '--libp2p-port', String(inv.exo.libp2pPort)];
  if (peers.length > 0) args.push('--bootstrap-peers', peers.join(','));
  return {
    node: node.name,
    args,
    // Foreground under systemd: no colours in the journal, unbuffered output.
    env: { PYTHONUNBUFFERED: '1', NO_COLOR: '1' },
    extra: inv.exo.extra,
    version: inv.exo.version,
    peers,
  };
}
