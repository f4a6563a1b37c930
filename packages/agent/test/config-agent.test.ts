// agent.yaml (docs/agent.md, "Every key"): defaults, relative paths, secrets, and every violation
// reported at once with file:line:col, key path and reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { AgentConfigError, loadAgentConfig, type AgentConfig, type ConfigProblem } from '../src/index.js';

interface Ctx {
  after: (fn: () => Promise<void>) => void;
}

async function tempDir(t: Ctx): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `agent.yaml` (and a 0600 token file beside it) and returns the config path. */
async function writeConfig(dir: string, yaml: string, token = 'tok-0123456789abcdef\n'): Promise<string> {
  const tokenFile = join(dir, 'agent.token');
  await writeFile(tokenFile, token);
  await chmod(tokenFile, 0o600);
  const file = join(dir, 'agent.yaml');
  await writeFile(file, yaml);
  await chmod(file, 0o600);
  return file;
}

async function expectInvalid(file: string): Promise<AgentConfigError> {
  try {
    await loadAgentConfig(file, { env: {} });
  } catch (err) {
    assert.ok(err instanceof AgentConfigError, `expected AgentConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('the config was accepted');
}

function problemFor(err: AgentConfigError, path: string): ConfigProblem {
  const found = err.problems.find((p) => p.path === path);
  assert.ok(found, `no problem at ${path}; got:\n${err.message}`);
  return found;
}

const DESIGN_SAMPLE = `node: srv1                          # default: hostname
coordinator: { url: "100.77.248.9:50551", token_file: ./agent.token }
sample_interval_ms: 1000
buffer: { dir: ./buffer, max_age_s: 900 }   # samples kept while the coordinator is away
services:
  ollama: { driver: systemd, unit: ollama.service, health: "http://127.0.0.1:11434/" }
  exo:
    driver: process                 # child in its own process group; or systemd with unit:
    command: ["/opt/exo/.venv/bin/exo", "--libp2p-port", "30000", "--bootstrap-peers", "/ip4/100.113.166.1/tcp/30000"]
    cwd: /opt/exo
    env: { EXO_OFFLINE: "false" }
    health: "http://127.0.0.1:52415/node_id"
    restart: { initial_delay_ms: 1000, max_delay_ms: 60000, max_restarts: 5, window_s: 300 }
`;

test('a full sample config resolves: units in names, paths absolute, token read, deep-frozen', async (t) => {
  const dir = await tempDir(t);
  const file = await writeConfig(dir, DESIGN_SAMPLE);
  const config: AgentConfig = await loadAgentConfig(file, { env: {} });
  assert.equal(config.configFile, file);
  assert.equal(config.node, 'srv1');
  assert.equal(config.coordinator.address, '100.77.248.9:50551');
  assert.equal(config.coordinator.host, '100.77.248.9');
  assert.equal(config.coordinator.port, 50551);
  assert.equal(config.coordinator.token, 'tok-0123456789abcdef', 'trailing newline trimmed');
  assert.equal(config.coordinator.tokenFile, join(dir, 'agent.token'));
  assert.equal(config.coordinator.tls, null);
  assert.equal(config.sampleIntervalMs, 1000);
  assert.deepEqual(config.buffer, { dir: join(dir, 'buffer'), maxAgeS: 900, maxBytes: null });
  assert.equal(config.stateDir, join(dir, 'buffer'));
  assert.deepEqual(Object.keys(config.services), ['ollama', 'exo']);
  assert.deepEqual(config.services['ollama'], {
    driver: 'systemd',
    unit: 'ollama.service',
    health: 'http://127.0.0.1:11434/',
  });
  const exo = config.services['exo'];
  assert.ok(exo?.driver === 'process');
  assert.deepEqual(exo.command.slice(0, 3), ['/opt/exo/.venv/bin/exo', '--libp2p-port', '30000']);
  assert.equal(exo.cwd, '/opt/exo');
  assert.deepEqual(exo.env, { EXO_OFFLINE: 'false' });
  assert.deepEqual(exo.restart, { initial_delay_ms: 1000, max_delay_ms: 60000, max_restarts: 5, window_s: 300 });
  assert.equal(exo.grace_ms, 10_000);
  assert.equal(config.stopGraceMs, 10_000);
  assert.ok(config.shutdownForceMs > config.shutdownGraceMs && config.shutdownGraceMs > config.stopGraceMs);
  // Missing exo binary and cwd are warnings (exo may be installed later), not errors.
  assert.ok(config.warnings.some((w) => w.includes('/opt/exo/.venv/bin/exo')));

  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.services) && Object.isFrozen(exo.restart));
  assert.ok(Object.isFrozen(exo.command) && Object.isFrozen(config.warnings));
  assert.throws(() => {
    (config as { node: string }).node = 'x';
  }, TypeError);
  // The secret never shows up when the config is logged or serialised.
  assert.ok(!JSON.stringify(config).includes('tok-0123456789abcdef'));
  assert.ok(!Object.keys(config.coordinator).includes('token'));
});

test('defaults: node = hostname, 1000 ms, 900 s, buffer dir from $STATE_DIRECTORY, no services', async (t) => {
  const dir = await tempDir(t);
  const file = await writeConfig(dir, 'coordinator:\n  url: coord.example:50551\n  token: inline-token\n');
  const config = await loadAgentConfig(file, {
    env: { STATE_DIRECTORY: '/var/lib/kage/agent:/var/lib/other' },
    hostname: 'rog',
  });
  assert.equal(config.node, 'rog');
  assert.equal(config.sampleIntervalMs, 1000);
  assert.equal(config.buffer.maxAgeS, 900);
  assert.equal(config.buffer.dir, '/var/lib/kage/agent');
  assert.equal(config.coordinator.token, 'inline-token');
  assert.equal(config.coordinator.tokenFile, null);
  assert.deepEqual(config.services, {});

  const fallback = await loadAgentConfig(file, { env: {} });
  assert.equal(fallback.buffer.dir, '/var/lib/kage/agent');
});

test('process services get every default; relative command and cwd are relative to the file', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'exo'));
  await writeFile(join(dir, 'exo', 'run.sh'), '#!/bin/sh\n');
  await chmod(join(dir, 'exo', 'run.sh'), 0o755);
  const file = await writeConfig(
    dir,
    `coordinator: { url: "[fd7a:115c:a1e0::1]:50551", token_file: agent.token }
services:
  exo: { driver: process, command: [./exo/run.sh, --flag], cwd: exo, grace_ms: 25000 }
  tool: { driver: process, command: [python3, -m, http.server], restart: { max_restarts: 2 } }
`,
  );
  const config = await loadAgentConfig(file, { env: {} });
  assert.equal(config.coordinator.address, '[fd7a:115c:a1e0::1]:50551');
  assert.equal(config.coordinator.host, 'fd7a:115c:a1e0::1');
  const exo = config.services['exo'];
  const tool = config.services['tool'];
  assert.ok(exo?.driver === 'process' && tool?.driver === 'process');
  assert.deepEqual(exo.command, [join(dir, 'exo', 'run.sh'), '--flag']);
  assert.equal(exo.cwd, join(dir, 'exo'));
  assert.equal(exo.grace_ms, 25_000);
  assert.deepEqual(exo.restart, { initial_delay_ms: 1000, max_delay_ms: 60_000, max_restarts: 5, window_s: 300 });
  assert.deepEqual(tool.command, ['python3', '-m', 'http.server'], 'a bare program name is left for PATH');
  assert.equal(tool.restart.max_restarts, 2);
  assert.equal(tool.restart.window_s, 300);
  assert.equal(config.stopGraceMs, 25_000, 'the longest grace of any process service');
  assert.deepEqual(config.warnings, []);
});

test('every violation at once, each with file:line:col, key path and reason', async (t) => {
  const dir = await tempDir(t);
  const file = await writeConfig(
    dir,
    `node: "srv 1"
coordinator:
  url: "http://100.77.248.9:50551"
  token_file: ./agent.token
sample_interval_ms: "fast"
colour: blue
buffer: { max_age_s: 5 }
services:
  ollama: { driver: systemd, unit: ollama, grace_ms: 5 }
  exo:
    driver: process
    command: []
    env: { EXO_OFFLINE: false }
    restart: { initial_delay_ms: 90000, jitter: 1 }
    unit: exo.service
  web: { driver: docker }
`,
  );
  const err = await expectInvalid(file);
  assert.equal(err.code, 'KAGE_ERR_CONFIG_INVALID');
  assert.ok(err.code.startsWith('KAGE_ERR_CONFIG'), 'the CLI maps KAGE_ERR_CONFIG* to exit 78');
  const expected: [path: string, line: number, col: number, reason: RegExp][] = [
    ['node', 1, 1, /host name/],
    ['coordinator.url', 3, 3, /without a scheme/],
    ['sample_interval_ms', 5, 1, /integer .*got "fast"/],
    ['colour', 6, 1, /^unknown key$/],
    ['buffer.max_age_s', 7, 11, /from 10 to/],
    ['services.ollama.unit', 9, 30, /not a service unit name/],
    ['services.ollama.grace_ms', 9, 44, /unknown key for driver systemd/],
    ['services.exo.command', 12, 5, /non-empty list/],
    ['services.exo.env.EXO_OFFLINE', 13, 12, /must be a string .*got false/],
    ['services.exo.restart.initial_delay_ms', 14, 16, /must not exceed max_delay_ms/],
    ['services.exo.restart.jitter', 14, 41, /^unknown key$/],
    ['services.exo.unit', 15, 5, /belongs to driver systemd/],
    ['services.web.driver', 16, 10, /"systemd" or "process", got "docker"/],
  ];
  for (const [path, line, col, reason] of expected) {
    const p = problemFor(err, path);
    assert.equal(p.file, file);
    assert.deepEqual([p.line, p.column], [line, col], `position of ${path}`);
    assert.match(p.reason, reason, path);
  }
  assert.equal(err.problems.length, expected.length, err.message);
  // The message lists them all, one per line, in file order, in the `file:line:col: path: reason` form.
  const lines = err.message.split('\n').slice(1);
  assert.equal(lines.length, expected.length);
  assert.equal(lines[0], `  - ${file}:1:1: node: ${problemFor(err, 'node').reason}`);
  assert.match(lines[lines.length - 1] ?? '', /:16:10: services\.web\.driver: /);
});

test('token problems: missing file, both or neither form, spaces inside, an empty file', async (t) => {
  const dir = await tempDir(t);
  const missing = await writeConfig(dir, 'coordinator: { url: "h:1", token_file: /nonexistent/kage.token }\n');
  assert.match(problemFor(await expectInvalid(missing), 'coordinator.token_file').reason, /cannot read .*ENOENT/);

  const both = await writeConfig(dir, 'coordinator: { url: "h:1", token_file: agent.token, token: abc }\n');
  assert.match(problemFor(await expectInvalid(both), 'coordinator.token').reason, /not both/);

  const neither = await writeConfig(dir, 'coordinator: { url: "h:1" }\n');
  const p = problemFor(await expectInvalid(neither), 'coordinator');
  assert.match(p.reason, /needs token_file .* or token/);
  assert.deepEqual([p.line, p.column], [1, 1]);

  const spaced = await writeConfig(dir, 'coordinator: { url: "h:1", token_file: agent.token }\n', 'two words\n');
  assert.match(problemFor(await expectInvalid(spaced), 'coordinator.token_file').reason, /exactly one token/);

  const empty = await writeConfig(dir, 'coordinator: { url: "h:1", token_file: agent.token }\n', '\n');
  assert.match(problemFor(await expectInvalid(empty), 'coordinator.token_file').reason, /is empty/);
});

test('a group-readable token file is a warning, logged when a logger is given', async (t) => {
  const dir = await tempDir(t);
  const file = await writeConfig(dir, 'coordinator: { url: "h:1", token_file: agent.token }\n');
  await chmod(join(dir, 'agent.token'), 0o640);
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as never) });
  const config = await loadAgentConfig(file, { env: {}, log });
  assert.equal(config.warnings.length, 1);
  assert.match(config.warnings[0] ?? '', /readable by group\/others \(mode 0640\)/);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.level, 40);
  assert.equal(lines[0]?.msg, config.warnings[0]);
});

test('coordinator.url forms: host:port, [v6]:port; a missing port, a bad port or host is rejected', async (t) => {
  const dir = await tempDir(t);
  const cases: [url: string, ok: RegExp | null][] = [
    ['srv1:50551', null],
    ['srv1.tail1234.ts.net:443', null],
    ['100.77.248.9', /must be "host:port"/],
    ['100.77.248.9:0', /out of range/],
    ['100.77.248.9:70000', /out of range/],
    ['bad_host!:1', /not a valid host/],
    ['[not-v6]:1', /not a valid host/],
    ['grpc://srv1:1', /without a scheme/],
  ];
  for (const [url, bad] of cases) {
    const file = await writeConfig(dir, `coordinator: { url: "${url}", token: t }\n`);
    if (bad === null) {
      assert.equal((await loadAgentConfig(file, { env: {} })).coordinator.address, url);
    } else {
      assert.match(problemFor(await expectInvalid(file), 'coordinator.url').reason, bad, url);
    }
  }
});

test('coordinator.tls files are read (PEM checked, key hidden); cert without key is rejected', async (t) => {
  const dir = await tempDir(t);
  const pem = (what: string) => `-----BEGIN ${what}-----\nAAAA\n-----END ${what}-----\n`;
  await writeFile(join(dir, 'ca.pem'), pem('CERTIFICATE'));
  await writeFile(join(dir, 'cert.pem'), pem('CERTIFICATE'));
  await writeFile(join(dir, 'key.pem'), pem('PRIVATE KEY'), { mode: 0o600 });
  await writeFile(join(dir, 'junk.pem'), 'not pem');
  const file = await writeConfig(
    dir,
    'coordinator: { url: "h:1", token: t, tls: { ca: ca.pem, cert: cert.pem, key: key.pem } }\n',
  );
  const tls = (await loadAgentConfig(file, { env: {} })).coordinator.tls;
  assert.ok(tls !== null);
  assert.equal(tls.caFile, join(dir, 'ca.pem'));
  assert.equal(tls.caPem, pem('CERTIFICATE'));
  assert.equal(tls.keyPem, pem('PRIVATE KEY'));
  assert.ok(!JSON.stringify(tls).includes('PRIVATE KEY'));

  const half = await writeConfig(dir, 'coordinator: { url: "h:1", token: t, tls: { cert: cert.pem, ca: junk.pem } }\n');
  const err = await expectInvalid(half);
  assert.match(problemFor(err, 'coordinator.tls.cert').reason, /go together/);
  assert.match(problemFor(err, 'coordinator.tls.ca').reason, /not a PEM file/);
});

test('YAML syntax errors and duplicate keys are positioned; an empty file or a list is rejected', async (t) => {
  const dir = await tempDir(t);
  const dup = await writeConfig(dir, 'coordinator: { url: "h:1", token: t }\nnode: a\nnode: b\n');
  const dupErr = await expectInvalid(dup);
  assert.equal(dupErr.problems.length, 1);
  assert.equal(dupErr.problems[0]?.line, 3);
  assert.match(dupErr.problems[0]?.reason ?? '', /YAML syntax: .*unique/i);

  const broken = await writeConfig(dir, 'coordinator: { url: "h:1"\n');
  assert.match((await expectInvalid(broken)).problems[0]?.reason ?? '', /^YAML syntax: /);

  const empty = await writeConfig(dir, '# nothing\n');
  assert.match((await expectInvalid(empty)).message, /the file is empty/);

  const list = await writeConfig(dir, '- a\n- b\n');
  assert.match((await expectInvalid(list)).message, /must be a mapping/);

  const services = await writeConfig(dir, 'coordinator: { url: "h:1", token: t }\nservices:\n');
  assert.match(problemFor(await expectInvalid(services), 'services').reason, /services: \{\}/);
});

test('an unreadable config file is KAGE_ERR_CONFIG_READ, still a config error', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'nope.yaml');
  await assert.rejects(loadAgentConfig(file), (err: unknown) => {
    assert.ok(err instanceof AgentConfigError);
    assert.equal(err.code, 'KAGE_ERR_CONFIG_READ');
    assert.equal(err.message, `${file}: cannot read the agent config: ENOENT (no such file or directory)`);
    return true;
  });
});

test('a unit supervised twice and a bad service name are rejected', async (t) => {
  const dir = await tempDir(t);
  const file = await writeConfig(
    dir,
    `coordinator: { url: "h:1", token: t }
services:
  ollama: { driver: systemd, unit: ollama.service }
  ollama2: { driver: systemd, unit: ollama.service, health: "not a url" }
  "-x": { driver: systemd, unit: x.service }
`,
  );
  const err = await expectInvalid(file);
  assert.match(problemFor(err, 'services.ollama2.unit').reason, /already supervised as service "ollama"/);
  assert.match(problemFor(err, 'services.ollama2.health').reason, /not a URL/);
  assert.match(problemFor(err, 'services.-x').reason, /invalid service name/);
});
