/**
 * Agent authentication: each node has its own bearer token. Tokens are compared as SHA-256
 * digests, so response timing says nothing about how much of a guess was right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export interface TokenAuth {
  /** The node id the token belongs to, or null. */
  nodeFor(token: string): string | null;
  knows(nodeId: string): boolean;
}

export function createTokenAuth(tokens: ReadonlyMap<string, string>): TokenAuth {
  // Looked up by SHA-256 digest: the map's timing depends on the digest, which says nothing
  // useful about the token, and a reconnect storm of 10,000 agents costs one hash each, not N
  // comparisons each. The match itself is still confirmed in constant time.
  const byDigest = new Map<string, { node: string; digest: Buffer }>();
  for (const [node, token] of tokens) {
    const digest = sha256(token);
    byDigest.set(digest.toString('hex'), { node, digest });
  }
  return {
    nodeFor(token) {
      const digest = sha256(token);
      const entry = byDigest.get(digest.toString('hex'));
      return entry !== undefined && timingSafeEqual(entry.digest, digest) ? entry.node : null;
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
