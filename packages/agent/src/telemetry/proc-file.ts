/**
 * Small-file reads for procfs and sysfs, shared by every telemetry reader.
 *
 * Cost matters here (the agent's budget is ~0.5 % of one core at 1 Hz) and each asynchronous fs
 * call is a round trip through the libuv pool. So:
 * - Files read every tick at a fixed path (/proc/stat, a hwmon input, a cgroup's cpu.stat) stay
 *   open and are re-read with pread at offset 0: one pool round trip instead of open+read+close.
 *   procfs and sysfs regenerate the content on every read from offset 0 (seq_file resets its
 *   iterator there), which is how long-running collectors such as netdata read them too. A read
 *   error (ENODEV once a device or cgroup is gone) closes the descriptor and retries with a fresh
 *   open, so a re-created cgroup is picked up on the same tick.
 * - Everything else is open → read → close. Reads go into pooled buffers, never readFile's fresh
 *   64 KiB chunk per call (procfs reports size 0), and a short read is taken as EOF: procfs and
 *   sysfs hand over everything that fits in one read.
 * All of it stays asynchronous: a wedged sysfs read (a GPU in reset) must not block the event loop.
 */
import { close, open, read } from 'node:fs';

/** Reads whole small files; every failure (missing, permission, EINVAL from a driver…) is `null`. */
export interface FileReader {
  /** The file's text (open → read → close), or null when it cannot be read. */
  readText(path: string): Promise<string | null>;
  /**
   * The file's text through a descriptor kept open between calls (see the module comment). For
   * fixed paths read every tick; call {@link FileReader.release} when the path is no longer used.
   */
  readStable(path: string): Promise<string | null>;
  /** Up to `maxBytes` raw bytes from the start of the file (a copy), or null when it cannot be read. */
  readBytes(path: string, maxBytes: number): Promise<Buffer | null>;
  /** Closes the kept descriptor of `path`, if any (after any read in flight on it). */
  release(path: string): void;
  /** Closes every kept descriptor. The reader still works afterwards, reopening on demand. */
  close(): void;
  /** Number of descriptors currently kept open. */
  readonly keptCount: number;
}

export interface FileReaderOptions {
  /** Keep descriptors of `readStable` paths open. @default true */
  keepOpen?: boolean;
  /** Beyond this many kept descriptors, `readStable` falls back to open → read → close. @default 256 */
  maxKept?: number;
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

interface KeptFd {
  fd: number;
  /** Reads in flight: the fd is closed only when this is 0, never under a pending pread. */
  busy: number;
  released: boolean;
}

/**
 * Creates a reader with its own buffer pool and kept descriptors. Concurrent reads each take a
 * buffer from the pool and return it afterwards, so a burst allocates only what runs in parallel.
 */
export function createFileReader(options: FileReaderOptions = {}): FileReader {
  const keepOpen = options.keepOpen ?? true;
  const maxKept = options.maxKept ?? 256;
  const pool: Buffer[] = [];
  const kept = new Map<string, KeptFd>();
  /** Opens in flight per path, so two concurrent first reads do not both keep a descriptor. */
  const opening = new Map<string, Promise<KeptFd | null>>();

  function takeBuffer(): Buffer {
    return pool.pop() ?? Buffer.allocUnsafe(INITIAL_BUFFER_BYTES);
  }
  function giveBack(buf: Buffer): void {
    if (pool.length < MAX_POOLED_BUFFERS) pool.push(buf);
  }

  /** Reads the whole file from offset 0 of an open fd into a pooled buffer (grown if needed). */
  async function readWhole(fd: number, limit: number): Promise<{ buf: Buffer; n: number }> {
    let buf = takeBuffer();
    let n = 0;
    try {
      for (;;) {
        const got = await readAsync(fd, buf, n, n);
        n += got;
        if (got === 0 || n < buf.length || n >= limit) break;
        if (buf.length >= MAX_FILE_BYTES) throw new Error('file too large');
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      return { buf, n: Math.min(n, limit) };
    } catch (err) {
      giveBack(buf);
      throw err;
    }
  }

  async function readOnce(path: string, limit: number): Promise<{ buf: Buffer; n: number } | null> {
    let fd: number;
    try {
      fd = await openAsync(path);
    } catch {
      return null;
    }
    try {
      return await readWhole(fd, limit);
    } catch {
      return null;
    } finally {
      closeQuietly(fd);
    }
  }

  function toText(got: { buf: Buffer; n: number } | null): string | null {
    if (got === null) return null;
    const text = got.buf.toString('utf8', 0, got.n);
    giveBack(got.buf);
    return text;
  }

  function drop(path: string, entry: KeptFd): void {
    if (kept.get(path) === entry) kept.delete(path);
    entry.released = true;
    if (entry.busy === 0) closeQuietly(entry.fd);
  }

  async function keptFor(path: string): Promise<KeptFd | null> {
    const have = kept.get(path);
    if (have !== undefined) return have;
    const pending = opening.get(path);
    if (pending !== undefined) return pending;
    const p = openAsync(path).then(
      (fd): KeptFd => {
        const entry = { fd, busy: 0, released: false };
        kept.set(path, entry);
        return entry;
      },
      () => null,
    );
    opening.set(path, p);
    try {
      return await p;
    } finally {
      opening.delete(path);
    }
  }

  async function readKept(path: string): Promise<string | null> {
    const entry = await keptFor(path);
    if (entry === null) return null;
    entry.busy += 1;
    try {
      return toText(await readWhole(entry.fd, MAX_FILE_BYTES));
    } catch {
      return null;
    } finally {
      entry.busy -= 1;
      if (entry.released && entry.busy === 0) closeQuietly(entry.fd);
    }
  }

  async function readText(path: string): Promise<string | null> {
    return toText(await readOnce(path, MAX_FILE_BYTES));
  }

  return {
    readText,
    async readStable(path) {
      if (!keepOpen || (kept.size >= maxKept && !kept.has(path))) return readText(path);
      const text = await readKept(path);
      if (text !== null) return text;
      // The kept fd may be stale (device or cgroup gone and re-created): drop it, try a fresh one.
      const stale = kept.get(path);
      if (stale === undefined) return null;
      drop(path, stale);
      return readKept(path);
    },
    async readBytes(path, maxBytes) {
      const got = await readOnce(path, maxBytes);
      if (got === null) return null;
      const copy = Buffer.from(got.buf.subarray(0, got.n));
      giveBack(got.buf);
      return copy;
    },
    release(path) {
      const entry = kept.get(path);
      if (entry !== undefined) drop(path, entry);
    },
    close() {
      for (const [path, entry] of [...kept]) drop(path, entry);
    },
    get keptCount() {
      return kept.size;
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
