/**
 * The (node, boot) seq high-water marks in memory, in front of `node_boots`. A node's boots follow
 * one another, so its other boots are dropped as soon as a new one is seen for it: the cache holds
 * about one entry per node however often the fleet reboots. A dropped boot that shows up again (a
 * replay from before the reboot) is read back from the table, so dropping never loses a mark.
 */
export interface SeqCache {
  /** The mark, from memory or from `load` on a miss; a miss evicts the node's other boots. */
  get(nodeId: string, bootId: string): number;
  /** Call only after the mark is committed: the cache must never be ahead of the table. */
  set(nodeId: string, bootId: string, seq: number): void;
  /** The boots held for a node (tests). */
  boots(nodeId: string): string[];
}

export function createSeqCache(load: (nodeId: string, bootId: string) => number): SeqCache {
  const byNode = new Map<string, Map<string, number>>();
  return {
    get(nodeId, bootId) {
      let boots = byNode.get(nodeId);
      const held = boots?.get(bootId);
      if (held !== undefined) return held;
      if (boots === undefined) {
        boots = new Map();
        byNode.set(nodeId, boots);
      } else {
        boots.clear();
      }
      const seq = load(nodeId, bootId);
      boots.set(bootId, seq);
      return seq;
    },
    set(nodeId, bootId, seq) {
      let boots = byNode.get(nodeId);
      if (boots === undefined) {
        boots = new Map();
        byNode.set(nodeId, boots);
      }
      boots.set(bootId, seq);
    },
    boots(nodeId) {
      return [...(byNode.get(nodeId)?.keys() ?? [])];
    },
  };
}
