/**
 * Reading the small files a coordinator config is made of (the config itself, token files, TLS
 * keys and certificates) without trusting them: size caps, no waiting on a FIFO or reading a
 * device forever, binary content refused, and file-system errors phrased for a person.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { describeFsError } from '@kage/common';

/**
 * Largest config, token or key file read. A real one is a few KiB; the YAML parser's time grows
 * faster than the size (duplicate-key checks, quoting), and at 1 MiB a hostile file takes minutes.
 */
export const MAX_TEXT_BYTES = 64 * 1024;
/**
 * Largest agent tokens file: one line per node, ~80 bytes with a 64-hex-digit token, so about
 * 12,000 nodes. Parsing 10,000 entries takes under a second, once, at start.
 */
export const MAX_TOKENS_FILE_BYTES = 1024 * 1024;
/** Largest PEM file read: room for a CA bundle, not for a mistyped path to a disk image. */
export const MAX_PEM_BYTES = 1024 * 1024;
/** C0 controls except tab, LF and CR; DEL; C1 controls except NEL. YAML forbids them all. */
const CONTROL = /(?![\t\n\r\u0085])\p{Cc}/u;

export type SmallFile =
  | { bytes: Buffer; mode: number }
  /** `size` is null when the file grew past the limit while being read. */
  | { tooLarge: true; size: number | null }
  | { error: string; cause: unknown };

/**
 * Reads a regular file of at most `maxBytes`. Opened non-blocking so that a FIFO given by mistake
 * is refused rather than waited on; a device (`/dev/zero`) is refused rather than read forever.
 */
export async function readSmallFile(file: string, maxBytes: number): Promise<SmallFile> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const info = await handle.stat();
    if (!info.isFile()) return { error: 'not a regular file', cause: null };
    if (info.size > maxBytes) return { tooLarge: true, size: info.size };
    // Read to the end rather than trust `size`: the file may grow meanwhile, and /proc reports 0.
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) return { tooLarge: true, size: null };
    }
    return { bytes: Buffer.from(buffer.subarray(0, length)), mode: info.mode };
  } catch (err) {
    return { error: describeFsError(err), cause: err };
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

export function tooLarge(size: number | null, maxBytes: number, what: string): string {
  const limit = maxBytes >= 1024 * 1024 ? `${maxBytes / (1024 * 1024)} MiB` : `${maxBytes / 1024} KiB`;
  return `${size === null ? `over ${limit}` : `${size} bytes`}: too large for ${what} (at most ${limit})`;
}

/** UTF-8 text, or why the bytes are not (a binary file given by mistake). A leading BOM is dropped. */
export function decodeText(bytes: Buffer): { text: string } | { reason: string } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { reason: 'not a text file (invalid UTF-8)' };
  }
}

/** The first character YAML forbids, with its position: such a file is binary, not a config. */
export function findControlCharacter(text: string): { line: number; column: number; reason: string } | null {
  const m = CONTROL.exec(text);
  if (m === null) return null;
  const before = text.slice(0, m.index);
  const lineStart = before.lastIndexOf('\n') + 1;
  const code = (m[0].codePointAt(0) ?? 0).toString(16).padStart(2, '0');
  return {
    line: before.split('\n').length,
    column: m.index - lineStart + 1,
    reason: `not a text file (control character 0x${code})`,
  };
}
