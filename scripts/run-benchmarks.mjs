// `pnpm bench` (after `tsc -b`): the harness selftest, then the agent overhead benchmark, the
// coordinator scale benchmark, the gateway benchmark and the dashboard benchmark.
// Selftest: measures the benchmark client's own TTFT error, decode-rate error and token ingest rate
// against a scripted server with a known schedule, writes bench/results/selftest.json and prints the
// figures against their targets. Agent overhead: scripts/bench-agent-overhead.mjs in its own
// process (so the selftest's heap and timers do not share it), writes
// bench/results/agent-overhead.json. Coordinator scale: scripts/bench-coordinator-scale.mjs in its
// own process as well (it starts coordinators and load generators of its own), writes
// bench/results/coordinator-scale.json. Gateway: scripts/bench-gateway.mjs in its own process (it
// starts a scheduled backend, nginx, coordinators and emulators of its own), writes
// bench/results/gateway.json. Dashboard: scripts/bench-dashboard.mjs in its own process (it starts
// a coordinator, three agents and headless Chromium of its own), writes bench/results/dashboard.json;
// without Chromium it prints a line saying it skipped.
// Flags: --only selftest|agent|coordinator|gateway|dashboard (run one of them), --quick (fewer
// repetitions, a 20 s agent window, 10 s coordinator windows without 10,000 agents, fewer gateway
// requests and a 10 s dashboard window after 2 first loads, for a smoke run), --seconds N (agent
// window, default 120), --dashboard-seconds N (dashboard window, default 60), --strict (exit 1 when a
// target is missed), --out FILE (another selftest result file), --agent-out FILE (another agent
// result file), --coordinator-out FILE (another coordinator result file), --gateway-out FILE
// (another gateway result file), --dashboard-out FILE (another dashboard result file).
import { spawn } from 'node:child_process';
import { relative } from 'node:path';
import { runSelftest } from '../packages/bench/dist/src/index.js';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : undefined;
};
const outFile = flag('--out') ?? `${root}bench/results/selftest.json`;
const quick = args.includes('--quick');
const strict = args.includes('--strict');
const only = flag('--only');
if (only !== undefined && !['selftest', 'agent', 'coordinator', 'gateway', 'dashboard'].includes(only)) {
  process.stderr.write(`--only: selftest, agent, coordinator, gateway or dashboard (got ${only})\n`);
  process.exit(2);
}

async function selftest() {
  const options = quick ? { repetitions: 2, requests: 8, tokens: 64, blastTokens: 50_000 } : {};
  process.stderr.write(`kage bench selftest${quick ? ' (quick)' : ''}: measuring the harness…\n`);
  const result = await runSelftest({
    ...options,
    outFile,
    onProgress: (p) => process.stderr.write(`  ${p.protocol}: repetition ${p.repetition}/${p.repetitions}\n`),
  });

  const f = result.figures;
  const t = result.targets;
  const mark = (ok) => (ok ? 'PASS' : 'FAIL');
  const n = (v, d = 3) => v.toFixed(d);
  const lines = [
    `machine: ${result.machine.cpu_model}, ${result.machine.cpu_cores} cores, node ${result.machine.node_version}, ${result.machine.os}`,
    `TTFT error      p50 ${n(f.ttft_error_ms.p50)} ms  p99 ${n(f.ttft_error_ms.p99)} ms   target p99 <= ${t.ttft_error_p99_ms} ms   ${mark(result.pass.ttft_error_p99_ms)}`,
    `decode error    p50 ${n(f.decode_error_pct.p50)} %   p99 ${n(f.decode_error_pct.p99)} %    target p99 <= ${t.decode_error_p99_pct} %    ${mark(result.pass.decode_error_p99_pct)}`,
    `  (span error   p50 ${n(f.decode_span_error_ms.p50)} ms  p99 ${n(f.decode_span_error_ms.p99)} ms over a ${result.method.tokens_per_request}-token, ${result.method.server_itl_ms} ms/token answer)`,
    `ingest          ${Math.round(f.ingest_events_per_s).toLocaleString('en-US')} token events/s   target >= ${t.ingest_events_per_s.toLocaleString('en-US')}   ${mark(result.pass.ingest_events_per_s)}`,
    `worst protocol per figure, median of ${result.method.repetitions} repetitions; written to ${relative(process.cwd(), outFile) || outFile}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return result.pass.all;
}

/** Runs a benchmark script as a child; resolves with its exit code. It cleans up on SIGINT/SIGTERM. */
function runChild(script, childArgs, what) {
  const child = spawn(process.execPath, [`${root}scripts/${script}`, ...childArgs], { stdio: 'inherit' });
  // Forward signals and wait: the child stops the processes it started before it exits.
  const forward = (sig) => child.kill(sig);
  process.on('SIGINT', forward).on('SIGTERM', forward);
  return new Promise((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`cannot start the ${what} benchmark: ${err.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward).off('SIGTERM', forward);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

/** The flags every benchmark child gets after its own: its result file (from `outFlag` here) and --strict. */
function outAndStrict(outFlag) {
  const childArgs = [];
  const out = flag(outFlag);
  if (out !== undefined) childArgs.push('--out', out);
  if (strict) childArgs.push('--strict');
  return childArgs;
}

function agentOverhead() {
  const childArgs = [];
  const seconds = flag('--seconds') ?? (quick ? '20' : undefined);
  if (seconds !== undefined) childArgs.push('--seconds', seconds);
  if (quick) childArgs.push('--warmup', '5');
  return runChild('bench-agent-overhead.mjs', [...childArgs, ...outAndStrict('--agent-out')], 'agent overhead');
}

const coordinatorScale = () =>
  runChild(
    'bench-coordinator-scale.mjs',
    [...(quick ? ['--quick'] : []), ...outAndStrict('--coordinator-out')],
    'coordinator scale',
  );

const gateway = () =>
  runChild('bench-gateway.mjs', [...(quick ? ['--quick'] : []), ...outAndStrict('--gateway-out')], 'gateway');

function dashboard() {
  const childArgs = [];
  const seconds = flag('--dashboard-seconds') ?? (quick ? '10' : undefined);
  if (seconds !== undefined) childArgs.push('--seconds', seconds);
  if (quick) childArgs.push('--warmup', '3', '--repeats', '2');
  const dashboardOut = flag('--dashboard-out');
  if (dashboardOut !== undefined) childArgs.push('--out', dashboardOut);
  if (strict) childArgs.push('--strict');
  return runChild('bench-dashboard.mjs', childArgs, 'dashboard');
}

/** 130: interrupted (Ctrl-C); anything else non-zero: a missed target under --strict, or an error. */
const worse = (exitCode, code) => (code === 0 ? exitCode : code === 130 || exitCode === 130 ? 130 : 1);

let exitCode = 0;
if ((only === undefined || only === 'selftest') && !(await selftest()) && strict) exitCode = 1;
if (exitCode !== 130 && (only === undefined || only === 'agent')) {
  if (only === undefined) process.stdout.write('\n');
  exitCode = worse(exitCode, await agentOverhead());
}
if (exitCode !== 130 && (only === undefined || only === 'coordinator')) {
  if (only === undefined) process.stdout.write('\n');
  exitCode = worse(exitCode, await coordinatorScale());
}
if (exitCode !== 130 && (only === undefined || only === 'gateway')) {
  if (only === undefined) process.stdout.write('\n');
  exitCode = worse(exitCode, await gateway());
}
if (exitCode !== 130 && (only === undefined || only === 'dashboard')) {
  if (only === undefined) process.stdout.write('\n');
  exitCode = worse(exitCode, await dashboard());
}
process.exit(exitCode);
