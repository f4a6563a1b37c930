/**
 * One model repository fetched from Hugging Face over a link of fixed speed, as EXO v1.0.71's
 * `download_shard` does it (`src/exo/download/download_utils.py`): every file of the repository
 * (smart per-shard downloads are disabled, so each node fetches all of it), at most 8 files at once,
 * the files sharing the link. The progress it reports is `DownloadProgressData`, with EXO's own
 * arithmetic: `speed` = bytes fetched this session / seconds since the download began, `etaMs` =
 * remaining bytes / speed, and per file the same from the moment that file started.
 */
import type { DownloadProgressDataJson } from './wire-types.js';
import { memoryJson } from './wire-types.js';

/** A file of a repository as the Hugging Face tree API lists it. */
export interface RepoFile {
  readonly path: string;
  readonly bytes: number;
}

/** `download_shard`'s semaphore: `max_parallel_downloads` = 8. */
export const PARALLEL_FILES = 8;

/** mlx-lm saves weights in shards of at most 5 GiB (`make_shards(max_file_size_gb=5)`). */
const SHARD_LIMIT_BYTES = 5 * 1024 ** 3;

/**
 * Small files of an mlx-community repository (sizes as Hugging Face lists them for the Llama 3.2 and
 * Qwen2.5 builds; other families use the Llama set).
 */
function metadataFiles(modelId: string, shardCount: number): RepoFile[] {
  const qwen = modelId.toLowerCase().includes('qwen');
  const files: RepoFile[] = [
    { path: '.gitattributes', bytes: 1_519 },
    { path: 'README.md', bytes: qwen ? 1_322 : 1_019 },
    { path: 'config.json', bytes: qwen ? 883 : 1_117 },
    { path: 'model.safetensors.index.json', bytes: 24_000 + 1_400 * shardCount },
    { path: 'special_tokens_map.json', bytes: qwen ? 613 : 296 },
    { path: 'tokenizer.json', bytes: qwen ? 7_031_645 : 17_209_920 },
    { path: 'tokenizer_config.json', bytes: qwen ? 7_306 : 54_599 },
  ];
  if (qwen) {
    files.push(
      { path: 'added_tokens.json', bytes: 605 },
      { path: 'merges.txt', bytes: 1_671_853 },
      { path: 'vocab.json', bytes: 2_776_833 },
    );
  }
  return files;
}

/** The files of a repository whose safetensors weigh `weightBytes`, sorted by path as the tree API does. */
export function repoFiles(modelId: string, weightBytes: number): RepoFile[] {
  const shardCount = Math.max(1, Math.ceil(weightBytes / SHARD_LIMIT_BYTES));
  const weights: RepoFile[] = [];
  const pad = (n: number): string => String(n).padStart(5, '0');
  for (let i = 0; i < shardCount; i++) {
    const bytes = i < shardCount - 1 ? SHARD_LIMIT_BYTES : weightBytes - SHARD_LIMIT_BYTES * (shardCount - 1);
    const path = shardCount === 1 ? 'model.safetensors' : `model-${pad(i + 1)}-of-${pad(shardCount)}.safetensors`;
    weights.push({ path, bytes });
  }
  return [...metadataFiles(modelId, shardCount), ...weights].sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** A stretch of time in which the same files share the link equally. */
interface Segment {
  readonly fromS: number;
  readonly toS: number;
  readonly files: readonly number[];
  readonly bytesPerSecondEach: number;
}

/**
 * The fetch of one file list at a fixed link speed, solved once up front: files enter in list order
 * as slots free up, and the active ones split the link equally (TCP fair share), so the link stays
 * full until the last file ends.
 */
export class RepoDownload {
  readonly totalBytes: number;
  /** Seconds from the first byte to the last. */
  readonly durationS: number;
  private readonly segments: Segment[] = [];
  /** When each file received its first byte, in seconds. */
  private readonly startS: number[];

  constructor(
    readonly files: readonly RepoFile[],
    readonly bytesPerSecond: number,
  ) {
    if (!(bytesPerSecond > 0)) throw new RangeError(`bytesPerSecond must be positive, got ${bytesPerSecond}`);
    this.totalBytes = files.reduce((s, f) => s + f.bytes, 0);
    this.startS = files.map(() => Number.POSITIVE_INFINITY);
    const remaining = files.map((f) => f.bytes);
    const active: number[] = [];
    let next = 0;
    let t = 0;
    const refill = (): void => {
      while (active.length < PARALLEL_FILES && next < files.length) {
        this.startS[next] = t;
        active.push(next++);
      }
    };
    refill();
    while (active.length > 0) {
      const each = bytesPerSecond / active.length;
      const dt = Math.min(...active.map((i) => remaining[i]!)) / each;
      this.segments.push({ fromS: t, toS: t + dt, files: [...active], bytesPerSecondEach: each });
      for (const i of active) remaining[i] = Math.max(0, remaining[i]! - each * dt);
      t += dt;
      for (let k = active.length - 1; k >= 0; k--) if (remaining[active[k]!]! <= 1e-6) active.splice(k, 1);
      refill();
    }
    this.durationS = t;
  }

  /** Bytes of each file on disk `s` seconds after the first byte. */
  private bytesAt(s: number): number[] {
    const done = this.files.map(() => 0);
    for (const seg of this.segments) {
      if (seg.fromS >= s) break;
      const overlap = Math.min(s, seg.toS) - seg.fromS;
      for (const i of seg.files) done[i] = done[i]! + overlap * seg.bytesPerSecondEach;
    }
    return done.map((d, i) => Math.min(this.files[i]!.bytes, Math.floor(d + 1e-6)));
  }

  /** `DownloadProgressData` `s` seconds after the first byte (a fresh session: nothing was on disk). */
  progressAt(s: number): DownloadProgressDataJson {
    const bytes = this.bytesAt(Math.max(0, s));
    const files: Record<string, DownloadProgressDataJson> = {};
    this.files.forEach((file, i) => {
      const done = bytes[i]!;
      const since = s - this.startS[i]!;
      const speed = since > 0 ? done / since : 0;
      files[file.path] = {
        total: memoryJson(file.bytes),
        downloaded: memoryJson(done),
        downloadedThisSession: memoryJson(done),
        completedFiles: done === file.bytes ? 1 : 0,
        totalFiles: 1,
        speed,
        etaMs: speed > 0 ? Math.trunc(((file.bytes - done) / speed) * 1000) : 0,
        files: {},
      };
    });
    const downloaded = bytes.reduce((a, b) => a + b, 0);
    const speed = s > 0 ? downloaded / s : 0;
    return {
      total: memoryJson(this.totalBytes),
      downloaded: memoryJson(downloaded),
      downloadedThisSession: memoryJson(downloaded),
      completedFiles: bytes.filter((b, i) => b === this.files[i]!.bytes).length,
      totalFiles: this.files.length,
      speed,
      etaMs: speed > 0 ? Math.trunc(((this.totalBytes - downloaded) / speed) * 1000) : 0,
      files,
    };
  }
}

/**
 * The progress of a repository whose file list could not be fetched (`download_shard` returns a
 * `not_started` progress with no files when the tree API fails): no files, no bytes.
 */
export function emptyProgress(): DownloadProgressDataJson {
  return {
    total: memoryJson(0),
    downloaded: memoryJson(0),
    downloadedThisSession: memoryJson(0),
    completedFiles: 0,
    totalFiles: 0,
    speed: 0,
    etaMs: 0,
    files: {},
  };
}
