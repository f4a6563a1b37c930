// coordinator.yaml: defaults, relative paths, token files and TLS files, every violation reported at
// once with file:line:col, and hostile files (binary, huge, alias bombs) turned into short errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import type { Problem } from '@kage/common';
import {
  CoordinatorConfigError,
  loadCoordinatorConfig,
  parseCoordinatorConfig,
  type CoordinatorConfig,
} from '../src/config/coordinator-config.js';
import { CoordinatorError } from '../src/coordinator-error.js';

interface Ctx {
  after: (fn: () => Promise<void>) => void;
}

const AGENT_TOKEN_1 = 'agent-srv1-0123456789abcdef';
const AGENT_TOKEN_2 = 'agent-rog-fedcba9876543210';
const API_TOKEN = 'api-00112233445566778899';

async function tempDir(t: Ctx): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-coordinator-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes a file with an exact mode (the umask does not apply to chmod). */
async function put(file: string, content: string | Buffer, mode = 0o600): Promise<string> {
  await writeFile(file, content);
  await chmod(file, mode);
  return file;
}

/** Writes `coordinator.yaml` (mode 0600) in `dir` and returns its path. */
async function writeConfig(dir: string, yaml: string, mode = 0o600): Promise<string> {
  return put(join(dir, 'coordinator.yaml'), yaml, mode);
}

/** Writes the agent tokens file and the API token file beside the config, both 0600. */
async function writeTokenFiles(dir: string): Promise<void> {
  await put(join(dir, 'agent-tokens.yaml'), `srv1: ${AGENT_TOKEN_1}\nrog: "${AGENT_TOKEN_2}"\n`);
  await put(join(dir, 'api.token'), `${API_TOKEN}\n`);
}

const FILE_AUTH = 'auth: { agent_tokens_file: agent-tokens.yaml, api_token_file: api.token }';
const INLINE_AUTH = `auth: { agent_tokens: { srv1: ${AGENT_TOKEN_1} }, api_token: ${API_TOKEN} }`;

/** A minimal valid config with `auth` and extra lines substituted. */
function minimal(auth = INLINE_AUTH, extra = ''): string {
  return `grpc: { listen: "0.0.0.0:50551" }\nhttp: { listen: "0.0.0.0:7080" }\ndb: kage.db\n${auth}\n${extra}`;
}

