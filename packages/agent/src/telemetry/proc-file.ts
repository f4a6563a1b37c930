/**
 * Small-file reads for procfs and sysfs, shared by every telemetry reader.
 *
 * Why not `fs.promises.readFile`: procfs and sysfs report a size of 0, so readFile allocates a fresh
 * 64 KiB chunk per call, issues an extra fstat and a second read to find EOF, and creates a
 * FileHandle for the GC to track. At 1 Hz over a few dozen files that is most of the agent's
 * telemetry cost. Here a read is open → read into a pooled buffer → close, all asynchronous on the
 * libuv pool, and nothing is allocated per call except the returned string.
 */
import { close, open, read } from 'node:fs';

/** Reads whole small files; every failure (missing, permission, EINVAL from a driver…) is `null`. */
export interface FileReader {
  /** The file's text, or null when it cannot be read. */
  readText(path: string): Promise<string | null>;
  /** Up to `maxBytes` raw bytes from the start of the file (a copy), or null when it cannot be read. */
  readBytes(path: string, maxBytes: number): Promise<Buffer | null>;
}

const INITIAL_BUFFER_BYTES = 16 * 1024;
// /proc/stat on a 256-thread box is ~40 KiB; nothing we read legitimately comes close to this.
const MAX_FILE_BYTES = 4 * 1024 * 1024;
const MAX_POOLED_BUFFERS = 16;

function openAsync(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    open(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd)));
  });
}

function readAsync(fd: number, buf: Buffer, offset: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buf, offset, buf.length - offset, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

function closeQuietly(fd: number): void {
  // Nothing useful can be done with a close error on a read-only fd.
  close(fd, () => undefined);
}

/**
 * Creates a reader with its own buffer pool. Concurrent reads each take a buffer from the pool and
 * return it afterwards, so a burst (a /proc scan) allocates only what runs in parallel.
 */
export function createFileReader(): FileReader {
  const pool: Buffer[] = [];

  function takeBuffer(): Buffer {
    return pool.pop() ?? Buffer.allocUnsafe(INITIAL_BUFFER_BYTES);
  }
  function giveBack(buf: Buffer): void {
    if (pool.length < MAX_POOLED_BUFFERS) pool.push(buf);
  }

  /** Reads into a pooled buffer; returns the buffer (possibly grown) and the byte count. */
  async function readInto(path: string, limit: number): Promise<{ buf: Buffer; n: number } | null> {
    let fd: number;
    try {
      fd = await openAsync(path);
    } catch {
      return null;
    }
    let buf = takeBuffer();
    let n = 0;
    try {
      for (;;) {
        const got = await readAsync(fd, buf, n, n);
        n += got;
        // procfs (seq_file) and sysfs hand over everything that fits in one read, so a short read
        // is EOF; only a full buffer needs another round.
        if (got === 0 || n < buf.length || n >= limit) break;
        if (buf.length >= MAX_FILE_BYTES) return null;
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      return { buf, n: Math.min(n, limit) };
    } catch {
      giveBack(buf);
      return null;
    } finally {
      closeQuietly(fd);
    }
  }

  return {
    async readText(path) {
      const got = await readInto(path, MAX_FILE_BYTES);
      if (got === null) return null;
      const text = got.buf.toString('utf8', 0, got.n);
      giveBack(got.buf);
      return text;
    },
    async readBytes(path, maxBytes) {
      const got = await readInto(path, maxBytes);
      if (got === null) return null;
      const copy = Buffer.from(got.buf.subarray(0, got.n));
      giveBack(got.buf);
      return copy;
    },
  };
}

/**
 * Parses a non-negative decimal integer that must be the whole (trimmed) text. Anything else —
 * empty, signs, fractions, trailing junk — is null: a garbled file is unknown, never 0.
 */
export function parseUint(text: string | null | undefined): number | null {
  if (text === null || text === undefined) return null;
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}

/** Parses a signed decimal integer (hwmon temperatures can be below zero). */
export function parseInt10(text: string | null | undefined): number | null {
  if (text === null || text === undefined) return null;
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}

/** Parses a finite decimal number such as `0.52` from /proc/loadavg. */
export function parseDecimal(text: string | null | undefined): number | null {
  if (text === null || text === undefined) return null;
  const t = text.trim();
  if (!/^-?\d+(\.\d+)?$/.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

/** Rounds to `digits` decimals; keeps samples small on the wire without losing meaning. */
export function roundTo(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Sorts names like `hwmon10` after `hwmon9` by the trailing number. */
export function compareNumericSuffix(a: string, b: string): number {
  const na = Number(/(\d+)$/.exec(a)?.[1] ?? Number.NaN);
  const nb = Number(/(\d+)$/.exec(b)?.[1] ?? Number.NaN);
  if (Number.isNaN(na) || Number.isNaN(nb) || na === nb) return a < b ? -1 : a > b ? 1 : 0;
  return na - nb;
}
