/**
 * `kage status [--watch] [--json]`: every node's load and services, and the models each service
 * holds (`GET /api/v1/models`, when the coordinator has it), from the coordinator's REST API. `--watch` keeps the picture current from the coordinator's event feed (`GET
 * /api/v1/events`): samples, service changes and online/offline events update it in memory, a
 * `reset` (events were missed) reloads `GET /api/v1/nodes`, and a lost stream is resumed with
 * `Last-Event-ID`. Ctrl-C ends the watch with exit 0.
 */
import { Command } from 'commander';
import {
  CoordinatorClient,
  displayUrl,
  resolveCoordinatorUrl,
  type CoordinatorEvent,
  type ExoInstanceView,
  type LatestView,
  type ModelsView,
  type NodeView,
  type ServiceView,
} from '../coordinator-client.js';
import { onStopSignal } from '../stop-signals.js';

/** What a table shows for a value the node did not measure. */
export const NONE = '—';

const GIB = 1024 ** 3;

/** Left-aligned columns two spaces apart; the last column is not padded. */
export function formatColumns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

/** ✓ healthy, ✗ unhealthy or failing, … starting, ? not known. */
export function serviceMark(s: ServiceView): string {
  if (s.state === 'failed' || s.state === 'backoff' || s.health === 'unhealthy') return '✗';
  if (s.healthy) return '✓';
  if (s.health === 'starting' || s.state === 'starting') return '…';
  return '?';
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `ollama: running ✓ (pid 123, 0 restarts)`, with the reason when the service is not healthy. */
export function serviceLine(s: ServiceView): string {
  const reason = !s.healthy && s.reason ? ` — ${s.reason}` : '';
  return `${s.name}: ${s.state} ${serviceMark(s)} (${s.pid === null ? 'no pid' : `pid ${s.pid}`}, ${plural(s.restarts, 'restart')})${reason}`;
}

function gib(bytes: number | null): string {
  return bytes === null ? NONE : (bytes / GIB).toFixed(1);
}

function usedOfTotal(used: number | null, total: number | null): string {
  return used === null && total === null ? NONE : `${gib(used)}/${gib(total)}`;
}

function sumOrNull(values: readonly (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0);
}

/** The metric cells of one node: GPU busy is the mean over its GPUs, GPU memory the sum. */
function metricCells(latest: LatestView | null): string[] {
  if (latest === null) return [NONE, NONE, NONE, NONE];
  const busy = latest.gpus.map((g) => g.busy_pct).filter((v): v is number => v !== null);
  return [
    latest.cpu_pct === null ? NONE : latest.cpu_pct.toFixed(1),
    usedOfTotal(latest.mem_used_bytes, latest.mem_total_bytes),
    busy.length === 0 ? NONE : (busy.reduce((a, b) => a + b, 0) / busy.length).toFixed(1),
    usedOfTotal(
      sumOrNull(latest.gpus.map((g) => g.mem_used_bytes)),
      sumOrNull(latest.gpus.map((g) => g.mem_total_bytes)),
    ),
  ];
}

const STATUS_HEADER = ['NODE', 'STATUS', 'CPU %', 'MEM used/total (GiB)', 'GPU busy %', 'GPU MEM (GiB)'];

/** `qwen2.5:3b 2.4 GiB, 100% GPU` (where it runs, as `ollama ps` says it). */
function ollamaModelText(m: ModelsView['ollama'][number]): string {
  const size = m.size_bytes === null ? '' : ` ${gib(m.size_bytes)} GiB`;
  return `${m.model}${size}${m.processor === null ? '' : `, ${m.processor}`}`;
}

/** `mlx-community/… ready: srv2 layers 0–9, srv1 10–18, rog 19–27`. */
function exoInstanceLine(i: ExoInstanceView): string {
  const runners = i.runners.map((r) => {
    const layers = r.start_layer !== null && r.end_layer !== null ? ` layers ${r.start_layer}–${r.end_layer - 1}` : '';
    return `${r.node ?? r.host}${layers}${r.state === 'RunnerFailed' && r.error ? ` (failed: ${r.error})` : ''}`;
  });
  return `  ${i.model} ${i.state}: ${runners.join(', ')}`;
}

/**
 * The status table: one row per node, its services indented below it, each with the models it
 * holds when the coordinator knows them; then the EXO cluster's instances.
 */
export function renderStatusTable(
  nodes: readonly NodeView[],
  coordinator: string,
  models: ModelsView | null = null,
): string {
  if (nodes.length === 0) return `no node has connected to the coordinator at ${coordinator} yet\n`;
  // An offline node's last sample is old: showing it as current load would mislead.
  const rows = nodes.map((n) => [n.id, n.status, ...metricCells(n.status === 'online' ? n.latest : null)]);
  const [header, ...lines] = formatColumns([STATUS_HEADER, ...rows]);
  const out = [header ?? ''];
  nodes.forEach((n, i) => {
    out.push(lines[i] ?? '');
    for (const s of n.services) {
      out.push(`  ${serviceLine(s)}`);
      const loaded = (models?.ollama ?? []).filter((m) => m.node === n.id && m.service === s.name);
      if (loaded.length > 0) out.push(`    loaded: ${loaded.map(ollamaModelText).join('; ')}`);
    }
  });
  if (models !== null && models.exo.length > 0) {
    out.push('EXO instances:', ...models.exo.map(exoInstanceLine));
  }
  return `${out.join('\n')}\n`;
}

// ---- Watching ---------------------------------------------------------------------------------

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/**
 * Applies one feed event to the picture. Returns false when the event names a node the picture
 * does not have (it connected after the snapshot): the caller reloads.
 */
function applyEvent(picture: Map<string, NodeView>, event: CoordinatorEvent): boolean {
  const data = record(event.data);
  const nodeId = data?.['node'];
  if (data === null || typeof nodeId !== 'string') return true;
  const node = picture.get(nodeId);
  switch (event.type) {
    case 'sample': {
      if (node === undefined) return false;
      if (typeof data['ts'] !== 'string' || !Array.isArray(data['gpus'])) return true;
      const { node: _node, ...sample } = data;
      const latest = sample as unknown as LatestView;
      // A replayed (buffered) sample is older than the one shown: keep the newest.
      if (node.latest === null || Date.parse(latest.ts) >= Date.parse(node.latest.ts)) node.latest = latest;
      return true;
    }
    case 'service': {
      if (node === undefined) return false;
      const service = record(data['service']) as ServiceView | null;
      if (service === null || typeof service.name !== 'string') return true;
      const at = node.services.findIndex((s) => s.name === service.name);
      if (at === -1) node.services.push(service);
      else node.services[at] = service;
      return true;
    }
    case 'node': {
      if (node === undefined) return false;
      if (data['status'] === 'online' || data['status'] === 'offline') node.status = data['status'];
      if (typeof data['last_seen'] === 'string' || data['last_seen'] === null) node.last_seen = data['last_seen'];
      return true;
    }
    default:
      return true;
  }
}

/** Coalesces a burst of events (every node's sample arrives in the same second) into one redraw. */
const RENDER_COALESCE_MS = 100;
const CLEAR_SCREEN = '\x1b[2J\x1b[H';

async function watchStatus(client: CoordinatorClient, json: boolean): Promise<void> {
  const coordinator = displayUrl(client.url);
  const controller = new AbortController();
  const { signal } = controller;
  let stops = 0;
  const stopListening = onStopSignal(() => {
    stops += 1;
    // The first Ctrl-C ends the feed and the command exits by itself; a second one does not wait.
    if (stops > 1) process.exit(0);
    controller.abort(new Error('stopped'));
  });

  let picture = new Map<string, NodeView>();
  let models: ModelsView | null = null;
  let loaded = false;
  let stale = false;
  /** What ends the watch other than Ctrl-C: the first failure wins. */
  let fatal: { error: unknown } | null = null;
  let lastShown: string | null = null;
  let renderTimer: NodeJS.Timeout | undefined;
  const tty = process.stdout.isTTY && !json;

  const render = (): void => {
    renderTimer = undefined;
    if (!loaded || signal.aborted) return;
    const nodes = [...picture.values()];
    const text = json ? `${JSON.stringify(nodes)}\n` : renderStatusTable(nodes, coordinator, models);
    // Print on change only: a sample that leaves every shown figure as it was is not news.
    if (text === lastShown) return;
    if (tty) {
      process.stdout.write(
        `${CLEAR_SCREEN}${text}\n${coordinator} · ${new Date().toLocaleTimeString()} · Ctrl-C to quit\n`,
      );
    } else {
      process.stdout.write(lastShown === null || json ? text : `\n${text}`);
    }
    lastShown = text;
  };
  const scheduleRender = (): void => {
    renderTimer ??= setTimeout(render, RENDER_COALESCE_MS);
  };

  const reload = async (): Promise<void> => {
    try {
      const [nodes, held] = await Promise.all([client.listNodes({ signal }), client.listModels({ signal })]);
      picture = new Map(nodes.map((n) => [n.id, n]));
      models = held;
      loaded = true;
      stale = false;
      scheduleRender();
    } catch (err) {
      if (signal.aborted) return;
      if (!loaded) {
        // Without a first picture there is nothing to watch: report it like `kage status` would.
        fatal = { error: err };
        controller.abort(err);
        return;
      }
      // The next event tries again; the table shown stays as it was meanwhile.
      stale = true;
      process.stderr.write(`kage: cannot reload the nodes: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  };

  // Events are applied in order, each after any reload queued before it.
  let queue = Promise.resolve();
  const enqueue = (task: () => void | Promise<void>): void => {
    queue = queue.then(task).catch((err: unknown) => {
      fatal ??= { error: err };
      controller.abort(err);
    });
  };

  try {
    await client.followEvents({
      signal,
      // A stream that does not resume carries only what happens from now on: load the state under it.
      onOpen: (resumed) => {
        if (!resumed || !loaded) enqueue(reload);
      },
      onEvent: (event) => {
        if (event.type === 'reset') {
          enqueue(reload);
          return;
        }
        enqueue(async () => {
          // Each `models` event carries the whole view.
          if (event.type === 'models') models = event.data as ModelsView;
          else if (stale || !applyEvent(picture, event)) {
            await reload();
            return;
          }
          scheduleRender();
        });
      },
      onDisconnect: (reason, retryInMs) => {
        process.stderr.write(
          `kage: lost the event stream from ${coordinator} (${reason}); reconnecting in ${(retryInMs / 1000).toFixed(1)} s\n`,
        );
      },
    });
  } catch (err) {
    fatal ??= { error: err };
  } finally {
    stopListening();
    await queue;
    clearTimeout(renderTimer);
  }
  if (fatal !== null) throw fatal.error;
}

export function createStatusCommand(): Command {
  return new Command('status')
    .description("every node's CPU, memory, GPU and services, from the coordinator")
    .option('--coordinator <url>', 'coordinator REST API (default: $KAGE_COORDINATOR or http://127.0.0.1:7080)')
    .option('--watch', 'keep the table current from the live event feed until Ctrl-C')
    .option('--json', 'print the nodes as JSON (one line per change with --watch)')
    .action(async (flags: { coordinator?: string; watch?: boolean; json?: boolean }) => {
      const client = new CoordinatorClient({ url: resolveCoordinatorUrl(flags.coordinator) });
      if (flags.watch) {
        await watchStatus(client, flags.json ?? false);
        return;
      }
      const nodes = await client.listNodes();
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(nodes, null, 2)}\n`
          : renderStatusTable(nodes, displayUrl(client.url), await client.listModels()),
      );
    });
}
