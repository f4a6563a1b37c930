/**
 * The agent's outbox: every sample and service event is appended here first, with the next seq of
 * this boot, and stays until the coordinator acknowledges it. While the coordinator is away the
 * outbox grows on disk, bounded by age (`max_age_s`: older records are dropped) and by a byte cap
 * (the oldest records are dropped); both kinds of drop are counted and reported to the
 * coordinator. On reconnect the stream replays everything after the coordinator's last acked seq.
 *
 * Appends are synchronous for the caller (seq order is the call order) and written in the
 * background through one serialized I/O queue. The newest records also stay in memory, so a
 * connected agent streams live data without reading its own files back.
 */
import { mkdir } from 'node:fs/promises';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  decodeRecord,
  encodeRecord,
  listSegments,
  readRange,
  readState,
  removeFile,
  scanSegment,
  segmentName,
  writeState,
  type BufferRecord,
  type BufferState,
} from './buffer-files.js';
import { StreamError, errorMessage } from './errors.js';

export type { BufferRecord } from './buffer-files.js';

export interface DiskBufferOptions {
  /** `buffer.dir` from the agent config; created when missing. */
  dir: string;
  /** This boot's id; seq restarts at 1 when it changes. */
  bootId: string;
  log: Logger;
  /** `buffer.max_age_s`: unacknowledged records older than this are dropped. @default 900 */
  maxAgeS?: number;
  /** Byte cap of the whole buffer; past it the oldest records are dropped. @default 64 MiB */
  maxBytes?: number;
  /** A segment file is closed and a new one started past this size. @default 1 MiB */
  segmentMaxBytes?: number;
  /** …or once it spans this much record time, so that age drops free disk promptly. @default 60000 */
  segmentSpanMs?: number;
  /** The newest records kept in memory for live sending. @default 512 */
  memoryRecords?: number;
  /** Wall-clock ms, for the age bound. @default Date.now */
  now?: () => number;
}

/** Where the buffer stands; field names as in the proto's BufferStats. */
export interface DiskBufferStats {
  dropped_age: number;
  dropped_size: number;
  dropped_reboot: number;
  dropped_io: number;
  buffered_records: number;
  buffered_bytes: number;
  oldest_seq: number | null;
  oldest_ts_ms: number | null;
}

export interface DiskBuffer {
  /**
   * Creates the directory, reads the state file and the segments, drops a previous boot's
   * leftovers (counted as `dropped_reboot`) and records past the age bound. Idempotent.
   */
  open(): Promise<void>;
  /** Stores a record and returns its seq. Throws `KAGE_ERR_AGENT_STREAM_CLOSED` before open or after close. */
  append(kind: string, tsMs: number, data: unknown): number;
  /** Up to `limit` records with seq > `afterSeq`, in seq order (read from memory or disk). */
  readAfter(afterSeq: number, limit: number): Promise<BufferRecord[]>;
  /** The coordinator holds everything up to `seq`: forget it. */
  ack(seq: number): void;
  /** Never hand out a seq ≤ `seq` again (the coordinator already has records up to it). */
  advanceTo(seq: number): void;
  /** Highest seq assigned in this boot (0 when none). */
  lastSeq(): number;
  /** Highest seq acknowledged in this boot (0 when none). */
  ackedSeq(): number;
  stats(): DiskBufferStats;
  /** Resolves once every append so far is written (or failed to be) and the state file is saved. */
  flush(): Promise<void>;
  /** Called after every append; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void;
  /** Flushes pending writes and the state file. Idempotent. */
  close(): Promise<void>;
}

interface Segment {
  path: string;
  firstTs: number;
  /** Bytes assigned in the file (written or queued). */
  size: number;
  /** Entries still in the buffer that live in this file. */
  live: number;
  handle: FileHandle | null;
  /** A write failed: later writes to it are skipped (their records stay in memory). */
  failed: boolean;
  retired: boolean;
}

interface Entry {
  seq: number;
  ts: number;
  kind: string;
  bytes: number;
  segment: Segment | null;
  offset: number;
  /** The payload while `inMemory`. */
  data: unknown;
  /** True for the newest records and for every record not yet (or never) written to disk. */
  inMemory: boolean;
  persisted: boolean;
  /** Left the memory window before its write finished: evict once written. */
  evictWhenPersisted: boolean;
  /** Could not be read back from disk (counted once as `dropped_io`). */
  lost: boolean;
}

/** Creates an unopened buffer. */
export function createDiskBuffer(options: DiskBufferOptions): DiskBuffer {
  return new SegmentedBuffer(options);
}

