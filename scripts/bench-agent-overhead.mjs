// The agent overhead benchmark: CPU and RSS of the real `kage agent` process, side by side with
// Debian's prometheus-node-exporter, over the same window on the same machine.
//
// The agent runs as the systemd unit runs it (`node --enable-source-maps …/bin.js agent --config`)
// with sample_interval_ms 1000, streaming to a test coordinator in this process on 127.0.0.1, and
// supervising one trivial process service (`sleep infinity`, health-checked against a loopback HTTP
// server in this process) so that the supervision paths run too. node_exporter (default
// collectors) is started by this script on 127.0.0.1 and scraped once a second from this process
// with Prometheus' request headers (gzip); producing each scrape is its cost, receiving it is ours.
// Both processes are measured from /proc once a second, half a second after each scrape, for
// --seconds (default 120) after a --warmup (default 10) that is not counted.
//
// Flags: --seconds N, --warmup N, --out FILE, --strict (exit 1 when a target is missed).
// Writes bench/results/agent-overhead.json and prints a short table.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { Agent as HttpAgent, createServer, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createTestCoordinator } from '../packages/agent/dist/test/stream-test-coordinator.js';
import { flagReader } from './bench/flags.mjs';
import { describeMachine, machineInfo } from './bench/machine-info.mjs';
import { freePort } from './bench/ports.mjs';
import { CLK_TCK, processTree, readStat, rssBytes } from './bench/proc-stat.mjs';
import { exited, spawnLogged, stopChild, stopOnSignals, tail } from './bench/processes.mjs';
import { daemonEnv, unitNodeFlags } from './bench/systemd-unit.mjs';
import { which } from './bench/which.mjs';

const execFileP = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(root, 'packages/cli/dist/src/bin.js');
const TARGETS = { agent_cpu_pct_of_one_core_max: 0.5, agent_cpu_le_node_exporter: true, agent_rss_max_mb: 70 };
const MB = 1_000_000;
/** Where node_exporter and apt-get may be besides PATH. */
const MORE_BIN_DIRS = ['/usr/bin', '/usr/sbin', '/usr/local/bin'];

// ---------------------------------------------------------------------------------------- flags
function parseArgs(argv) {
  const opts = { seconds: 120, warmup: 10, out: join(root, 'bench/results/agent-overhead.json'), strict: false };
  const flags = flagReader(argv);
  for (let a = flags.next(); a !== undefined; a = flags.next()) {
    if (a === '--seconds' || a === '--warmup') opts[a.slice(2)] = flags.int(a === '--seconds' ? 10 : 0, 3600);
    else if (a === '--out') opts.out = flags.value();
    else if (a === '--strict') opts.strict = true;
    else throw new Error(`unknown flag ${a} (flags: --seconds N, --warmup N, --out FILE, --strict)`);
  }
  return opts;
}

// --------------------------------------------------------------------------------------- procfs
/** On-CPU nanoseconds per thread (schedstat field 1), for per-second figures finer than ticks. */
async function threadRuntimes(pids, into) {
  for (const pid of pids) {
    const tids = await readdir(`/proc/${pid}/task`).catch(() => []);
    for (const tid of tids) {
      const text = await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => null);
      if (text !== null) into.set(`${pid}/${tid}`, Number(text.split(' ')[0]));
    }
  }
  return into;
}

/**
 * One measurement of a side. CPU ticks are utime+stime+cutime+cstime summed over the tree: a child
 * that exits and is reaped moves its time into its parent's cutime/cstime, so totals stay whole.
 */
async function measure(rootPid, seen) {
  const t = performance.now();
  const pids = await processTree(rootPid);
  let ticks = 0;
  let treeRss = 0;
  for (const pid of pids) {
    const st = await readStat(pid);
    if (st === null) continue;
    ticks += st.utime + st.stime + st.cutime + st.cstime;
    treeRss += (await rssBytes(pid)) ?? 0;
    if (pid !== rootPid) seen.set(pid, st.starttime);
  }
  const runtimes = await threadRuntimes(pids, new Map());
  const rss = await rssBytes(rootPid);
  return { t, ticks, rss, treeRss, processes: pids.length, runtimes };
}

// -------------------------------------------------------------------------------------- helpers
async function waitUntil(predicate, what, timeoutMs, signal) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100, undefined, { signal });
  }
}

const median = (xs) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (v, d = 4) => (v === null ? null : Number(v.toFixed(d)));

