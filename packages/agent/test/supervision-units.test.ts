// Pure pieces of supervision: backoff, crash-loop budget, procfs and systemctl parsing, line splitting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RestartBudget, backoffDelayMs, resolveRestartPolicy } from '../src/supervision/backoff.js';
import { LineRing, LineSplitter, MAX_LINE_CHARS } from '../src/supervision/output-lines.js';
import { parseProcStat } from '../src/supervision/process-group.js';
import { isValidUnitName, parseShowOutput } from '../src/supervision/systemctl.js';
import { unitState } from '../src/supervision/systemd-service.js';
import { DEFAULT_RESTART_POLICY } from '../src/index.js';

void test('backoff doubles up to the cap, with jitter in the upper half of each ceiling', () => {
  const policy = { initial_delay_ms: 100, max_delay_ms: 1000, max_restarts: 5, window_s: 60 };
  const low = (n: number): number => backoffDelayMs(n, policy, () => 0);
  const high = (n: number): number => backoffDelayMs(n, policy, () => 1);
  assert.deepEqual([0, 1, 2, 3, 4, 10].map(low), [50, 100, 200, 400, 500, 500]);
  assert.deepEqual([0, 1, 2, 3, 4, 10].map(high), [100, 200, 400, 800, 1000, 1000]);
  assert.equal(
    backoffDelayMs(1e6, policy, () => 1),
    1000,
    'a huge attempt number does not overflow',
  );
});

void test('the restart budget allows max_restarts per sliding window', () => {
  const budget = new RestartBudget({ ...DEFAULT_RESTART_POLICY, max_restarts: 2, window_s: 10 });
  assert.equal(budget.take(0), true);
  assert.equal(budget.take(1000), true);
  assert.equal(budget.take(2000), false, 'third restart within 10 s');
  assert.equal(budget.take(10_500), true, 'the first one has left the window');
  budget.reset();
  assert.equal(budget.count(10_600), 0);
});

void test('restart policy defaults are filled in and bad relations are rejected', () => {
  assert.deepEqual(resolveRestartPolicy('exo'), {
    initial_delay_ms: 1000,
    max_delay_ms: 60_000,
    max_restarts: 5,
    window_s: 300,
  });
  assert.equal(resolveRestartPolicy('exo', { max_restarts: 2 }).max_restarts, 2);
  assert.throws(() => resolveRestartPolicy('exo', { window_s: 0 }), /services\.exo\.restart\.window_s/);
  assert.throws(() => resolveRestartPolicy('exo', { initial_delay_ms: -1 }), { code: 'KAGE_ERR_AGENT_SERVICE_CONFIG' });
});

void test('parseProcStat copes with spaces and parentheses in the command name', () => {
  const line = '4242 (evil ) (name) S 1 4242 4242 0 -1 4194560 1 0 0 0 5 3 0 0 20 0 4 0 987654 1000 10 0\n';
  assert.deepEqual(parseProcStat(line), { pid: 4242, state: 'S', ppid: 1, pgid: 4242, sid: 4242, startTime: 987654 });
  assert.equal(parseProcStat('garbage'), undefined);
});

void test('parseShowOutput keeps the wanted properties and splits on the first "=" only', () => {
  const props = parseShowOutput(
    'ActiveState=active\nSubState=running\nMainPID=812\nNRestarts=3\nExecMainStatus=0\nControlGroup=/system.slice/a=b.service\nOther=x\n\n',
  );
  assert.deepEqual(props, {
    ActiveState: 'active',
    SubState: 'running',
    MainPID: '812',
    NRestarts: '3',
    ExecMainStatus: '0',
    ControlGroup: '/system.slice/a=b.service',
  });
});

void test('unitState maps systemd states onto the state union', () => {
  const cases: [Parameters<typeof unitState>[0], string][] = [
    [{ LoadState: 'loaded', ActiveState: 'active', SubState: 'running' }, 'running'],
    [{ ActiveState: 'reloading' }, 'running'],
    [{ ActiveState: 'activating', SubState: 'start' }, 'starting'],
    [{ ActiveState: 'activating', SubState: 'auto-restart' }, 'backoff'],
    [{ ActiveState: 'activating', SubState: 'auto-restart-queued' }, 'backoff'],
    [{ ActiveState: 'deactivating', SubState: 'stop-sigterm' }, 'stopping'],
    [{ ActiveState: 'inactive', SubState: 'dead' }, 'exited'],
    [{ ActiveState: 'failed', SubState: 'failed', ExecMainStatus: '1' }, 'failed'],
    [{ LoadState: 'masked', ActiveState: 'inactive' }, 'failed'],
    [{ ActiveState: 'weird' }, 'failed'],
  ];
  for (const [props, state] of cases) assert.equal(unitState(props).state, state, JSON.stringify(props));
});

void test('unit names that could be read as options or hold shell syntax are invalid', () => {
  assert.ok(isValidUnitName('ollama.service'));
  assert.ok(isValidUnitName('exo@node1.service'));
  for (const bad of ['-x.service', '--now', '', 'a b', 'a;b', `a\nb`]) assert.equal(isValidUnitName(bad), false, bad);
});

void test('LineSplitter reassembles lines across chunks, CRLF and split UTF-8, and bounds long lines', () => {
  const lines: [string, boolean][] = [];
  const splitter = new LineSplitter((line, truncated) => lines.push([line, truncated]));
  const euro = Buffer.from('€'); // 3 bytes
  splitter.push(Buffer.from('hel'));
  splitter.push(Buffer.from('lo\r\nprice '));
  splitter.push(euro.subarray(0, 1));
  splitter.push(Buffer.concat([euro.subarray(1), Buffer.from('5\n\nlast')]));
  splitter.end();
  assert.deepEqual(lines, [
    ['hello', false],
    ['price €5', false],
    ['', false],
    ['last', false],
  ]);

  lines.length = 0;
  splitter.push('x'.repeat(MAX_LINE_CHARS * 2 + 10));
  splitter.push('\n');
  assert.deepEqual(
    lines.map(([l, t]) => [l.length, t]),
    [
      [MAX_LINE_CHARS, true],
      [MAX_LINE_CHARS, true],
      [10, false],
    ],
  );

  const ring = new LineRing(2);
  ['a', 'b', 'c'].forEach((l) => ring.add(l));
  assert.deepEqual(ring.lines(), ['b', 'c']);
});
