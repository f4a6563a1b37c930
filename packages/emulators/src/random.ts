/**
 * Seeded randomness for jitter and fault injection. Deterministic mode uses a fixed seed and no
 * jitter, so two runs of the same test see the same bytes and the same timings.
 */
import { uniformIntDistribution, xoroshiro128plus, type RandomGenerator } from 'pure-rand';

const INT_RANGE = 0x80000000;

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** A multiplicative factor around 1 with the given relative spread (0 → always 1). */
  jitter(relativeSpread: number): number;
}

export function createRandom(seed: number): Random {
  let rng: RandomGenerator = xoroshiro128plus(seed);
  const next = (): number => {
    const [value, nextRng] = uniformIntDistribution(0, INT_RANGE - 1, rng);
    rng = nextRng;
    return value / INT_RANGE;
  };
  return {
    next,
    jitter(relativeSpread: number): number {
      if (relativeSpread <= 0) return 1;
      return Math.max(0.05, 1 + (next() * 2 - 1) * relativeSpread);
    },
  };
}