// ----------------------------------------------------------------------------- node_exporter side
async function ensureNodeExporter(cleanups) {
  const found =
    (await which('prometheus-node-exporter', MORE_BIN_DIRS)) ?? (await which('node_exporter', MORE_BIN_DIRS));
  if (found) return { bin: found, installed: false };
  if (process.getuid?.() !== 0)
    return { skip: 'prometheus-node-exporter is not installed and this is not root, so apt-get cannot install it' };
  if (!(await which('apt-get', MORE_BIN_DIRS)))
    return { skip: 'prometheus-node-exporter is not installed and apt-get is not available' };
  // A policy-rc.d that denies service starts keeps the package from starting (and leaving running)
  // the Debian service: this benchmark runs its own instance on a loopback port.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !(await access(policy).then(
    () => true,
    () => false,
  ));
  if (ownPolicy) {
    await writeFile(policy, '#!/bin/sh\n# kage bench-agent-overhead: no service starts during apt-get\nexit 101\n', {
      mode: 0o755,
    });
    cleanups.push(() => unlink(policy).catch(() => {}));
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    execFileP('apt-get', ['install', '-y', '--no-install-recommends', 'prometheus-node-exporter'], {
      env,
      maxBuffer: 16 * MB,
    });
  process.stderr.write('  installing prometheus-node-exporter with apt-get…\n');
  try {
    await install().catch(async () => {
      await execFileP('apt-get', ['update'], { env, maxBuffer: 16 * MB });
      return install();
    });
  } catch (err) {
    return { skip: `apt-get install prometheus-node-exporter failed: ${String(err.stderr || err.message).trim()}` };
  } finally {
    if (ownPolicy) await unlink(policy).catch(() => {});
  }
  const bin = await which('prometheus-node-exporter', MORE_BIN_DIRS);
  return bin ? { bin, installed: true } : { skip: 'apt-get succeeded but prometheus-node-exporter is not on PATH' };
}

/** Prometheus' own scrape request: keep-alive, gzip, its Accept header. */
function createScraper(port) {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const headers = {
    accept:
      'application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
    'accept-encoding': 'gzip',
    'user-agent': 'kage-bench (Prometheus-like scrape)',
    'x-prometheus-scrape-timeout-seconds': '10',
  };
  const scrape = () =>
    new Promise((resolve) => {
      const started = performance.now();
      const req = request({ host: '127.0.0.1', port, path: '/metrics', agent, headers, timeout: 10_000 }, (res) => {
        let bytes = 0;
        res.on('data', (c) => (bytes += c.length));
        res.on('end', () => resolve({ ok: res.statusCode === 200, bytes, ms: performance.now() - started }));
        res.on('error', () => resolve({ ok: false, bytes, ms: performance.now() - started }));
      });
      req.on('timeout', () => req.destroy(new Error('scrape timeout')));
      req.on('error', () => resolve({ ok: false, bytes: 0, ms: performance.now() - started }));
      req.end();
    });
  return { scrape, close: () => agent.destroy() };
}

// ----------------------------------------------------------------------------------------- figures
/** Window figures of one side from its seconds+1 measurements. */
function summarize(samples) {
  const first = samples[0];
  const last = samples.at(-1);
  const wallS = (last.t - first.t) / 1000;
  const perSecond = [];
  let schedNs = 0;
  for (let i = 1; i < samples.length; i++) {
    const prev = samples[i - 1].runtimes;
    let ns = 0;
    // A thread first seen now was born during the interval: all its time is new.
    for (const [key, v] of samples[i].runtimes) ns += Math.max(0, v - (prev.get(key) ?? 0));
    schedNs += ns;
    perSecond.push((ns / 1e6 / (samples[i].t - samples[i - 1].t)) * 100);
  }
  const blocks = [];
  for (let from = 0; from < perSecond.length; from += 10) {
    const to = Math.min(from + 10, perSecond.length);
    const a = samples[from];
    const b = samples[to];
    blocks.push({
      from_s: from,
      to_s: to,
      median_pct: round(median(perSecond.slice(from, to))),
      mean_pct_ticks: round(((b.ticks - a.ticks) / CLK_TCK / ((b.t - a.t) / 1000)) * 100),
    });
  }
  const rss = samples.map((s) => s.rss).filter((v) => v !== null);
  const treeRss = samples.map((s) => s.treeRss);
  return {
    cpu_pct_of_one_core: {
      mean: round(((last.ticks - first.ticks) / CLK_TCK / wallS) * 100),
      cpu_seconds: round((last.ticks - first.ticks) / CLK_TCK, 2),
      mean_schedstat: round((schedNs / 1e9 / wallS) * 100),
      per_second_median: round(median(perSecond)),
      per_second_max: round(Math.max(...perSecond)),
      per_10s: blocks,
    },
    rss_mb: { median: round(median(rss) / MB, 1), max: round(Math.max(...rss) / MB, 1) },
    tree_rss_mb: { median: round(median(treeRss) / MB, 1), max: round(Math.max(...treeRss) / MB, 1) },
    processes_in_tree: {
      min: Math.min(...samples.map((s) => s.processes)),
      max: Math.max(...samples.map((s) => s.processes)),
    },
    window_s: round(wallS, 3),
    series: {
      cpu_pct_per_second: perSecond.map((v) => round(v, 3)),
      rss_mb_per_second: samples.map((s) => round((s.rss ?? 0) / MB, 1)),
    },
  };
}