class SegmentedBuffer implements DiskBuffer {
  readonly #dir: string;
  readonly #bootId: string;
  readonly #log: Logger;
  readonly #maxAgeMs: number;
  readonly #maxBytes: number;
  readonly #segmentMaxBytes: number;
  readonly #segmentSpanMs: number;
  readonly #memoryRecords: number;
  readonly #now: () => number;
  readonly #listeners = new Set<() => void>();
  /** Unacknowledged records, seq ascending. */
  #entries: Entry[] = [];
  #cache: Entry[] = [];
  #bytes = 0;
  #current: Segment | null = null;
  #io: Promise<void> = Promise.resolve();
  #stateQueued = false;
  #state: BufferState;
  #opening: Promise<void> | undefined;
  #ready = false;
  #closing: Promise<void> | undefined;

  constructor(options: DiskBufferOptions) {
    this.#dir = options.dir;
    this.#bootId = options.bootId;
    this.#log = options.log.child({ component: 'disk-buffer' });
    this.#maxAgeMs = (options.maxAgeS ?? 900) * 1000;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.#segmentMaxBytes = options.segmentMaxBytes ?? 1024 * 1024;
    this.#segmentSpanMs = options.segmentSpanMs ?? 60_000;
    this.#memoryRecords = options.memoryRecords ?? 512;
    this.#now = options.now ?? Date.now;
    if (!(this.#maxAgeMs > 0) || !(this.#maxBytes > 0) || !(this.#segmentMaxBytes > 0)) {
      throw new TypeError('disk buffer maxAgeS, maxBytes and segmentMaxBytes must be > 0');
    }
    this.#state = freshState(this.#bootId, 0);
  }

  open(): Promise<void> {
    if (this.#closing !== undefined) return Promise.reject(closedError());
    this.#opening ??= this.#load();
    return this.#opening;
  }

  async #load(): Promise<void> {
    try {
      await mkdir(this.#dir, { recursive: true, mode: 0o750 });
    } catch (err) {
      throw new StreamError(
        'KAGE_ERR_AGENT_BUFFER_IO',
        `cannot create buffer directory ${this.#dir}: ${errorMessage(err)}`,
        {
          cause: err,
        },
      );
    }
    const { state, error } = await readState(this.#dir);
    if (error !== undefined) this.#log.warn({ err: error }, 'buffer state file unreadable; rebuilding from segments');
    const sameBoot = state?.boot_id === this.#bootId;
    const prior = sameBoot ? state : undefined;
    this.#state = prior ?? freshState(this.#bootId, 0);

    let stale = 0;
    let bad = 0;
    let maxSeq = 0;
    for (const file of await listSegments(this.#dir)) {
      const path = join(this.#dir, file.name);
      const scanned = await scanSegment(path);
      bad += scanned.bad;
      if (file.bootId !== this.#bootId) {
        // A previous boot's records carry seqs of a boot id the agent no longer reports: they
        // cannot be replayed under the new one without risking duplicates, so they are counted.
        const acked = state !== undefined && state.boot_id === file.bootId ? state.acked_seq : 0;
        stale += scanned.records.filter((r) => r.record.seq > acked).length;
        await removeFile(path);
        continue;
      }
      const segment: Segment = {
        path,
        firstTs: Infinity,
        size: 0,
        live: 0,
        handle: null,
        failed: false,
        retired: false,
      };
      for (const { record, offset, bytes } of scanned.records) {
        segment.size = Math.max(segment.size, offset + bytes);
        maxSeq = Math.max(maxSeq, record.seq);
        const last = this.#entries.at(-1);
        if (record.seq <= this.#state.acked_seq || (last !== undefined && record.seq <= last.seq)) continue;
        segment.firstTs = Math.min(segment.firstTs, record.ts_ms);
        segment.live += 1;
        this.#bytes += bytes;
        this.#entries.push({
          seq: record.seq,
          ts: record.ts_ms,
          kind: record.kind,
          bytes,
          segment,
          offset,
          data: undefined,
          inMemory: false,
          persisted: true,
          evictWhenPersisted: false,
          lost: false,
        });
      }
      if (segment.live === 0) await removeFile(path);
    }
    this.#state.last_seq = Math.max(this.#state.last_seq, this.#state.acked_seq, maxSeq);
    if (stale > 0) {
      this.#state.dropped_reboot += stale;
      this.#log.warn({ dropped: stale }, 'dropped unacknowledged records of a previous boot');
    }
    if (bad > 0) this.#log.warn({ lines: bad }, 'skipped unreadable lines in buffer segments');
    this.#ready = true;
    this.#prune();
    this.#log.info(
      {
        boot_id: this.#bootId,
        last_seq: this.#state.last_seq,
        buffered: this.#entries.length,
        resumed: prior !== undefined,
      },
      'disk buffer opened',
    );
    this.#saveState();
    await this.#io;
  }

  append(kind: string, tsMs: number, data: unknown): number {
    if (!this.#ready || this.#closing !== undefined) throw closedError();
    const seq = this.#state.last_seq + 1;
    this.#state.last_seq = seq;
    const line = encodeRecord({ seq, ts_ms: tsMs, kind, data });
    let segment = this.#current;
    if (
      segment === null ||
      segment.failed ||
      (segment.size > 0 && segment.size + line.length > this.#segmentMaxBytes) ||
      tsMs - segment.firstTs >= this.#segmentSpanMs
    ) {
      if (segment !== null) this.#seal(segment);
      segment = {
        path: join(this.#dir, segmentName(this.#bootId, seq)),
        firstTs: tsMs,
        size: 0,
        live: 0,
        handle: null,
        failed: false,
        retired: false,
      };
      this.#current = segment;
    }
    const entry: Entry = {
      seq,
      ts: tsMs,
      kind,
      bytes: line.length,
      segment,
      offset: segment.size,
      data,
      inMemory: true,
      persisted: false,
      evictWhenPersisted: false,
      lost: false,
    };
    segment.size += line.length;
    segment.live += 1;
    this.#bytes += line.length;
    this.#entries.push(entry);
    this.#cache.push(entry);
    while (this.#cache.length > this.#memoryRecords) {
      const old = this.#cache.shift() as Entry;
      if (old.persisted) this.#evict(old);
      else old.evictWhenPersisted = true;
    }
    this.#enqueueWrite(segment, entry, line);
    this.#prune();
    for (const listener of this.#listeners) listener();
    return seq;
  }

  async readAfter(afterSeq: number, limit: number): Promise<BufferRecord[]> {
    if (!this.#ready) throw closedError();
    this.#prune();
    let lo = 0;
    let hi = this.#entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#entries[mid] as Entry).seq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    const picked = this.#entries.slice(lo, lo + Math.max(0, limit));
    const fromDisk = await this.#readFromDisk(picked.filter((e) => !e.inMemory));
    const records: BufferRecord[] = [];
    for (const e of picked) {
      const data = e.inMemory ? e.data : fromDisk.get(e);
      if (e.inMemory || fromDisk.has(e)) records.push({ seq: e.seq, ts_ms: e.ts, kind: e.kind, data });
    }
    return records;
  }

  /** Payloads of entries that are only on disk, one read per segment; unreadable ones are counted. */
  async #readFromDisk(entries: Entry[]): Promise<Map<Entry, unknown>> {
    const found = new Map<Entry, unknown>();
    const bySegment = new Map<Segment, Entry[]>();
    for (const e of entries) {
      if (e.lost || e.segment === null) continue;
      const list = bySegment.get(e.segment) ?? [];
      list.push(e);
      bySegment.set(e.segment, list);
    }
    for (const [segment, list] of bySegment) {
      const first = list[0] as Entry;
      const last = list.at(-1) as Entry;
      let buf: Buffer | undefined;
      try {
        buf = await readRange(segment.path, first.offset, last.offset + last.bytes - first.offset);
      } catch (err) {
        // Acked or dropped while we read: not a loss. Anything else is.
        if (segment.retired) continue;
        this.#log.error({ err, file: segment.path }, 'cannot read buffer segment');
      }
      for (const e of list) {
        const start = e.offset - first.offset;
        const record = buf === undefined ? undefined : decodeRecord(buf.toString('utf8', start, start + e.bytes - 1));
        if (record?.seq === e.seq) {
          found.set(e, record.data);
        } else if (!segment.retired) {
          e.lost = true;
          this.#state.dropped_io += 1;
        }
      }
    }
    return found;
  }

  ack(seq: number): void {
    if (!this.#ready || !(seq > this.#state.acked_seq)) return;
    this.#state.acked_seq = seq;
    if (seq > this.#state.last_seq) this.#state.last_seq = seq;
    let n = 0;
    while (n < this.#entries.length && (this.#entries[n] as Entry).seq <= seq) n += 1;
    this.#removeHead(n);
    this.#saveState();
  }

  advanceTo(seq: number): void {
    if (seq > this.#state.last_seq) {
      this.#state.last_seq = seq;
      this.#saveState();
    }
  }

  lastSeq(): number {
    return this.#state.last_seq;
  }

  ackedSeq(): number {
    return this.#state.acked_seq;
  }

  stats(): DiskBufferStats {
    if (this.#ready) this.#prune();
    const oldest = this.#entries[0];
    return {
      dropped_age: this.#state.dropped_age,
      dropped_size: this.#state.dropped_size,
      dropped_reboot: this.#state.dropped_reboot,
      dropped_io: this.#state.dropped_io,
      buffered_records: this.#entries.length,
      buffered_bytes: this.#bytes,
      oldest_seq: oldest?.seq ?? null,
      oldest_ts_ms: oldest?.ts ?? null,
    };
  }

  async flush(): Promise<void> {
    if (this.#ready) this.#saveState();
    await this.#io;
  }

  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#opening?.catch(() => undefined);
      this.#listeners.clear();
      if (this.#ready) this.#saveState();
      const current = this.#current;
      this.#current = null;
      if (current !== null) this.#seal(current);
      await this.#io;
      this.#ready = false;
    })();
    return this.#closing;
  }

  /** Drops the oldest records past the age bound, then past the byte cap, counting both. */
  #prune(): void {
    const cutoff = this.#now() - this.#maxAgeMs;
    let aged = 0;
    while (aged < this.#entries.length && (this.#entries[aged] as Entry).ts < cutoff) aged += 1;
    let sized = 0;
    let bytes = this.#bytes;
    for (let i = 0; i < aged; i += 1) bytes -= (this.#entries[i] as Entry).bytes;
    while (bytes > this.#maxBytes && aged + sized < this.#entries.length) {
      bytes -= (this.#entries[aged + sized] as Entry).bytes;
      sized += 1;
    }
    if (aged + sized === 0) return;
    this.#state.dropped_age += aged;
    this.#state.dropped_size += sized;
    this.#log.debug({ dropped_age: aged, dropped_size: sized }, 'buffer dropped records');
    this.#removeHead(aged + sized);
    this.#saveState();
  }

  #removeHead(n: number): void {
    if (n <= 0) return;
    for (const e of this.#entries.splice(0, n)) {
      this.#bytes -= e.bytes;
      e.inMemory = false;
      e.data = undefined;
      const segment = e.segment;
      if (segment === null) continue;
      segment.live -= 1;
      if (segment.live === 0) this.#retire(segment);
    }
  }

  #evict(e: Entry): void {
    if (!e.persisted) return;
    e.inMemory = false;
    e.data = undefined;
  }

  #enqueueWrite(segment: Segment, entry: Entry, line: Buffer): void {
    this.#enqueue(async () => {
      if (segment.retired || segment.failed) return;
      try {
        segment.handle ??= await open(segment.path, 'a', 0o640);
        await segment.handle.write(line);
        entry.persisted = true;
        if (entry.evictWhenPersisted) this.#evict(entry);
      } catch (err) {
        // The record stays in memory (unwritten records are never evicted), so it is still sent;
        // the next append starts a new segment.
        segment.failed = true;
        this.#log.error({ err, file: segment.path }, 'buffer write failed; keeping records in memory');
      }
    });
  }

  /** No more appends go to `segment`; its handle is closed. */
  #seal(segment: Segment): void {
    if (this.#current === segment) this.#current = null;
    this.#enqueue(async () => {
      const handle = segment.handle;
      segment.handle = null;
      await handle?.close();
    });
  }

  /** Every record of `segment` is gone: delete the file. */
  #retire(segment: Segment): void {
    segment.retired = true;
    if (this.#current === segment) this.#current = null;
    this.#enqueue(async () => {
      const handle = segment.handle;
      segment.handle = null;
      await handle?.close();
      await removeFile(segment.path);
    });
  }

  #saveState(): void {
    if (this.#stateQueued) return;
    this.#stateQueued = true;
    this.#enqueue(async () => {
      this.#stateQueued = false;
      await writeState(this.#dir, { ...this.#state });
    });
  }

  #enqueue(task: () => Promise<void>): void {
    this.#io = this.#io.then(task).catch((err: unknown) => {
      this.#log.error({ err }, 'buffer I/O failed');
    });
  }
}

function freshState(bootId: string, lastSeq: number): BufferState {
  return {
    version: 1,
    boot_id: bootId,
    last_seq: lastSeq,
    acked_seq: 0,
    dropped_age: 0,
    dropped_size: 0,
    dropped_reboot: 0,
    dropped_io: 0,
  };
}

function closedError(): StreamError {
  return new StreamError('KAGE_ERR_AGENT_STREAM_CLOSED', 'the disk buffer is not open');
}
