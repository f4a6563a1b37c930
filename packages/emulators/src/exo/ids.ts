/**
 * Identifiers in the shapes EXO v1.0.71 uses: node ids are libp2p peer ids of a fresh Ed25519 key
 * (random per start, `12D3KooW…`), everything else (instance, runner, command ids) is a UUID4.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** A libp2p-looking peer id: the fixed `12D3KooW` multihash prefix plus 44 base58 characters. */
export function newNodeId(): string {
  const bytes = randomBytes(44);
  let tail = '';
  for (const b of bytes) tail += BASE58[b % BASE58.length] ?? '1';
  return `12D3KooW${tail}`;
}

export function newUuid(): string {
  return randomUUID();
}

/** `random_ephemeral_port()` of placement.py: 49153–65535, skipping the API port 52415. */
export function randomEphemeralPort(): number {
  const port = randomInt(49153, 65536);
  return port <= 52415 ? port - 1 : port;
}
