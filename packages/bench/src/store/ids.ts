/**
 * Run ids: ULIDs (26 characters of Crockford base32: 48-bit millisecond time, then 80 random bits).
 * They sort by creation time as plain strings, so `ORDER BY id` is chronological and `latest` is
 * the greatest id; ids made in the same millisecond by this process still increase.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const RANDOM_MAX = (1n << 80n) - 1n;

let lastTime = -1;
let lastRandom = 0n;

function encode(value: bigint, length: number): string {
  let out = '';
  let v = value;
  for (let i = 0; i < length; i++) {
    out = ALPHABET.charAt(Number(v & 31n)) + out;
    v >>= 5n;
  }
  return out;
}

/** A new ULID; `now` (ms since the epoch) is injectable for tests. */
export function newRunId(now: number = Date.now()): string {
  let random: bigint;
  if (now === lastTime && lastRandom < RANDOM_MAX) {
    random = lastRandom + 1n;
  } else {
    random = BigInt(`0x${randomBytes(10).toString('hex')}`);
  }
  lastTime = now;
  lastRandom = random;
  return encode(BigInt(now), 10) + encode(random, 16);
}

/** True for a syntactically valid ULID (case-insensitive, as users may type it). */
export function isRunId(value: string): boolean {
  return /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/i.test(value);
}
