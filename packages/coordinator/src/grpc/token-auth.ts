/**
 * Agent authentication: each node has its own bearer token. A token is matched against every
 * configured one in constant time (a SHA-256 digest of each side, compared with timingSafeEqual),
 * so response timing says nothing about how much of a guess was right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export interface TokenAuth {
  /** The node id the token belongs to, or null. */
  nodeFor(token: string): string | null;
  knows(nodeId: string): boolean;
}

export function createTokenAuth(tokens: ReadonlyMap<string, string>): TokenAuth {
  const digests = [...tokens].map(([node, token]) => ({ node, digest: sha256(token) }));
  return {
    nodeFor(token) {
      const digest = sha256(token);
      let found: string | null = null;
      // No early exit: every entry is compared whatever the outcome.
      for (const entry of digests) if (timingSafeEqual(entry.digest, digest)) found = entry.node;
      return found;
    },
    knows: (nodeId) => tokens.has(nodeId),
  };
}

/** The token of an `authorization: Bearer <token>` value, or null. */
export function bearerToken(header: unknown): string | null {
  if (typeof header !== 'string') return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1] ?? null;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
