/**
 * What every node's `DownloadCoordinator` (`src/exo/download/coordinator.py`, v1.0.71) reports into
 * `state.downloads`, kept by the master: one state per (node, model), EXO's key.
 *
 * - At start a coordinator scans every model card: a model whose files are on disk is
 *   `DownloadCompleted` (a full single-node shard, `total` = the repository's bytes), any other
 *   `DownloadPending` with `downloaded` 0 and `total` the repository's bytes.
 * - `StartDownload` (a runner that needs the model, or `POST /download/start`) is skipped when the
 *   model is ongoing, completed or failed; otherwise `DownloadPending` (zero bytes) while the file list
 *   is fetched, `DownloadOngoing` with progress at most once a second, then `DownloadCompleted`.
 * - `DeleteDownload` leaves `DownloadPending` with zero bytes; `CancelDownload` leaves
 *   `DownloadPending` with the bytes fetched so far.
 *
 * States are derived from timestamps when read, like runner states, so no timer runs per download.
 */
import type { Logger } from 'pino';
import type { ExoCard } from './model-cards.js';
import { cardJson } from './model-cards.js';
import { emptyProgress, RepoDownload, repoFiles } from './repo-download.js';
import type { DownloadProgressJson, MemoryJson, ShardMetadataJson } from './wire-types.js';
import { downloadBody, downloadModelId, memoryJson, shardBody } from './wire-types.js';

/** Time to fetch the repository's file list from the Hugging Face tree API before the first byte. */
export const FILE_LIST_FETCH_MS = 500;
/** The coordinator sends at most one `DownloadOngoing` per model per second. */
export const PROGRESS_THROTTLE_MS = 1000;

/** A node as the download book needs it. */
export interface DownloadNode {
  readonly nodeId: string;
  /** The node's link to Hugging Face, bytes per second. */
  readonly downloadBytesPerSecond: number;
  /** Whether the model's files were on the node's disk when it started. */
  hadAtStart(modelId: string): boolean;
}

export interface NodeDownloadsOptions {
  /** `EXO_DEFAULT_MODELS_DIR`: where model directories live (`<dir>/<org>--<name>`). */
  readonly modelsDir: string;
  /** The cards every coordinator scans at start (built-in and custom). */
  readonly cards: () => readonly ExoCard[];
  /** Whether the emulated Hugging Face serves this repository (its file list can be fetched). */
  readonly hubKnows: (modelId: string) => boolean;
  readonly log: Logger;
}

type DownloadRecord =
  | { readonly kind: 'completed'; readonly shard: ShardMetadataJson; readonly total: number }
  | {
      readonly kind: 'downloading';
      readonly shard: ShardMetadataJson;
      readonly startMs: number;
      /** Null when the file list cannot be fetched: EXO v1.0.71 then stays `DownloadOngoing` at zero. */
      readonly repo: RepoDownload | null;
    }
  | {
      readonly kind: 'pending';
      readonly shard: ShardMetadataJson;
      readonly downloaded: number;
      readonly total: number;
    };

/** `PipelineShardMetadata` of a whole model on one node, as the start-up scan builds it. */
export function fullShard(card: ExoCard): ShardMetadataJson {
  return {
    PipelineShardMetadata: {
      modelCard: cardJson(card),
      deviceRank: 0,
      worldSize: 1,
      immediateException: false,
      shouldTimeout: null,
      startLayer: 0,
      endLayer: card.nLayers,
      nLayers: card.nLayers,
    },
  };
}

export class NodeDownloads {
  private readonly records = new Map<string, Map<string, DownloadRecord>>();

  constructor(private readonly opts: NodeDownloadsOptions) {}

  /** `<models dir>/<org>--<name>` (`ModelId.normalize`). */
  modelDirectory(modelId: string): string {
    return `${this.opts.modelsDir.replace(/\/+$/, '')}/${modelId.replaceAll('/', '--')}`;
  }

  private repoBytes(modelId: string, weightBytes: number): number {
    return repoFiles(modelId, weightBytes).reduce((s, f) => s + f.bytes, 0);
  }