async function expectInvalid(file: string): Promise<CoordinatorConfigError> {
  try {
    await loadCoordinatorConfig(file);
  } catch (err) {
    assert.ok(err instanceof CoordinatorConfigError, `expected CoordinatorConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('the config was accepted');
}

function problemFor(err: CoordinatorConfigError, path: string, file?: string): Problem {
  const found = err.problems.find((p) => p.path === path && (file === undefined || p.file === file));
  assert.ok(found, `no problem at ${path}; got:\n${err.message}`);
  return found;
}

/** A short, printable message: nothing a terminal would interpret, nothing that buries the rest. */
function assertShortAndPrintable(err: CoordinatorConfigError, file: string): void {
  assert.ok(err.message.length < 2048, `message is ${err.message.length} characters:\n${err.message}`);
  assert.doesNotMatch(err.message, /(?!\n)\p{Cc}/u, 'raw control characters in the message');
  assert.ok(err.message.includes(file), 'the message names the file');
}

/** Deterministic bytes (mulberry32), so a failure can be replayed. */
function randomBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let a = seed >>> 0;
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (t ^ (t >>> 14)) & 0xff;
  }
  return out;
}

const pem = (what: string) => `-----BEGIN ${what}-----\nAAAA\n-----END ${what}-----\n`;

test('a full config resolves: paths relative to the file, token files read, TLS read, deep-frozen', async (t) => {
  const dir = await tempDir(t);
  await writeTokenFiles(dir);
  await mkdir(join(dir, 'tls'));
  await put(join(dir, 'tls', 'ca.pem'), pem('CERTIFICATE'), 0o644);
  await put(join(dir, 'tls', 'cert.pem'), pem('CERTIFICATE'), 0o644);
  await put(join(dir, 'tls', 'key.pem'), pem('PRIVATE KEY'));
  const file = await writeConfig(
    dir,
    `grpc:
  listen: "0.0.0.0:50551"
  tls: { ca: tls/ca.pem, cert: ./tls/cert.pem, key: ${join(dir, 'tls', 'key.pem')}, require_client_cert: true }
  keepalive_time_ms: 20000
  keepalive_timeout_ms: 7000
  max_message_bytes: 8388608
http: { listen: "[::1]:7080" }
db: state/kage.db
${FILE_AUTH}
retention: { raw_hours: 48, minute_days: 90 }
gateway:
  listen: "0.0.0.0:11500"
  backends:
    - { id: ollama-srv1, kind: ollama, url: "http://100.77.248.9:11434/", nodes: [srv1], num_parallel: 2 }
    - { id: exo-cluster, kind: exo, url: "http://100.77.248.9:52415", nodes: [srv1, rog] }
  models: [{ name: "my:7b", exo: "org/My-7B" }]
  sticky: false
`,
  );
  const config: CoordinatorConfig = await loadCoordinatorConfig(file);
  assert.equal(config.file, file);
  assert.equal(config.grpc.host, '0.0.0.0');
  assert.equal(config.grpc.port, 50551);
  assert.equal(config.grpc.keepaliveTimeMs, 20_000);
  assert.equal(config.grpc.keepaliveTimeoutMs, 7000);
  assert.equal(config.grpc.maxMessageBytes, 8 * 1024 * 1024);
  const tls = config.grpc.tls;
  assert.ok(tls !== null);
  assert.ok(Buffer.isBuffer(tls.ca) && Buffer.isBuffer(tls.cert) && Buffer.isBuffer(tls.key));
  assert.equal(tls.ca.toString(), pem('CERTIFICATE'));
  assert.equal(tls.key.toString(), pem('PRIVATE KEY'));
  assert.equal(tls.requireClientCert, true);
  assert.deepEqual(config.http, { host: '::1', port: 7080 });
  assert.equal(config.db, join(dir, 'state', 'kage.db'));
  assert.deepEqual(
    [...config.agentTokens],
    [
      ['srv1', AGENT_TOKEN_1],
      ['rog', AGENT_TOKEN_2],
    ],
  );
  assert.equal(config.apiToken, API_TOKEN, 'the trailing newline is trimmed');
  assert.deepEqual(config.retention, { rawHours: 48, minuteDays: 90 });
  assert.ok(config.gateway !== null);
  assert.deepEqual(
    { host: config.gateway.host, port: config.gateway.port, sticky: config.gateway.sticky },
    { host: '0.0.0.0', port: 11500, sticky: false },
  );
  assert.deepEqual(config.gateway.backends, [
    { id: 'ollama-srv1', kind: 'ollama', url: 'http://100.77.248.9:11434', nodes: ['srv1'], numParallel: 2 },
    { id: 'exo-cluster', kind: 'exo', url: 'http://100.77.248.9:52415', nodes: ['srv1', 'rog'], numParallel: 1 },
  ]);
  assert.deepEqual(config.gateway.models, [{ name: 'my:7b', exo: 'org/My-7B' }]);
  assert.equal(config.gateway.firstByteTimeoutMs, 600_000, 'defaults filled in');
  assert.equal(config.gateway.clientTokens.size, 0, 'no client tokens: open');

  // Deep-frozen, the token map included.
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.grpc) && Object.isFrozen(tls));
  assert.ok(Object.isFrozen(config.gateway) && Object.isFrozen(config.gateway.backends));
  assert.throws(() => {
    (config as { db: string }).db = 'x';
  }, TypeError);
  assert.throws(() => (config.agentTokens as Map<string, string>).set('evil', 'x'.repeat(20)), TypeError);
  assert.throws(() => (config.agentTokens as Map<string, string>).delete('srv1'), TypeError);
  assert.equal(config.agentTokens.size, 2);

  // No secret shows up when the config is logged, serialised or inspected.
  for (const shown of [JSON.stringify(config), inspect(config, { depth: 10 })]) {
    for (const secret of [AGENT_TOKEN_1, AGENT_TOKEN_2, API_TOKEN, 'PRIVATE KEY']) {
      assert.ok(!shown.includes(secret), `${secret} is shown`);
    }
  }
});

test('defaults: keepalive 10 s + 5 s, 4 MiB messages, 24 h raw, 30 days of minutes, no TLS, no gateway', async (t) => {
  const dir = await tempDir(t);
  const config = await loadCoordinatorConfig(await writeConfig(dir, minimal()));
  assert.deepEqual(
    { ...config.grpc },
    {
      host: '0.0.0.0',
      port: 50551,
      tls: null,
      keepaliveTimeMs: 10_000,
      keepaliveTimeoutMs: 5000,
      maxMessageBytes: 4 * 1024 * 1024,
    },
  );
  assert.deepEqual(config.retention, { rawHours: 24, minuteDays: 30 });
  assert.equal(config.gateway, null);
  assert.equal(config.db, join(dir, 'kage.db'));
  assert.deepEqual([...config.agentTokens], [['srv1', AGENT_TOKEN_1]]);
  assert.equal(config.apiToken, API_TOKEN);
});

test('parseCoordinatorConfig validates text as if read from the given file', async (t) => {
  const dir = await tempDir(t);
  const config = await parseCoordinatorConfig(minimal(), join(dir, 'sub', 'c.yaml'));
  assert.equal(config.db, join(dir, 'sub', 'kage.db'));
  await assert.rejects(parseCoordinatorConfig('grpc: 1\n', 'inline.yaml'), (err: unknown) => {
    assert.ok(err instanceof CoordinatorConfigError && err instanceof CoordinatorError);
    assert.equal(err.code, 'KAGE_ERR_CONFIG_INVALID');
    assert.match(err.message, /^invalid coordinator config inline\.yaml \(\d+ problems\):\n/);
    return true;
  });
});

test('every violation at once, each with file:line:col, key path and reason; unknown keys at every level', async (t) => {
  const dir = await tempDir(t);
  const file = await writeConfig(
    dir,
    `grpc:
  listen: 50551
  tls: { cert: c.pem, key: k.pem, colour: red }
  keepalive_time_ms: fast
  max_message_bytes: 1024
  extra: 1
http: { listen: "0.0.0.0:7080", tls: true }
db: 42
auth:
  agent_tokens: [srv1]
  api_token: ${API_TOKEN}
  api_token_files: x
retention: { raw_hours: 0, minute_days: 3651, weekly: 1 }
gateway: [a]
sample_offline_after_intervals: 3
`,
  );
  const err = await expectInvalid(file);
  assert.equal(err.code, 'KAGE_ERR_CONFIG_INVALID');
  assert.ok(err.code.startsWith('KAGE_ERR_CONFIG'), 'the CLI maps KAGE_ERR_CONFIG* to exit 78');
  assert.ok(err instanceof CoordinatorError);
  const expected: [path: string, line: number, col: number, reason: RegExp][] = [
    ['grpc.listen', 2, 3, /"host:port".*got 50551/],
    ['grpc.tls.colour', 3, 35, /^unknown key$/],
    ['grpc.keepalive_time_ms', 4, 3, /integer from 1000 to 3600000 .*got "fast"/],
    ['grpc.max_message_bytes', 5, 3, /1 MiB.*got 1024/],
    ['grpc.extra', 6, 3, /^unknown key$/],
    ['http.tls', 7, 33, /^unknown key$/],
    ['db', 8, 1, /non-empty path.*got 42/],
    ['auth.agent_tokens', 10, 3, /mapping of node id → token, got a list/],
    ['auth.api_token_files', 12, 3, /^unknown key$/],
    ['retention.raw_hours', 13, 14, /from 1 to 8760/],
    ['retention.minute_days', 13, 28, /from 1 to 3650/],
    ['retention.weekly', 13, 47, /^unknown key$/],
    ['gateway', 14, 1, /must be a mapping of keys \(listen, backends/],
    ['sample_offline_after_intervals', 15, 1, /^unknown key$/],
  ];
  for (const [path, line, col, reason] of expected) {
    const p = problemFor(err, path);
    assert.equal(p.file, file);
    assert.deepEqual([p.line, p.column], [line, col], `position of ${path}`);
    assert.match(p.reason, reason, path);
  }
  // The TLS files do not exist either: reported with the key and the file.
  assert.match(problemFor(err, 'grpc.tls.cert').reason, new RegExp(`cannot read ${join(dir, 'c.pem')}: ENOENT`));
  assert.match(problemFor(err, 'grpc.tls.key').reason, /cannot read .*k\.pem: ENOENT/);
  assert.equal(err.problems.length, expected.length + 2, err.message);
  // One line per problem, in file order, as `file:line:col: path: reason`.
  const lines = err.message.split('\n');
  assert.equal(lines[0], `invalid coordinator config ${file} (${expected.length + 2} problems):`);
  assert.equal(lines[1], `  - ${file}:2:3: grpc.listen: ${problemFor(err, 'grpc.listen').reason}`);
  assert.match(lines.at(-1) ?? '', /:15:1: sample_offline_after_intervals: unknown key$/);
  assert.equal(err.file, file);
  assert.match(err.hint ?? '', /exit 78/);
});

test('required sections: a missing grpc, http, db or auth is named', async (t) => {
  const dir = await tempDir(t);
  const err = await expectInvalid(await writeConfig(dir, 'retention: {}\n'));
  for (const key of ['grpc', 'http', 'db', 'auth']) {
    assert.match(problemFor(err, key).reason, /required key is missing/);
  }
  const empty = await expectInvalid(await writeConfig(dir, minimal('auth: {}')));
  assert.match(problemFor(empty, 'auth').reason, /needs agent_tokens_file .* or agent_tokens/);
  assert.equal(empty.problems.filter((p) => p.path === 'auth').length, 2, 'agent and API token both missing');
});

test("gateway: every problem named by key; its port must not be the API's; client tokens from a file", async (t) => {
  const dir = await tempDir(t);
  const bad = await expectInvalid(
    await writeConfig(
      dir,
      minimal(
        INLINE_AUTH,
        `gateway:
  listen: "0.0.0.0:7080"
  backends:
    - { id: a, kind: ollama, url: "http://10.0.0.1:11434/api" }
    - { id: a, kind: vllm, url: "ftp://x" }
    - { id: "b c", kind: exo, url: "http://10.0.0.2:52415", colour: red }
  models: [{ name: "x:1b" }]
  client_tokens_file: missing.txt
  sticky: maybe
`,
      ),
    ),
  );
  assert.match(problemFor(bad, 'gateway.listen').reason, /port 7080 is taken by http\.listen/);
  assert.match(problemFor(bad, 'gateway.backends[0].url').reason, /without the trailing \/api/);
  assert.match(problemFor(bad, 'gateway.backends[1].kind').reason, /must be ollama or exo/);
  assert.match(problemFor(bad, 'gateway.backends[1].id').reason, /duplicate backend id "a"/);
  assert.match(problemFor(bad, 'gateway.backends[2].id').reason, /letters, digits/);
  assert.match(problemFor(bad, 'gateway.backends[2].colour').reason, /^unknown key$/);
  assert.match(problemFor(bad, 'gateway.models[0].exo').reason, /required key is missing/);
  assert.match(problemFor(bad, 'gateway.client_tokens_file').reason, /missing\.txt cannot be read \(ENOENT\)/);
  assert.match(problemFor(bad, 'gateway.sticky').reason, /true or false/);

  await put(join(dir, 'clients.txt'), '# one per line\nclient-token-0123456789abcdef\n');
  const ok = await loadCoordinatorConfig(
    await writeConfig(
      dir,
      minimal(
        INLINE_AUTH,
        'gateway: { listen: "127.0.0.1:11500", backends: [{ id: o, kind: ollama, url: "http://127.0.0.1:11434" }], client_tokens_file: clients.txt }\n',
      ),
    ),
  );
  assert.deepEqual([...(ok.gateway?.clientTokens ?? [])], ['client-token-0123456789abcdef']);
  assert.ok(!JSON.stringify(ok).includes('client-token-0123456789abcdef'), 'client tokens are never serialised');
});

test('listen addresses: host:port, [v6]:port, port 0; URLs, bare IPv6, bad hosts and ports are rejected', async (t) => {
  const dir = await tempDir(t);
  const cases: [listen: string, ok: [string, number] | RegExp][] = [
    ['127.0.0.1:7080', ['127.0.0.1', 7080]],
    ['localhost:0', ['localhost', 0]],
    ['coord.tail1234.ts.net:443', ['coord.tail1234.ts.net', 443]],
    ['[::]:7080', ['::', 7080]],
    ['[fd7a:115c:a1e0::1]:65535', ['fd7a:115c:a1e0::1', 65535]],
    ['http://0.0.0.0:7080', /is a URL; a listen address is "host:port" without http:\/\//],
    ['grpc://srv1:1', /without grpc:\/\//],
    ['0.0.0.0', /must be "host:port"/],
    ['0.0.0.0:7080/', /must be "host:port"/],
    [':7080', /the host is missing/],
    ['::1:7080', /IPv6 address goes in brackets/],
    ['0.0.0.0:65536', /port 65536 is out of range \(0-65535/],
    ['0.0.0.0:99999999', /out of range/],
    ['bad_host!:1', /not a valid host/],
    ['999.1.1.1:1', /not a valid host/],
    ['[not-v6]:1', /not a valid host/],
  ];
  for (const [listen, want] of cases) {
    const file = await writeConfig(dir, minimal(INLINE_AUTH).replace('"0.0.0.0:7080"', JSON.stringify(listen)));
    if (Array.isArray(want)) {
      const config = await loadCoordinatorConfig(file);
      assert.deepEqual([config.http.host, config.http.port], want, listen);
    } else {
      assert.match(problemFor(await expectInvalid(file), 'http.listen').reason, want, listen);
    }
  }
  const same = await writeConfig(dir, minimal().replace('"0.0.0.0:7080"', '"127.0.0.1:50551"'));
  assert.match(problemFor(await expectInvalid(same), 'http.listen').reason, /port 50551 is taken by grpc\.listen/);
});

test('auth: agent tokens and the API token each exactly one way', async (t) => {
  const dir = await tempDir(t);
  await writeTokenFiles(dir);
  const both = await writeConfig(
    dir,
    minimal(
      `auth:\n  agent_tokens_file: agent-tokens.yaml\n  agent_tokens: { srv1: ${AGENT_TOKEN_1} }\n` +
        `  api_token_file: api.token\n  api_token: ${API_TOKEN}`,
    ),
  );
  const err = await expectInvalid(both);
  assert.match(problemFor(err, 'auth.agent_tokens').reason, /either agent_tokens_file or agent_tokens, not both/);
  assert.match(problemFor(err, 'auth.api_token').reason, /either api_token_file or api_token, not both/);
  assert.equal(err.problems.length, 2, err.message);

  const neither = await expectInvalid(
    await writeConfig(dir, minimal('auth: { agent_tokens_file: agent-tokens.yaml }')),
  );
  const p = problemFor(neither, 'auth');
  assert.match(p.reason, /needs api_token_file \(recommended\) or api_token/);
  assert.deepEqual([p.line, p.column], [4, 1]);

  const mixed = await loadCoordinatorConfig(
    await writeConfig(dir, minimal(`auth: { agent_tokens_file: agent-tokens.yaml, api_token: ${API_TOKEN} }`)),
  );
  assert.equal(mixed.agentTokens.get('rog'), AGENT_TOKEN_2);
  assert.equal(mixed.apiToken, API_TOKEN);
});

test('tokens file: duplicate tokens, short tokens, a bad node id are reported in that file, never quoted', async (t) => {
  const dir = await tempDir(t);
  await put(join(dir, 'api.token'), `${API_TOKEN}\n`);
  const tokensFile = await put(
    join(dir, 'agent-tokens.yaml'),
    `# node id: token
srv1: ${AGENT_TOKEN_1}
rog: ${AGENT_TOKEN_1}
mac: short-token
"bad node": ${AGENT_TOKEN_2}
pi: 12345678901234567890
nas: "has space inside token"
`,
  );
  const file = await writeConfig(dir, minimal(FILE_AUTH));
  const err = await expectInvalid(file);
  const expected: [path: string, line: number, reason: RegExp][] = [
    ['rog', 3, /has the same token as node "srv1": every node needs a token of its own/],
    ['mac', 4, /shorter than 16 characters/],
    ['bad node', 5, /not a valid node id/],
    ['pi', 6, /must be a string \(quote it\), got a number/],
    ['nas', 7, /printable ASCII without spaces \(it travels in an HTTP\/2 header\)/],
  ];
  for (const [path, line, reason] of expected) {
    const p = problemFor(err, path, tokensFile);
    assert.deepEqual([p.line, p.column], [line, 1], path);
    assert.match(p.reason, reason, path);
  }
  assert.equal(err.problems.length, expected.length, err.message);
  assert.ok(err.message.includes(`${tokensFile}:3:1: rog: `), err.message);
  for (const secret of [AGENT_TOKEN_1, AGENT_TOKEN_2, 'short-token', '12345678901234567890', 'inside token']) {
    assert.ok(!err.message.includes(secret), `the message quotes ${secret}`);
  }

  await put(tokensFile, '{}\n');
  assert.match(problemFor(await expectInvalid(file), '', tokensFile).reason, /lists no node/);
  await put(tokensFile, `${AGENT_TOKEN_1}\n`);
  const scalar = await expectInvalid(file);
  assert.match(problemFor(scalar, '', tokensFile).reason, /must be a mapping of node id → token/);
  assert.ok(!scalar.message.includes(AGENT_TOKEN_1), 'a token file given by mistake is not quoted');
  await put(tokensFile, 'srv1: a\nsrv1: b\n');
  const dup = problemFor(await expectInvalid(file), '', tokensFile);
  assert.equal(dup.line, 2);
  assert.match(dup.reason, /^YAML syntax: .*unique/i);
  await rm(tokensFile);
  const missing = problemFor(await expectInvalid(file), 'auth.agent_tokens_file', file);
  assert.equal(missing.reason, `cannot read ${tokensFile}: ENOENT (no such file or directory)`);
});

test('inline tokens follow the same rules, positioned in the config', async (t) => {
  const dir = await tempDir(t);
  const tokens = `  agent_tokens: { srv1: ${AGENT_TOKEN_1}, rog: ${AGENT_TOKEN_1}, -x: ${AGENT_TOKEN_2} }`;
  const file = await writeConfig(dir, minimal(`auth:\n${tokens}\n  api_token: short`));
  const err = await expectInvalid(file);
  assert.deepEqual(
    err.problems.map((p) => [p.path, p.line, p.column]),
    [
      ['auth.agent_tokens.rog', 5, tokens.indexOf('rog:') + 1],
      ['auth.agent_tokens.-x', 5, tokens.indexOf('-x:') + 1],
      ['auth.api_token', 6, 3],
    ],
  );
  assert.match(problemFor(err, 'auth.agent_tokens.rog').reason, /same token as node "srv1"/);
  assert.match(problemFor(err, 'auth.api_token').reason, /shorter than 16/);

  const shared = await writeConfig(
    dir,
    minimal(`auth: { agent_tokens: { srv1: ${API_TOKEN} }, api_token: ${API_TOKEN} }`),
  );
  assert.match(
    problemFor(await expectInvalid(shared), 'auth.api_token').reason,
    /also the token of node "srv1": it must differ from every agent token/,
  );
});

test('API token file: trailing newline trimmed; empty, two lines or spaces are rejected', async (t) => {
  const dir = await tempDir(t);
  const tokenFile = join(dir, 'api.token');
  const file = await writeConfig(
    dir,
    minimal(`auth: { agent_tokens: { srv1: ${AGENT_TOKEN_1} }, api_token_file: api.token }`),
  );
  for (const [content, want] of [
    [`${API_TOKEN}\r\n`, null],
    [API_TOKEN, null],
    ['\n', /api\.token is empty$/],
    [`${API_TOKEN}\n${API_TOKEN}\n`, /printable ASCII without spaces/],
    [` ${API_TOKEN}\n`, /printable ASCII without spaces/],
    ['0123456789\n', /the token in .*api\.token is shorter than 16/],
  ] as const) {
    await put(tokenFile, content);
    if (want === null) assert.equal((await loadCoordinatorConfig(file)).apiToken, API_TOKEN);
    else assert.match(problemFor(await expectInvalid(file), 'auth.api_token_file').reason, want);
  }
});

test('token files readable by group/others are refused; so are inline tokens in such a config', async (t) => {
  const dir = await tempDir(t);
  await writeTokenFiles(dir);
  const file = await writeConfig(dir, minimal(FILE_AUTH));
  await chmod(join(dir, 'agent-tokens.yaml'), 0o640);
  await chmod(join(dir, 'api.token'), 0o604);
  const err = await expectInvalid(file);
  assert.equal(
    problemFor(err, 'auth.agent_tokens_file').reason,
    `${join(dir, 'agent-tokens.yaml')} is readable by group/others (mode 0640); ` +
      `make it owned by the coordinator's user with mode 0600`,
  );
  assert.match(problemFor(err, 'auth.api_token_file').reason, /readable by group\/others \(mode 0604\)/);
  assert.equal(err.problems.length, 2);

  // A world-readable config is fine as long as it holds no token.
  await chmod(join(dir, 'agent-tokens.yaml'), 0o600);
  await chmod(join(dir, 'api.token'), 0o400);
  await chmod(file, 0o644);
  assert.equal((await loadCoordinatorConfig(file)).apiToken, API_TOKEN);

  const inline = await writeConfig(dir, minimal(), 0o644);
  const inlineErr = await expectInvalid(inline);
  assert.match(
    problemFor(inlineErr, 'auth.agent_tokens').reason,
    /token written inline in .*coordinator\.yaml, which is readable by group\/others \(mode 0644\); .*agent_tokens_file/,
  );
  assert.match(problemFor(inlineErr, 'auth.api_token').reason, /mode 0644.*or use api_token_file/);
});

