/**
 * The files of the disk buffer: segment files of NDJSON records and the small state file. Pure I/O
 * helpers; the bookkeeping is in `disk-buffer.ts`.
 *
 * A segment is `seg-<boot id>-<first seq, 16 digits>.ndjson`, one record per line:
 * `{"seq":12,"ts_ms":1767225600000,"kind":"sample","data":{…}}`. The boot id in the name lets a
 * new boot recognise a previous boot's leftovers even without the state file; the zero-padded seq
 * makes name order equal seq order.
 */
import { open, readFile, readdir, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One buffered record as stored and as handed back to the stream. */
export interface BufferRecord {
  /** Sequence number within the boot, from 1. */
  seq: number;
  /** The record's own time (epoch ms, the agent's clock). */
  ts_ms: number;
  /** What `data` is ("sample", "event"); the buffer does not interpret it. */
  kind: string;
  /** The payload, JSON-serialisable. */
  data: unknown;
}

/** A segment file found on disk. */
export interface SegmentFile {
  name: string;
  bootId: string;
  firstSeq: number;
}

/** A record parsed from a segment, with where its line starts and how long it is. */
export interface ScannedRecord {
  record: BufferRecord;
  offset: number;
  bytes: number;
}

const SEGMENT = /^seg-([0-9a-f-]+)-(\d{16})\.ndjson$/;
const STATE_FILE = 'state.json';

export function segmentName(bootId: string, firstSeq: number): string {
  return `seg-${bootId}-${String(firstSeq).padStart(16, '0')}.ndjson`;
}

/** The segment files in `dir`, oldest first (by boot id, then first seq). */
export async function listSegments(dir: string): Promise<SegmentFile[]> {
  const names = await readdir(dir);
  const found: SegmentFile[] = [];
  for (const name of names) {
    const m = SEGMENT.exec(name);
    if (m?.[1] !== undefined && m[2] !== undefined) found.push({ name, bootId: m[1], firstSeq: Number(m[2]) });
  }
  return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The record encoded as one NDJSON line (with its newline). */
export function encodeRecord(record: BufferRecord): Buffer {
  return Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
}

/** Parses one line; undefined when it is not a well-formed record. */
export function decodeRecord(line: string): BufferRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { seq, ts_ms, kind, data } = value as Partial<BufferRecord>;
  if (!Number.isSafeInteger(seq) || (seq as number) < 1) return undefined;
  if (typeof ts_ms !== 'number' || !Number.isFinite(ts_ms) || typeof kind !== 'string') return undefined;
  return { seq: seq as number, ts_ms, kind, data };
}

/**
 * Reads a whole segment. Lines that do not parse are skipped; a torn last line (a crash mid-write)
 * is cut off the file so that appends — which never go to an old segment anyway — and later
 * scans see whole lines only. Returns the records and how many lines were unusable.
 */
export async function scanSegment(path: string): Promise<{ records: ScannedRecord[]; bad: number }> {
  const buf = await readFile(path);
  const records: ScannedRecord[] = [];
  let bad = 0;
  let offset = 0;
  while (offset < buf.length) {
    const nl = buf.indexOf(0x0a, offset);
    if (nl === -1) {
      bad += 1;
      await truncate(path, offset);
      break;
    }
    const record = decodeRecord(buf.toString('utf8', offset, nl));
    if (record === undefined) bad += 1;
    else records.push({ record, offset, bytes: nl + 1 - offset });
    offset = nl + 1;
  }
  return { records, bad };
}

/** Reads `bytes` bytes at `offset` of a file. */
export async function readRange(path: string, offset: number, bytes: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buf, 0, bytes, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** What survives an agent restart besides the segments. */
export interface BufferState {
  version: 1;
  boot_id: string;
  /** Highest seq assigned in this boot. */
  last_seq: number;
  /** Highest seq the coordinator acknowledged in this boot. */
  acked_seq: number;
  dropped_age: number;
  dropped_size: number;
  dropped_reboot: number;
  dropped_io: number;
}

function count(value: unknown): number {
  return Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : 0;
}

/** The state file, or undefined when it is missing or unreadable (the caller logs which). */
export async function readState(dir: string): Promise<{ state?: BufferState; error?: unknown }> {
  let text: string;
  try {
    text = await readFile(join(dir, STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return {};
    return { error: err };
  }
  try {
    const raw = JSON.parse(text) as Partial<BufferState>;
    if (typeof raw.boot_id !== 'string') return { error: new Error('state file has no boot_id') };
    return {
      state: {
        version: 1,
        boot_id: raw.boot_id,
        last_seq: count(raw.last_seq),
        acked_seq: count(raw.acked_seq),
        dropped_age: count(raw.dropped_age),
        dropped_size: count(raw.dropped_size),
        dropped_reboot: count(raw.dropped_reboot),
        dropped_io: count(raw.dropped_io),
      },
    };
  } catch (err) {
    return { error: err };
  }
}

/** Writes the state file atomically (temporary file, then rename). */
export async function writeState(dir: string, state: BufferState): Promise<void> {
  const tmp = join(dir, `${STATE_FILE}.tmp`);
  await writeFile(tmp, `${JSON.stringify(state)}\n`, { mode: 0o640 });
  await rename(tmp, join(dir, STATE_FILE));
}
