// The dashboard benchmark: what the page costs the browser that shows it, and what its first load
// costs on the wire and in time.
//
// The lab is the one the dashboard's browser test starts (test/src/coordinator-lab.ts, compiled to
// test/dist): a real `kage coordinator` (emulated: true) and three real `kage agent`s, each
// supervising an emulated Ollama and an emulated EXO node, here sampling at 1 Hz
// (sample_interval_ms 1000) as nodes do by default. The browser is the test's as well
// (test/src/browser.ts): the system's Chromium, headless, through playwright-core, a fresh profile
// per launch. Reusing both keeps the benchmark measuring the page the tests check.
//
// Steady state (one browser): the page is loaded, the three node cards show online, the garbage is
// collected once, then --warmup seconds (default 10) pass uncounted and --seconds (default 60) are
// measured. The page's CPU comes from the DevTools protocol (Performance.getMetrics at the start and
// the end of the window): TaskDuration is the renderer main thread's busy time, so its delta over
// the wall time is the page's share of one core; ScriptDuration, LayoutDuration and
// RecalcStyleDuration split it. The JS heap (JSHeapUsedSize, JSHeapTotalSize) is read every 5 s.
// Chromium's own process list (SystemInfo.getProcessInfo) gives every process's CPU time; the
// renderer that hosts the page is the one whose CPU time matches the page's ProcessTime metric, and
// its RSS (and PSS) come from /proc.
//
// First load (--repeats fresh browsers, default 5): the cache disabled, the encoded (on-the-wire)
// bytes of every response that finished (Network.loadingFinished encodedDataLength; the event stream
// never finishes and is not part of the load), first paint and first contentful paint
// (performance.getEntriesByType('paint')), and the time until three node cards show online (a
// MutationObserver added before the page's own scripts). Medians over the repetitions.
//
// Flags: --seconds N, --warmup N, --repeats N, --out FILE, --strict (exit 1 when a goal is
// missed). Writes bench/results/dashboard.json and prints a short table. Without Chromium (or
// without playwright-core) it prints a line saying it skipped and exits 0.
/* global document, window, MutationObserver -- the functions given to page.evaluate run in the page */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { machineInfo } from './bench/machine-info.mjs';
import { live, stopOnSignals } from './bench/processes.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const NODES = ['srv1', 'srv2', 'rog'];
const SAMPLE_INTERVAL_MS = 1000;
/** The selector the browser test waits for: a node card that shows its node online. */
const ONLINE_CARD = '[data-node][data-status="online"].node-card';
const HEAP_EVERY_S = 5;
const GOALS = { page_cpu_pct_of_one_core_max: 2, js_heap_used_max_mb: 60 };
const MB = 1_000_000;

// ---------------------------------------------------------------------------------------- flags
function parseArgs(argv) {
  const opts = { seconds: 60, warmup: 10, repeats: 5, out: join(root, 'bench/results/dashboard.json'), strict: false };
  const limits = { '--seconds': [5, 3600], '--warmup': [0, 600], '--repeats': [1, 50] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a in limits) {
      const n = Number(value());
      const [lo, hi] = limits[a];
      if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`${a}: an integer ${lo}–${hi}`);
      opts[a.slice(2)] = n;
    } else if (a === '--out') opts.out = value();
    else if (a === '--strict') opts.strict = true;
    else throw new Error(`unknown flag ${a} (flags: --seconds N, --warmup N, --repeats N, --out FILE, --strict)`);
  }
  return opts;
}

// -------------------------------------------------------------------------------------- helpers
const median = (xs) => {
  const s = xs.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const max = (xs) => {
  const s = xs.filter((x) => x !== null && x !== undefined);
  return s.length ? Math.max(...s) : null;
};
const round = (v, d = 3) => (v === null || v === undefined ? null : Number(v.toFixed(d)));

/** VmRSS, and PSS when asked (it shares Chromium's common pages out fairly between its processes). */
async function memoryOf(pid, withPss = false) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
  let pss = null;
  if (withPss) {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
    const m = /^Pss:\s+(\d+) kB/m.exec(rollup);
    pss = m ? Number(m[1]) * 1024 : null;
  }
  return { rss: rss ? Number(rss[1]) * 1024 : null, pss };
}