  private record(nodeId: string, modelId: string): DownloadRecord | undefined {
    return this.records.get(nodeId)?.get(modelId);
  }

  private set(nodeId: string, modelId: string, rec: DownloadRecord): void {
    const perNode = this.records.get(nodeId) ?? new Map<string, DownloadRecord>();
    perNode.set(modelId, rec);
    this.records.set(nodeId, perNode);
  }

  /** The state tag a node reports for a model now, or undefined when it reports none. */
  statusOf(node: DownloadNode, modelId: string, now: number): DownloadProgressJson | undefined {
    return this.list(node, now).find((d) => downloadModelId(d) === modelId);
  }

  /**
   * `_start_download`: nothing when the model is ongoing, completed or failed; else the download
   * begins now. Returns false when it was skipped.
   */
  start(node: DownloadNode, shard: ShardMetadataJson, now: number): boolean {
    const modelId = shardBody(shard).modelCard.modelId;
    const current = this.statusOf(node, modelId, now);
    if (current && !('DownloadPending' in current)) return false;
    const weightBytes = shardBody(shard).modelCard.storageSize.inBytes;
    let repo: RepoDownload | null = null;
    if (this.opts.hubKnows(modelId)) {
      repo = new RepoDownload(repoFiles(modelId, weightBytes), node.downloadBytesPerSecond);
    } else {
      this.opts.log.warn(
        { nodeId: node.nodeId, modelId },
        'no such repository on the emulated Hugging Face: the download stays DownloadOngoing at 0 bytes, as in EXO',
      );
    }
    this.set(node.nodeId, modelId, { kind: 'downloading', shard, startMs: now, repo });
    this.opts.log.info(
      { nodeId: node.nodeId, modelId, bytes: repo?.totalBytes ?? 0, seconds: repo?.durationS ?? null },
      'download started',
    );
    return true;
  }

  /** `_cancel_download`: an active download stops and keeps the bytes fetched so far as pending. */
  cancel(node: DownloadNode, modelId: string, now: number): void {
    const rec = this.record(node.nodeId, modelId);
    const status = this.statusOf(node, modelId, now);
    if (rec?.kind !== 'downloading' || !status || 'DownloadCompleted' in status) return;
    const progress = 'DownloadOngoing' in status ? status.DownloadOngoing.downloadProgress : undefined;
    this.set(node.nodeId, modelId, {
      kind: 'pending',
      shard: rec.shard,
      downloaded: progress?.downloaded.inBytes ?? 0,
      total: progress?.total.inBytes ?? 0,
    });
  }

  /** `_delete_download`: the files go; a model the node reported becomes pending at zero bytes. */
  delete(node: DownloadNode, modelId: string, now: number): void {
    const status = this.statusOf(node, modelId, now);
    if (!status) return;
    this.set(node.nodeId, modelId, {
      kind: 'pending',
      shard: downloadBody(status).shardMetadata,
      downloaded: 0,
      total: 0,
    });
  }

  /**
   * When the node's files of `modelId` are complete (now or in the future); null when they never will
   * be without another `StartDownload` (pending, or a repository that cannot be fetched).
   */
  completedAtMs(node: DownloadNode, modelId: string, now: number): number | null {
    const rec = this.record(node.nodeId, modelId);
    if (!rec) return node.hadAtStart(modelId) ? now : null;
    if (rec.kind === 'completed') return now;
    if (rec.kind === 'pending' || !rec.repo) return null;
    return rec.startMs + FILE_LIST_FETCH_MS + rec.repo.durationS * 1000;
  }