test('grpc.tls: cert and key together, require_client_cert needs ca, files must exist and be PEM', async (t) => {
  const dir = await tempDir(t);
  await put(join(dir, 'cert.pem'), pem('CERTIFICATE'), 0o644);
  await put(join(dir, 'key.pem'), pem('PRIVATE KEY'));
  await put(join(dir, 'junk.pem'), 'not pem');
  const withTls = (tls: string) =>
    writeConfig(dir, minimal(INLINE_AUTH).replace('listen: "0.0.0.0:50551"', `listen: "0.0.0.0:50551", tls: ${tls}`));

  const half = await expectInvalid(await withTls('{ cert: cert.pem, require_client_cert: true }'));
  assert.match(problemFor(half, 'grpc.tls.cert').reason, /cert and key go together/);
  assert.match(problemFor(half, 'grpc.tls.require_client_cert').reason, /needs ca/);

  assert.match(problemFor(await expectInvalid(await withTls('{}')), 'grpc.tls').reason, /needs cert and key/);

  const missing = await expectInvalid(await withTls('{ cert: cert.pem, key: key.pem, ca: nowhere/ca.pem }'));
  assert.equal(
    problemFor(missing, 'grpc.tls.ca').reason,
    `cannot read ${join(dir, 'nowhere', 'ca.pem')}: ENOENT (no such file or directory)`,
  );
  assert.ok(missing.message.includes(`grpc.tls.ca: cannot read ${join(dir, 'nowhere', 'ca.pem')}`));

  const junk = await expectInvalid(await withTls('{ cert: junk.pem, key: key.pem, require_client_cert: "yes" }'));
  assert.match(problemFor(junk, 'grpc.tls.cert').reason, /junk\.pem is not a PEM file/);
  assert.match(problemFor(junk, 'grpc.tls.require_client_cert').reason, /must be true or false, got "yes"/);

  const ok = await loadCoordinatorConfig(await withTls('{ cert: cert.pem, key: key.pem }'));
  assert.equal(ok.grpc.tls?.ca, null);
  assert.equal(ok.grpc.tls?.requireClientCert, false);
  assert.ok(!Object.keys(ok.grpc.tls ?? {}).includes('key'), 'the key is not enumerable');
});

