/**
 * The version of a supervised service, as the node itself can tell it. Ollama answers
 * `GET /api/version`; EXO 1.x has no version on its API at all (its Ollama-compatible
 * `/ollama/api/version` answers a constant), so the version of an EXO installed from a git tag is
 * that checkout's tag. The agent reads it each time a service becomes healthy — a (re)start is
 * when an upgrade takes effect — and reports it with the service's status, so the coordinator and
 * `kage doctor --all` can compare versions across nodes without reaching into each one.
 */
import { execFile } from 'node:child_process';
import { probeHttp } from './http-probe.js';
import type { VersionSource } from './types.js';

/** A version string is shown on one line of a table: anything longer is not a version. */
const MAX_VERSION_LENGTH = 100;
const MAX_BODY_BYTES = 16 * 1024;

/** The trimmed version, or null when it is empty, too long or spans lines. */
function plausible(text: string): string | null {
  const v = text.trim();
  return v === '' || v.length > MAX_VERSION_LENGTH || /[\r\n]/.test(v) ? null : v;
}

/**
 * The exact tag of the commit checked out in `dir` (`git describe --tags --exact-match`), or null
 * when git is missing, `dir` is not a checkout or its commit has no tag. `safe.directory` names the
 * checkout on the command line because the reader (the agent's `kage` user, an operator) is rarely
 * its owner (root cloned it), and git refuses to read a repository owned by someone else otherwise.
 */
export function readGitTag(dir: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(
      'git',
      ['-c', `safe.directory=${dir}`, '-C', dir, 'describe', '--tags', '--exact-match'],
      {
        timeout: options.timeoutMs,
        maxBuffer: MAX_BODY_BYTES,
        encoding: 'utf8',
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
      (err, stdout) => resolve(err === null ? plausible(stdout) : null),
    );
  });
}

/** The `version` string of a small JSON answer at `url`, or null when there is none. */
async function readVersionUrl(
  url: string,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<string | null> {
  const result = await probeHttp(url, { ...options, bodyLimitBytes: MAX_BODY_BYTES });
  if (!result.ok || result.body === undefined) return null;
  try {
    const version = (JSON.parse(result.body) as { version?: unknown } | null)?.version;
    return typeof version === 'string' ? plausible(version) : null;
  } catch {
    return null;
  }
}

/** The version from `source`, or null when it has none or it cannot be read now. Never rejects. */
export async function readServiceVersion(
  source: VersionSource,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<string | null> {
  if (source.version_url !== undefined) return readVersionUrl(source.version_url, options);
  if (source.version_git !== undefined) return readGitTag(source.version_git, options);
  return null;
}

/** True when `source` names a place to read a version from. */
export function hasVersionSource(source: VersionSource): boolean {
  return source.version_url !== undefined || source.version_git !== undefined;
}
