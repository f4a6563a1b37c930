/**
 * Temperatures from hwmon: /sys/class/hwmon/hwmonN/name plus tempK_input (millidegrees C) and
 * tempK_label. hwmon numbering is not stable across boots, so the channels are discovered by glob,
 * cached, and re-discovered only every `rediscoverIntervalMs`; a tick reads only the *_input files.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { compareNumericSuffix, createFileReader, parseInt10, type FileReader } from './proc-file.js';
import type { MonotonicClock, TempSample } from './types.js';

export interface HwmonReaderOptions {
  /** Where sysfs is mounted. @default '/sys' */
  sysRoot?: string;
  files?: FileReader;
  now?: MonotonicClock;
  /** How often to look for new or vanished sensors. @default 60000 */
  rediscoverIntervalMs?: number;
}

export interface HwmonReader {
  read(): Promise<TempSample[]>;
  /** Releases the kept file descriptors. Idempotent; a later read rediscovers. */
  close(): void;
}

interface TempChannel {
  chip: string;
  label: string;
  inputPath: string;
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch {
    return [];
  }
}

/** Finds every temperature channel under `<sysRoot>/class/hwmon`, ordered by hwmon and channel number. */
export async function discoverTempChannels(sysRoot: string, files: FileReader): Promise<TempChannel[]> {
  const base = join(sysRoot, 'class', 'hwmon');
  const hwmons = (await listDir(base)).filter((n) => /^hwmon\d+$/.test(n)).sort(compareNumericSuffix);
  const perChip = await Promise.all(
    hwmons.map(async (hw) => {
      const dir = join(base, hw);
      const [nameText, entries] = await Promise.all([files.readText(join(dir, 'name')), listDir(dir)]);
      const chip = nameText?.trim() || hw;
      const inputs = entries.filter((e) => /^temp\d+_input$/.test(e)).sort((a, b) => channelNo(a) - channelNo(b));
      return Promise.all(
        inputs.map(async (input): Promise<TempChannel> => {
          const prefix = input.slice(0, -'_input'.length);
          const label = entries.includes(`${prefix}_label`)
            ? (await files.readText(join(dir, `${prefix}_label`)))?.trim() || prefix
            : prefix;
          return { chip, label, inputPath: join(dir, input) };
        }),
      );
    }),
  );
  return perChip.flat();
}

function channelNo(name: string): number {
  return Number(/^temp(\d+)_/.exec(name)?.[1] ?? 0);
}

/** Creates a hwmon temperature reader with a cached channel list. */
export function createHwmonReader(options: HwmonReaderOptions = {}): HwmonReader {
  const sysRoot = options.sysRoot ?? '/sys';
  const files = options.files ?? createFileReader();
  const now = options.now ?? (() => performance.now());
  const rediscoverMs = options.rediscoverIntervalMs ?? 60_000;
  let channels: TempChannel[] = [];
  let discoveredAt: number | null = null;

  return {
    async read() {
      const t = now();
      if (discoveredAt === null || t - discoveredAt >= rediscoverMs) {
        const next = await discoverTempChannels(sysRoot, files);
        const keep = new Set(next.map((c) => c.inputPath));
        for (const c of channels) if (!keep.has(c.inputPath)) files.release(c.inputPath);
        channels = next;
        discoveredAt = t;
      }
      return Promise.all(
        channels.map(async (c): Promise<TempSample> => {
          const milli = parseInt10(await files.readStable(c.inputPath));
          return { chip: c.chip, label: c.label, celsius: milli === null ? null : milli / 1000 };
        }),
      );
    },
    close() {
      for (const c of channels) files.release(c.inputPath);
      channels = [];
      discoveredAt = null;
    },
  };
}