/** Performance.getMetrics as an object. */
async function metrics(cdp) {
  const { metrics: list } = await cdp.send('Performance.getMetrics');
  return Object.fromEntries(list.map((m) => [m.name, m.value]));
}

/** Chromium's processes and their CPU seconds, or null when this build does not say. */
async function processInfo(browserCdp) {
  if (browserCdp === null) return null;
  try {
    const { processInfo: list } = await browserCdp.send('SystemInfo.getProcessInfo');
    return list.map((p) => ({ type: p.type, pid: p.id, cpu_s: p.cpuTime }));
  } catch {
    return null;
  }
}

/**
 * The renderer that hosts the page: the one whose CPU time is nearest the page's ProcessTime (the
 * same quantity, read a moment apart). Other renderers (a spare one, about:blank) have used far less.
 */
function pageRenderer(processes, processTimeS) {
  const renderers = (processes ?? []).filter((p) => p.type === 'renderer');
  if (renderers.length === 0 || processTimeS === undefined) return null;
  const best = renderers.reduce((a, b) =>
    Math.abs(b.cpu_s - processTimeS) < Math.abs(a.cpu_s - processTimeS) ? b : a,
  );
  return Math.abs(best.cpu_s - processTimeS) <= 0.05 + processTimeS * 0.05 ? best.pid : null;
}

// ------------------------------------------------------------------------------------------- lab
/** Keeps a started daemon for the orderly stop, and its process for the kill at exit (stopOnSignals). */
function track(daemons, daemon) {
  daemons.push(daemon);
  live.add(daemon.child);
  return daemon;
}

/** A coordinator and three agents, as the dashboard's browser test starts them; sampling at 1 Hz. */
async function startLab(lab, dir, daemons) {
  const grpcPort = await lab.freePort();
  const httpPort = await lab.freePort();
  const api = `http://127.0.0.1:${httpPort}`;
  const files = await lab.writeCoordinatorConfig(dir, { grpcPort, httpPort, nodes: NODES, emulated: true });
  const coordinator = track(daemons, lab.spawnDaemon(['coordinator', '--config', files.config]));
  await coordinator.waitForLog((l) => l['msg'] === 'coordinator started', 'coordinator started');
  const ports = await lab.allocateNodePorts(NODES);
  const agents = await lab.startLabAgents(dir, {
    nodes: NODES,
    grpcPort,
    tokens: files.tokens,
    ports,
    sampleIntervalMs: SAMPLE_INTERVAL_MS,
  });
  for (const agent of agents.values()) track(daemons, agent.process);
  await lab.waitFor(
    'three online nodes with ollama and exo running',
    async () => {
      const list = await (await fetch(`${api}/api/v1/nodes`)).json();
      const ready = list.filter(
        (n) =>
          n.status === 'online' &&
          n.latest !== null &&
          ['ollama', 'exo'].every((s) => n.services.some((x) => x.name === s && x.state === 'running' && x.healthy)),
      );
      return ready.length === NODES.length ? true : undefined;
    },
    60_000,
  );
  return api;
}

/** The page of a fresh browser: the one it opened, so no second renderer is started for a new tab. */
async function firstPage(browser) {
  return browser.context.pages()[0] ?? (await browser.context.newPage());
}