// -------------------------------------------------------------------------------------------- run
async function run(opts, signal, cleanups, children, seenDescendants) {
  await access(CLI).catch(() => {
    throw new Error('packages/cli/dist/src/bin.js is missing: run `pnpm exec tsc -b` first');
  });
  const machine = await machineInfo();
  const loadBefore = loadavg()[0];
  const dir = await mkdtemp(join(tmpdir(), 'kage-agent-overhead-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));

  const ne = await ensureNodeExporter(cleanups);
  if (ne.skip) process.stderr.write(`  node_exporter side skipped: ${ne.skip}\n`);

  // The health endpoint of the trivial service, and the coordinator, live in this process.
  const health = createServer((_req, res) => res.end('ok'));
  await new Promise((resolve) => health.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => health.close(() => resolve())));
  const token = randomBytes(16).toString('hex');
  const coordinator = createTestCoordinator({ token });
  const grpcPort = await coordinator.start();
  cleanups.push(() => coordinator.close());

  const config = join(dir, 'agent.yaml');
  await writeFile(
    config,
    [
      'node: bench-agent',
      `coordinator: { url: "127.0.0.1:${grpcPort}", token: "${token}" }`,
      'sample_interval_ms: 1000',
      `buffer: { dir: ${JSON.stringify(join(dir, 'buffer'))}, max_age_s: 900 }`,
      'services:',
      '  idle:',
      '    driver: process',
      '    command: [sleep, infinity]',
      `    health: "http://127.0.0.1:${health.address().port}/"`,
      '    grace_ms: 2000',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  // The node flags of the shipped unit's ExecStart, so the benchmark measures what nodes run.
  const agentArgs = [...unitNodeFlags('agent'), CLI, 'agent', '--config', config];
  const agentLog = join(dir, 'agent.log');
  const agentProc = spawnLogged(process.execPath, agentArgs, agentLog, daemonEnv());
  children.agent = agentProc;

  let neProc = null;
  let scraper = null;
  let neVersion = null;
  let nePort = null;
  const neLog = join(dir, 'node-exporter.log');
  if (ne.bin) {
    const v = await execFileP(ne.bin, ['--version']).catch((e) => e);
    neVersion = `${v.stdout ?? ''}${v.stderr ?? ''}`.trim().split('\n')[0] || null;
    nePort = await freePort();
    neProc = spawnLogged(ne.bin, [`--web.listen-address=127.0.0.1:${nePort}`], neLog);
    children.nodeExporter = neProc;
    scraper = createScraper(nePort);
    cleanups.push(() => scraper.close());
  }

  const alive = () => {
    if (exited(agentProc))
      throw new Error(`the agent exited (${agentProc.exitCode ?? agentProc.signalCode}):\n${tail(agentLog)}`);
    if (neProc && exited(neProc))
      throw new Error(`node_exporter exited (${neProc.exitCode ?? neProc.signalCode}):\n${tail(neLog)}`);
  };
  process.stderr.write('  waiting for the agent stream and node_exporter…\n');
  await waitUntil(
    () => (alive(), coordinator.store.samples.length >= 2),
    'the agent to stream two samples',
    30_000,
    signal,
  );
  if (scraper)
    await waitUntil(async () => (alive(), (await scraper.scrape()).ok), 'node_exporter /metrics', 15_000, signal);

  // k = 0 … warmup+seconds: scrape at start + k s, measure at start + k s + 0.5 s. The measurement
  // at k = warmup is the baseline, so the window holds exactly `seconds` scrapes and agent ticks.
  const agentSamples = [];
  const neSamples = [];
  const scrapes = [];
  const total = opts.warmup + opts.seconds;
  let samplesAtStart = 0;
  let selfCpuStart = null;
  const start = performance.now();
  let inFlight = null;
  let skipped = 0;
  process.stderr.write(`  warm-up ${opts.warmup} s, then measuring ${opts.seconds} s…\n`);
  for (let k = 0; k <= total; k++) {
    await sleep(Math.max(0, start + k * 1000 - performance.now()), undefined, { signal });
    alive();
    if (scraper) {
      if (inFlight) skipped += k > opts.warmup ? 1 : 0;
      else {
        const counted = k > opts.warmup;
        inFlight = scraper.scrape().then((r) => {
          if (counted) scrapes.push(r);
          inFlight = null;
        });
      }
    }
    await sleep(Math.max(0, start + k * 1000 + 500 - performance.now()), undefined, { signal });
    if (k < opts.warmup) continue;
    if (k === opts.warmup) {
      samplesAtStart = coordinator.store.samples.length;
      selfCpuStart = process.cpuUsage();
    }
    agentSamples.push(await measure(agentProc.pid, seenDescendants));
    if (neProc) neSamples.push(await measure(neProc.pid, new Map()));
    if ((k - opts.warmup) % 30 === 0 && k > opts.warmup)
      process.stderr.write(`  ${k - opts.warmup}/${opts.seconds} s\n`);
  }
  if (inFlight) await inFlight;
  const selfCpu = process.cpuUsage(selfCpuStart);
  const samplesInWindow = coordinator.store.samples.length - samplesAtStart;
  const loadAfter = loadavg()[0];

  const agent = summarize(agentSamples);
  const nodeExporter = neProc ? summarize(neSamples) : null;
  const agentCpu = agent.cpu_pct_of_one_core.mean;
  const neCpu = nodeExporter?.cpu_pct_of_one_core.mean ?? null;
  const pass = {
    agent_cpu_le_0_5_pct: agentCpu <= TARGETS.agent_cpu_pct_of_one_core_max,
    agent_cpu_le_node_exporter: neCpu === null ? null : agentCpu <= neCpu,
    agent_rss_le_70_mb: agent.rss_mb.max <= TARGETS.agent_rss_max_mb,
  };
  pass.all = pass.agent_cpu_le_0_5_pct && pass.agent_cpu_le_node_exporter === true && pass.agent_rss_le_70_mb;
  const scrapeMs = scrapes.filter((s) => s.ok).map((s) => s.ms);
  return {
    schema: 'kage.agent-overhead/v1',
    generated_at: new Date().toISOString(),
    machine: { ...machine, load_average_1m: { before: round(loadBefore, 2), after: round(loadAfter, 2) } },
    method: {
      window_s: opts.seconds,
      warmup_s: opts.warmup,
      measurement_hz: 1,
      notes: [
        'both processes run concurrently over the same window; measurements start after the warm-up',
        'CPU: utime+stime+cutime+cstime from /proc/PID/stat summed over the process and its live descendants, delta over the window / wall time, in % of one core (USER_HZ ticks)',
        'per_10s.median_pct: median of the per-second CPU % inside each 10 s block; per-second CPU comes from /proc/PID/task/TID/schedstat (ns) because one tick (10 ms) is 1 % of a second; mean_schedstat is the same source over the whole window (a cross-check; threads that exit lose their last partial second)',
        'RSS: VmRSS of /proc/PID/status of the main process once per second (median and max); tree_rss_mb adds its children',
        'RSS target: max over the window <= 70 MB (1 MB = 10^6 bytes)',
        'measurements are taken 0.5 s after each scrape, so each counted second holds one scrape and one agent sample',
        "the benchmark's own scraping, gRPC receiving and /proc reading run in the benchmark process and are not charged to either side (self_cpu_pct below)",
      ],
    },
    agent: {
      command: `node ${agentArgs.map((a) => (a === CLI ? 'packages/cli/dist/src/bin.js' : a === config ? 'agent.yaml' : a)).join(' ')}`,
      env: { NODE_ENV: 'production', KAGE_LOG_LEVEL: 'info' },
      config: {
        sample_interval_ms: 1000,
        coordinator: 'test coordinator (grpc-js) in the benchmark process on 127.0.0.1, insecure',
        buffer: 'a temp directory',
        services:
          'one process service: `sleep infinity` (a child of the agent; its CPU is ~0 and counted with the agent), health-checked over HTTP against a loopback server in the benchmark process',
      },
      samples_received_in_window: samplesInWindow,
      ...agent,
    },
    node_exporter: neProc
      ? {
          binary: ne.bin,
          version: neVersion,
          installed_by_benchmark: ne.installed,
          args: [`--web.listen-address=127.0.0.1:${nePort}`],
          collectors: 'the defaults of this build (no flags besides the listen address)',
          scrape: {
            interval_s: 1,
            request: 'GET /metrics, keep-alive, Accept-Encoding: gzip and the Prometheus Accept header',
            ok: scrapes.filter((s) => s.ok).length,
            failed: scrapes.filter((s) => !s.ok).length,
            skipped_while_previous_in_flight: skipped,
            bytes_median: median(scrapes.map((s) => s.bytes)),
            latency_ms_median: round(median(scrapeMs), 2),
            latency_ms_max: round(scrapeMs.length ? Math.max(...scrapeMs) : null, 2),
          },
          ...nodeExporter,
        }
      : { skipped: ne.skip },
    self_cpu_pct: round(((selfCpu.user + selfCpu.system) / 1e6 / opts.seconds) * 100, 3),
    targets: TARGETS,
    pass,
  };
}

function printTable(result, outFile) {
  const a = result.agent;
  const n = result.node_exporter;
  const m = result.machine;
  const f = (v, d = 3) => (v === null || v === undefined ? '—' : v.toFixed(d));
  const mark = (ok) => (ok === null ? 'n/a' : ok ? 'PASS' : 'FAIL');
  const row = (name, s) =>
    `${name.padEnd(15)} ${f(s.cpu_pct_of_one_core.mean).padStart(8)} % ${f(s.cpu_pct_of_one_core.mean_schedstat).padStart(9)} % ` +
    `${f(s.cpu_pct_of_one_core.per_second_median).padStart(10)} % ${f(s.rss_mb.median, 1).padStart(8)} MB ${f(s.rss_mb.max, 1).padStart(7)} MB`;
  const lines = [
    describeMachine(m),
    `window ${result.method.window_s} s after ${result.method.warmup_s} s warm-up; load 1m ${m.load_average_1m.before} → ${m.load_average_1m.after}`,
    `${''.padEnd(15)} ${'CPU mean'.padStart(10)} ${'(schedstat)'.padStart(11)} ${'median/s'.padStart(12)} ${'RSS med'.padStart(11)} ${'RSS max'.padStart(10)}`,
    row('kage agent', a),
    n.skipped ? `node_exporter   skipped: ${n.skipped}` : row('node_exporter', n),
    `targets: agent CPU <= ${result.targets.agent_cpu_pct_of_one_core_max} % ${mark(result.pass.agent_cpu_le_0_5_pct)}; ` +
      `agent CPU <= node_exporter ${mark(result.pass.agent_cpu_le_node_exporter)}; ` +
      `agent RSS max <= ${result.targets.agent_rss_max_mb} MB ${mark(result.pass.agent_rss_le_70_mb)}`,
    `written to ${relative(process.cwd(), outFile) || outFile}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

// ------------------------------------------------------------------------------------------- main
const opts = parseArgs(process.argv.slice(2));
const { signal, signalled } = stopOnSignals();
const cleanups = [];
const children = {};
const seenDescendants = new Map();

async function cleanup() {
  // Up to 2 s for each exit after a SIGKILL.
  await Promise.all([stopChild(children.agent, 8000, 2000), stopChild(children.nodeExporter, 5000, 2000)]);
  // The agent stops its service child itself; anything it left behind (a crash) goes by pid,
  // checked against the start time recorded while it was the agent's descendant.
  for (const [pid, starttime] of seenDescendants) {
    const st = await readStat(pid);
    if (st && st.starttime === starttime) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const fn of cleanups.reverse()) await fn();
}

process.stderr.write(`kage bench agent-overhead: ${opts.seconds} s window, agent vs prometheus-node-exporter…\n`);
let result = null;
try {
  result = await run(opts, signal, cleanups, children, seenDescendants);
} catch (err) {
  if (!signalled())
    process.stderr.write(`agent-overhead benchmark failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = signalled() ? 130 : 1;
} finally {
  await cleanup();
}
if (result) {
  await mkdir(dirname(opts.out), { recursive: true });
  await writeFile(opts.out, `${JSON.stringify(result, null, 2)}\n`);
  printTable(result, opts.out);
  if (opts.strict && !result.pass.all) process.exitCode = 1;
}
