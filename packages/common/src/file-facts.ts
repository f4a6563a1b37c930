/**
 * Words for what a config reader finds out about a file: why it could not be read, and whether
 * its permissions expose a secret. Shared by every daemon's config loader.
 */

/** `ENOENT` → "ENOENT (no such file or directory)", for reasons a person reads. */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const meaning: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'is a directory',
    ENOTDIR: 'a parent is not a directory',
    ELOOP: 'too many symbolic links',
  };
  if (typeof code !== 'string') return err instanceof Error ? err.message : String(err);
  return Object.hasOwn(meaning, code) ? `${code} (${meaning[code]})` : code;
}

/** True when `mode` lets the group or others read the file. */
export function isGroupOrWorldReadable(mode: number): boolean {
  return (mode & 0o044) !== 0;
}

/** `0o100640` → `"0640"`. */
export function formatMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}