// ------------------------------------------------------------------------------------ first load
async function firstLoad(launchBrowser, api) {
  const browser = await launchBrowser();
  try {
    const page = await firstPage(browser);
    // Added before the page's own scripts run: the moment the third card shows online, in the
    // page's clock (ms since navigation start, as the paint entries).
    await page.addInitScript((selector) => {
      const observer = new MutationObserver(() => {
        if (document.querySelectorAll(selector).length < 3) return;
        window.kageBenchOnlineMs = performance.now();
        observer.disconnect();
      });
      observer.observe(document, {
        subtree: true,
        childList: true,
        attributes: true,
        attributeFilter: ['data-status'],
      });
    }, ONLINE_CARD);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    // A first visit: nothing from a cache.
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    const requests = new Map();
    const entry = (id) =>
      requests.get(id) ?? requests.set(id, { url: null, type: null, status: null, encoding: null, decoded: 0 }).get(id);
    cdp.on('Network.requestWillBeSent', (e) => Object.assign(entry(e.requestId), { url: e.request.url, type: e.type }));
    cdp.on('Network.responseReceived', (e) => {
      const headers = Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), v]));
      Object.assign(entry(e.requestId), { status: e.response.status, encoding: headers['content-encoding'] ?? null });
    });
    // The body's size once decoded, beside the bytes on the wire: how much compression saves.
    cdp.on('Network.dataReceived', (e) => (entry(e.requestId).decoded += e.dataLength));
    cdp.on('Network.loadingFinished', (e) => (entry(e.requestId).bytes = e.encodedDataLength));
    cdp.on('Network.loadingFailed', (e) => (entry(e.requestId).failed = e.errorText));

    const response = await page.goto(`${api}/`, { waitUntil: 'load' });
    if (response?.status() !== 200) throw new Error(`GET / answered ${response?.status()}`);
    await page
      .locator(ONLINE_CARD)
      .nth(NODES.length - 1)
      .waitFor({ timeout: 15_000 });
    // Whatever the first draw asked for (a run's report when one is stored) finishes too.
    await page.waitForTimeout(500);
    const times = await page.evaluate(() => {
      const paint = Object.fromEntries(performance.getEntriesByType('paint').map((p) => [p.name, p.startTime]));
      const nav = performance.getEntriesByType('navigation')[0];
      return {
        first_paint_ms: paint['first-paint'] ?? null,
        first_contentful_paint_ms: paint['first-contentful-paint'] ?? null,
        dom_content_loaded_ms: nav?.domContentLoadedEventEnd ?? null,
        load_ms: nav?.loadEventEnd ?? null,
        three_online_ms: window.kageBenchOnlineMs ?? null,
      };
    });
    const resources = [];
    const unfinished = [];
    for (const r of requests.values()) {
      const path = r.url?.startsWith(api) ? r.url.slice(api.length) : r.url;
      if (r.bytes === undefined) unfinished.push({ path, type: r.type, failed: r.failed ?? null });
      else
        resources.push({
          path,
          type: r.type,
          status: r.status,
          bytes: r.bytes,
          content_encoding: r.encoding,
          decoded_body_bytes: r.decoded,
        });
    }
    if (!resources.some((r) => r.path?.startsWith('/api/v1/snapshot')))
      throw new Error(`the snapshot is not among the finished responses: ${resources.map((r) => r.path).join(', ')}`);
    const bytes = resources.reduce((a, r) => a + r.bytes, 0);
    return { bytes_total: bytes, ...times, resources, not_counted: unfinished };
  } finally {
    await browser.close();
  }
}

function summarizeLoads(loads) {
  const byPath = new Map();
  for (const l of loads) for (const r of l.resources) byPath.set(r.path, [...(byPath.get(r.path) ?? []), r.bytes]);
  const pick = (k) => round(median(loads.map((l) => l[k])), 1);
  return {
    bytes_total: median(loads.map((l) => l.bytes_total)),
    by_resource: Object.fromEntries(
      [...byPath].map(([path, xs]) => [
        path,
        { bytes: median(xs), type: loads[0].resources.find((r) => r.path === path)?.type ?? null, seen_in: xs.length },
      ]),
    ),
    first_paint_ms: pick('first_paint_ms'),
    first_contentful_paint_ms: pick('first_contentful_paint_ms'),
    dom_content_loaded_ms: pick('dom_content_loaded_ms'),
    load_ms: pick('load_ms'),
    three_online_ms: pick('three_online_ms'),
  };
}