test('db: required, relative to the file, never :memory:, never a directory or ~', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'data'));
  const cases: [db: string, want: string | RegExp][] = [
    ['../kage.db', join(dir, '..', 'kage.db')],
    [join(dir, 'x.db'), join(dir, 'x.db')],
    ['":memory:"', /in-memory database loses every node, sample and run/],
    ['data', /data is a directory; give the database file, e.g. .*data\/kage\.db/],
    ['~/kage.db', /"~" is not expanded/],
    ['""', /non-empty path/],
  ];
  for (const [db, want] of cases) {
    const file = await writeConfig(dir, minimal().replace('db: kage.db', `db: ${db}`));
    if (typeof want === 'string') assert.equal((await loadCoordinatorConfig(file)).db, want);
    else assert.match(problemFor(await expectInvalid(file), 'db').reason, want, db);
  }
});

test('hostile: a YAML alias bomb is a config error naming the file, not a crash', async (t) => {
  const dir = await tempDir(t);
  let bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
  for (let i = 1; i < 10; i++)
    bomb += `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
      .fill(`*${String.fromCharCode(96 + i)}`)
      .join(',')}]\n`;
  const file = await writeConfig(dir, bomb);
  const err = await expectInvalid(file);
  assert.equal(err.code, 'KAGE_ERR_CONFIG_INVALID');
  assert.match(err.message, /aliases expand too far/);
  assertShortAndPrintable(err, file);

  // The same in the tokens file: reported under the tokens file's name.
  await put(join(dir, 'api.token'), API_TOKEN);
  const tokensFile = await put(join(dir, 'agent-tokens.yaml'), bomb);
  const tokensErr = await expectInvalid(await writeConfig(dir, minimal(FILE_AUTH)));
  assert.match(problemFor(tokensErr, '', tokensFile).reason, /aliases expand too far/);
});

