// journald-aware logging: `<N>` priority prefixes only when stdout is the journal stream that
// $JOURNAL_STREAM names; plain pino JSON everywhere else. Checked in real child processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fstatSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isJournalStream, syslogPrefixForLevel } from '../src/index.js';

const INDEX_URL = new URL('../src/index.js', import.meta.url).href;

// Logs one line per level through a child logger, as the agent would.
const CHILD_SCRIPT = `
const { createDaemonLogger, readDaemonEnv } = await import(process.argv[1]);
const env = readDaemonEnv();
const log = createDaemonLogger({ level: 'trace', journalStream: env.journalStream }).child({ component: 'test' });
log.trace('t'); log.debug('d'); log.info('i'); log.warn('w'); log.error({ err: new Error('boom\\nsecond line') }, 'e'); log.fatal('f');
`;

/** Runs the script with stdout going to a file; returns its lines and the file's `dev:ino`. */
async function runChild(
  t: { after: (fn: () => Promise<void>) => void },
  journalStream: ((devIno: string) => string) | null,
): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-journal-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'stdout');
  const handle = await open(out, 'w');
  try {
    const st = fstatSync(handle.fd);
    const env: Record<string, string | undefined> = { ...process.env };
    delete env['JOURNAL_STREAM'];
    if (journalStream !== null) env['JOURNAL_STREAM'] = journalStream(`${st.dev}:${st.ino}`);
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD_SCRIPT, INDEX_URL], {
      stdio: ['ignore', handle.fd, 'pipe'],
      env,
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, stderr);
  } finally {
    await handle.close();
  }
  return (await readFile(out, 'utf8')).split('\n').filter((l) => l !== '');
}

test('under systemd (JOURNAL_STREAM names stdout) every line carries its syslog priority', async (t) => {
  const lines = await runChild(t, (devIno) => devIno);
  assert.equal(lines.length, 6, 'multi-line error messages stay one line each');
  const prefixes = lines.map((l) => /^<(\d)>/.exec(l)?.[1]);
  // trace, debug → 7; info → 6; warn → 4; error → 3; fatal → 2 (journalctl -p warning shows the last three).
  assert.deepEqual(prefixes, ['7', '7', '6', '4', '3', '2']);
  for (const line of lines) {
    const json = JSON.parse(line.slice(3)) as { component?: string; msg?: string };
    assert.equal(json.component, 'test', 'after the prefix the line is the plain pino JSON');
  }
});

test('without JOURNAL_STREAM the lines are plain pino JSON', async (t) => {
  const lines = await runChild(t, null);
  assert.equal(lines.length, 6);
  const levels = lines.map((l) => (JSON.parse(l) as { level: number }).level);
  assert.deepEqual(levels, [10, 20, 30, 40, 50, 60]);
});

test('a JOURNAL_STREAM that names another stream (stdout redirected) gives plain lines', async (t) => {
  const lines = await runChild(t, (devIno) => `${devIno}1`);
  assert.equal(lines.length, 6);
  for (const line of lines) assert.ok(line.startsWith('{'), line);
});

test('syslogPrefixForLevel and isJournalStream', () => {
  assert.equal(syslogPrefixForLevel(60), '<2>');
  assert.equal(syslogPrefixForLevel(50), '<3>');
  assert.equal(syslogPrefixForLevel(45), '<4>', 'a custom level between warn and error counts as warn');
  assert.equal(syslogPrefixForLevel(40), '<4>');
  assert.equal(syslogPrefixForLevel(30), '<6>');
  assert.equal(syslogPrefixForLevel(20), '<7>');
  assert.equal(syslogPrefixForLevel(10), '<7>');
  assert.equal(isJournalStream(null, 1), false);
  assert.equal(isJournalStream('garbage', 1), false);
  assert.equal(isJournalStream('1:2', 987654), false, 'a closed fd is not the journal');
});