// ---------------------------------------------------------------------------------- steady state
async function steady(launchBrowser, api, opts, signal) {
  const browser = await launchBrowser();
  try {
    const page = await firstPage(browser);
    const response = await page.goto(`${api}/`);
    if (response?.status() !== 200) throw new Error(`GET / answered ${response?.status()}`);
    await page
      .locator(ONLINE_CARD)
      .nth(NODES.length - 1)
      .waitFor({ timeout: 15_000 });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const chromium = browser.context.browser();
    const browserCdp = chromium ? await chromium.newBrowserCDPSession() : null;
    const version = chromium?.version() ?? null;

    // One collection before the warm-up: the heap afterwards is what the page keeps, and the
    // warm-up lets the collector find its own rhythm again before the window starts.
    await cdp.send('HeapProfiler.collectGarbage');
    const heapAfterGcStart = (await metrics(cdp)).JSHeapUsedSize;
    process.stderr.write(`  warm-up ${opts.warmup} s, then measuring ${opts.seconds} s…\n`);
    await sleep(opts.warmup * 1000, undefined, { signal });

    const page0 = await page.evaluate(() => ({
      visibility: document.visibilityState,
      events: window.kageDashboard?.feed.status.ids.length ?? null,
      elements: document.getElementsByTagName('*').length,
    }));
    const start = performance.now();
    const m0 = await metrics(cdp);
    const p0 = await processInfo(browserCdp);
    const rendererPid = pageRenderer(p0, m0.ProcessTime);
    const heap = [];
    const rss = [];
    const sample = async (m) => {
      heap.push({
        t_s: round((performance.now() - start) / 1000, 1),
        used: m.JSHeapUsedSize,
        total: m.JSHeapTotalSize,
        nodes: m.Nodes,
        layout_objects: m.LayoutObjects,
      });
      if (rendererPid !== null) rss.push((await memoryOf(rendererPid)).rss);
    };
    await sample(m0);
    let m1 = m0;
    for (let t = HEAP_EVERY_S; ; t += HEAP_EVERY_S) {
      const at = Math.min(t, opts.seconds);
      await sleep(Math.max(0, start + at * 1000 - performance.now()), undefined, { signal });
      m1 = await metrics(cdp);
      await sample(m1);
      if (at === opts.seconds) break;
      if (at % 30 === 0) process.stderr.write(`  ${at}/${opts.seconds} s\n`);
    }
    const p1 = await processInfo(browserCdp);
    const page1 = await page.evaluate(() => ({
      events: window.kageDashboard?.feed.status.ids.length ?? null,
      online: document.querySelectorAll('[data-node][data-status="online"].node-card').length,
      elements: document.getElementsByTagName('*').length,
    }));
    const rendererEnd = pageRenderer(p1, m1.ProcessTime);
    const rendererMemEnd = rendererPid !== null ? await memoryOf(rendererPid, true) : null;
    await cdp.send('HeapProfiler.collectGarbage');
    const mGc = await metrics(cdp);

    // The renderer's own clock: the same one the durations are counted in.
    const wallS = m1.Timestamp - m0.Timestamp;
    const pct = (k) => round(((m1[k] - m0[k]) / wallS) * 100);
    const perS = (k) => round((m1[k] - m0[k]) / wallS, 2);
    let processes = null;
    if (p0 && p1) {
      processes = [];
      for (const b of p1) {
        const a = p0.find((p) => p.pid === b.pid);
        const mem = await memoryOf(b.pid, true);
        processes.push({
          type: b.type,
          pid: b.pid,
          hosts_the_page: b.pid === rendererPid,
          cpu_pct_of_one_core: a ? round(((b.cpu_s - a.cpu_s) / wallS) * 100) : null,
          rss_mb: round(mem.rss === null ? null : mem.rss / MB, 1),
          pss_mb: round(mem.pss === null ? null : mem.pss / MB, 1),
        });
      }
    }
    const sum = (k) =>
      processes
        ? round(
            processes.reduce((a, p) => a + (p[k] ?? 0), 0),
            k === 'cpu_pct_of_one_core' ? 3 : 1,
          )
        : null;
    return {
      browser: version,
      window_s: round(wallS, 3),
      visibility: page0.visibility,
      events_received_in_window: page0.events === null || page1.events === null ? null : page1.events - page0.events,
      online_cards_at_end: page1.online,
      page_cpu_pct_of_one_core: {
        task: pct('TaskDuration'),
        script: pct('ScriptDuration'),
        layout: pct('LayoutDuration'),
        recalc_style: pct('RecalcStyleDuration'),
        v8_compile: pct('V8CompileDuration'),
        task_other: pct('TaskOtherDuration'),
        devtools_commands: pct('DevToolsCommandDuration'),
        main_thread_cpu: pct('ThreadTime'),
        renderer_process: pct('ProcessTime'),
      },
      metric_deltas_s: Object.fromEntries(
        Object.keys(m1)
          .filter((k) => k.endsWith('Duration') || k === 'ThreadTime' || k === 'ProcessTime')
          .map((k) => [k, round(m1[k] - m0[k], 4)]),
      ),
      per_second: { layouts: perS('LayoutCount'), style_recalcs: perS('RecalcStyleCount') },
      js_heap_mb: {
        used_median: round(median(heap.map((h) => h.used)) / MB, 2),
        used_max: round(max(heap.map((h) => h.used)) / MB, 2),
        total_median: round(median(heap.map((h) => h.total)) / MB, 2),
        total_max: round(max(heap.map((h) => h.total)) / MB, 2),
        used_after_gc_before_warmup: round(heapAfterGcStart / MB, 2),
        used_after_gc_at_end: round(mGc.JSHeapUsedSize / MB, 2),
        every_s: HEAP_EVERY_S,
        series: heap.map((h) => ({
          t_s: h.t_s,
          used: round(h.used / MB, 2),
          total: round(h.total / MB, 2),
          nodes: h.nodes,
          layout_objects: h.layout_objects,
        })),
      },
      // Blink's counters count every live object, also the detached ones not yet collected: the
      // figure after the final collection is the one to compare with the document's elements.
      dom: {
        document_elements: { start: page0.elements, end: page1.elements },
        nodes: { start: m0.Nodes, end: m1.Nodes, end_after_gc: mGc.Nodes },
        layout_objects: { start: m0.LayoutObjects, end: m1.LayoutObjects, end_after_gc: mGc.LayoutObjects },
        js_event_listeners: {
          start: m0.JSEventListeners,
          end: m1.JSEventListeners,
          end_after_gc: mGc.JSEventListeners,
        },
      },
      renderer:
        rendererPid === null
          ? {
              identified: false,
              reason: p0
                ? 'no renderer’s CPU time matched the page’s ProcessTime'
                : 'SystemInfo.getProcessInfo is not available',
            }
          : {
              identified: true,
              pid: rendererPid,
              same_at_end: rendererEnd === rendererPid,
              cpu_pct_of_one_core: processes?.find((p) => p.pid === rendererPid)?.cpu_pct_of_one_core ?? null,
              rss_mb: { median: round(median(rss) / MB, 1), max: round(max(rss) / MB, 1) },
              pss_mb_at_end: round(rendererMemEnd?.pss === null ? null : rendererMemEnd.pss / MB, 1),
            },
      chromium: processes && {
        processes,
        cpu_pct_of_one_core_all: sum('cpu_pct_of_one_core'),
        pss_mb_all: sum('pss_mb'),
      },
    };
  } finally {
    await browser.close();
  }
}

