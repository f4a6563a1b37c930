/**
 * Bearer-token check for state-changing requests. Reads stay open (the API serves a LAN dashboard);
 * anything that starts, stops or cancels needs the coordinator's API token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from './api-error.js';

/** Methods that change nothing and need no token. */
const READ_ONLY_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Returns the check for one token. Both sides are hashed first so the comparison is over equal
 * lengths and its time says nothing about the token. An empty configured token matches nothing:
 * a missing setting locks the API rather than opening it.
 */
export function createTokenCheck(apiToken: string): (method: string, authorization: string | undefined) => void {
  const expected = apiToken === '' ? null : digest(apiToken);
  return (method, authorization) => {
    if (READ_ONLY_METHODS.has(method)) return;
    const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    if (match === null) {
      throw new ApiError('KAGE_ERR_UNAUTHORIZED', 'this request needs an Authorization: Bearer <api token> header');
    }
    if (expected === null || !timingSafeEqual(digest(match[1]!), expected)) {
      throw new ApiError('KAGE_ERR_UNAUTHORIZED', 'the bearer token is not the coordinator API token');
    }
  };
}
