/**
 * Shows a run's progress on stderr: a live bar with the cell and an ETA on a TTY, plain lines
 * otherwise (journald, CI logs, pipes). stdout stays reserved for results.
 */
import cliProgress from 'cli-progress';
import type { RunEvent } from '@kage/bench';

export interface RunProgressView {
  onEvent(event: RunEvent): void;
  stop(): void;
}

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function cellLabel(e: { index: number; total: number; model: string; target: string; concurrency: number }): string {
  return `cell ${e.index + 1}/${e.total} ${e.model} × ${e.target}${e.concurrency > 1 ? ` c=${e.concurrency}` : ''}`;
}

const PLAIN_DOWNLOAD_LINE_EVERY_MS = 10_000;

/** Plain lines: one per cell start/end and per preparation step, nothing per token. */
function plainView(write: (line: string) => void): RunProgressView {
  let lastPrepare = '';
  let lastDownloadAtMs = -Infinity;
  return {
    onEvent(e) {
      switch (e.type) {
        case 'run-start':
          write(
            `run ${e.run_id} (${e.name}): ${e.cells_total} cells, ${e.requests_total} requests${e.resumed ? `, resuming after ${e.cells_done} finished cells` : ''}`,
          );
          break;
        case 'prepare': {
          // Readiness polls repeat the same message every second: print changes only. Download
          // progress changes at every poll, so it gets a line every 10 s (and when it starts).
          const line = `prepare ${e.model} on ${e.target}: ${e.progress.message}`;
          if (e.progress.phase === 'downloading') {
            if (e.progress.elapsedMs - lastDownloadAtMs < PLAIN_DOWNLOAD_LINE_EVERY_MS) break;
            lastDownloadAtMs = e.progress.elapsedMs;
          }
          if (line !== lastPrepare) write(line);
          lastPrepare = line;
          break;
        }
        case 'cell-start':
          write(`${cellLabel(e)}: started`);
          break;
        case 'cell-end':
          write(`${cellLabel(e)}: ${e.status}${e.error ? ` (${e.error.message})` : ''}`);
          break;
        case 'health':
          if (!e.health.healthy) write(`${cellLabel(e)}: target unhealthy ${e.when} the cell: ${e.health.detail}`);
          break;
        case 'request-done':
        case 'run-end':
          break;
        default:
          break;
      }
    },
    stop() {},
  };
}

function barView(stream: NodeJS.WriteStream): RunProgressView {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: '{bar} {percentage}% | {cell} | {value}/{total} requests | ETA {eta_text}',
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let cell = 'starting';
  const log = (line: string): void => {
    if (started) bar.stop();
    stream.write(`${line}\n`);
    if (started) bar.start(bar.getTotal(), (bar as unknown as { value: number }).value, { cell, eta_text: '…' });
  };
  return {
    onEvent(e) {
      switch (e.type) {
        case 'run-start':
          stream.write(`run ${e.run_id} (${e.name}): ${e.cells_total} cells\n`);
          bar.start(Math.max(1, e.requests_total), 0, { cell, eta_text: '…' });
          started = true;
          break;
        case 'prepare':
          // Download progress (bytes, rate, time left per node) needs the room.
          cell = `prepare ${e.target}: ${e.progress.message}`.slice(0, e.progress.phase === 'downloading' ? 110 : 60);
          bar.update({ cell });
          break;
        case 'cell-start':
          cell = cellLabel(e);
          bar.update({ cell });
          break;
        case 'request-done': {
          const rate = e.requests_done / Math.max(1, e.elapsed_ms);
          const eta = rate > 0 ? (e.requests_total - e.requests_done) / rate : Number.NaN;
          bar.update(e.requests_done, { cell, eta_text: formatDuration(eta) });
          break;
        }
        case 'cell-end':
          if (e.status !== 'completed') log(`${cellLabel(e)}: ${e.status}${e.error ? ` (${e.error.message})` : ''}`);
          break;
        case 'health':
          if (!e.health.healthy) log(`${cellLabel(e)}: target unhealthy ${e.when} the cell: ${e.health.detail}`);
          break;
        case 'run-end':
          break;
        default:
          break;
      }
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

export function createRunProgressView(stream: NodeJS.WriteStream = process.stderr): RunProgressView {
  return stream.isTTY ? barView(stream) : plainView((line) => stream.write(`${line}\n`));
}