// -------------------------------------------------------------------------------------------- run
async function run(opts, mods, signal, daemons, cleanups) {
  const machine = await machineInfo();
  const loadBefore = loadavg()[0];
  const dir = await mkdtemp(join(tmpdir(), 'kage-bench-dashboard-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  process.stderr.write(`  starting a coordinator and ${NODES.length} agents on emulated nodes…\n`);
  const api = await startLab(mods.lab, dir, daemons);

  const loads = [];
  for (let i = 1; i <= opts.repeats; i++) {
    signal.throwIfAborted();
    process.stderr.write(`  first load ${i}/${opts.repeats}\n`);
    loads.push(await firstLoad(mods.browser.launchBrowser, api));
  }
  signal.throwIfAborted();
  const state = await steady(mods.browser.launchBrowser, api, opts, signal);
  const firstLoadMedians = summarizeLoads(loads);

  const cpu = state.page_cpu_pct_of_one_core.task;
  const heapMax = state.js_heap_mb.used_max;
  const pass = {
    page_cpu_lt_2_pct: cpu < GOALS.page_cpu_pct_of_one_core_max,
    js_heap_lt_60_mb: heapMax < GOALS.js_heap_used_max_mb,
  };
  pass.all = pass.page_cpu_lt_2_pct && pass.js_heap_lt_60_mb;
  return {
    schema: 'kage.bench.dashboard/v1',
    generated_at: new Date().toISOString(),
    machine: { ...machine, load_average_1m: { before: round(loadBefore, 2), after: round(loadavg()[0], 2) } },
    method: {
      lab: `a kage coordinator (emulated: true) and ${NODES.length} kage agents (${NODES.join(', ')}) on 127.0.0.1, each supervising an emulated Ollama and an emulated EXO node; sample_interval_ms ${SAMPLE_INTERVAL_MS}`,
      browser: `${state.browser ?? 'chromium'}, headless, launched as the dashboard's browser test launches it (fresh profile, 1280×800)`,
      window_s: opts.seconds,
      warmup_s: opts.warmup,
      first_load_repeats: opts.repeats,
      notes: [
        'page CPU: Performance.getMetrics deltas over the window / the renderer clock (Timestamp) delta, in % of one core; task = TaskDuration (all main-thread work, the goal’s figure), split into script, layout, recalc_style, v8_compile, task_other and devtools_commands (the benchmark’s own Performance.getMetrics calls); main_thread_cpu = ThreadTime, the main thread’s CPU time, below task when the thread waits for a core inside a task; renderer_process = ProcessTime (every thread of the renderer: compositor, raster, GC helpers)',
        `JS heap: JSHeapUsedSize and JSHeapTotalSize every ${HEAP_EVERY_S} s over the window (1 MB = 10^6 bytes); one forced collection before the warm-up and one after the window`,
        'renderer: the renderer process whose CPU time (SystemInfo.getProcessInfo) matches the page’s ProcessTime; RSS from /proc/PID/status every 5 s, PSS from /proc/PID/smaps_rollup at the end',
        'chromium.processes: every Chromium process (browser, GPU, network, renderers) with its CPU over the window and its memory at the end',
        'first load: a fresh browser per repetition, cache disabled; bytes = Network.loadingFinished encodedDataLength (on the wire, headers included) of every finished response; the event stream never finishes and is listed in not_counted; decoded_body_bytes: the body after its content encoding is undone (Network.dataReceived)',
        'first paint: performance.getEntriesByType("paint"); three_online_ms: performance.now() when the third node card shows online (a MutationObserver added before the page scripts); ms since navigation start',
        'the coordinator, the agents and the emulators run on the same machine as the browser',
      ],
    },
    steady: state,
    first_load: { median: firstLoadMedians, repeats: loads },
    goals: GOALS,
    pass,
  };
}

function printTable(result, outFile) {
  const m = result.machine;
  const s = result.steady;
  const c = s.page_cpu_pct_of_one_core;
  const h = s.js_heap_mb;
  const l = result.first_load.median;
  const f = (v, d = 2) => (v === null || v === undefined ? '—' : v.toFixed(d));
  const int = (v) => (v === null || v === undefined ? '—' : Math.round(v).toLocaleString('en-US'));
  const mark = (ok) => (ok ? 'PASS' : 'FAIL');
  const r = s.renderer;
  const resources = Object.entries(l.by_resource)
    .map(([path, x]) => `${path.length > 40 ? `${path.slice(0, 39)}…` : path} ${int(x.bytes)}`)
    .join(', ');
  const lines = [
    `machine: ${m.cpu_model}, ${m.cpu_cores} cores, ${(m.total_memory_bytes / 2 ** 30).toFixed(1)} GiB, ${m.kernel}, ${m.distro}, node ${m.node_version}`,
    `dashboard: ${NODES.length} emulated nodes at 1 Hz, ${s.browser ?? 'chromium'} headless; window ${f(s.window_s, 1)} s after ${result.method.warmup_s} s warm-up, ${s.events_received_in_window ?? '—'} events; load 1m ${m.load_average_1m.before} → ${m.load_average_1m.after}`,
    `page CPU (main-thread tasks)  ${f(c.task, 3).padStart(7)} % of a core   goal < ${result.goals.page_cpu_pct_of_one_core_max} %    ${mark(result.pass.page_cpu_lt_2_pct)}`,
    `  script ${f(c.script, 3)} %, layout ${f(c.layout, 3)} %, style ${f(c.recalc_style, 3)} %; main-thread CPU time ${f(c.main_thread_cpu, 3)} %, renderer process ${f(c.renderer_process, 3)} %, all Chromium ${f(s.chromium?.cpu_pct_of_one_core_all, 3)} %`,
    `JS heap used                  median ${f(h.used_median)} MB, max ${f(h.used_max)} MB (total max ${f(h.total_max)} MB)   goal < ${result.goals.js_heap_used_max_mb} MB   ${mark(result.pass.js_heap_lt_60_mb)}`,
    r.identified
      ? `renderer RSS                  median ${f(r.rss_mb.median, 1)} MB, max ${f(r.rss_mb.max, 1)} MB (PSS ${f(r.pss_mb_at_end, 1)} MB)`
      : `renderer RSS                  — (${r.reason})`,
    `first load (median of ${result.method.first_load_repeats})      ${int(l.bytes_total)} bytes on the wire: ${resources}`,
    `first paint                   ${f(l.first_paint_ms, 0)} ms, first contentful paint ${f(l.first_contentful_paint_ms, 0)} ms, three nodes online ${f(l.three_online_ms, 0)} ms`,
    `written to ${relative(process.cwd(), outFile) || outFile}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

// ------------------------------------------------------------------------------------------- main
const opts = parseArgs(process.argv.slice(2));
const say = (line) => process.stdout.write(`${line}\n`);

// The browser and the lab come from the compiled test helpers; playwright-core is a dependency of
// test/ only, so a missing one is a skip, like a missing Chromium.
let mods;
try {
  mods = {
    browser: await import('../test/dist/src/browser.js'),
    lab: await import('../test/dist/src/coordinator-lab.js'),
  };
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && /playwright-core/.test(err.message)) {
    say('dashboard: skipped — playwright-core is not installed (pnpm install)');
    process.exit(0);
  }
  process.stderr.write(
    `dashboard benchmark: cannot load test/dist (run \`pnpm exec tsc -b\` first): ${err?.message}\n`,
  );
  process.exit(1);
}
if (mods.browser.NO_BROWSER) {
  say(`dashboard: skipped — ${mods.browser.NO_BROWSER}`);
  process.exit(0);
}

const { signal, signalled } = stopOnSignals();
const daemons = [];
const cleanups = [];

process.stderr.write(
  `kage bench dashboard: ${opts.repeats} first loads, then a ${opts.seconds} s window in Chromium…\n`,
);
let result = null;
try {
  result = await run(opts, mods, signal, daemons, cleanups);
} catch (err) {
  if (!signalled())
    process.stderr.write(`dashboard benchmark failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = signalled() ? 130 : 1;
} finally {
  // Agents first, so the coordinator does not log them as lost while it stops.
  await Promise.all(daemons.slice(1).map((d) => d.stop()));
  await daemons[0]?.stop();
  for (const fn of cleanups.reverse()) await fn();
}
if (result) {
  await mkdir(dirname(opts.out), { recursive: true });
  await writeFile(opts.out, `${JSON.stringify(result, null, 2)}\n`);
  printTable(result, opts.out);
  if (opts.strict && !result.pass.all) process.exitCode = 1;
}