test('hostile: binary files, random bytes and control characters give one short printable line', async (t) => {
  const dir = await tempDir(t);
  const png = Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), randomBytes(4000, 1)]);
  const cases: [name: string, content: Buffer, reason: RegExp][] = [
    ['png', png, /not a text file/],
    ['random 60 kB', randomBytes(60_000, 2), /not a text file/],
    [
      'random 100 kB',
      randomBytes(100_000, 3),
      /the file is 100000 bytes: too large for a coordinator config \(at most 64 KiB\)/,
    ],
    ['utf-8 with controls', Buffer.from('grpc: { listen: "0.0.0.0:1" }\nhttp:\x1b[2J\x07\n'), /control character 0x1b/],
    ['NUL only', Buffer.alloc(1000), /not a text file/],
  ];
  for (const [name, content, reason] of cases) {
    const file = await put(join(dir, `${name}.yaml`), content);
    const err = await expectInvalid(file);
    assert.equal(err.problems.length, 1, `${name}:\n${err.message}`);
    assert.match(err.message, reason, name);
    assertShortAndPrintable(err, file);
  }
  const controls = problemFor(await expectInvalid(join(dir, 'utf-8 with controls.yaml')), '');
  assert.deepEqual([controls.line, controls.column], [2, 6]);

  // A binary tokens file is refused the same way, at the key that names it.
  await put(join(dir, 'api.token'), API_TOKEN);
  await put(join(dir, 'agent-tokens.yaml'), randomBytes(2000, 4));
  const tokensErr = await expectInvalid(await writeConfig(dir, minimal(FILE_AUTH)));
  assert.match(problemFor(tokensErr, 'auth.agent_tokens_file').reason, /agent-tokens\.yaml is not a text file/);
  assertShortAndPrintable(tokensErr, join(dir, 'coordinator.yaml'));
});