  private recordJson(nodeId: string, modelId: string, rec: DownloadRecord, now: number): DownloadProgressJson {
    const base = { nodeId, shardMetadata: rec.shard, modelDirectory: this.modelDirectory(modelId) };
    const pending = (downloaded: number, total: number): DownloadProgressJson => ({
      DownloadPending: { ...base, downloaded: memoryJson(downloaded), total: memoryJson(total) },
    });
    const completed = (total: number): DownloadProgressJson => ({
      DownloadCompleted: { ...base, total: memoryJson(total), readOnly: false },
    });
    switch (rec.kind) {
      case 'completed':
        return completed(rec.total);
      case 'pending':
        return pending(rec.downloaded, rec.total);
      case 'downloading': {
        const sinceFirstByteMs = now - rec.startMs - FILE_LIST_FETCH_MS;
        if (sinceFirstByteMs < 0) return pending(0, 0);
        if (!rec.repo) return { DownloadOngoing: { ...base, downloadProgress: emptyProgress() } };
        if (sinceFirstByteMs >= rec.repo.durationS * 1000) {
          // Settle it: from here on the files are simply on disk.
          this.set(nodeId, modelId, { kind: 'completed', shard: rec.shard, total: rec.repo.totalBytes });
          return completed(rec.repo.totalBytes);
        }
        const reportedMs = Math.floor(sinceFirstByteMs / PROGRESS_THROTTLE_MS) * PROGRESS_THROTTLE_MS;
        return { DownloadOngoing: { ...base, downloadProgress: rec.repo.progressAt(reportedMs / 1000) } };
      }
    }
  }

  /** The node's `state.downloads[nodeId]`: every card's state, then models downloaded without a card. */
  list(node: DownloadNode, now: number): DownloadProgressJson[] {
    const out: DownloadProgressJson[] = [];
    const seen = new Set<string>();
    for (const card of this.opts.cards()) {
      seen.add(card.modelId);
      const rec = this.record(node.nodeId, card.modelId);
      if (rec) {
        out.push(this.recordJson(node.nodeId, card.modelId, rec, now));
        continue;
      }
      const base = {
        nodeId: node.nodeId,
        shardMetadata: fullShard(card),
        modelDirectory: this.modelDirectory(card.modelId),
      };
      const total: MemoryJson = memoryJson(this.repoBytes(card.modelId, card.storageBytes));
      out.push(
        node.hadAtStart(card.modelId)
          ? { DownloadCompleted: { ...base, total, readOnly: false } }
          : { DownloadPending: { ...base, downloaded: memoryJson(0), total } },
      );
    }
    for (const [modelId, rec] of this.records.get(node.nodeId) ?? []) {
      if (!seen.has(modelId)) out.push(this.recordJson(node.nodeId, modelId, rec, now));
    }
    return out;
  }

  /**
   * A new master takes over what the old one reported: completed models stay completed, an ongoing
   * download goes on from the bytes it had, pending ones stay pending.
   */
  adopt(node: DownloadNode, list: readonly DownloadProgressJson[], now: number): void {
    for (const d of list) {
      const modelId = downloadModelId(d);
      const shard = downloadBody(d).shardMetadata;
      if ('DownloadCompleted' in d) {
        this.set(node.nodeId, modelId, { kind: 'completed', shard, total: d.DownloadCompleted.total.inBytes });
      } else if ('DownloadOngoing' in d) {
        const done = d.DownloadOngoing.downloadProgress.downloaded.inBytes;
        const weightBytes = shardBody(shard).modelCard.storageSize.inBytes;
        const repo = this.opts.hubKnows(modelId)
          ? new RepoDownload(repoFiles(modelId, weightBytes), node.downloadBytesPerSecond)
          : null;
        // The link is full from the first byte to the last, so `done` bytes took done / rate seconds.
        const startMs = now - FILE_LIST_FETCH_MS - (done / node.downloadBytesPerSecond) * 1000;
        this.set(node.nodeId, modelId, { kind: 'downloading', shard, startMs, repo });
      } else if ('DownloadPending' in d) {
        const { downloaded, total } = d.DownloadPending;
        this.set(node.nodeId, modelId, {
          kind: 'pending',
          shard,
          downloaded: downloaded.inBytes,
          total: total.inBytes,
        });
      }
    }
  }

  /** A node left the cluster: its reports go with it. */
  forget(nodeId: string): void {
    this.records.delete(nodeId);
  }

  nodeIds(): string[] {
    return [...this.records.keys()];
  }

  clear(): void {
    this.records.clear();
  }
}
