// `pnpm bench` (after `tsc -b`): the harness selftest. Measures the benchmark client's own TTFT
// error, decode-rate error and token ingest rate against a scripted server with a known schedule,
// writes bench/results/selftest.json and prints the figures against their targets.
// Flags: --quick (fewer repetitions, for a smoke run), --strict (exit 1 when a target is missed),
// --out FILE (another result file).
import { relative } from 'node:path';
import { runSelftest } from '../packages/bench/dist/src/index.js';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
const outFile = outIdx >= 0 && args[outIdx + 1] ? args[outIdx + 1] : `${root}bench/results/selftest.json`;
const quick = args.includes('--quick');

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
if (args.includes('--strict') && !result.pass.all) process.exit(1);