test('hostile: deep nesting, garbage YAML and thousands of unknown keys stay short', async (t) => {
  const dir = await tempDir(t);
  const deep = await writeConfig(dir, `gateway: ${'['.repeat(30_000)}${']'.repeat(30_000)}\n`);
  assertShortAndPrintable(await expectInvalid(deep), deep);

  const garbage = await writeConfig(dir, '{['.repeat(20_000));
  const garbageErr = await expectInvalid(garbage);
  assert.match(garbageErr.message, /YAML syntax/);
  assert.ok(garbageErr.message.length < 4096, garbageErr.message);

  let many = minimal();
  for (let i = 0; i < 2000; i++) many += `k${i}: 1\n`;
  const manyErr = await expectInvalid(await writeConfig(dir, many));
  assert.equal(manyErr.problems.length, 50);
  assert.equal(manyErr.problems.at(-1)?.reason, '… and 1951 more problems');
});

test('empty, comment-only, scalar and list files are rejected with a reason', async (t) => {
  const dir = await tempDir(t);
  const cases: [content: string, reason: RegExp][] = [
    ['', /the file is empty/],
    ['# nothing\n', /the file is empty/],
    [
      'just a string\n',
      /must be a mapping of keys \(grpc, http, db, auth, retention, gateway, emulated\), got a string/,
    ],
    ['- a\n- b\n', /must be a mapping of keys .*got a list/],
    ['grpc: { listen: "h:1"\n', /^YAML syntax: /],
    ['db: a\ndb: b\n', /YAML syntax: .*unique/i],
  ];
  for (const [content, reason] of cases) {
    const file = await writeConfig(dir, content);
    const err = await expectInvalid(file);
    assert.equal(err.problems.length, 1, err.message);
    assert.match(err.problems[0]?.reason ?? '', reason, JSON.stringify(content));
    assertShortAndPrintable(err, file);
  }
});

test('an unreadable config is KAGE_ERR_CONFIG_READ: missing, a directory, a FIFO (without waiting for a writer)', async (t) => {
  const dir = await tempDir(t);
  const missing = join(dir, 'nope.yaml');
  await assert.rejects(loadCoordinatorConfig(missing), (err: unknown) => {
    assert.ok(err instanceof CoordinatorConfigError);
    assert.equal(err.code, 'KAGE_ERR_CONFIG_READ');
    assert.equal(err.message, `${missing}: cannot read the coordinator config: ENOENT (no such file or directory)`);
    return true;
  });
  await assert.rejects(loadCoordinatorConfig(dir), (err: unknown) => {
    assert.ok(err instanceof CoordinatorConfigError);
    assert.equal(err.code, 'KAGE_ERR_CONFIG_READ');
    assert.match(err.message, /not a regular file/);
    return true;
  });
  const fifo = join(dir, 'fifo.yaml');
  if (spawnSync('mkfifo', [fifo]).status === 0) {
    await assert.rejects(loadCoordinatorConfig(fifo), /not a regular file/);
  }
});
