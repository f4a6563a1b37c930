// A service's version: read from `version_url` (Ollama's /api/version) or the exact tag of a
// `version_git` checkout (EXO) each time the service becomes healthy, carried by the health event
// and the status; the config keys are checked like the rest of agent.yaml.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AgentConfigError,
  createProcessService,
  loadAgentConfig,
  readGitTag,
  readServiceVersion,
  type ServiceEvent,
} from '../src/index.js';
import { FAST, captureLog, childCommand, defer, tempDir, waitFor } from './helpers/supervision-fixtures.js';

/** A git checkout whose commit carries `tag` (none when null); null when git is not installed. */
async function checkout(t: TestContext, tag: string | null): Promise<string | null> {
  const dir = await mkdtemp(join(tmpdir(), 'kage-version-git-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const git = (...args: string[]) =>
    spawnSync('git', ['-C', dir, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { encoding: 'utf8' });
  if (git('init', '-q').error !== undefined) return null;
  git('commit', '-q', '--allow-empty', '-m', 'x');
  if (tag !== null) git('tag', tag);
  return dir;
}

/** An HTTP server answering every GET with `body`; its base URL. */
async function answering(t: TestContext, body: () => string): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('readGitTag: the exact tag of a checkout; null for an untagged commit or a plain directory', async (t) => {
  const tagged = await checkout(t, 'v1.0.71');
  if (tagged === null) {
    t.skip('git is not installed');
    return;
  }
  assert.equal(await readGitTag(tagged, { timeoutMs: 5000 }), 'v1.0.71');
  const untagged = await checkout(t, null);
  assert.equal(await readGitTag(untagged!, { timeoutMs: 5000 }), null);
  assert.equal(await readGitTag(await tempDir(t), { timeoutMs: 5000 }), null);
});

test('readServiceVersion: the JSON `version` of version_url; null for no JSON, no string or no source', async (t) => {
  let body = '{"version":"0.6.2"}';
  const url = await answering(t, () => body);
  assert.equal(await readServiceVersion({ version_url: `${url}/api/version` }, { timeoutMs: 2000 }), '0.6.2');
  body = 'Ollama is running';
  assert.equal(await readServiceVersion({ version_url: url }, { timeoutMs: 2000 }), null);
  body = '{"version":3}';
  assert.equal(await readServiceVersion({ version_url: url }, { timeoutMs: 2000 }), null);
  body = `{"version":"${'9'.repeat(500)}"}`;
  assert.equal(await readServiceVersion({ version_url: url }, { timeoutMs: 2000 }), null, 'not a version');
  assert.equal(await readServiceVersion({}, { timeoutMs: 2000 }), null);
});

test('the version is read when the service becomes healthy: the healthy event and the status carry it', async (t) => {
  let version = '0.6.2';
  const url = await answering(t, () => JSON.stringify({ version }));
  const { log } = captureLog();
  const service = createProcessService({
    name: 'ollama',
    config: {
      driver: 'process',
      command: childCommand(),
      health: `${url}/`,
      version_url: `${url}/api/version`,
      restart: { initial_delay_ms: 10, max_delay_ms: 10, max_restarts: 5, window_s: 60 },
    },
    log,
    stateDir: await tempDir(t),
    timings: FAST,
  });
  defer(t, () => service.close());
  const events: ServiceEvent[] = [];
  service.onEvent((e) => events.push(e));
  await service.start();
  const healthy = await waitFor('a healthy event', () =>
    events.find((e) => e.type === 'health' && e.health === 'healthy'),
  );
  assert.equal(healthy.status.version, '0.6.2');
  assert.equal(service.status().version, '0.6.2');

  // An upgrade takes effect at a restart: the next healthy status has the new version.
  version = '0.30.1';
  events.length = 0;
  await service.restart();
  const again = await waitFor('healthy after the restart', () =>
    events.find((e) => e.type === 'health' && e.health === 'healthy'),
  );
  assert.equal(again.status.version, '0.30.1');
});

test('agent.yaml: version_url and version_git resolve; both at once, a bad URL or "~" are problems', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'agent.token'), 'tok-0123456789abcdef\n', { mode: 0o600 });
  const file = join(dir, 'agent.yaml');
  const write = async (services: string) => {
    await writeFile(
      file,
      `node: srv1\ncoordinator: { url: "127.0.0.1:1", token_file: agent.token }\nservices:\n${services}`,
    );
    await chmod(file, 0o600);
  };
  await write(
    [
      '  ollama: { driver: systemd, unit: ollama.service, version_url: "http://127.0.0.1:11434/api/version" }',
      '  exo: { driver: process, command: [sleep, "60"], version_git: ./exo }',
      '',
    ].join('\n'),
  );
  const config = await loadAgentConfig(file, { env: {} });
  assert.equal(config.services['ollama']?.version_url, 'http://127.0.0.1:11434/api/version');
  assert.equal(config.services['exo']?.version_git, join(dir, 'exo'));

  await write(
    [
      '  ollama: { driver: systemd, unit: ollama.service, version_url: "ftp://x/", version_git: /opt/x }',
      '  exo: { driver: process, command: [sleep, "60"], version_git: "~/exo" }',
      '  other: { driver: process, command: [sleep, "60"], version_url: "not a url" }',
      '',
    ].join('\n'),
  );
  const err = await loadAgentConfig(file, { env: {} }).then(
    () => assert.fail('accepted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AgentConfigError);
  const reason = (path: string) => err.problems.find((p) => p.path === path)?.reason ?? `no problem at ${path}`;
  assert.match(reason('services.ollama.version_git'), /not both/);
  assert.match(reason('services.exo.version_git'), /"~" is not expanded/);
  assert.match(reason('services.other.version_url'), /is not a URL/);
});
